/**
 * `renderPrometheus`: a snapshot of `runtime.metrics()` in the Prometheus text exposition format
 * (version 0.0.4), for a `/metrics` endpoint. Durations are in seconds, as Prometheus names them;
 * counters end in `_total`; per-model and per-tool latencies are histograms with the runtime's
 * bucket bounds; the HDR-measured latencies (dispatcher lag, send→start, cancel→settled) are
 * summaries with the 0.5 and 0.99 quantiles.
 *
 * @packageDocumentation
 */
import type { HistogramStats } from "../runtime/duration-histogram.js";
import type { LatencyStats } from "../runtime/latency-stats.js";
import type { RuntimeMetrics } from "../runtime/metrics.js";
import { argumentsOf, fail } from "../validate.js";

const CALL = argumentsOf("renderPrometheus()");

/** The `Content-Type` a `/metrics` response should carry. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Options of {@link renderPrometheus}. */
export interface PrometheusOptions {
  /** Prepended to every metric name (default `offstage_`). */
  readonly prefix?: string;
  /** Labels added to every sample, e.g. `{ instance: "worker-1" }`. */
  readonly labels?: Readonly<Record<string, string>>;
}

type Labels = Readonly<Record<string, string>>;

/**
 * Renders a metrics snapshot as Prometheus text.
 *
 * @example
 * ```ts
 * import { renderPrometheus, PROMETHEUS_CONTENT_TYPE } from "offstage";
 * res.writeHead(200, { "content-type": PROMETHEUS_CONTENT_TYPE }).end(renderPrometheus(runtime.metrics()));
 * ```
 */
