/**
 * The PostgreSQL store's event log: one row per recorded event (`events`), and the highest number
 * trimming removed per session (`event_trims`), so that no number is ever given twice.
 *
 * Many processes share it, each appending the events of the sessions it holds: appends join the
 * store's group (`held-writes.ts`), so an event is lost in a crash only with the writes around it,
 * and carry the lease epoch they were made under, so the database keeps out those of a process
 * whose lease moved (`event-statements.ts`). A session's last number is read once per lease epoch
 * and then kept in memory (`held-event-seqs.ts`): a process that takes a session over continues
 * from the last number the old holder committed. {@link PostgresEventLog.recordsHere} tells the
 * runtime which sessions those are; it follows the others by reading the log.
 *
 * Reads are synchronous, as the store's other reads (`sync-connection.ts`): one round trip, which
 * sees this process's appends not committed yet and every other process's committed ones.
 *
 * @packageDocumentation
 */
import type { EventLog, LoggedEvent, SessionEvent } from "../../runtime/ports/event-log.js";
import type { HeldLeases } from "./held-leases.js";
import type { PostgresConnection } from "./postgres-connection.js";
import type { Statements } from "./statements.js";

/** What the event log needs of its store. */
export interface EventLogContext {
  readonly sql: Statements;
  readonly leases: HeldLeases;
  /** The store's connection; throws `CLOSED` when the store is not open. */
  readonly open: () => PostgresConnection;
}

export class PostgresEventLog implements EventLog {
  readonly #context: EventLogContext;

  /** @internal The PostgreSQL store creates it. */
  constructor(context: EventLogContext) {
    this.#context = context;
  }

  append(event: SessionEvent): void {
    const { conn, held } = this.#context.open();
    const epoch = this.#epochOf(event.sessionId);
    held.event(event.sessionId, event.seq, event.atMs, JSON.stringify(event.event), epoch ?? null);
    conn.hold();
    if (epoch !== undefined) this.#context.leases.eventSeqs.set(event.sessionId, epoch, event.seq);
  }

  read(sessionId: string, afterSeq: number, limit: number): readonly SessionEvent[] {
    const { conn } = this.#context.open();
    const { rows } = conn.readSync(this.#context.sql.eventsAfter, [sessionId, afterSeq, limit]);
    return rows.map((row) => ({
      sessionId,
      seq: Number(row.seq),
      atMs: Number(row.at_ms),
      event: JSON.parse(row.event as string) as LoggedEvent,
    }));
  }

  /** From memory for a session this process records, after the first read under its lease. */
  lastSeq(sessionId: string): number {
    const { leases, sql, open } = this.#context;
    const epoch = this.#epochOf(sessionId);
    const kept = epoch === undefined ? undefined : leases.eventSeqs.get(sessionId, epoch);
    if (kept !== undefined) return kept;
    const last = Number(open().conn.readSync(sql.lastEventSeq, [sessionId]).rows[0]?.last_seq ?? 0);
    if (epoch !== undefined) leases.eventSeqs.set(sessionId, epoch, last);
    return last;
  }

  trim(sessionId: string, throughSeq: number): void {
    this.#context.open().conn.write(this.#context.sql.trimEvents, [sessionId, throughSeq]);
  }

  /**
   * Whether this process records the session's events: it holds the session's lease (one it is
   * creating once its row is in). Another process records the others'.
   */
  recordsHere(sessionId: string): boolean {
    return this.#epochOf(sessionId) !== undefined;
  }

  /**
   * The lease epoch appends to the session carry; undefined when this process does not hold it.
   * A session being created here is settled first: until its row's answer is in, nobody knows
   * whether this process or another made it (and numbers its events).
   */
  #epochOf(sessionId: string): number | undefined {
    return this.#context.leases.settledEpochOf(sessionId);
  }
}
