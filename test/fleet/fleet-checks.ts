/**
 * The fleet test's checks read from the PostgreSQL schema after the final drain, beside the crash
 * test's own (`test/crash/checks.ts`, which run on this schema through the store port):
 *
 * - **One turn per session at a time (P2), across processes**: a session's turns, in the order they
 *   started, never overlap — each starts at or after the end of the one before; every turn ended.
 * - **Every input terminal, once**: no input is queued or running; every input that names a turn
 *   names one of its own session.
 *
 * @packageDocumentation
 */
import pg from "pg";
import type { Count, DelegationRows, Fail } from "../crash/delegation-checks.js";

interface TurnRow {
  readonly id: string;
  readonly session_id: string;
  readonly attempt: number;
  readonly started_at_ms: string;
  readonly ended_at_ms: string | null;
}

export async function checkSchema(options: {
  readonly connectionString: string;
  readonly schema: string;
  readonly fail: Fail;
  readonly count: Count;
}): Promise<void> {
  const { fail, count } = options;
  const s = `"${options.schema}"`;
  const db = new pg.Client({ connectionString: options.connectionString });
  await db.connect();
  try {
    const turns = (
      await db.query<TurnRow>(
        `SELECT id, session_id, attempt, started_at_ms, ended_at_ms FROM ${s}.turns ORDER BY session_id, started_at_ms, id`,
      )
    ).rows;
    count("turns in the schema", turns.length);
    let previous: TurnRow | undefined;
    for (const turn of turns) {
      if (turn.attempt > 1) count("turns resumed (attempt > 1)");
      if (turn.ended_at_ms === null)
        fail(`turn ${turn.id} of ${turn.session_id} has not ended after the final drain`);
      if (
        previous?.session_id === turn.session_id &&
        previous.ended_at_ms !== null &&
        Number(turn.started_at_ms) < Number(previous.ended_at_ms)
      )
        fail(
          `${turn.session_id}: turn ${turn.id} started at ${turn.started_at_ms} (attempt ${turn.attempt}), before turn ${previous.id} (attempt ${previous.attempt}, started ${previous.started_at_ms}) ended at ${previous.ended_at_ms}: two turns at once`,
        );
      previous = turn;
    }
    const live = (
      await db.query<{ id: string; status: string }>(
        `SELECT id, status FROM ${s}.inputs WHERE status IN ('queued', 'running') ORDER BY ord LIMIT 20`,
      )
    ).rows;
    for (const input of live) fail(`input ${input.id} is still ${input.status} after the final drain`);
    const strays = (
      await db.query<{ id: string; turn_id: string }>(
        `SELECT i.id, i.turn_id FROM ${s}.inputs i LEFT JOIN ${s}.turns t ON t.id = i.turn_id
          WHERE i.turn_id IS NOT NULL AND (t.id IS NULL OR t.session_id <> i.session_id) LIMIT 20`,
      )
    ).rows;
    for (const input of strays)
      fail(`input ${input.id} names turn ${input.turn_id}, which is not a turn of its session`);
  } finally {
    await db.end();
  }
}

/** The rows the delegation checks read (`test/crash/delegation-checks.ts`), from the schema. */
export async function readDelegationRows(connectionString: string, schema: string): Promise<DelegationRows> {
  const s = `"${schema}"`;
  const db = new pg.Client({ connectionString });
  await db.connect();
  try {
    const delegations = (
      await db.query(
        `SELECT id, parent_session_id, record, completion, delivery, delivery_reason, delivery_input_id
           FROM ${s}.delegations ORDER BY ord`,
      )
    ).rows;
    const carriers = (
      await db.query(
        `SELECT i.id, i.session_id, i.delegation_id, i.status, i.turn_id, i.policy, coalesce(i.outcome, t.outcome) AS outcome
           FROM ${s}.inputs i LEFT JOIN ${s}.turns t ON t.id = i.turn_id
          WHERE i.delegation_id IS NOT NULL ORDER BY i.ord`,
      )
    ).rows;
    const history = (
      await db.query(
        `SELECT h.session_id, h.turn_id, m.value::text AS message
           FROM ${s}.history h, json_array_elements(h.messages::json) WITH ORDINALITY AS m(value, n)
          ORDER BY h.id, m.n`,
      )
    ).rows;
    return { delegations, carriers, history } as unknown as DelegationRows;
  } finally {
    await db.end();
  }
}
