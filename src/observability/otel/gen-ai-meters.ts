/**
 * The metrics side of `otelTelemetry()`: the GenAI histograms, recorded as calls end, and the
 * runtime's own figures (`runtime.metrics()`), observed at each collection by one batch callback.
 *
 * | instrument | kind | attributes |
 * |---|---|---|
 * | `gen_ai.client.operation.duration` (s) | histogram | `gen_ai.operation.name` (`chat`, `execute_tool`, `invoke_agent`), model, provider, tool, agent, `error.type` |
 * | `gen_ai.client.token.usage` ({token}) | histogram | `gen_ai.token.type`, model, provider, agent |
 * | `offstage.inputs.accepted`, `offstage.turns.started` | counters | |
 * | `offstage.inputs.ended` | counter | `offstage.status` |
 * | `offstage.retries` | counter | `offstage.retry` (`resumed_turn`, `commit`) |
 * | `offstage.sessions`, `offstage.inputs.queued`, `offstage.sessions.ready`, `offstage.turns.running`, `offstage.calls.outstanding`, `offstage.dispatcher.depth` | gauges | |
 * | `offstage.dispatcher.lag`, `offstage.send_to_start`, `offstage.cancel_to_settled` (ms) | gauges | `offstage.quantile` (`p50`, `p99`, `max`), cancel mode |
 *
 * @packageDocumentation
 */
import {
  type Attributes,
  type BatchObservableCallback,
  createNoopMeter,
  type Histogram,
  type Meter,
  type Observable,
  type ObservableCounter,
  type ObservableGauge,
  ValueType,
} from "@opentelemetry/api";
import type { Usage } from "../../kernel/outcome.js";
import type { LatencyStats } from "../../runtime/latency-stats.js";
import type { MetricsSource } from "../../runtime/ports/telemetry.js";
import * as G from "./gen-ai.js";

const NOOP_METER = createNoopMeter();
/** A bound on the kept attribute sets (models, agents and tools are few; ids are never keys). */
const ATTRIBUTE_SETS_MAX = 1_000;

const GAUGES = {
  sessions: "offstage.sessions",
  queuedInputs: "offstage.inputs.queued",
  readySessions: "offstage.sessions.ready",
  runningTurns: "offstage.turns.running",
  outstandingCalls: "offstage.calls.outstanding",
  dispatcherDepth: "offstage.dispatcher.depth",
} as const;

/**
 * The attributes of one kind of operation, built once and kept: the SDK hashes the attributes of
 * every record, and a fresh object per record would be garbage per record too. `input` and `output`
 * add `gen_ai.token.type` for the token histogram.
 */
export interface AttributeSet {
  readonly base: Attributes;
  readonly input: Attributes;
  readonly output: Attributes;
}

export class GenAiMeters {
  readonly #meter: Meter;
  readonly #duration: Histogram;
  readonly #tokens: Histogram;
  readonly #observables: Observable[];
  readonly #callback: BatchObservableCallback;
  /** Attribute sets by key (operation, model, agent, tool). */
  readonly #sets = new Map<string, AttributeSet>();
  /** The last chat set asked for: a run of calls of one agent on one model skips the look-up. */
  #lastChat: { agent: string; provider: string | undefined; model: string; set: AttributeSet } | undefined;

  /** The meters on `meter`, or `undefined` when it is the API's no-op meter (no SDK installed). */
  static create(meter: Meter, source: MetricsSource): GenAiMeters | undefined {
    return meter === NOOP_METER ? undefined : new GenAiMeters(meter, source);
  }

