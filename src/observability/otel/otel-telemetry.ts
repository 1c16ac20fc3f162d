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
  type Attributes,
  type Context,
  context as contextApi,
  type Link,
  type MeterProvider,
  metrics,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";
import type {
  CallTelemetry,
  MetricsSource,
  ModelCallEnd,
  ModelCallInfo,
  Telemetry,
  ToolCallEnd,
  ToolCallInfo,
  TraceContext,
  TurnEndInfo,
  TurnEventName,
  TurnInfo,
  TurnTelemetry,
} from "../../runtime/ports/telemetry.js";
import { redactText } from "../../runtime/redact.js";
import { checkBoolean, checkObject, checkPositiveInteger, fail, optionsOf } from "../../validate.js";
import * as G from "./gen-ai.js";
import { GenAiMeters } from "./gen-ai-meters.js";
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

class OtelTelemetry implements Telemetry {
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

class OtelTurn implements TurnTelemetry {
  readonly #owner: OtelTelemetry;
  readonly #info: TurnInfo;
  readonly #span: Span | undefined;
  /** The context the turn's calls (and what they send) run in. */
  readonly #context: Context;
  readonly #model: { readonly provider: string | undefined; readonly model: string } | undefined;

  constructor(owner: OtelTelemetry, info: TurnInfo, tracing: boolean) {
    this.#owner = owner;
    this.#info = info;
    this.#model = info.modelId === undefined ? undefined : G.splitModelId(info.modelId);
    if (!tracing) {
      this.#span = undefined;
      this.#context = ROOT_CONTEXT;
      return;
    }
    const { parent, links } = relations(info);
    const span = owner.tracer.startSpan(
      `invoke_agent ${info.agentName}`,
      { kind: SpanKind.INTERNAL, attributes: this.#startAttributes(), links },
      parent,
    );
    if (owner.settings.captureContent && span.isRecording())
      span.setAttribute(
        G.INPUT_MESSAGES,
        owner.content(info.inputs.map((input) => ({ role: "user", parts: [textPart(input.payload)] }))),
      );
    this.#span = span;
    this.#context = trace.setSpan(parent, span);
  }

  run<T>(fn: () => T): T {
    return this.#span === undefined ? fn() : contextApi.with(this.#context, fn);
  }

  modelCall(call: ModelCallInfo): CallTelemetry<ModelCallEnd> {
    const { provider, model } =
      this.#model !== undefined && call.modelId === this.#info.modelId
        ? this.#model
        : G.splitModelId(call.modelId);
    const attributes: Attributes = {
      [G.OPERATION]: "chat",
      [G.REQUEST_MODEL]: model,
      [G.CONVERSATION_ID]: this.#info.sessionId,
      "offstage.step": call.step,
    };
    if (provider !== undefined) attributes[G.PROVIDER] = provider;
    if (call.maxOutputTokens !== undefined) attributes[G.REQUEST_MAX_TOKENS] = call.maxOutputTokens;
    const span = this.#child(`chat ${model}`, SpanKind.CLIENT, attributes);
    const owner = this.#owner;
    if (span !== undefined && owner.settings.captureContent && span.isRecording()) {
      span.setAttribute(G.INPUT_MESSAGES, owner.content(G.genAiMessages(call.prompt)));
      const system = G.systemInstructions(call.prompt);
      if (system.length > 0) span.setAttribute(G.SYSTEM_INSTRUCTIONS, owner.content(system));
    }
    return new ModelCall(this, span, this.#info.agentName, provider, model);
  }

  toolCall(call: ToolCallInfo): CallTelemetry<ToolCallEnd> {
    const span = this.#child(`execute_tool ${call.toolName}`, SpanKind.INTERNAL, {
      [G.OPERATION]: "execute_tool",
      [G.TOOL_NAME]: call.toolName,
      [G.TOOL_CALL_ID]: call.toolCallId,
      [G.TOOL_TYPE]: "function",
      [G.CONVERSATION_ID]: this.#info.sessionId,
    });
    if (span !== undefined && this.#owner.settings.captureContent && span.isRecording())
      span.setAttribute(G.TOOL_CALL_ARGUMENTS, this.#owner.content(call.input));
    return new ToolCall(this, span, call.toolName);
  }

  event(name: TurnEventName, attributes: Readonly<Record<string, string | number | boolean>>): void {
    this.#span?.addEvent(`offstage.${name}`, attributes);
  }

  end(end: TurnEndInfo): void {
    const { outcome, usage, durationMs } = end;
    const meters = this.#owner.meters;
    if (meters !== undefined)
      meters.operation(
        durationMs,
        meters.agent(this.#info.agentName),
        outcome.status === "failed" ? outcome.reason.code : undefined,
      );
    const span = this.#span;
    if (span === undefined) return;
    span.setAttributes({
      "offstage.turn.status": outcome.status,
      "offstage.turn.reason": outcome.reason.code,
      [G.USAGE_INPUT_TOKENS]: usage.inputTokens,
      [G.USAGE_OUTPUT_TOKENS]: usage.outputTokens,
    });
    if (outcome.status === "failed") {
      span.setAttribute(G.ERROR_TYPE, outcome.reason.code);
      span.setStatus({ code: SpanStatusCode.ERROR, message: redactText(outcome.reason.message) });
    }
    if (this.#owner.settings.captureContent && span.isRecording() && outcome.output !== undefined)
      span.setAttribute(
        G.OUTPUT_MESSAGES,
        this.#owner.content([{ role: "assistant", parts: [textPart(outcome.output)] }]),
      );
    span.end();
  }

  get owner(): OtelTelemetry {
    return this.#owner;
  }

  #child(name: string, kind: SpanKind, attributes: Attributes): Span | undefined {
    if (this.#span === undefined) return undefined;
    return this.#owner.tracer.startSpan(name, { kind, attributes }, this.#context);
  }

  /** Runs `fn` in the context of a call's span (a child of this turn's). */
  runIn<T>(span: Span | undefined, fn: () => T): T {
    return span === undefined ? fn() : contextApi.with(trace.setSpan(this.#context, span), fn);
  }

  #startAttributes(): Attributes {
    const info = this.#info;
    const { inputs } = info;
    let queueWaitMs = 0;
    const delegations: string[] = [];
    for (const input of inputs) {
      if (input.queuedMs > queueWaitMs) queueWaitMs = input.queuedMs;
      if (input.delegationId !== undefined) delegations.push(input.delegationId);
    }
    const attributes: Attributes = {
      [G.OPERATION]: "invoke_agent",
      [G.AGENT_NAME]: info.agentName,
      [G.CONVERSATION_ID]: info.sessionId,
      "offstage.turn.id": info.turnId,
      "offstage.turn.kind": info.kind,
      "offstage.turn.attempt": info.attempt,
      "offstage.input.ids": inputs.map((input) => input.inputId),
      "offstage.input.policies": inputs.map((input) => input.policy),
      "offstage.queue.wait_ms": queueWaitMs,
    };
    if (this.#model !== undefined) {
      attributes[G.REQUEST_MODEL] = this.#model.model;
      if (this.#model.provider !== undefined) attributes[G.PROVIDER] = this.#model.provider;
    }
    if (info.attempt > 1) {
      attributes["offstage.turn.resumed"] = true;
      attributes["offstage.turn.resumed_from_step"] = info.resumedFromStep;
    }
    if (delegations.length > 0) attributes["offstage.delegation.ids"] = delegations;
    return attributes;
  }
}

class ModelCall implements CallTelemetry<ModelCallEnd> {
  readonly turn: OtelTurn;
  readonly span: Span | undefined;
  readonly agentName: string;
  readonly provider: string | undefined;
  readonly model: string;

  constructor(
    turn: OtelTurn,
    span: Span | undefined,
    agentName: string,
    provider: string | undefined,
    model: string,
  ) {
    this.turn = turn;
    this.span = span;
    this.agentName = agentName;
    this.provider = provider;
    this.model = model;
  }

  run<T>(fn: () => T): T {
    return this.turn.runIn(this.span, fn);
  }

  end(end: ModelCallEnd): void {
    const { owner } = this.turn;
    const failed = end.error !== undefined;
    const errorType = failed ? errorTypeOf(end.error) : undefined;
    const meters = owner.meters;
    if (meters !== undefined) {
      const set = meters.chat(this.agentName, this.provider, this.model);
      meters.operation(end.durationMs, set, errorType);
      if (end.usage !== undefined) meters.tokens(end.usage, set);
    }
    const span = this.span;
    if (span === undefined) return;
    if (end.usage !== undefined)
      span.setAttributes({
        [G.USAGE_INPUT_TOKENS]: end.usage.inputTokens,
        [G.USAGE_OUTPUT_TOKENS]: end.usage.outputTokens,
      });
    if (end.finishReason !== undefined) span.setAttribute(G.RESPONSE_FINISH_REASONS, [end.finishReason]);
    if (failed) {
      span.setAttribute(G.ERROR_TYPE, errorType!);
      span.recordException(exceptionOf(end.error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: exceptionOf(end.error).message });
    } else if (owner.settings.captureContent && span.isRecording()) {
      const parts: unknown[] = end.text === "" ? [] : [{ type: "text", content: end.text }];
      for (const call of end.toolCalls)
        parts.push({ type: "tool_call", id: call.toolCallId, name: call.toolName, arguments: call.input });
      span.setAttribute(
        G.OUTPUT_MESSAGES,
        owner.content([{ role: "assistant", parts, finish_reason: end.finishReason ?? "stop" }]),
      );
    }
    span.end();
  }
}

class ToolCall implements CallTelemetry<ToolCallEnd> {
  readonly turn: OtelTurn;
  readonly span: Span | undefined;
  readonly toolName: string;

  constructor(turn: OtelTurn, span: Span | undefined, toolName: string) {
    this.turn = turn;
    this.span = span;
    this.toolName = toolName;
  }

  run<T>(fn: () => T): T {
    return this.turn.runIn(this.span, fn);
  }

  end(end: ToolCallEnd): void {
    const { owner } = this.turn;
    const meters = owner.meters;
    if (meters !== undefined)
      meters.operation(end.durationMs, meters.tool(this.toolName), end.isError ? "tool_error" : undefined);
    const span = this.span;
    if (span === undefined) return;
    if (owner.settings.captureContent && span.isRecording())
      span.setAttribute(G.TOOL_CALL_RESULT, owner.content(end.output));
    if (end.isError) {
      span.setAttribute(G.ERROR_TYPE, "tool_error");
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  }
}

/** The parent a turn's span continues, and the spans it links to (see the file's story). */
function relations(info: TurnInfo): { parent: Context; links: Link[] } {
  let parent: Context | undefined;
  const links: Link[] = [];
  for (const input of info.inputs) {
    const context = input.context as Context | undefined;
    const span = context === undefined ? undefined : trace.getSpanContext(context);
    if (span === undefined) continue;
    if (input.origin === "host" && parent === undefined) {
      parent = context;
      continue;
    }
    const attributes: Attributes = {
      "offstage.link":
        input.origin === "host"
          ? "merged_input"
          : input.origin === "delegated"
            ? "dispatched_by"
            : "completed_by",
      "offstage.input.id": input.inputId,
    };
    if (input.delegationId !== undefined) attributes["offstage.delegation.id"] = input.delegationId;
    links.push({ context: span, attributes });
  }
  return { parent: parent ?? ROOT_CONTEXT, links };
}

function textPart(payload: unknown): { type: "text"; content: unknown } {
  return { type: "text", content: payload };
}

/** A low-cardinality name for what a model threw: its `code`, else its class name. */
function errorTypeOf(error: unknown): string {
  try {
    const code = (error as { code?: unknown })?.code;
    if (typeof code === "string" && code !== "") return code;
    const name = (error as { name?: unknown })?.name;
    return typeof name === "string" && name !== "" && name !== "Error" ? name : "_OTHER";
  } catch {
    return "_OTHER";
  }
}

function exceptionOf(error: unknown): { name: string; message: string } {
  try {
    if (error instanceof Error) return { name: error.name, message: redactText(error.message) };
    return { name: "Error", message: redactText(String(error)) };
  } catch {
    return { name: "Error", message: "(an unprintable value)" };
  }
}

const NOOP_CALL: CallTelemetry<never> = { run: (fn) => fn(), end: () => {} };
const NOOP_TURN: TurnTelemetry = {
  run: (fn) => fn(),
  modelCall: () => NOOP_CALL,
  toolCall: () => NOOP_CALL,
  event: () => {},
  end: () => {},
};
