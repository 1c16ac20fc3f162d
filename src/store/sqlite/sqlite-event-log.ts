/**
 * The SQLite store's event log: one row per recorded event, and the last number given per session
 * (so trimming never lets a number be given twice). Appends join the store's current group.
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
    this.#db.write((sql) => {
      sql.insertEvent.run(event.sessionId, event.seq, event.atMs, text);
      sql.setLastEventSeq.run(event.sessionId, event.seq);
    });
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
    const row = this.#db.read((sql) => sql.lastEventSeq.get(sessionId) as { last_seq: number } | undefined);
    return row === undefined ? 0 : Number(row.last_seq);
  }

  trim(sessionId: string, throughSeq: number): void {
    this.#db.write((sql) => sql.trimEvents.run(sessionId, throughSeq));
  }
}
