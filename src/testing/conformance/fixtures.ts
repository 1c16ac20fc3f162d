/**
 * The records the store conformance cases write: inputs, messages, turn starts, checkpoints and ends
 * of session `s1`, with fixed times, so a case reads as the writes it makes.
 */
import type { Message } from "../../kernel/messages.js";
import type { TurnOutcome } from "../../kernel/outcome.js";
import type { Policy } from "../../kernel/session/inbox.js";
import type { InputRecord, StepCheckpoint, TurnEnd, TurnStart } from "../../runtime/ports/store.js";

/** A completed outcome, as a model turn that finished ends. */
export const OK: TurnOutcome = { status: "completed", reason: { code: "ok", message: "model finished" } };
const NO_USAGE = { inputTokens: 0, outputTokens: 0 };

/** Input `id` of session `s1`, accepted with `seq`, its fields overridable. */
export function record(id: string, seq: number, extra: Partial<InputRecord> = {}): InputRecord {
  return {
    id,
    sessionId: "s1",
    seq,
    payload: `payload of ${id}`,
    policy: "enqueue" satisfies Policy,
    idempotencyKey: undefined,
    acceptedAtMs: 1_000 + seq,
    ...extra,
  };
}

/** A user message of one text part. */
export function user(text: string): Message {
  return { role: "user", content: [{ type: "text", text }] };
}

/** An assistant message of one text part. */
export function assistant(text: string): Message {
  return { role: "assistant", content: [{ type: "text", text }] };
}

/** The start of turn `turnId` of session `s1` with these inputs. */
export function start(turnId: string, inputIds: readonly string[], attempt = 1): TurnStart {
  return { turnId, sessionId: "s1", inputIds, attempt, startedAtMs: 2_000 };
}

/** A checkpoint of turn `t1` of session `s1` after `step`. */
export function checkpoint(step: number, messages: readonly Message[], attempt = 1): StepCheckpoint {
  return { turnId: "t1", sessionId: "s1", attempt, step, messages };
}

/** The end of turn `turnId` of session `s1`: completed, no messages, unless `extra` says otherwise. */
export function end(turnId: string, inputIds: readonly string[], extra: Partial<TurnEnd> = {}): TurnEnd {
  return {
    turnId,
    sessionId: "s1",
    attempt: 1,
    outcome: OK,
    messages: [],
    inputIds,
    requeued: [],
    usage: NO_USAGE,
    endedAtMs: 3_000,
    ...extra,
  };
}
