/**
 * The turn machine: one turn of one session, as a pure state machine.
 *
 * A turn is driven by events and answers with effects; it never performs IO, reads a clock or draws
 * randomness, so the same events always produce the same effects. Transitions update the state object
 * they are given (the runtime owns one per running turn) and return the effects to perform.
 *
 * The story of a turn:
 * - `new`: created by the scheduler. `start` moves it to `model` (emitting `call_model` for step 1) or,
 *   for a function agent, to `function` (emitting `run_function`).
 * - `model`: one model call is in flight. `model.done` without tool calls ends the turn `completed`
 *   (unless steered input is waiting and calls remain, in which case the model is called again);
 *   with tool calls it moves to `tools` and emits `run_tools`. `model.failed` ends it `failed`.
 * - `tools`: the step's tool calls run (possibly in parallel). Each `tool.done` records a result; when
 *   the last arrives the step is over — the *step boundary*. There a pending `after_step` cancel ends
 *   the turn; otherwise steered input is appended and, if the model-call limit allows, the next model
 *   call starts; else the turn ends `max_iterations`.
 * - `function`: a function agent's single call is in flight; `function.done` records its output as
 *   the assistant's answer in the history and ends the turn, `function.failed` ends it.
 * - `ended`: terminal. Every later event is stale and dropped.
 *
 * Results carry the turn's `attempt` and `step`; any result that does not match the state is stale
 * (from an aborted call, an earlier attempt or a crash) and is dropped without effect.
 *
 * Cancellation: `immediate` ends the turn now and emits `abort` for whatever is in flight; tool calls
 * left without a result get an error result so the history stays well-formed. `after_step` lets the
 * step in progress finish and ends the turn at the next step boundary.
 */
import {
  type AssistantPart,
  assistantMessage,
  type Message,
  type ToolCallPart,
  type ToolResultPart,
} from "../messages.js";
import { addUsage, type Reason, type TerminalStatus, type TurnOutcome, type Usage } from "../outcome.js";

export type TurnKind = "model" | "function";
export type TurnPhase = "new" | "model" | "tools" | "function" | "ended";
export type CancelMode = "immediate" | "after_step";

/**
 * A request to stop a turn: `cancelled` by a caller, `interrupted` by newer input or a stop, or
 * `failed` by a rule outside the turn (a delegation tree's budget).
 */
export interface CancelRequest {
  readonly mode: CancelMode;
  readonly status: "cancelled" | "interrupted" | "failed";
  readonly reason: Reason;
  /**
   * The input whose handle asked. If it was steered into the turn and the model has not seen it yet,
   * only that input is dropped (a `drop` effect) and the turn goes on; a cancelled input never runs.
   */
  readonly inputId?: string;
}

/**
 * One turn's state, changed in place by {@link stepTurn}. A class, so that a driver can extend it
 * with what it keeps beside the state: the runtime's running turn is then one object, not two.
 */
export class TurnState {
  // Declared, then assigned once in the constructor: an initialised class field is defined on every
  // new object before the constructor runs, and a turn would pay for each field twice.
  declare readonly turnId: string;
  declare readonly attempt: number;
  declare readonly kind: TurnKind;
  declare readonly modelCallsMax: number;
  declare readonly toolCallsPerStepMax: number;
  declare phase: TurnPhase;
  /** Model calls started so far (the current step's number). */
  declare step: number;
  /** Messages this turn added to the session's history, in order. */
  declare readonly messages: Message[];
  /** The current step's tool calls, in the order the model asked for them. */
  declare calls: readonly ToolCallPart[];
  /** Calls still waiting for a result (each has no entry in `results` yet). */
  declare pendingCount: number;
  /** Results of the current step, index-aligned with `calls`. */
  declare results: (ToolResultPart | undefined)[];
  /** Inputs steered into this turn that the model has not seen yet. */
  declare steered: { readonly inputId: string; readonly message: Message }[];
  declare cancel: CancelRequest | undefined;
  declare outcome: TurnOutcome | undefined;
  /**
   * Tokens used so far. Immutable: a step's usage becomes the turn's as it is while the turn has
   * none yet (most turns take one step), and a sum is a new object.
   */
  declare usage: Usage;

