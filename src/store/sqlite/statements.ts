/**
 * Every statement the SQLite store runs, one named constant each, prepared once per connection.
 *
 * Turn writes are fenced in SQL: they match only the turn's current attempt (`attempt = ?`) and only
 * while it runs (`ended_at_ms IS NULL`), so a write from an attempt a crash cut short changes nothing.
 *
 * @packageDocumentation
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { type MultiRowSpec, MultiRowStatement } from "./multi-row-statement.js";

/** An input's row, its outcome that of the turn that ended it if it has none (see `inputById`). */
const INPUT_COLUMNS = `SELECT i.id, i.session_id, i.seq, i.payload, i.policy, i.idempotency_key, i.accepted_at_ms,
    i.delegation_id, i.status, i.turn_id, i.steer_step, coalesce(i.outcome, t.outcome) AS outcome
  FROM inputs i LEFT JOIN turns t ON i.outcome IS NULL AND t.id = i.turn_id`;

/**
 * An input's record, read back at recovery. Its statements return each row as an array of these
 * columns, in this order (`RecordColumns` of rows.ts): a backlog of 100 000 queued inputs is read
 * about 4× faster than as objects with a property per column.
 */
const RECORD_COLUMNS =
  "SELECT id, session_id, seq, payload, policy, idempotency_key, accepted_at_ms, delegation_id FROM inputs";

/** Statements whose rows are arrays of {@link RECORD_COLUMNS}. */
const RECORDS = {
  /**
   * Every session, as arrays of id, agent, created_at_ms; in no order (a start reads all of them, and
   * sorting ten thousand costs a temporary B-tree for nothing).
   */
  allSessions: "SELECT id, agent, created_at_ms FROM sessions",
  queuedRecords: `${RECORD_COLUMNS} WHERE status = 'queued' ORDER BY seq`,
  /** One session's queued inputs (index `inputs_queued_by_session`). Param: session_id. */
  queuedOf: `${RECORD_COLUMNS} WHERE status = 'queued' AND session_id = ? ORDER BY seq`,
  recordById: `${RECORD_COLUMNS} WHERE id = ?`,
} as const;

