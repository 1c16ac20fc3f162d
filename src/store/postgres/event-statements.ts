/**
 * The statements of the PostgreSQL event log (`postgres-event-log.ts`): each session's numbered
 * events, and the last number trimming removed. `{s}` stands for the store's quoted schema, as in
 * `statements.ts`, which joins them to the rest.
 *
 * Appends are fenced by the lease, as turn writes are: an event's number comes from the process
 * that holds the session, so an event of a process whose lease moved must not take a number the
 * new holder gives. The fence locks the session's row `FOR SHARE`, so a takeover waits for the
 * appender's commit and the new holder's first read of the last number sees every event the old
 * holder committed.
 *
 * @packageDocumentation
 */
export const EVENT_SQL = {
  /**
   * Many events, each kept only if its lease check holds: an epoch of NULL checks nothing (a caller
   * of the port that holds no lease, as the conformance suite; the runtime appends only to sessions
   * it holds), any other that the session's row names this owner under that epoch. A number already
   * taken is left as it is (a replayed group).
   * Params: session ids, seqs, at_ms, events (JSON), epochs (arrays, one element per event), owner.
   */
  insertEvents: `WITH u AS MATERIALIZED (
      SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[])
        AS u(session_id, seq, at_ms, event, epoch)),
    f AS MATERIALIZED (SELECT x.id, x.epoch FROM {s}.sessions x
      WHERE x.owner = $6 AND x.id IN (SELECT u.session_id FROM u WHERE u.epoch IS NOT NULL) FOR SHARE)
    INSERT INTO {s}.events (session_id, seq, at_ms, event)
      SELECT u.session_id, u.seq, u.at_ms, u.event FROM u
        WHERE u.epoch IS NULL
          OR EXISTS (SELECT 1 FROM f WHERE f.id = u.session_id AND f.epoch = u.epoch)
    ON CONFLICT (session_id, seq) DO NOTHING`,
  /** Params: session id, after seq, limit. */
  eventsAfter:
    "SELECT seq, at_ms, event FROM {s}.events WHERE session_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
  /** The session's last number: its newest event's, or the last one trimmed. Param: session id. */
  lastEventSeq: `SELECT greatest(
      coalesce((SELECT max(seq) FROM {s}.events WHERE session_id = $1), 0),
      coalesce((SELECT last_seq FROM {s}.event_trims WHERE session_id = $1), 0)) AS last_seq`,
  /**
   * Forgets the session's events up to a number, and keeps the highest number it removed (a trim
   * past the last event keeps that event's, so no later number is skipped). Params: session id, seq.
   */
  trimEvents: `WITH gone AS (DELETE FROM {s}.events WHERE session_id = $1 AND seq <= $2 RETURNING seq)
    INSERT INTO {s}.event_trims (session_id, last_seq) SELECT $1, max(seq) FROM gone HAVING count(*) > 0
    ON CONFLICT (session_id) DO UPDATE SET last_seq = greatest({s}.event_trims.last_seq, excluded.last_seq)`,
} as const;