  constructor(init: NewTurn) {
    const resumed = init.resumedMessages !== undefined;
    this.turnId = init.turnId;
    this.attempt = init.attempt;
    this.kind = init.kind;
    this.modelCallsMax = init.modelCallsMax;
    this.toolCallsPerStepMax = init.toolCallsPerStepMax;
    this.phase = "new";
    this.step = resumed ? (init.resumedStep ?? 0) : 0;
    this.messages = resumed ? [...(init.resumedMessages ?? [])] : init.inputs;
    this.calls = NO_CALLS;
    this.pendingCount = 0;
    this.results = NO_RESULTS;
    this.steered = NO_STEERED;
    this.cancel = undefined;
    this.outcome = undefined;
    this.usage = NO_USAGE;
  }
}

export type TurnMachineEvent =
  | { readonly type: "start" }
  | {
      readonly type: "model.done";
      readonly attempt: number;
      readonly step: number;
      readonly text: string;
      readonly toolCalls: readonly ToolCallPart[];
      /**
       * The assistant message's parts in the order the model produced them (text, reasoning, files,
       * and the same tool calls as `toolCalls`); without it the message is `text`, then the calls.
       */
      readonly content?: readonly AssistantPart[] | undefined;
      readonly usage?: Usage | undefined;
    }
  | {
      readonly type: "model.failed";
      readonly attempt: number;
      readonly step: number;
      readonly error: string;
      /** `context_error` when preparing the call failed (a `system` function or `prepareStep` threw). */
      readonly code?: "model_error" | "context_error";
    }
  | {
      readonly type: "tool.done";
      readonly attempt: number;
      readonly step: number;
      readonly result: ToolResultPart;
    }
  | { readonly type: "function.done"; readonly attempt: number; readonly output: unknown }
  | { readonly type: "function.failed"; readonly attempt: number; readonly error: string }
  | { readonly type: "cancel"; readonly request: CancelRequest }
  | { readonly type: "steer"; readonly inputId: string; readonly message: Message };

export type TurnEffect =
  | { readonly type: "call_model"; readonly step: number }
  | { readonly type: "run_tools"; readonly step: number; readonly calls: readonly ToolCallPart[] }
  | { readonly type: "run_function" }
  | { readonly type: "abort"; readonly reason: Reason }
  /** A steered input the model never saw leaves the turn and ends on its own with this status. */
  | {
      readonly type: "drop";
      readonly inputId: string;
      readonly status: CancelRequest["status"];
      readonly reason: Reason;
    }
  | {
      readonly type: "end";
      readonly outcome: TurnOutcome;
      /** Steered inputs the model never saw: they go back to the front of the inbox. */
      readonly unsteered: readonly string[];
    };

export interface NewTurn {
  readonly turnId: string;
  readonly attempt: number;
  readonly kind: TurnKind;
  readonly modelCallsMax: number;
  readonly toolCallsPerStepMax: number;
  /**
   * The user messages that open the turn (one per input; several when inputs were merged). The turn
   * takes this array as its `messages` and appends to it.
   */
  readonly inputs: Message[];
  /** Messages restored from a step checkpoint when a crashed turn resumes. */
  readonly resumedMessages?: readonly Message[] | undefined;
  readonly resumedStep?: number | undefined;
}

const NONE: readonly TurnEffect[] = [];
const NO_IDS: readonly string[] = [];
// Shared empties for the fields most turns never fill; frozen, so a write to one would throw.
const NO_CALLS: readonly ToolCallPart[] = Object.freeze([]);
const NO_RESULTS = Object.freeze([]) as unknown as (ToolResultPart | undefined)[];
const NO_STEERED = Object.freeze([]) as unknown as TurnState["steered"];
const NO_USAGE: Usage = Object.freeze({ inputTokens: 0, outputTokens: 0 });
const MODEL_FINISHED: Reason = Object.freeze({ code: "ok", message: "model finished" });
/** `call_model` effects by step, shared: effects are immutable, and most turns take one step. */
const CALL_MODEL: (readonly TurnEffect[])[] = [];

