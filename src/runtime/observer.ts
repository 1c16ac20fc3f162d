/**
 * The observer: every place in the runtime that something worth measuring happens calls one method
 * here — an input accepted, a turn started or ended, a model or tool call started or ended. It keeps
 * the metrics (`metrics.ts`), logs failures once (`logger.ts`), and, when the runtime was given a
 * telemetry adapter (`options.telemetry`, e.g. `offstage/otel`), reports the same facts to it as
 * spans. Without an adapter the tracing half costs one comparison per call.
 *
 * Trace context travels like this: an input's context is captured as it is accepted (the host's
 * active span at `send()`, or the turn or tool call that made the input, for a child's goal and a
 * completion) and kept beside the input until its turn starts; a turn's calls run inside the turn's
 * context, so whatever they send, dispatch or complete carries it on.
 *
 * @packageDocumentation
 */
import type { Reason, TerminalStatus } from "../kernel/outcome.js";
import type { CancelMode } from "../kernel/turn/turn-machine.js";
import { isFunctionAgent } from "./agent.js";
import type { LiveInput } from "./live-input.js";
import type { LiveTurn } from "./live-turn.js";
import { snapshotMetrics } from "./metrics.js";
import type { RuntimeParts } from "./parts.js";
import type { FinishReason, ModelRequest } from "./ports/model.js";
import type {
  CallTelemetry,
  InputOrigin,
  ModelCallEnd,
  Telemetry,
  ToolCallEnd,
  TraceContext,
  TurnInputInfo,
} from "./ports/telemetry.js";

/** A model step as the turn runner keeps it: what the observer reads when the call ends. */
export interface ObservedModelStep {
  readonly startedAtMs: number;
  readonly span: CallTelemetry<ModelCallEnd> | undefined;
  readonly text: string;
  readonly toolCalls: ModelCallEnd["toolCalls"];
  readonly usage: ModelCallEnd["usage"];
  readonly finishReason: FinishReason | undefined;
  readonly failed: boolean;
  readonly error: unknown;
}

/** A tool call's span, when tracing. */
export type ToolSpan = CallTelemetry<ToolCallEnd> | undefined;

interface Captured {
  readonly context: TraceContext;
  readonly origin: InputOrigin;
}

export class Observer {
  readonly #parts: RuntimeParts;
  readonly #telemetry: Telemetry | undefined;
  /** Contexts captured at acceptance, kept beside the inputs they came with until their turn starts. */
  readonly #contexts = new WeakMap<LiveInput, Captured>();
  #detach: (() => void) | undefined;
  /** What the adapter threw on, logged once each. */
  readonly #thrown = new Set<string>();

  constructor(parts: RuntimeParts) {
    this.#parts = parts;
    this.#telemetry = parts.options.telemetry;
  }

  /** An input was accepted (from the host, or made by the runtime for a child or a completion). */
  accepted(live: LiveInput, origin: InputOrigin): void {
    const telemetry = this.#telemetry;
    if (telemetry === undefined || !telemetry.enabled) return;
    const context = this.#guard("captureContext", () => telemetry.captureContext());
    if (context !== undefined) this.#contexts.set(live, { context, origin });
  }

  /** The runtime started: a telemetry adapter may read its metrics from now on. */
  started(recoveredInputs: number, resumedTurns: number): void {
    this.#parts.log.info({ recoveredInputs, resumedTurns }, "offstage runtime started");
    const telemetry = this.#telemetry;
    if (telemetry === undefined) return;
    const source = { metrics: () => snapshotMetrics(this.#parts) };
    this.#detach = this.#guard("attach", () => telemetry.attach(source));
  }

  /** The runtime stopped. */
  stopped(status: string): void {
    this.#parts.log.info({ status }, `offstage runtime stopped (${status})`);
    const detach = this.#detach;
    this.#detach = undefined;
    if (detach !== undefined) this.#guard("detach", detach);
  }

  /** A turn took its session's inbox (new, or resumed after a crash). */
  turnStarted(turn: LiveTurn): void {
    const { metrics, log } = this.#parts;
    if (turn.attempt > 1) {
      metrics.turnResumed();
      log.info(
        { sessionId: turn.sessionId, turnId: turn.turnId, attempt: turn.attempt, inputIds: idsOf(turn) },
        "a turn cut short by a crash resumes from its last checkpoint",
      );
    }
    const telemetry = this.#telemetry;
    if (telemetry === undefined || !telemetry.enabled) return;
    const { entry } = turn;
    const agent = entry.agent;
    const inputs: TurnInputInfo[] = [];
    for (let i = 0; i < turn.inputs.length; i++) {
      const live = turn.inputs[i]!;
      const captured = this.#contexts.get(live);
      inputs.push({
        inputId: live.id,
        origin: captured?.origin ?? (live.delegationId === undefined ? "host" : "completion"),
        policy: live.policy,
        queuedMs: turn.startedAtMs - live.sentAtMs,
        delegationId: live.delegationId,
        context: captured?.context,
        payload: live.payload,
      });
    }
    turn.telemetry = this.#guard("startTurn", () =>
      telemetry.startTurn({
        sessionId: turn.sessionId,
        turnId: turn.turnId,
        agentName: entry.agentName,
        kind: isFunctionAgent(agent) ? "function" : "model",
        modelId: isFunctionAgent(agent) ? undefined : this.#parts.models.of(agent.model).id,
        attempt: turn.attempt,
        resumedFromStep: turn.attempt > 1 ? turn.step : 0,
        inputs,
      }),
    );
  }

  /** An input joined a running turn (policy `steer`). */
  steered(turn: LiveTurn, live: LiveInput): void {
    const span = turn.telemetry;
    if (span !== undefined)
      this.#guard("event", () => span.event("steered", { "offstage.input.id": live.id }));
  }

  /** A cancel or interrupt reached a running turn. */
  cancelRequested(turn: LiveTurn, mode: CancelMode, status: TerminalStatus, code: string): void {
    const span = turn.telemetry;
    if (span !== undefined)
      this.#guard("event", () =>
        span.event("cancel_requested", {
          "offstage.cancel.mode": mode,
          "offstage.cancel.status": status,
          "offstage.cancel.reason": code,
        }),
      );
  }