export function renderPrometheus(metrics: RuntimeMetrics, options: PrometheusOptions = {}): string {
  const prefix = options.prefix ?? "offstage_";
  if (typeof prefix !== "string" || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$|^$/.test(prefix))
    fail(CALL, "prefix", prefix, "a metric name prefix (letters, digits, _ and :)");
  const common = options.labels ?? {};
  for (const [name, value] of Object.entries(common)) {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name) || name.startsWith("__"))
      fail(CALL, "label name", name, "a Prometheus label name");
    if (typeof value !== "string") fail(CALL, `labels.${name}`, value, "a string");
  }
  const out: string[] = [];
  const family = (name: string, type: string, help: string) => {
    out.push(`# HELP ${prefix}${name} ${help}`, `# TYPE ${prefix}${name} ${type}`);
  };
  const sample = (name: string, value: number, labels: Labels = {}) =>
    out.push(`${prefix}${name}${labelText({ ...common, ...labels })} ${number(value)}`);
  const gauge = (name: string, value: number, help: string) => {
    family(name, "gauge", help);
    sample(name, value);
  };
  const counter = (name: string, value: number, help: string) => {
    family(name, "counter", help);
    sample(name, value);
  };

  family("runtime_state", "gauge", "The runtime's lifecycle state (1 for the current one).");
  sample("runtime_state", 1, { state: metrics.state });
  gauge("uptime_seconds", metrics.uptimeMs / 1000, "Time since the runtime was created.");
  gauge("sessions", metrics.sessions, "Sessions this process knows.");
  gauge("inputs_queued", metrics.queuedInputs, "Inputs waiting in inboxes.");
  gauge("sessions_ready", metrics.readySessions, "Sessions with queued input waiting for a turn slot.");
  gauge("turns_running", metrics.runningTurns, "Turns running now.");
  gauge("calls_outstanding", metrics.outstandingCalls, "Model, tool and function calls in flight.");
  gauge("dispatcher_depth", metrics.dispatcherDepth, "Dispatcher jobs waiting to run.");
  gauge("throughput_per_second", metrics.throughputPerSecond, "Inputs ended per second since creation.");
  counter("inputs_accepted_total", metrics.inputsAccepted, "Inputs accepted.");
  counter("turns_started_total", metrics.turnsStarted, "Turns started.");
  family("inputs_ended_total", "counter", "Inputs that reached a terminal status.");
  for (const [status, n] of Object.entries(metrics.ended)) sample("inputs_ended_total", n, { status });
  gauge(
    "store_degraded",
    metrics.store.degraded ? 1 : 0,
    "1 while the store fails and the runtime is degraded.",
  );
  counter("store_failures_total", metrics.store.failures, "Times the store failed.");
  counter("store_recoveries_total", metrics.store.recoveries, "Times a failed store worked again.");
  counter(
    "store_lost_inputs_total",
    metrics.store.lostInputs,
    "Inputs whose write a failing store lost (settled failed, store_failed).",
  );
  family("retries_total", "counter", "Work done again: turns resumed after a crash, failed store probes.");
  sample("retries_total", metrics.retries.resumedTurns, { kind: "resumed_turn" });
  sample("retries_total", metrics.retries.commits, { kind: "commit" });
  sample("retries_total", metrics.retries.modelCalls, { kind: "model_call" });

  family("tokens_total", "counter", "Tokens the models reported, by agent, model and type.");
  for (const t of metrics.tokens) {
    sample("tokens_total", t.inputTokens, { agent: t.agent, model: t.model, type: "input" });
    sample("tokens_total", t.outputTokens, { agent: t.agent, model: t.model, type: "output" });
  }
  for (const [kind, calls, label] of [
    ["model", metrics.modelCalls, "model"],
    ["tool", metrics.toolCalls, "tool"],
  ] as const) {
    family(`${kind}_calls_total`, "counter", `${kind === "model" ? "Model" : "Tool"} calls, by ${label}.`);
    for (const c of calls) sample(`${kind}_calls_total`, c.count, { [label]: c.name });
    family(
      `${kind}_call_errors_total`,
      "counter",
      `${kind === "model" ? "Model" : "Tool"} calls that failed.`,
    );
    for (const c of calls) sample(`${kind}_call_errors_total`, c.errors, { [label]: c.name });
    family(`${kind}_call_duration_seconds`, "histogram", `Duration of ${kind} calls, by ${label}.`);
    for (const c of calls) histogram(`${kind}_call_duration_seconds`, c.latency, { [label]: c.name }, sample);
  }

  family("dispatcher_lag_seconds", "summary", "Dispatcher post→run lag.");
  summary("dispatcher_lag_seconds", metrics.dispatcherLag, {}, sample);
  family("send_to_start_seconds", "summary", "Time from send() to the answering turn's start.");
  summary("send_to_start_seconds", metrics.sendToStart, {}, sample);
  family("cancel_to_settled_seconds", "summary", "Time from cancel() to the input settled, by mode.");
  for (const [mode, stats] of Object.entries(metrics.cancelToSettled))
    summary("cancel_to_settled_seconds", stats, { mode }, sample);
  return `${out.join("\n")}\n`;
}

type Sample = (name: string, value: number, labels?: Labels) => void;

function histogram(name: string, stats: HistogramStats, labels: Labels, sample: Sample): void {
  for (const bucket of stats.buckets)
    sample(`${name}_bucket`, bucket.count, {
      ...labels,
      le: bucket.leMs === Number.POSITIVE_INFINITY ? "+Inf" : number(bucket.leMs / 1000),
    });
  sample(`${name}_sum`, stats.sumMs / 1000, labels);
  sample(`${name}_count`, stats.count, labels);
}

function summary(name: string, stats: LatencyStats, labels: Labels, sample: Sample): void {
  sample(name, stats.p50Ms / 1000, { ...labels, quantile: "0.5" });
  sample(name, stats.p99Ms / 1000, { ...labels, quantile: "0.99" });
  sample(`${name}_sum`, (stats.meanMs * stats.count) / 1000, labels);
  sample(`${name}_count`, stats.count, labels);
}

function labelText(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  return `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
}

/** Label values escape backslash, double quote and line feed. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function number(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}
