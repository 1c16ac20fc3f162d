/**
 * What the PostgreSQL store reads back for the runtime to take up: the running turns and queued
 * input of sessions it holds (at `open()`, and when it claims more), with steered inputs settled as
 * the store port's recovery note says; and the cancels and withdraws other processes asked of them.
 *
 * @packageDocumentation
 */
import type { Message } from "../../kernel/messages.js";
import type { Policy } from "../../kernel/session/inbox.js";
import type { EndRequest } from "../../runtime/ports/session-leases.js";
import type {
  InputRecord,
  InterruptedTurn,
  RecoveredState,
  SessionRecord,
} from "../../runtime/ports/store.js";
import type { Statements } from "./statements.js";
import type { SyncConnection } from "./sync-connection.js";

/** The sessions' running turns and queued input. */
export async function workOf(
  conn: SyncConnection,
  sql: Statements,
  sessionIds: readonly string[],
): Promise<Pick<RecoveredState, "queued" | "interrupted">> {
  if (sessionIds.length === 0) return { queued: [], interrupted: [] };
  const interrupted: InterruptedTurn[] = [];
  for (const row of (await conn.read(sql.runningTurns, [sessionIds])).rows) {
    const turnId = row.id as string;
    const started = JSON.parse(row.input_ids as string) as string[];
    const inputIds = [...started, ...(await settleSteered(conn, sql, turnId, started, row.step as number))];
    const byId = new Map(
      (await conn.read(sql.recordsById, [inputIds])).rows.map((r) => [r.id as string, recordOf(r)]),
    );
    interrupted.push({
      turnId,
      sessionId: row.session_id as string,
      inputIds,
      attempt: row.attempt as number,
      step: row.step as number,
      messages: JSON.parse(row.messages as string) as Message[],
      inputs: inputIds.map((id) => byId.get(id)!),
    });
  }
  const queued = (await conn.read(sql.queuedRecords, [sessionIds])).rows.map(recordOf);
  return { queued, interrupted };
}

/** Returns the steered inputs the turn keeps (its checkpoint holds them) and re-queues the rest. */
async function settleSteered(
  conn: SyncConnection,
  sql: Statements,
  turnId: string,
  started: readonly string[],
  step: number,
): Promise<string[]> {
  const { rows } = await conn.read(sql.steeredInputs, [turnId]);
  const kept: string[] = [];
  for (const row of rows) {
    const id = row.id as string;
    if ((row.steer_step as number) < step) {
      kept.push(id);
      conn.write(sql.adoptSteered, [id, turnId, JSON.stringify([...started, ...kept])]);
    } else conn.write(sql.requeueInput, [id, turnId]);
  }
  return kept;
}

/** Cancels and withdraws asked of the sessions this process holds (all, or `sessionIds`); each is handed out once. */
export async function takeEndRequests(
  conn: SyncConnection,
  sql: Statements,
  owner: string,
  sessionIds: readonly string[] | undefined,
): Promise<EndRequest[]> {
  const { rows } = await conn.read(sql.endRequests, [
    owner,
    sessionIds === undefined ? null : [...sessionIds],
  ]);
  if (rows.length > 0) conn.write(sql.clearEndRequests, [rows.map((row) => row.id as string)]);
  return rows.map((row): EndRequest => {
    const { status, mode, message } = JSON.parse(row.end_request as string) as EndRequest;
    return { inputId: row.id as string, sessionId: row.session_id as string, status, mode, message };
  });
}

export function sessionOf(row: Record<string, unknown>): SessionRecord {
  return { id: row.id as string, agent: row.agent as string, createdAtMs: row.created_at_ms as number };
}

export function recordOf(row: Record<string, unknown>): InputRecord {
  const delegationId = row.delegation_id as string | null;
  return {
    id: row.id as string,
    sessionId: row.session_id as string,
    seq: row.seq as number,
    payload: JSON.parse(row.payload as string),
    policy: row.policy as Policy,
    idempotencyKey: (row.idempotency_key as string | null) ?? undefined,
    acceptedAtMs: row.accepted_at_ms as number,
    ...(delegationId === null ? {} : { delegationId }),
  };
}