/** Creates a turn in phase `new`. */
export function createTurn(init: NewTurn): TurnState {
  return new TurnState(init);
}

/** Applies one event to a turn and returns the effects to perform. */
export function stepTurn(turn: TurnState, event: TurnMachineEvent): readonly TurnEffect[] {
  if (turn.phase === "ended") return NONE;
  switch (event.type) {
    case "start":
      if (turn.phase !== "new") return invariant(turn, `start in phase ${turn.phase}`);
      if (turn.kind === "function") {
        turn.phase = "function";
        return [{ type: "run_function" }];
      }
      return nextModelCall(turn);
    case "model.done":
      if (turn.phase !== "model" || event.attempt !== turn.attempt || event.step !== turn.step) return NONE;
      return onModelDone(turn, event.text, event.toolCalls, event.usage, event.content);
    case "model.failed":
      if (turn.phase !== "model" || event.attempt !== turn.attempt || event.step !== turn.step) return NONE;
      return end(turn, "failed", { code: event.code ?? "model_error", message: event.error });
    case "tool.done":
      if (turn.phase !== "tools" || event.attempt !== turn.attempt || event.step !== turn.step) return NONE;
      return onToolDone(turn, event.result);
    case "function.done":
      if (turn.phase !== "function" || event.attempt !== turn.attempt) return NONE;
      // The answer is part of the conversation: history holds each input and what answered it.
      turn.messages.push(assistantMessage(outputText(event.output), NO_CALLS));
      return end(turn, "completed", { code: "ok", message: "function returned" }, event.output);
    case "function.failed":
      if (turn.phase !== "function" || event.attempt !== turn.attempt) return NONE;
      return end(turn, "failed", { code: "function_error", message: event.error });
    case "cancel":
      return onCancel(turn, event.request);
    case "steer":
      if (turn.steered === NO_STEERED) turn.steered = [];
      turn.steered.push({ inputId: event.inputId, message: event.message });
      return NONE;
  }
}

function onModelDone(
  turn: TurnState,
  text: string,
  toolCalls: readonly ToolCallPart[],
  usage: Usage | undefined,
  content: readonly AssistantPart[] | undefined,
): readonly TurnEffect[] {
  if (usage !== undefined) turn.usage = turn.usage === NO_USAGE ? usage : addUsage(turn.usage, usage);
  turn.messages.push(
    content === undefined ? assistantMessage(text, toolCalls) : { role: "assistant", content },
  );
  if (toolCalls.length === 0) {
    if (turn.steered.length > 0 && turn.cancel === undefined && turn.step < turn.modelCallsMax) {
      return stepBoundary(turn);
    }
    return end(turn, "completed", MODEL_FINISHED, text);
  }
  turn.phase = "tools";
  turn.calls = toolCalls;
  turn.results = new Array(toolCalls.length);
  const runnable: ToolCallPart[] = [];
  for (let i = 0; i < toolCalls.length; i++) {
    const call = toolCalls[i]!;
    if (i >= turn.toolCallsPerStepMax || pendingIndex(turn, call.toolCallId, i) >= 0) {
      const why =
        i >= turn.toolCallsPerStepMax
          ? `too many tool calls in one step (${toolCalls.length} > ${turn.toolCallsPerStepMax}); ask for fewer`
          : `duplicate tool call id ${JSON.stringify(call.toolCallId)}`;
      turn.results[i] = errorResult(call, why);
    } else {
      turn.pendingCount += 1;
      runnable.push(call);
    }
  }
  if (runnable.length === 0) return stepBoundary(turn);
  return [{ type: "run_tools", step: turn.step, calls: runnable }];
}

function onToolDone(turn: TurnState, result: ToolResultPart): readonly TurnEffect[] {
  const index = pendingIndex(turn, result.toolCallId, turn.calls.length);
  if (index < 0) {
    if (turn.calls.some((c) => c.toolCallId === result.toolCallId)) return NONE; // answered already: stale
    return invariant(
      turn,
      `tool result ${JSON.stringify(result.toolCallId)} matches no pending call of step ${turn.step}`,
    );
  }
  turn.results[index] = result;
  turn.pendingCount -= 1;
  return turn.pendingCount === 0 ? stepBoundary(turn) : NONE;
}