  /** A model call starts now: its span, when tracing (the runner keeps it with the step). */
  modelCallStarted(
    turn: LiveTurn,
    step: number,
    modelId: string,
    request: ModelRequest,
  ): CallTelemetry<ModelCallEnd> | undefined {
    const span = turn.telemetry;
    if (span === undefined) return undefined;
    return this.#guard("modelCall", () =>
      span.modelCall({ step, modelId, maxOutputTokens: request.maxOutputTokens, prompt: request.prompt }),
    );
  }

  /**
   * The model call (one try of a model step) ended; a failure is logged once, with its cause, and
   * says whether the step tries again in `retryInMs`.
   */
  modelCallEnded(turn: LiveTurn, step: ObservedModelStep, modelId: string, retryInMs?: number): void {
    const { metrics, clock, log } = this.#parts;
    const durationMs = clock.monotonicMs() - step.startedAtMs;
    metrics.modelCall(modelId, durationMs, step.failed);
    if (step.usage !== undefined) metrics.tokens(turn.entry.agentName, modelId, step.usage);
    if (step.failed && retryInMs !== undefined) metrics.modelCallRetried();
    if (step.failed)
      log.warn(
        {
          sessionId: turn.sessionId,
          turnId: turn.turnId,
          step: turn.step,
          model: modelId,
          error: step.error,
          ...(retryInMs === undefined ? {} : { retryInMs }),
        },
        retryInMs === undefined
          ? "a model call failed; its turn ends failed (model_error)"
          : `a model call failed; it is tried again in ${retryInMs} ms`,
      );
    const span = step.span;
    if (span !== undefined)
      this.#guard("modelCall.end", () =>
        span.end({
          durationMs,
          usage: step.usage,
          finishReason: step.finishReason,
          text: step.text,
          toolCalls: step.toolCalls,
          error: step.failed ? step.error : undefined,
        }),
      );
  }

  /** A function agent's call failed: logged once with its cause (its turn ends failed). */
  functionFailed(turn: LiveTurn, error: unknown): void {
    this.#parts.log.warn(
      { sessionId: turn.sessionId, turnId: turn.turnId, error },
      "a function agent threw; its turn ends failed (function_error)",
    );
  }

  /** A tool call starts now: its span, when tracing. */
  toolCallStarted(turn: LiveTurn, toolCallId: string, toolName: string, input: string): ToolSpan {
    const span = turn.telemetry;
    if (span === undefined) return undefined;
    return this.#guard("toolCall", () => span.toolCall({ toolCallId, toolName, input }));
  }

  /** Runs the tool's own code inside its call's trace context. */
  runTool<T>(span: ToolSpan, fn: () => T): T {
    return span === undefined ? fn() : span.run(fn);
  }

  /** The tool call's result is back, `durationMs` after it started. */
  toolCallEnded(
    span: ToolSpan,
    toolName: string,
    durationMs: number,
    isError: boolean,
    output: string,
  ): void {
    this.#parts.metrics.toolCall(toolName, durationMs, isError);
    if (span !== undefined) this.#guard("toolCall.end", () => span.end({ durationMs, isError, output }));
  }

  /** The turn's end is committed: its handles settle now. */
  turnEnded(turn: LiveTurn): void {
    const span = turn.telemetry;
    const outcome = turn.outcome!;
    const { code } = outcome.reason;
    if (outcome.status === "failed" && code !== "model_error" && code !== "function_error")
      this.#parts.log.warn(
        { sessionId: turn.sessionId, turnId: turn.turnId, inputIds: idsOf(turn), reason: outcome.reason },
        `a turn failed: ${outcome.reason.message}`,
      );
    if (span === undefined) return;
    turn.telemetry = undefined;
    const durationMs = this.#parts.dispatcher.monotonicNow() - turn.startedAtMs;
    this.#guard("turn.end", () => span.end({ outcome, usage: turn.usage, durationMs }));
  }

  /** A stop (or a failed store) gave up on the turn: its span ends as it stands, `interrupted` for `reason`. */
  turnAbandoned(turn: LiveTurn, reason: Reason): void {
    const span = turn.telemetry;
    if (span === undefined) return;
    turn.telemetry = undefined;
    const outcome = { status: "interrupted", reason } as const;
    const durationMs = this.#parts.clock.monotonicMs() - turn.startedAtMs;
    this.#guard("turn.end", () => span.end({ outcome, usage: turn.usage, durationMs }));
  }

  /** Calls the adapter, containing what it throws (logged once per method). */
  #guard<T>(what: string, call: () => T): T | undefined {
    try {
      return call();
    } catch (error) {
      if (!this.#thrown.has(what)) {
        this.#thrown.add(what);
        this.#parts.log.error(
          { where: `telemetry ${what}`, error },
          `the telemetry adapter threw in ${what}; contained (logged once)`,
        );
      }
      return undefined;
    }
  }
}

function idsOf(turn: LiveTurn): string[] {
  return turn.inputs.map((live) => live.id);
}