  private constructor(meter: Meter, source: MetricsSource) {
    this.#meter = meter;
    this.#duration = meter.createHistogram(G.OPERATION_DURATION, {
      unit: "s",
      description: "Duration of GenAI operations: model calls (chat), tool calls, agent turns",
      advice: { explicitBucketBoundaries: G.DURATION_BUCKETS_S },
    });
    this.#tokens = meter.createHistogram(G.TOKEN_USAGE, {
      unit: "{token}",
      description: "Tokens used by model calls, by token type",
      valueType: ValueType.INT,
      advice: { explicitBucketBoundaries: G.TOKEN_BUCKETS },
    });
    const counter = (name: string, description: string): ObservableCounter =>
      meter.createObservableCounter(name, { description, valueType: ValueType.INT });
    const gauge = (name: string, description: string, unit?: string): ObservableGauge =>
      meter.createObservableGauge(name, { description, ...(unit === undefined ? {} : { unit }) });
    const accepted = counter("offstage.inputs.accepted", "Inputs accepted");
    const started = counter("offstage.turns.started", "Turns started");
    const ended = counter("offstage.inputs.ended", "Inputs that reached a terminal status");
    const retries = counter(
      "offstage.retries",
      "Work done again: turns resumed after a crash, commits retried",
    );
    const gauges = (Object.keys(GAUGES) as (keyof typeof GAUGES)[]).map(
      (key) => [key, gauge(GAUGES[key], `runtime.metrics().${key}`)] as const,
    );
    const lag = gauge("offstage.dispatcher.lag", "Dispatcher post→run lag", "ms");
    const sendToStart = gauge(
      "offstage.send_to_start",
      "Time from send() to the answering turn's start",
      "ms",
    );
    const cancel = gauge("offstage.cancel_to_settled", "Time from cancel() to the input settled", "ms");
    this.#callback = (result) => {
      const m = source.metrics();
      result.observe(accepted, m.inputsAccepted);
      result.observe(started, m.turnsStarted);
      for (const [status, n] of Object.entries(m.ended))
        result.observe(ended, n, { "offstage.status": status });
      result.observe(retries, m.retries.resumedTurns, { "offstage.retry": "resumed_turn" });
      result.observe(retries, m.retries.commits, { "offstage.retry": "commit" });
      for (const [key, instrument] of gauges) result.observe(instrument, m[key]);
      quantiles(m.dispatcherLag, (value, attributes) => result.observe(lag, value, attributes));
      quantiles(m.sendToStart, (value, attributes) => result.observe(sendToStart, value, attributes));
      for (const [mode, stats] of Object.entries(m.cancelToSettled))
        quantiles(stats, (value, attributes) =>
          result.observe(cancel, value, { ...attributes, "offstage.cancel.mode": mode }),
        );
    };
    this.#observables = [
      accepted,
      started,
      ended,
      retries,
      lag,
      sendToStart,
      cancel,
      ...gauges.map(([, g]) => g),
    ];
    meter.addBatchObservableCallback(this.#callback, this.#observables);
  }

  /** The attribute sets of one agent's chat calls on one model (cached: see {@link AttributeSet}). */
  chat(agent: string, provider: string | undefined, model: string): AttributeSet {
    const last = this.#lastChat;
    if (last !== undefined && last.agent === agent && last.provider === provider && last.model === model)
      return last.set;
    const set = this.#set(`chat\u0000${agent}\u0000${provider ?? ""}\u0000${model}`, () => ({
      [G.OPERATION]: "chat",
      [G.REQUEST_MODEL]: model,
      [G.AGENT_NAME]: agent,
      ...(provider === undefined ? {} : { [G.PROVIDER]: provider }),
    }));
    this.#lastChat = { agent, provider, model, set };
    return set;
  }

  /** The attribute set of one agent's turns. */
  agent(agent: string): AttributeSet {
    return this.#set(`invoke_agent\u0000${agent}`, () => ({
      [G.OPERATION]: "invoke_agent",
      [G.AGENT_NAME]: agent,
    }));
  }

  /** The attribute set of one tool's calls. */
  tool(tool: string): AttributeSet {
    return this.#set(`execute_tool\u0000${tool}`, () => ({
      [G.OPERATION]: "execute_tool",
      [G.TOOL_NAME]: tool,
    }));
  }

  /** An operation of `set` took `durationMs`; `errorType` adds `error.type` for a failure. */
  operation(durationMs: number, set: AttributeSet, errorType?: string): void {
    this.#duration.record(
      durationMs / 1000,
      errorType === undefined ? set.base : { ...set.base, [G.ERROR_TYPE]: errorType },
    );
  }

  /** A model call of `set` used these tokens. */
  tokens(usage: Usage, set: AttributeSet): void {
    this.#tokens.record(usage.inputTokens, set.input);
    this.#tokens.record(usage.outputTokens, set.output);
  }

  #set(key: string, make: () => Attributes): AttributeSet {
    let set = this.#sets.get(key);
    if (set === undefined) {
      if (this.#sets.size >= ATTRIBUTE_SETS_MAX) this.#sets.clear();
      const base = Object.freeze(make());
      set = {
        base,
        input: Object.freeze({ ...base, [G.TOKEN_TYPE]: "input" }),
        output: Object.freeze({ ...base, [G.TOKEN_TYPE]: "output" }),
      };
      this.#sets.set(key, set);
    }
    return set;
  }

  /** The runtime stopped: its figures are no longer observed. */
  detach(): void {
    this.#meter.removeBatchObservableCallback(this.#callback, this.#observables);
  }
}

function quantiles(stats: LatencyStats, observe: (value: number, attributes: Attributes) => void): void {
  if (stats.count === 0) return;
  observe(stats.p50Ms, { "offstage.quantile": "p50" });
  observe(stats.p99Ms, { "offstage.quantile": "p99" });
  observe(stats.maxMs, { "offstage.quantile": "max" });
}
