/**
 * Every statement the PostgreSQL store runs, one named constant each (the delegation log's in
 * `delegation-statements.ts`, the retention sweep's in `retention-statements.ts`, the event log's in
 * `event-statements.ts`); `{s}` stands for the store's quoted schema, replaced once per store by
 * {@link statementsFor}.
 *
 * Turn writes are fenced twice. By attempt, as in every store (`attempt = $n`, and only while the
 * turn runs). And by lease: a write of a session's turn carries the owner and the lease epoch it
 * was made under, and matches only while the session's row still names both — the row is locked
 * `FOR SHARE` by the check, so a takeover (which raises the epoch) waits for the writer's commit,
 * and a writer whose lease moved finds no row and writes nothing. Each such write returns the
 * sessions (and epochs) the check kept out, so the writer learns when it commits that it lost them.
 *
 * Inserts ignore rows that exist and updates are guarded by the state they move from, so the
 * worker can replay a transaction whose commit it never heard back about (`connection-worker.ts`).
 *
 * @packageDocumentation
 */

import { DELEGATION_SQL } from "./delegation-statements.js";
import { EVENT_SQL } from "./event-statements.js";
import { RETENTION_SQL } from "./retention-statements.js";

/** The server's clock in milliseconds: lease times never depend on the processes' clocks agreeing. */
const NOW_MS = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/**
 * A single-row turn write under the lease check: `write` (an `UPDATE … WHERE …`) runs only while the
 * session's row names this owner and epoch (params `$owner`, `$epoch`), locked `FOR SHARE`, and the
 * statement returns the session and epoch when the check kept it out, as {@link FENCED_OUT} does.
 */
function fencedOne(session: string, owner: string, epoch: string, write: string): string {
  return `WITH f AS MATERIALIZED (SELECT 1 FROM {s}.sessions x
      WHERE x.id = ${session} AND x.owner = ${owner} AND x.epoch = ${epoch} FOR SHARE),
    w AS (${write} AND EXISTS (SELECT 1 FROM f))
    SELECT ${session}::text AS session_id, ${epoch}::bigint AS epoch WHERE NOT EXISTS (SELECT 1 FROM f)`;
}

/**
 * The lease check of a multi-row write, as a CTE: the rows of `u` (its `session_id` and `epoch`
 * columns) whose session's row names this owner (param `$owner`) and that epoch, locked `FOR SHARE`
 * as {@link fence} locks them. Rows of `u` join it with `EXISTS`, so a session named twice in `u`
 * writes each of its rows once.
 */
function fenceRows(owner: string): string {
  return `f AS MATERIALIZED (SELECT x.id, x.epoch FROM {s}.sessions x
      WHERE x.owner = ${owner} AND (x.id, x.epoch) IN (SELECT u.session_id, u.epoch FROM u) FOR SHARE)`;
}

/** Whether the row of `u` passed the lease check of {@link fenceRows}. */
const FENCED = "EXISTS (SELECT 1 FROM f WHERE f.id = u.session_id AND f.epoch = u.epoch)";

/**
 * What a multi-row turn write returns: the session and epoch of each row of `u` the lease check
 * kept out (its lease moved), so the process learns it lost those sessions when the group commits.
 * Its writes are in the statement's `WITH`, which PostgreSQL runs whether or not this reads them.
 */
const FENCED_OUT = `SELECT u.session_id, u.epoch FROM u WHERE NOT ${FENCED}`;

/** A session nobody holds: no owner, or an owner whose process stopped beating. */
const FREE = `(x.owner IS NULL OR NOT EXISTS (
    SELECT 1 FROM {s}.processes p WHERE p.id = x.owner AND p.alive_until_ms > ${NOW_MS}))`;

/** A session with no live input: nothing stored waits to be taken up. */
const IDLE =
  "NOT EXISTS (SELECT 1 FROM {s}.inputs i WHERE i.session_id = x.id AND i.status IN ('queued', 'running'))";

/**
 * The epoch a claim leaves: one up at a change of owner, the same when the owner claims again (a
 * restart under its name, or a claim replayed after a commit whose answer was lost).
 */
