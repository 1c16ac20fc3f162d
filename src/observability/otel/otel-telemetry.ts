/**
 * `otelTelemetry()`: the telemetry port on `@opentelemetry/api` alone, following the OpenTelemetry
 * semantic conventions for generative AI. The application brings the SDK and its exporters; with
 * none installed the API is a no-op, and so is this adapter: it checks for a registered tracer
 * provider (and meter) and then creates nothing at all.
 *
 * What it reports, per turn of a session:
 *
 * ```
 * invoke_agent {agent}                 INTERNAL  one per turn (a crash-resumed attempt is a new one)
 * ├── chat {model}                     CLIENT    one per model call: model, tokens, finish reason
 * └── execute_tool {tool}              INTERNAL  one per tool call, around the tool's own code
 * ```
 *
 * A turn's span is a child of the span that was active where its input was sent (`session.send()`
 * inside the host's request span continues that trace); a turn with no such input starts a trace.
 * A background child's turn *links* to the span that dispatched it (the parent turn's
 * `execute_tool delegate`, or the host's span for `session.delegate()`), and the parent turn that
 * receives its completion links back to the child's last turn. Attributes carry the turn's inputs,
 * their policies and queue wait, the attempt and the step a resumed turn goes on from; events mark
 * steered input and cancel requests. Prompts, payloads, model output and tool arguments and results
 * are recorded only with `captureContent: true`.
 *
 * Metrics (when a meter provider is registered before `runtime.start()`):
 * `gen_ai.client.operation.duration` (s; `chat`, `execute_tool` and `invoke_agent`),
 * `gen_ai.client.token.usage` (by model, agent and token type), and the runtime's gauges and counters
 * (`offstage.*`) read from `runtime.metrics()` at each collection.
 *
 * @packageDocumentation
 */
import {
  type Context,
  type MeterProvider,
  metrics,
  ProxyTracerProvider,
  type Tracer,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";
import type {
  MetricsSource,
  Telemetry,
  TraceContext,
  TurnInfo,
  TurnTelemetry,
} from "../../runtime/ports/telemetry.js";
import { redactText } from "../../runtime/redact.js";
import { checkBoolean, checkObject, checkPositiveInteger, fail, optionsOf } from "../../validate.js";
import { GenAiMeters } from "./gen-ai-meters.js";
import { NOOP_TURN, OtelTurn } from "./otel-turn.js";
import { activeSpanContext, fromCarrier, toCarrier } from "./trace-carrier.js";

/** Options of {@link otelTelemetry}. */
export interface OtelTelemetryOptions {
  /** Where spans go (default: the global provider, `trace.getTracerProvider()`, checked per turn). */
  readonly tracerProvider?: TracerProvider;
  /** Where metrics go (default: the global provider, read when the runtime starts). */
  readonly meterProvider?: MeterProvider;
  /**
   * Record content: prompts, input payloads, model output, tool arguments and results (default
   * false: they may hold personal data and secrets; secrets of known shapes are redacted even then).
   */
  readonly captureContent?: boolean;
  /** Longest content attribute, in characters; longer ones are cut (default 16 384). */
  readonly contentCharsMax?: number;
}

const SCOPE = "offstage";
const OPTIONS = optionsOf("otelTelemetry()");
/** What the global proxy delegates to while no SDK registered a tracer provider. */
const NO_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * Creates the telemetry adapter for `createRuntime({ telemetry })`. One adapter per runtime.
 *
 * @example
 * ```ts
 * import { otelTelemetry } from "offstage/otel";
 * const runtime = createRuntime({ agents, telemetry: otelTelemetry() });
 * ```
 */
export function otelTelemetry(options: OtelTelemetryOptions = {}): Telemetry {
  checkObject(OPTIONS, "options", options);
  const { tracerProvider, meterProvider, captureContent, contentCharsMax } = options;
  if (tracerProvider !== undefined && typeof tracerProvider?.getTracer !== "function")
    fail(OPTIONS, "tracerProvider", tracerProvider, "a TracerProvider");
  if (meterProvider !== undefined && typeof meterProvider?.getMeter !== "function")
    fail(OPTIONS, "meterProvider", meterProvider, "a MeterProvider");
  if (captureContent !== undefined) checkBoolean(OPTIONS, "captureContent", captureContent);
  if (contentCharsMax !== undefined) checkPositiveInteger(OPTIONS, "contentCharsMax", contentCharsMax);
  return new OtelTelemetry({
    tracerProvider,
    meterProvider,
    captureContent: captureContent === true,
    contentCharsMax: contentCharsMax ?? 16_384,
  });
}

interface Settings {
  readonly tracerProvider: TracerProvider | undefined;
  readonly meterProvider: MeterProvider | undefined;
  readonly captureContent: boolean;
  readonly contentCharsMax: number;
}

/** The adapter: one per runtime; its turns and calls read its settings, tracer and meters. */
export class OtelTelemetry implements Telemetry {
  readonly settings: Settings;
  readonly tracer: Tracer;
  /** Set while a runtime is attached and a meter provider is registered. */
  meters: GenAiMeters | undefined;

  constructor(settings: Settings) {
    this.settings = settings;
    this.tracer = (settings.tracerProvider ?? trace).getTracer(SCOPE);
  }

  /** Whether spans or metrics go anywhere (see {@link Telemetry.enabled}). */
  get enabled(): boolean {
    return this.meters !== undefined || this.tracing;
  }

  /** Whether spans go anywhere: a provider was given, or an SDK registered a global one. */
  get tracing(): boolean {
    if (this.settings.tracerProvider !== undefined) return true;
    const provider = trace.getTracerProvider();
    return !(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== NO_TRACER_PROVIDER;
  }

  captureContext(): TraceContext | undefined {
    return this.tracing ? activeSpanContext() : undefined;
  }

  startTurn(info: TurnInfo): TurnTelemetry {
    const tracing = this.tracing;
    if (!tracing && this.meters === undefined) return NOOP_TURN;
    return new OtelTurn(this, info, tracing);
  }

  attach(source: MetricsSource): () => void {
    const provider = this.settings.meterProvider ?? metrics.getMeterProvider();
    const meters = GenAiMeters.create(provider.getMeter(SCOPE), source);
    if (meters === undefined) return () => {};
    this.meters = meters;
    return () => {
      meters.detach();
      if (this.meters === meters) this.meters = undefined;
    };
  }

  toCarrier(context: TraceContext): Record<string, string> {
    return toCarrier(context as Context);
  }

  fromCarrier(carrier: Readonly<Record<string, string>>): TraceContext | undefined {
    return fromCarrier(carrier);
  }

  /** Content as an attribute value: JSON, secrets of known shapes redacted, cut at the limit. */
  content(value: unknown): string {
    let text: string;
    try {
      text = typeof value === "string" ? value : (JSON.stringify(value) ?? String(value));
    } catch {
      text = String(value);
    }
    const max = this.settings.contentCharsMax;
    return redactText(text.length > max ? `${text.slice(0, max)}…` : text);
  }
}
