/**
 * Rows of the SQLite store to the port's records and back. Payloads, outcomes, usage and messages are
 * stored as JSON text.
 *
 * @packageDocumentation
 */
import type { Message } from "../../kernel/messages.js";
import type { TurnOutcome } from "../../kernel/outcome.js";
import type { Policy } from "../../kernel/session/inbox.js";
import type { InputRecord, InputSnapshot } from "../../runtime/ports/store.js";

/** A row of `inputs`. */
export interface InputRow {
  readonly id: string;
  readonly session_id: string;
  readonly seq: number;
  readonly payload: string;
  readonly policy: string;
  readonly idempotency_key: string | null;
  readonly accepted_at_ms: number;
  readonly delegation_id: string | null;
  readonly status: string;
  readonly turn_id: string | null;
  readonly steer_step: number | null;
  readonly outcome: string | null;
}

/** A row of `turns`. */
export interface TurnRow {
  readonly id: string;
  readonly session_id: string;
  readonly attempt: number;
  readonly input_ids: string;
  readonly step: number;
  readonly messages: string;
}

/** A row of `RECORD_COLUMNS` (statements.ts), as the array those statements return. */
export type RecordColumns = readonly [
  id: string,
  sessionId: string,
  seq: number,
  payload: string,
  policy: string,
  idempotencyKey: string | null,
  acceptedAtMs: number,
  delegationId: string | null,
];

export function recordOf(row: RecordColumns): InputRecord {
  const [id, sessionId, seq, payload, policy, idempotencyKey, acceptedAtMs, delegationId] = row;
  return {
    id,
    sessionId,
    seq,
    payload: JSON.parse(payload),
    policy: policy as Policy,
    idempotencyKey: idempotencyKey ?? undefined,
    acceptedAtMs,
    ...(delegationId === null ? {} : { delegationId }),
  };
}

export function snapshotOf(row: InputRow): InputSnapshot {
  return {
    id: row.id,
    sessionId: row.session_id,
    payload: JSON.parse(row.payload),
    status: row.status as InputSnapshot["status"],
    turnId: row.turn_id ?? undefined,
    outcome: row.outcome === null ? undefined : (JSON.parse(row.outcome) as TurnOutcome),
  };
}

export function messagesOf(json: string): Message[] {
  return JSON.parse(json) as Message[];
}

/**
 * An outcome as JSON. A function agent may return a value JSON cannot hold (a BigInt, a cycle); the
 * stored outcome then carries a description of it instead, so that ending the turn never fails.
 */
export function outcomeJson(outcome: TurnOutcome): string {
  try {
    return JSON.stringify(outcome);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return JSON.stringify({ ...outcome, output: `[output not storable as JSON: ${why}]` });
  }
}
