/**
 * The telemetry port: where the runtime tells a tracing (and metering) system what its turns, model
 * calls and tool calls do. `offstage/otel` implements it on `@opentelemetry/api`; without one (the
 * default) the runtime calls nothing here and pays nothing.
 *
 * The runtime hands the port facts, never formats: ids, names, durations, outcomes, and the content
 * (prompts, payloads, tool arguments and results) by reference. An adapter decides what becomes a span,
 * an attribute or a metric, and it must leave content out unless its user opted in.
 *
 * Trace context: `captureContext()` is called as an input is accepted, synchronously inside the
 * caller's `send()` (or, for input the runtime makes itself, inside the turn or tool call that made
 * it), and what it returns travels with the input to the turn that answers it. It is an opaque value of
 * this process; `toCarrier`/`fromCarrier` turn it into plain strings (W3C `traceparent`) for work
 * that crosses a process or thread boundary — a store shared by processes, a worker bridge.
 *
 * Every method is called on the runtime's thread and must not throw (a throw is contained and
 * logged, and the turn goes on); none may block.
 *
 * @packageDocumentation
 */
import type { Message } from "../../kernel/messages.js";
import type { TurnOutcome, Usage } from "../../kernel/outcome.js";
import type { Policy } from "../../kernel/session/inbox.js";
import type { RuntimeMetrics } from "../metrics.js";
import type { FinishReason } from "./model.js";

/** A trace context captured in this process: opaque to the runtime, meaningful to its adapter. */
export type TraceContext = object;

/** How an input came in, which decides how its context relates to the turn that answers it. */
export type InputOrigin =
  /** Sent by the host: the turn continues the host's trace (its span is a child of the send's span). */
  | "host"
  /** A background child's goal: the child's turn *links* to the parent turn that dispatched it. */
  | "delegated"
  /** A child's completion: the parent's turn *links* back to the child's last turn. */
  | "completion";

/** One input of a starting turn. */
export interface TurnInputInfo {
  readonly inputId: string;
  readonly origin: InputOrigin;
  readonly policy: Policy;
  /** Time from its acceptance in this process to this turn's start. */
  readonly queuedMs: number;
  /** The delegation whose completion it carries (origin `completion`). */
  readonly delegationId: string | undefined;
  /** What `captureContext()` returned when it was accepted; `undefined` after a restart. */
  readonly context: TraceContext | undefined;
  /** The payload: content, for adapters whose user opted in. */
  readonly payload: unknown;
}

/** A turn that starts (or resumes after a crash). */
export interface TurnInfo {
  readonly sessionId: string;
  readonly turnId: string;
  /** The session's agent name (a background child's: the agent it derives from). */
  readonly agentName: string;
  readonly kind: "model" | "function";
  /** The model's id for model agents. */
  readonly modelId: string | undefined;
  /** 1, or the attempt a crash-resumed turn is on. */
  readonly attempt: number;
  /** The step a crash-resumed turn goes on from (0 for a new turn). */
  readonly resumedFromStep: number;
  readonly inputs: readonly TurnInputInfo[];
}

/** A model call about to start. */
export interface ModelCallInfo {
  readonly step: number;
  readonly modelId: string;
  readonly maxOutputTokens: number | undefined;
  /** The prompt as sent (system message first, when the agent has one): content. */
  readonly prompt: readonly Message[];
}

/** How a model call ended. */
export interface ModelCallEnd {
  readonly durationMs: number;
  readonly usage: Usage | undefined;
  readonly finishReason: FinishReason | undefined;
  /** The answer's text and requested tool calls: content. */
  readonly text: string;
  readonly toolCalls: readonly {
    readonly toolCallId: string;
    readonly toolName: string;
    readonly input: string;
  }[];
  /** What the model threw or streamed as an error; `undefined` when it succeeded. */
  readonly error: unknown;
}

/** A tool call about to start. */
export interface ToolCallInfo {
  readonly toolCallId: string;
  readonly toolName: string;
  /** The arguments as the model sent them (JSON text): content. */
  readonly input: string;
}

/** How a tool call ended. */
export interface ToolCallEnd {
  readonly durationMs: number;
  readonly isError: boolean;
  /** The result text the model sees: content. */
  readonly output: string;
}

/** How a turn ended. */
export interface TurnEndInfo {
  readonly outcome: TurnOutcome;
  readonly usage: Usage;
  /** From its start to its end being committed (its handles settle then). */
  readonly durationMs: number;
}

/** A call (model or tool) in flight. */
export interface CallTelemetry<End> {
  /** Runs `fn` with the call's trace context active, so spans the callee makes nest under it. */
  run<T>(fn: () => T): T;
  end(end: End): void;
}

/** A turn in flight. */
export interface TurnTelemetry {
  /** Runs `fn` with the turn's trace context active (what it sends or completes links to this turn). */
  run<T>(fn: () => T): T;
  modelCall(call: ModelCallInfo): CallTelemetry<ModelCallEnd>;
  toolCall(call: ToolCallInfo): CallTelemetry<ToolCallEnd>;
  /** Something happened to the turn: an input steered in, a cancel asked for. */
  event(name: TurnEventName, attributes: Readonly<Record<string, string | number | boolean>>): void;
  end(end: TurnEndInfo): void;
}

/** The events a turn reports besides its calls. */
export type TurnEventName = "steered" | "cancel_requested";

/** Reads the runtime's metrics on demand (observable gauges and counters). */
export interface MetricsSource {
  metrics(): RuntimeMetrics;
}

/** What the runtime reports to a tracing and metering system. */
export interface Telemetry {
  /**
   * Whether the adapter reports anywhere now (an SDK is installed). Read before each input and
   * turn: while it is false the runtime builds nothing to hand over, so an adapter without a
   * backend costs next to nothing. An adapter may change its answer at any time.
   */
  readonly enabled: boolean;
  /** The caller's trace context, kept with an input being accepted; `undefined` when there is none. */
  captureContext(): TraceContext | undefined;
  /** A turn started; everything it does is reported on what this returns. */
  startTurn(turn: TurnInfo): TurnTelemetry;
  /**
   * The runtime started: `source` may be read whenever the adapter collects. Returns what to call
   * when it stops.
   */
  attach(source: MetricsSource): () => void;
  /** A captured context as plain strings (W3C `traceparent`, `tracestate`), for another process. */
  toCarrier(context: TraceContext): Record<string, string>;
  /** A context from another process's carrier; `undefined` when it holds none. */
  fromCarrier(carrier: Readonly<Record<string, string>>): TraceContext | undefined;
}
