/**
 * A turn end as the SQLite store writes it. Its JSON is made once, at the call, so that a value JSON
 * cannot hold fails the call that brought it rather than a later commit, and so that an end held in
 * its group (see `held-writes.ts`) keeps what the call said though the caller's objects change.
 *
 * @packageDocumentation
 */
import type { TerminalStatus } from "../../kernel/outcome.js";
import type { TurnEnd } from "../../runtime/ports/store.js";
import { outcomeJson } from "./rows.js";
import type { Statements } from "./statements.js";

export interface EndRecord {
  readonly turnId: string;
  readonly sessionId: string;
  readonly attempt: number;
  readonly status: TerminalStatus;
  readonly outcome: string;
  readonly usage: string;
  readonly endedAtMs: number;
  /** The messages for history, as one JSON array; undefined when the turn left none. */
  readonly messages: string | undefined;
}

export function endRecordOf(end: TurnEnd): EndRecord {
  return {
    turnId: end.turnId,
    sessionId: end.sessionId,
    attempt: end.attempt,
    status: end.outcome.status,
    outcome: outcomeJson(end.outcome),
    usage: JSON.stringify(end.usage),
    endedAtMs: end.endedAtMs,
    messages: end.messages.length > 0 ? JSON.stringify(end.messages) : undefined,
  };
}

/**
 * Ends a stored turn, if it runs the end's attempt: the turn row and its inputs (each takes the
 * outcome, except `requeued` ones, which go back to the queue). Returns whether it did; the caller
 * then appends the history.
 */
export function endStoredTurn(
  sql: Statements,
  end: EndRecord,
  inputIds: readonly string[],
  requeued: readonly string[],
): boolean {
  const { turnId, outcome, endedAtMs } = end;
  if (sql.endTurn.run(outcome, end.usage, endedAtMs, turnId, end.attempt).changes === 0) return false;
  for (const id of inputIds) {
    if (requeued.length > 0 && requeued.includes(id)) sql.requeueInput.run(id, turnId);
    else sql.endRunningInput.run(end.status, endedAtMs, id, turnId);
  }
  return true;
}