function nextEpoch(row: string, owner: string): string {
  return `CASE WHEN ${row}.owner = ${owner} THEN ${row}.epoch ELSE ${row}.epoch + 1 END`;
}

/**
 * The taker of a single-row input insert: `$9`, or when that is NULL `$10` if the session's row names
 * it (input sent to a session `$10` is creating; `new-sessions.ts`).
 */
const TAKEN_BY = "coalesce($9, (SELECT x.owner FROM {s}.sessions x WHERE x.id = $2 AND x.owner = $10))";

/** An input's row, its outcome that of the turn that ended it if it has none. */
const INPUT_COLUMNS = `SELECT i.id, i.session_id, i.seq, i.payload, i.policy, i.idempotency_key, i.accepted_at_ms,
    i.delegation_id, i.status, i.turn_id, i.steer_step, coalesce(i.outcome, t.outcome) AS outcome
  FROM {s}.inputs i LEFT JOIN {s}.turns t ON i.outcome IS NULL AND t.id = i.turn_id`;

const RECORD_COLUMNS =
  "SELECT id, session_id, seq, payload, policy, idempotency_key, accepted_at_ms, delegation_id FROM {s}.inputs";

const SQL = {
  /** Params: id, host, pid, lease_ms. */
  registerProcess: `INSERT INTO {s}.processes (id, host, pid, alive_until_ms) VALUES ($1, $2, $3, ${NOW_MS} + $4)
    ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, alive_until_ms = excluded.alive_until_ms`,
  /**
   * Of the sessions this process thinks it holds, those the database names another owner (or none)
   * for, with their epoch. Params: ids, owner.
   */
  lostSessions: "SELECT id, epoch FROM {s}.sessions WHERE id = ANY($1::text[]) AND owner IS DISTINCT FROM $2",
  /** The heartbeat. Params: id, lease_ms. */
  renewProcess: `UPDATE {s}.processes SET alive_until_ms = ${NOW_MS} + $2 WHERE id = $1`,
  /** A clean stop: every lease handed back at once. Param: id. */
  releaseAll: "UPDATE {s}.sessions SET owner = NULL WHERE owner = $1",
  /** Sessions still named as this process's that it gave up. Params: owner, the ids it holds. */
  releaseStray: "UPDATE {s}.sessions SET owner = NULL WHERE owner = $1 AND NOT (id = ANY($2::text[]))",
  forgetProcess: "DELETE FROM {s}.processes WHERE id = $1",

  /**
   * Takes the leases of sessions with live input that nobody holds (or this process held before a
   * restart), at most `$2`, skipping rows another process is claiming. Params: owner, limit.
   */
  claimSessions: `UPDATE {s}.sessions s SET owner = $1, epoch = ${nextEpoch("s", "$1")}
    FROM (SELECT x.id FROM {s}.sessions x
      WHERE (x.owner = $1 OR ${FREE})
        AND EXISTS (SELECT 1 FROM {s}.inputs i WHERE i.session_id = x.id AND i.status IN ('queued', 'running'))
      ORDER BY x.id LIMIT $2 FOR UPDATE SKIP LOCKED) c
    WHERE s.id = c.id RETURNING s.id, s.epoch`,
  /**
   * `claimSessions` for a running process: never a session it holds, whose epoch must not move, but
   * those of `$3` — its own, claimed by a claim that failed before the runtime took their work up —
   * are taken again under a new epoch. Params: owner, limit, those ids.
   */
  claimFree: `UPDATE {s}.sessions s SET owner = $1, epoch = s.epoch + 1
    FROM (SELECT x.id FROM {s}.sessions x
      WHERE ((x.owner IS DISTINCT FROM $1 AND ${FREE}) OR (x.owner = $1 AND x.id = ANY($3::text[])))
        AND EXISTS (SELECT 1 FROM {s}.inputs i WHERE i.session_id = x.id AND i.status IN ('queued', 'running'))
      ORDER BY x.id LIMIT $2 FOR UPDATE SKIP LOCKED) c
    WHERE s.id = c.id RETURNING s.id, s.epoch`,
  /**
   * Takes one session's lease if nobody holds it and it has no live input: stored work (a turn its
   * dead holder ran, input accepted elsewhere) is taken up only by a claim that hands it back
   * (`claimFree`, `claimSessions`). The same for a session named this process's that it does not
   * hold (it gave it up): its work may be there. Params: id, owner.
   */
  claimSession: `UPDATE {s}.sessions x SET owner = $2, epoch = ${nextEpoch("x", "$2")}
    WHERE x.id = $1 AND (x.owner = $2 OR ${FREE}) AND ${IDLE} RETURNING x.epoch`,
  /**
   * Creates the sessions no process made yet, held by `owner` (or free, when NULL); returns those it
   * created. Params: ids, agents, created_at_ms (arrays, one element per session), owner.
   */
  insertSessions: `INSERT INTO {s}.sessions (id, agent, created_at_ms, owner, epoch)
      SELECT u.id, u.agent, u.created_at_ms, $4, 1
        FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(id, agent, created_at_ms)
    ON CONFLICT (id) DO NOTHING RETURNING id, epoch`,
  allSessions: "SELECT id, agent, created_at_ms FROM {s}.sessions ORDER BY created_at_ms, id",

  /**
   * Params: id, session_id, seq, payload, policy, idempotency_key, accepted_at_ms, delegation_id,
   * taken_by, and the process creating the session (taking the input if the session's row names it;
   * NULL when none is).
   */
  insertInput: `INSERT INTO {s}.inputs
      (id, session_id, seq, payload, policy, idempotency_key, accepted_at_ms, delegation_id, taken_by, status)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, ${TAKEN_BY}, 'queued') ON CONFLICT DO NOTHING RETURNING id`,
  /**
   * `insertInput` for many inputs without an idempotency key, in the order given; one whose taken_by
   * is NULL is taken by `$9` if its session's row names it. Params: ids, session ids, seqs, payloads,
   * policies, accepted_at_ms, delegation ids, taken_by (arrays, one element per input), owner.
   */
  insertInputs: `INSERT INTO {s}.inputs
      (id, session_id, seq, payload, policy, accepted_at_ms, delegation_id, taken_by, status)
    SELECT u.id, u.session_id, u.seq, u.payload, u.policy, u.accepted_at_ms, u.delegation_id,
        coalesce(u.taken_by, (SELECT x.owner FROM {s}.sessions x WHERE x.id = u.session_id AND x.owner = $9)),
        'queued'
      FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::text[],
          $8::text[])
        WITH ORDINALITY AS u(id, session_id, seq, payload, policy, accepted_at_ms, delegation_id, taken_by, ord)
      ORDER BY u.ord
    ON CONFLICT DO NOTHING`,
  /**
   * Policy `reject` for a session another process holds: the input is written only while the
   * session has no live input, after `lockSession` (a statement of its own, so this one's snapshot
   * sees what committed while it waited for the lock). Params: those of `insertInput`.
   */
  insertIfIdle: `INSERT INTO {s}.inputs
      (id, session_id, seq, payload, policy, idempotency_key, accepted_at_ms, delegation_id, taken_by, status)
    SELECT $1, $2, $3, $4, $5, $6, $7, $8, ${TAKEN_BY}, 'queued'
    WHERE NOT EXISTS (SELECT 1 FROM {s}.inputs WHERE session_id = $2 AND status IN ('queued', 'running'))
    ON CONFLICT DO NOTHING RETURNING id`,
  /** Param: session id. */
  lockSession: "SELECT id FROM {s}.sessions WHERE id = $1 FOR UPDATE",
  /** A wake for the session's owner, delivered when the transaction commits. Params: channel, session id. */
  notify: "SELECT pg_notify($1, $2)",
  inputById: `${INPUT_COLUMNS} WHERE i.id = $1`,
  inputByKey: `${INPUT_COLUMNS} WHERE i.session_id = $1 AND i.idempotency_key = $2`,
  maxSeq: "SELECT max(seq) AS seq FROM {s}.inputs",
  /** Param: session ids. */
  queuedRecords: `${RECORD_COLUMNS} WHERE status = 'queued' AND session_id = ANY($1::text[]) ORDER BY seq, ord`,
  /**
   * Input this process has not taken up for the sessions it holds (all, or those of $2): accepted
   * elsewhere, or taken by a process that lost the session since. Params: owner, session ids or NULL.
   */
  untakenRecords: `${RECORD_COLUMNS} WHERE status = 'queued' AND taken_by IS DISTINCT FROM $1
      AND session_id IN (SELECT id FROM {s}.sessions WHERE owner = $1)
      AND ($2::text[] IS NULL OR session_id = ANY($2::text[]))
    ORDER BY seq, ord`,
  /** A cancel or withdraw for the holder to carry out. Params: id, request JSON, only while queued. */
  requestEnd: `UPDATE {s}.inputs SET end_request = $2
    WHERE id = $1 AND (status = 'queued' OR (status = 'running' AND NOT $3::boolean)) RETURNING status`,
  /** End requests for the sessions this process holds (all, or those of $2). Params: owner, session ids or NULL. */
  endRequests: `SELECT id, session_id, end_request FROM {s}.inputs
    WHERE end_request IS NOT NULL AND status IN ('queued', 'running')
      AND session_id IN (SELECT id FROM {s}.sessions WHERE owner = $1)
      AND ($2::text[] IS NULL OR session_id = ANY($2::text[]))`,
  /** Param: input ids. */
  clearEndRequests: "UPDATE {s}.inputs SET end_request = NULL WHERE id = ANY($1::text[])",
  /** Params: input ids, owner. */
  takeInputs: "UPDATE {s}.inputs SET taken_by = $2 WHERE id = ANY($1::text[])",
  /** Param: input ids. */
  inputsById: `${INPUT_COLUMNS} WHERE i.id = ANY($1::text[])`,
  /** Sessions by id. Param: ids. */
  sessionsById:
    "SELECT id, agent, created_at_ms FROM {s}.sessions WHERE id = ANY($1::text[]) ORDER BY created_at_ms, id",
  /** Param: input ids. */
  recordsById: `${RECORD_COLUMNS} WHERE id = ANY($1::text[])`,

  /** Returns the session and epoch if the lease check kept it out. Params: input, turn, attempt, session, owner, epoch. */
  steerInput: fencedOne(
    "$4",
    "$5",
    "$6",
    `UPDATE {s}.inputs SET status = 'running', turn_id = $2,
        steer_step = (SELECT step FROM {s}.turns WHERE id = $2)
      WHERE id = $1 AND status = 'queued'
        AND EXISTS (SELECT 1 FROM {s}.turns WHERE id = $2 AND attempt = $3 AND ended_at_ms IS NULL)`,
  ),
  /**
   * Returns the session and epoch if the lease check kept it out. Params: status, outcome,
   * ended_at_ms, id, session, owner, epoch.
   */
  endQueuedInput: fencedOne(
    "$5",
    "$6",
    "$7",
    `UPDATE {s}.inputs SET status = $1, outcome = $2, ended_at_ms = $3, steer_step = NULL, turn_id = NULL
      WHERE id = $4 AND (status = 'queued' OR (status = 'running' AND steer_step IS NOT NULL))`,
  ),
  /**
   * A turn start of each of many turns, each fenced by its own epoch (its row inserted, or a later
   * attempt's written over an unended one; its inputs running in it); no two name the same turn or
   * input. Returns the rows the lease check kept out (session_id, epoch).
   * Params: turn ids, sessions, attempts, input ids JSON, started_at_ms, epochs (arrays, one element
   * per turn), owner.
   */
  startTurns: `WITH u AS MATERIALIZED (
      SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::bigint[], $6::bigint[])
        AS u(id, session_id, attempt, input_ids, started_at_ms, epoch)),
    ${fenceRows("$7")},
    t AS (
      INSERT INTO {s}.turns (id, session_id, attempt, input_ids, started_at_ms)
        SELECT u.id, u.session_id, u.attempt, u.input_ids, u.started_at_ms FROM u WHERE ${FENCED}
      ON CONFLICT (id) DO UPDATE SET attempt = excluded.attempt, input_ids = excluded.input_ids
        WHERE excluded.attempt > {s}.turns.attempt AND {s}.turns.ended_at_ms IS NULL
      RETURNING id, session_id, input_ids),
    running AS (
      UPDATE {s}.inputs i SET status = 'running', turn_id = t.id, steer_step = NULL
        FROM t, json_array_elements_text(t.input_ids::json) AS e(id)
        WHERE i.id = e.id AND i.session_id = t.session_id AND i.status IN ('queued', 'running'))
    ${FENCED_OUT}`,
  /** Returns the session and epoch if the lease check kept it out. Params: step, messages, id, attempt, session, owner, epoch. */
  checkpointTurn: fencedOne(
    "$5",
    "$6",
    "$7",
    `UPDATE {s}.turns SET step = $1, messages = $2 WHERE id = $3 AND attempt = $4 AND ended_at_ms IS NULL`,
  ),
  /**
   * A turn end of each of many turns, each fenced by its own epoch (the turn, its inputs — each takes
   * the outcome, except the requeued ones — and its history); history rows go in in the order given.
   * Returns the rows the lease check kept out (session_id, epoch).
   * Params: turn ids, attempts, outcomes, usages, ended_at_ms, statuses, requeued input ids JSON,
   * sessions, messages (NULL when none), epochs (arrays, one element per turn), owner.
   */
  endTurns: `WITH u AS MATERIALIZED (
      SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::bigint[], $6::text[],
          $7::text[], $8::text[], $9::text[], $10::bigint[]) WITH ORDINALITY
        AS u(id, attempt, outcome, usage, ended_at_ms, status, requeued, session_id, messages, epoch, ord)),
    ${fenceRows("$11")},
    t AS (
      UPDATE {s}.turns x SET outcome = u.outcome, usage = u.usage, ended_at_ms = u.ended_at_ms, messages = '[]'
        FROM u WHERE x.id = u.id AND x.attempt = u.attempt AND x.ended_at_ms IS NULL AND ${FENCED}
        RETURNING x.id),
    e AS MATERIALIZED (SELECT u.* FROM u JOIN t ON t.id = u.id),
    requeued AS (
      UPDATE {s}.inputs i SET status = 'queued', turn_id = NULL, steer_step = NULL
        FROM e, json_array_elements_text(e.requeued::json) AS r(id)
        WHERE i.id = r.id AND i.status = 'running' AND i.turn_id = e.id),
    ended AS (
      UPDATE {s}.inputs i SET status = e.status, ended_at_ms = e.ended_at_ms, steer_step = NULL
        FROM e WHERE i.turn_id = e.id AND i.status = 'running'
          AND NOT (i.id IN (SELECT json_array_elements_text(e.requeued::json)))),
    history AS (
      INSERT INTO {s}.history (session_id, turn_id, messages)
        SELECT e.session_id, e.id, e.messages FROM e WHERE e.messages IS NOT NULL ORDER BY e.ord
      ON CONFLICT (turn_id) DO NOTHING)
    ${FENCED_OUT}`,
  /**
   * `startTurns` then `endTurns` of many turns that start and end in one group, each written once:
   * the turn inserted ended, its inputs straight to their outcome (or queued again, if requeued),
   * its history appended, in the order given. Returns the rows the lease check kept out (session_id,
   * epoch). Params: turn ids, sessions, attempts, input ids JSON, started_at_ms, epochs, outcomes,
   * usages, ended_at_ms, statuses, requeued input ids JSON, messages (NULL when none) (arrays, one
   * element per turn), owner.
   */
  runTurns: `WITH u AS MATERIALIZED (
      SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::bigint[], $6::bigint[],
          $7::text[], $8::text[], $9::bigint[], $10::text[], $11::text[], $12::text[]) WITH ORDINALITY
        AS u(id, session_id, attempt, input_ids, started_at_ms, epoch, outcome, usage, ended_at_ms,
          status, requeued, messages, ord)),
    ${fenceRows("$13")},
    t AS (
      INSERT INTO {s}.turns (id, session_id, attempt, input_ids, started_at_ms, outcome, usage, ended_at_ms)
        SELECT u.id, u.session_id, u.attempt, u.input_ids, u.started_at_ms, u.outcome, u.usage, u.ended_at_ms
          FROM u WHERE ${FENCED}
      ON CONFLICT (id) DO UPDATE SET attempt = excluded.attempt, input_ids = excluded.input_ids,
          outcome = excluded.outcome, usage = excluded.usage, ended_at_ms = excluded.ended_at_ms, messages = '[]'
        WHERE excluded.attempt > {s}.turns.attempt AND {s}.turns.ended_at_ms IS NULL
      RETURNING id),
    e AS MATERIALIZED (SELECT u.* FROM u JOIN t ON t.id = u.id),
    inputs AS (
      UPDATE {s}.inputs i SET steer_step = NULL,
          status = CASE WHEN r.id IS NULL THEN e.status ELSE 'queued' END,
          turn_id = CASE WHEN r.id IS NULL THEN e.id END,
          ended_at_ms = CASE WHEN r.id IS NULL THEN e.ended_at_ms END
        FROM e CROSS JOIN json_array_elements_text(e.input_ids::json) AS x(id)
          LEFT JOIN json_array_elements_text(e.requeued::json) AS r(id) ON r.id = x.id
        WHERE i.id = x.id AND i.session_id = e.session_id AND i.status IN ('queued', 'running')),
    history AS (
      INSERT INTO {s}.history (session_id, turn_id, messages)
        SELECT e.session_id, e.id, e.messages FROM e WHERE e.messages IS NOT NULL ORDER BY e.ord
      ON CONFLICT (turn_id) DO NOTHING)
    ${FENCED_OUT}`,
  /** Param: session ids. */
  runningTurns: `SELECT id, session_id, attempt, input_ids, step, messages FROM {s}.turns
    WHERE ended_at_ms IS NULL AND session_id = ANY($1::text[]) ORDER BY started_at_ms, id`,
  /** Inputs steered into a running turn, oldest first. Param: turn id. */
  steeredInputs: `SELECT id, steer_step FROM {s}.inputs
    WHERE turn_id = $1 AND status = 'running' AND steer_step IS NOT NULL ORDER BY seq, ord`,
  /** Recovery of a steered input its turn's checkpoint holds. Params: id, turn id, input ids JSON of the turn. */
  adoptSteered: `WITH i AS (UPDATE {s}.inputs SET steer_step = NULL WHERE id = $1)
    UPDATE {s}.turns SET input_ids = $3 WHERE id = $2`,
  /** Params: id, turn id. */
  requeueInput: `UPDATE {s}.inputs SET status = 'queued', turn_id = NULL, steer_step = NULL
    WHERE id = $1 AND status = 'running' AND turn_id = $2`,

  /**
   * A session's history, one row a turn: the newest `$2` rows (NULL: all), so a read keeps the
   * bound whether or not a sweep has trimmed the session yet (`held-histories.ts`). Params:
   * session id, the bound.
   */
  history: `SELECT messages FROM (SELECT id, messages FROM {s}.history WHERE session_id = $1
      ORDER BY id DESC LIMIT $2) h
    ORDER BY id`,
  ...DELEGATION_SQL,
  ...RETENTION_SQL,
  ...EVENT_SQL,
} as const;

export type Statements = { readonly [K in keyof typeof SQL]: string };

/**
 * The statements of a turn's path, each prepared once per connection (pg's named queries). Not the
 * others: a prepared statement may run a generic plan, in which `id = ANY($1)` compares each row
 * with every element of the array instead of looking it up in a hash of them (as a custom plan does
 * with the array as a constant), and the claims' arrays hold every session a process holds.
 */
export const PREPARED = [
  "insertSessions",
  "insertInput",
  "insertInputs",
  "startTurns",
  "endTurns",
  "runTurns",
  "checkpointTurn",
  "steerInput",
  "endQueuedInput",
  "notify",
  "history",
  "inputById",
  "inputByKey",
  "insertEvents",
  "eventsAfter",
  "lastEventSeq",
] as const satisfies readonly (keyof typeof SQL)[];

/** The statements with the schema filled in. */
export function statementsFor(quotedSchema: string): Statements {
  const out: Record<string, string> = {};
  for (const [name, sql] of Object.entries(SQL)) out[name] = sql.replaceAll("{s}", quotedSchema);
  return out as Statements;
}
