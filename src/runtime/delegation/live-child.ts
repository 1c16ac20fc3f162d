/**
 * A running background child as the runtime keeps it between its turns, and the completion it
 * reports when it ends.
 *
 * @packageDocumentation
 */
import { type ChildCompletion, type ChildStop, childExit } from "../../kernel/delegation/child-completion.js";
import { lastAssistantText, type Message } from "../../kernel/messages.js";
import type { TurnOutcome, Usage } from "../../kernel/outcome.js";
import type { TimerToken } from "../clock.js";
import type { DelegationRecord } from "../ports/delegation-log.js";

export interface LiveChild {
  readonly record: DelegationRecord;
  /** Its tree's top-level session, whose budget it spends. */
  readonly rootSessionId: string;
  /** Model calls its turns made. */
  modelCalls: number;
  usage: Usage | undefined;
  /** The outcome of its latest turn. */
  last: TurnOutcome | undefined;
  /** Text of its latest answer, for the partial output of a child that was stopped. */
  lastText: string;
  /** Set once something stopped it; it completes with this. */
  stop: ChildStop | undefined;
  /** Its `timeoutMs` timer, while one is set. */
  timer: TimerToken | undefined;
  /** Tokens of the running turn already charged to the tree (see `TreeBudgets`). */
  turnTokensCharged: number;
}

/** A child just dispatched, or running when the runtime last stopped. */
export function liveChild(record: DelegationRecord): LiveChild {
  return {
    record,
    rootSessionId: record.rootSessionId,
    modelCalls: 0,
    usage: undefined,
    last: undefined,
    lastText: "",
    stop: undefined,
    timer: undefined,
    turnTokensCharged: 0,
  };
}

/** Records a turn of the child that ended: its outcome, what it said last, what it used. */
export function recordTurn(
  child: LiveChild,
  outcome: TurnOutcome,
  messages: readonly Message[],
  usage: Usage,
): void {
  child.last = outcome;
  const said = typeof outcome.output === "string" ? outcome.output : lastAssistantText(messages);
  if (said !== "") child.lastText = said;
  child.usage =
    child.usage === undefined
      ? usage
      : {
          inputTokens: child.usage.inputTokens + usage.inputTokens,
          outputTokens: child.usage.outputTokens + usage.outputTokens,
        };
}

/** The self-contained record of what the child was asked to do and how it ended. */
export function completionOf(child: LiveChild, completedAtMs: number): ChildCompletion {
  const { record } = child;
  const { status, error, exitReason } = childExit(child.stop, child.last);
  return {
    delegationId: record.id,
    parentSessionId: record.parentSessionId,
    childSessionId: record.childSessionId,
    spec: record.spec,
    status,
    summary: status === "completed" ? child.lastText : "",
    error,
    exitReason,
    modelCalls: child.modelCalls,
    usage: child.usage,
    dispatchedAtMs: record.dispatchedAtMs,
    completedAtMs,
    partialOutput: status === "completed" || child.lastText === "" ? undefined : child.lastText,
  };
}
