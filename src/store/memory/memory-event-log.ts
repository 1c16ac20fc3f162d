/**
 * The memory store's event log: each session's events in an array, oldest first, plus the last
 * number given (which trimming keeps).
 *
 * @packageDocumentation
 */
import type { EventLog, SessionEvent } from "../../runtime/ports/event-log.js";

interface SessionLog {
  readonly events: SessionEvent[];
  lastSeq: number;
}

export class MemoryEventLog implements EventLog {
  readonly #sessions = new Map<string, SessionLog>();

  append(event: SessionEvent): void {
    let log = this.#sessions.get(event.sessionId);
    if (log === undefined) {
      log = { events: [], lastSeq: 0 };
      this.#sessions.set(event.sessionId, log);
    }
    log.events.push(event);
    log.lastSeq = event.seq;
  }

  read(sessionId: string, afterSeq: number, limit: number): readonly SessionEvent[] {
    const events = this.#sessions.get(sessionId)?.events ?? [];
    return events.filter((e) => e.seq > afterSeq).slice(0, limit);
  }

  lastSeq(sessionId: string): number {
    return this.#sessions.get(sessionId)?.lastSeq ?? 0;
  }

  trim(sessionId: string, throughSeq: number): void {
    const events = this.#sessions.get(sessionId)?.events;
    if (events === undefined) return;
    // Events are in seq order, so those trimmed are a prefix.
    const firstKept = events.findIndex((e) => e.seq > throughSeq);
    events.splice(0, firstKept === -1 ? events.length : firstKept);
  }
}
