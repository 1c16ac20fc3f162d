/**
 * The SQLite store's event log: one row per recorded event, in append order, and the last number
 * each trim removed (so trimming never lets a number be given twice). Appends join the store's
 * current group.
 *
 * @packageDocumentation
 */
import type { EventLog, LoggedEvent, SessionEvent } from "../../runtime/ports/event-log.js";
import type { LogAccess } from "./sqlite-delegation-log.js";

interface EventRow {
  readonly seq: number;
  readonly at_ms: number;
  readonly event: string;
}

export class SqliteEventLog implements EventLog {
  readonly #db: LogAccess;

  /** @internal The SQLite store creates it. */
  constructor(db: LogAccess) {
    this.#db = db;
  }

  append(event: SessionEvent): void {
    const text = JSON.stringify(event.event);
    this.#db.write((sql) => sql.insertEvent.run(event.sessionId, event.seq, event.atMs, text));
  }

  read(sessionId: string, afterSeq: number, limit: number): readonly SessionEvent[] {
    const rows = this.#db.read(
      (sql) => sql.eventsAfter.all(sessionId, afterSeq, limit) as unknown as EventRow[],
    );
    return rows.map((row) => ({
      sessionId,
      seq: Number(row.seq),
      atMs: Number(row.at_ms),
      event: JSON.parse(row.event) as LoggedEvent,
    }));
  }

  lastSeq(sessionId: string): number {
    const row = this.#db.read((sql) => sql.lastEventSeq.get(sessionId, sessionId) as { last_seq: number });
    return Number(row.last_seq);
  }

  trim(sessionId: string, throughSeq: number): void {
    this.#db.write((sql) => {
      // The number trimmed is kept only if no newer event holds a larger one.
      sql.setTrimmedSeq.run(sessionId, Math.min(throughSeq, this.lastSeq(sessionId)));
      sql.trimEvents.run(sessionId, throughSeq);
    });
  }
}