const SQL = {
  /** Params: id, session_id, seq, payload, policy, idempotency_key, accepted_at_ms, delegation_id. */
  insertInput: `INSERT INTO inputs
      (id, session_id, seq, payload, policy, idempotency_key, accepted_at_ms, delegation_id, status)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued')`,
  /**
   * An input a turn ended keeps no outcome of its own: it is its turn's (the same JSON, written in the
   * same transaction, and an ended turn's row never changes), so the two reads take it from there.
   */
  inputById: `${INPUT_COLUMNS} WHERE i.id = ?`,
  inputByKey: `${INPUT_COLUMNS} WHERE i.session_id = ? AND i.idempotency_key = ?`,
  maxSeq: "SELECT max(seq) AS seq FROM inputs",
  /** Queued inputs, counted at a paged recovery (from the index `inputs_queued_by_session`). */
  queuedCount: "SELECT count(*) AS n FROM inputs WHERE status = 'queued'",
  /** The next session, in id order, with queued inputs: one index seek. Param: the last session id. */
  nextQueuedSession: `SELECT session_id FROM inputs WHERE status = 'queued' AND session_id > ?
    ORDER BY session_id LIMIT 1`,

  /** A queued input joins a running turn, if the attempt is current; it remembers the turn's step. */
  steerInput: `UPDATE inputs SET status = 'running', turn_id = $turn,
      steer_step = (SELECT step FROM turns WHERE id = $turn)
    WHERE id = $input AND status = 'queued'
      AND EXISTS (SELECT 1 FROM turns WHERE id = $turn AND attempt = $attempt AND ended_at_ms IS NULL)`,
  /** A queued input, or one steered into a turn and not adopted by it. Params: status, outcome, ended_at_ms, id. */
  endQueuedInput: `UPDATE inputs SET status = ?, outcome = ?, ended_at_ms = ?, steer_step = NULL, turn_id = NULL
    WHERE id = ? AND (status = 'queued' OR (status = 'running' AND steer_step IS NOT NULL))`,
  /** Params: id, turn_id. */
  requeueInput: `UPDATE inputs SET status = 'queued', turn_id = NULL, steer_step = NULL
    WHERE id = ? AND status = 'running' AND turn_id = ?`,
  /** It takes its turn's outcome (see `inputById`). Params: status, ended_at_ms, id, turn_id. */
  endRunningInput: `UPDATE inputs SET status = ?, ended_at_ms = ?, steer_step = NULL
    WHERE id = ? AND status = 'running' AND turn_id = ?`,
  /** An input written with a held turn's state, put back as accepted (see `held-rows.ts`). Param: id. */
  untakeInput: "UPDATE inputs SET status = 'queued', turn_id = NULL, ended_at_ms = NULL WHERE id = ?",
  /** Inputs steered into a running turn, oldest first. Param: turn_id. */
  steeredInputs: `SELECT id, steer_step FROM inputs
    WHERE turn_id = ? AND status = 'running' AND steer_step IS NOT NULL ORDER BY seq`,
  /** Param: id. */
  adoptSteered: "UPDATE inputs SET steer_step = NULL WHERE id = ?",

  /** A turn start, one at a time (see `ROWS.turns`). Params: id, session_id, attempt, input_ids, started_at_ms. */
  insertTurn: `INSERT INTO turns (id, session_id, attempt, input_ids, started_at_ms) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET attempt = excluded.attempt, input_ids = excluded.input_ids
    WHERE excluded.attempt > turns.attempt AND turns.ended_at_ms IS NULL`,
  /**
   * `insertTurn` then `endTurn` in one (see `held-writes.ts`).
   * Params: id, session_id, attempt, input_ids, started_at_ms, outcome, usage, ended_at_ms.
   */
  startEndedTurn: `INSERT INTO turns (id, session_id, attempt, input_ids, started_at_ms, outcome, usage, ended_at_ms)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET attempt = excluded.attempt, input_ids = excluded.input_ids,
      outcome = excluded.outcome, usage = excluded.usage, ended_at_ms = excluded.ended_at_ms, messages = '[]'
    WHERE excluded.attempt > turns.attempt AND turns.ended_at_ms IS NULL`,
  /** Params: input_ids, id. */
  setTurnInputs: "UPDATE turns SET input_ids = ? WHERE id = ?",
  /** Params: step, messages, id, attempt. */
  checkpointTurn:
    "UPDATE turns SET step = ?, messages = ? WHERE id = ? AND attempt = ? AND ended_at_ms IS NULL",
  /** The checkpoint is dropped at the end: the history holds what it held. Params: outcome, usage, ended_at_ms, id, attempt. */
  endTurn: `UPDATE turns SET outcome = ?, usage = ?, ended_at_ms = ?, messages = '[]'
    WHERE id = ? AND attempt = ? AND ended_at_ms IS NULL`,
  runningTurns: "SELECT * FROM turns WHERE ended_at_ms IS NULL ORDER BY started_at_ms, id",

  /** Params: id, parent_session_id, record. */
  insertDelegation: "INSERT OR IGNORE INTO delegations (id, parent_session_id, record) VALUES (?, ?, ?)",
  /** Written once: ignored when the child already has a completion. */
  completeDelegation: `UPDATE delegations
    SET completion = $completion, delivery = $delivery, delivery_reason = $reason, delivery_input_id = $input
    WHERE id = $id AND completion IS NULL`,
  setDelivery: `UPDATE delegations
    SET delivery = $delivery, delivery_reason = $reason, delivery_input_id = $input
    WHERE id = $id AND completion IS NOT NULL`,
  delegationById: "SELECT * FROM delegations WHERE id = ?",
  allDelegations: "SELECT * FROM delegations ORDER BY rowid",
  delegationsOfParent: "SELECT * FROM delegations WHERE parent_session_id = ? ORDER BY rowid",
  deleteDelegation: "DELETE FROM delegations WHERE id = ?",
  spendOf: "SELECT model_calls, tokens FROM delegation_spend WHERE root_session_id = ?",
  /** Params: root_session_id, model_calls, tokens. */
  setSpend: `INSERT INTO delegation_spend (root_session_id, model_calls, tokens) VALUES (?, ?, ?)
    ON CONFLICT (root_session_id) DO UPDATE SET model_calls = excluded.model_calls, tokens = excluded.tokens`,

  /** A session's history rows after the last one a reader has (see `history-cache.ts`). Params: session_id, id. */
  historyAfter: "SELECT id, messages FROM history WHERE session_id = ? AND id > ? ORDER BY id",
  /** Params: session_id, seq, at_ms, event. */
  insertEvent: "INSERT INTO session_events (session_id, seq, at_ms, event) VALUES (?, ?, ?, ?)",
  /** Before a trim. Params: session_id, through seq. */
  setTrimmedSeq: `INSERT INTO session_event_seq (session_id, last_seq) VALUES (?, ?)
    ON CONFLICT (session_id) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq)`,
  /** Param: session_id (twice). */
  lastEventSeq: `SELECT max(coalesce((SELECT max(seq) FROM session_events WHERE session_id = ?), 0),
      coalesce((SELECT last_seq FROM session_event_seq WHERE session_id = ?), 0)) AS last_seq`,
  /** Params: session_id, after seq, limit. */
  eventsAfter:
    "SELECT seq, at_ms, event FROM session_events WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?",
  /** Params: session_id, through seq. */
  trimEvents: "DELETE FROM session_events WHERE session_id = ? AND seq <= ?",
  /** Whether history names any of the sessions; param: their ids, as a JSON array. */
  historyOfAny:
    "SELECT EXISTS (SELECT 1 FROM history WHERE session_id IN (SELECT value FROM json_each(?))) AS found",
} as const;

