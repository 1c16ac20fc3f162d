/**
 * The statements of the PostgreSQL store's retention sweep (`retention-sweep.ts`,
 * `count-cutoff.ts`, `fleet-sweep.ts`), one named constant each, part of `statements.ts`'s; `{s}`
 * stands for the store's quoted schema. Each runs in a transaction of its own, on the sweep's own
 * connection, under the fleet's sweep lock (`fleet-sweep.ts` says why one statement a transaction).
 *
 * Ended inputs are ordered by `(ended_at_ms, ord)`: `ord` is unique and in insert order, so it
 * breaks ties of end times between processes, whose `seq` may repeat (the SQLite store, one
 * process, breaks them by `seq`). Every bound has two forms: over all ended inputs, and over those
 * with an idempotency key; each reads the partial index of its kind (migration 2).
 *
 * @packageDocumentation
 */

/** The ended inputs a bound counts, as each of the two partial indexes of migration 2 has them. */
const ENDED = {
  all: "ended_at_ms IS NOT NULL",
  keyed: "ended_at_ms IS NOT NULL AND idempotency_key IS NOT NULL",
} as const;

/**
 * Deletes a batch of the ended inputs `where` names, oldest end first, and the ended turns no input
 * takes its outcome from any more, in one statement (so no crash between the two leaves a turn
 * behind); returns how many of each. Queued and running inputs are never deleted, whatever their
 * columns say. An input that takes a turn's outcome ended with it, at its end time (`endTurns`,
 * `runTurns`; an input ended on its own loses its `turn_id`), so the turns' check reads the index of
 * ended inputs at that time rather than every input; the statement's own deletes are not seen by
 * it (one snapshot), so it leaves them out by id.
 */
function deleteEnded(where: string, rows: string): string {
  return `WITH gone AS (
      DELETE FROM {s}.inputs WHERE id IN (SELECT id FROM {s}.inputs
          WHERE ${where} ORDER BY ended_at_ms, ord LIMIT ${rows})
        AND status NOT IN ('queued', 'running')
      RETURNING id, turn_id),
    turns AS (
      DELETE FROM {s}.turns t WHERE t.id IN (SELECT turn_id FROM gone) AND t.ended_at_ms IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM {s}.inputs i WHERE i.ended_at_ms = t.ended_at_ms AND i.turn_id = t.id
          AND i.id NOT IN (SELECT id FROM gone))
      RETURNING t.id)
    SELECT (SELECT count(*) FROM gone)::int AS inputs, (SELECT count(*) FROM turns)::int AS turns`;
}

const NEWEST_FIRST = "ORDER BY ended_at_ms DESC, ord DESC LIMIT 1";

export const RETENTION_SQL = {
  /** Takes the fleet's sweep lock for the connection, or answers false at once. Param: the lock's name. */
  tryLock: "SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked",
  /** Takes the fleet's sweep lock for the connection, waiting for it (`sweepNow`). Param: the lock's name. */
  lock: "SELECT true AS locked FROM (SELECT pg_advisory_lock(hashtextextended($1, 0))) l",
  /** Param: the lock's name. */
  unlock: "SELECT pg_advisory_unlock(hashtextextended($1, 0))",
  /** The newest end: ages count from it. */
  newestEnd: `SELECT max(ended_at_ms) AS ms FROM {s}.inputs WHERE ${ENDED.all}`,

  /** The entry `$1` entries past the newest end. */
  cutoffFromNewest: `SELECT ended_at_ms AS ms, ord FROM {s}.inputs WHERE ${ENDED.all} ${NEWEST_FIRST} OFFSET $1`,
  cutoffFromNewestKeyed: `SELECT ended_at_ms AS ms, ord FROM {s}.inputs WHERE ${ENDED.keyed} ${NEWEST_FIRST} OFFSET $1`,
  /** The entry `$3` entries past (ms, ord) = ($1, $2), exclusive. */
  cutoffFromOlder: `SELECT ended_at_ms AS ms, ord FROM {s}.inputs
    WHERE ${ENDED.all} AND (ended_at_ms, ord) < ($1, $2) ${NEWEST_FIRST} OFFSET $3`,
  cutoffFromOlderKeyed: `SELECT ended_at_ms AS ms, ord FROM {s}.inputs
    WHERE ${ENDED.keyed} AND (ended_at_ms, ord) < ($1, $2) ${NEWEST_FIRST} OFFSET $3`,

  /** Params: ms, ord (through them, inclusive), rows. Returns inputs and turns deleted. */
  deleteThrough: deleteEnded(`${ENDED.all} AND (ended_at_ms, ord) <= ($1, $2)`, "$3"),
  deleteThroughKeyed: deleteEnded(`${ENDED.keyed} AND (ended_at_ms, ord) <= ($1, $2)`, "$3"),
  /** Params: ms (exclusive), rows. Returns inputs and turns deleted. */
  deleteBefore: deleteEnded(`${ENDED.all} AND ended_at_ms < $1`, "$2"),
  deleteBeforeKeyed: deleteEnded(`${ENDED.keyed} AND ended_at_ms < $1`, "$2"),
  /** Whether a round of sweeps, by any process, ended less than `$1` ms ago. */
  roundEndedLately: `SELECT round_ended_at > now() - make_interval(secs => $1::float8 / 1000) AS lately
    FROM {s}.retention_marks WHERE id = 1`,
  roundEnded: "UPDATE {s}.retention_marks SET round_ended_at = now() WHERE id = 1",
  /** How far the sweeps have looked through history, and under which bound. */
  historyMarks:
    "SELECT history_seen_id AS seen, history_turns_max AS bound FROM {s}.retention_marks WHERE id = 1",
  /** Looks through history again from its start, under a new bound. Param: the bound. */
  restartHistory: "UPDATE {s}.retention_marks SET history_seen_id = 0, history_turns_max = $1 WHERE id = 1",
  /** Param: the id history has been looked through to. */
  markHistorySeen: "UPDATE {s}.retention_marks SET history_seen_id = $1 WHERE id = 1",
  /** History rows added since `$1`, oldest first, at most `$2`: their sessions' histories grew. */
  historyGrown: "SELECT id, session_id FROM {s}.history WHERE id > $1 ORDER BY id LIMIT $2",
  /**
   * Deletes the history rows of the sessions `$1` beyond the newest `$2` of each (one row a turn, so
   * whole turns go, oldest first), at most `$3`, and returns each row's session. Params: session
   * ids, the bound, rows.
   */
  trimHistories: `DELETE FROM {s}.history WHERE id IN (
      SELECT h.id FROM unnest($1::text[]) AS u(session_id)
        CROSS JOIN LATERAL (SELECT x.id FROM {s}.history x WHERE x.session_id = u.session_id
          ORDER BY x.id DESC OFFSET $2 LIMIT 1) beyond
        JOIN {s}.history h ON h.session_id = u.session_id AND h.id <= beyond.id
      ORDER BY h.id LIMIT $3)
    RETURNING session_id`,
} as const;