/**
 * The index of the call among the first `before` calls of the step that has this id and no result
 * yet, or -1. A linear scan: a step holds a handful of calls (`toolCallsPerStepMax`), and a Map per
 * turn costs more than the scan saves.
 */
function pendingIndex(turn: TurnState, toolCallId: string, before: number): number {
  for (let j = 0; j < before; j++) {
    if (turn.results[j] === undefined && turn.calls[j]!.toolCallId === toolCallId) return j;
  }
  return -1;
}

/** After a step's last tool result (or a final answer with steered input waiting). */
function stepBoundary(turn: TurnState): readonly TurnEffect[] {
  flushResults(turn);
  if (turn.cancel !== undefined) return end(turn, turn.cancel.status, turn.cancel.reason);
  if (turn.step >= turn.modelCallsMax) {
    return end(turn, "max_iterations", {
      code: "model_call_limit",
      message: `the turn reached its limit of ${turn.modelCallsMax} model calls`,
    });
  }
  for (const steered of turn.steered) turn.messages.push(steered.message);
  turn.steered = NO_STEERED;
  return nextModelCall(turn);
}

function nextModelCall(turn: TurnState): readonly TurnEffect[] {
  turn.phase = "model";
  turn.step += 1;
  CALL_MODEL[turn.step] ??= Object.freeze([Object.freeze({ type: "call_model", step: turn.step } as const)]);
  return CALL_MODEL[turn.step]!;
}

function onCancel(turn: TurnState, request: CancelRequest): readonly TurnEffect[] {
  // A steered input the model has not seen is not part of the turn's work yet: cancelling it takes
  // it out alone, and the turn goes on as if it had never been steered.
  const unseen = turn.steered.findIndex((s) => s.inputId === request.inputId);
  if (unseen >= 0) {
    turn.steered.splice(unseen, 1);
    return [{ type: "drop", inputId: request.inputId!, status: request.status, reason: request.reason }];
  }
  if (request.mode === "immediate" || turn.phase === "new") {
    const abort: TurnEffect = { type: "abort", reason: request.reason };
    return [abort, ...end(turn, request.status, request.reason)];
  }
  // after_step: an interrupt outranks an earlier cancel, never the reverse.
  if (turn.cancel === undefined || request.status === "interrupted") turn.cancel = request;
  return NONE;
}

function flushResults(turn: TurnState): void {
  if (turn.calls.length === 0) return;
  const content = turn.calls.map(
    (call, i) => turn.results[i] ?? errorResult(call, "the tool call was cancelled before it finished"),
  );
  turn.messages.push({ role: "tool", content });
  turn.calls = NO_CALLS;
  turn.results = NO_RESULTS;
  turn.pendingCount = 0;
}

function end(
  turn: TurnState,
  status: TerminalStatus,
  reason: Reason,
  output?: unknown,
): readonly TurnEffect[] {
  if (turn.phase === "tools") flushResults(turn);
  turn.phase = "ended";
  const outcome: TurnOutcome = output === undefined ? { status, reason } : { status, reason, output };
  turn.outcome = outcome;
  const unsteered = turn.steered.length === 0 ? NO_IDS : turn.steered.map((s) => s.inputId);
  turn.steered = NO_STEERED;
  return [{ type: "end", outcome, unsteered }];
}

function invariant(turn: TurnState, what: string): readonly TurnEffect[] {
  return end(turn, "failed", { code: "internal_invariant", message: `turn ${turn.turnId}: ${what}` });
}

/** A function's output as assistant text: a string as it is, nothing for null, anything else as JSON. */
function outputText(output: unknown): string {
  if (typeof output === "string") return output;
  return output === null || output === undefined ? "" : (JSON.stringify(output) ?? "");
}

/** Builds the error result a model sees for a tool call that could not run or failed. */
export function errorResult(call: ToolCallPart, message: string): ToolResultPart {
  return {
    type: "tool-result",
    toolCallId: call.toolCallId,
    toolName: call.toolName,
    output: { type: "error-text", value: message },
  };
}