/** Statements of many rows each (see `multi-row-statement.ts`). */
const ROWS = {
  /**
   * Inputs without an idempotency key (`insertInput` writes those with one).
   * Row: id, session_id, seq, payload, policy, accepted_at_ms, delegation_id.
   */
  inputs: {
    head: `INSERT INTO inputs
      (id, session_id, seq, payload, policy, idempotency_key, accepted_at_ms, delegation_id, status) VALUES`,
    row: "(?, ?, ?, ?, ?, NULL, ?, ?, 'queued')",
  },
  /**
   * Those a turn held with them takes, as it leaves them (see `held-rows.ts`). Row: those of `inputs`,
   * then status, turn_id, ended_at_ms.
   */
  takenInputs: {
    head: `INSERT INTO inputs (id, session_id, seq, payload, policy, idempotency_key, accepted_at_ms,
      delegation_id, status, turn_id, ended_at_ms) VALUES`,
    row: "(?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)",
  },
  /** A session already stored keeps its first record. Row: id, agent, created_at_ms. */
  sessions: { head: "INSERT OR IGNORE INTO sessions (id, agent, created_at_ms) VALUES", row: "(?, ?, ?)" },
  /**
   * Turns not stored yet, running (outcome, usage and ended_at_ms NULL) or already ended. A turn that
   * is stored refuses the statement; its rows then go one by one through `insertTurn` or `startEndedTurn`.
   * Row: id, session_id, attempt, input_ids, started_at_ms, outcome, usage, ended_at_ms.
   */
  turns: {
    head: "INSERT INTO turns (id, session_id, attempt, input_ids, started_at_ms, outcome, usage, ended_at_ms) VALUES",
    row: "(?, ?, ?, ?, ?, ?, ?, ?)",
  },
  /** A turn's messages, as one JSON array. Row: session_id, turn_id, messages. */
  history: { head: "INSERT INTO history (session_id, turn_id, messages) VALUES", row: "(?, ?, ?)" },
  /**
   * Stored inputs a written turn takes, as it leaves them: running in it (ended_at_ms NULL), or ended
   * with it. Row: status, ended_at_ms, turn_id, id. No two rows of a statement may name the same input
   * (SQLite would apply one of them, either).
   */
  takeInputs: {
    head: `UPDATE inputs SET status = v.column1, ended_at_ms = v.column2, turn_id = v.column3, steer_step = NULL
      FROM (VALUES`,
    row: "(?, ?, ?, ?)",
    tail: ") AS v WHERE inputs.id = v.column4 AND inputs.status IN ('queued', 'running')",
  },
} as const satisfies Record<string, MultiRowSpec>;

/** The store's statements, prepared on one connection. */
export type Statements = { readonly [K in keyof typeof SQL | keyof typeof RECORDS]: StatementSync } & {
  readonly rows: { readonly [K in keyof typeof ROWS]: MultiRowStatement };
};

/** Prepares every statement once (a multi-row one per row count, when first used); the store reuses them for the connection's lifetime. */
export function prepareStatements(db: DatabaseSync): Statements {
  type Name = keyof typeof SQL | keyof typeof RECORDS;
  const out: Partial<Record<Name, StatementSync>> = {};
  for (const [name, sql] of Object.entries(SQL)) out[name as Name] = db.prepare(sql);
  for (const [name, sql] of Object.entries(RECORDS)) {
    const statement = db.prepare(sql);
    statement.setReturnArrays(true);
    out[name as Name] = statement;
  }
  const rows: Partial<Record<keyof typeof ROWS, MultiRowStatement>> = {};
  for (const [name, spec] of Object.entries(ROWS))
    rows[name as keyof typeof ROWS] = new MultiRowStatement(db, spec);
  return { ...(out as Record<Name, StatementSync>), rows: rows as Statements["rows"] };
}
