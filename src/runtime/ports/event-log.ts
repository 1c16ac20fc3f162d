/**
 * The event log port: a session's recorded events, numbered per session, kept by the store so that a
 * subscriber can replay them and then follow live, across restarts (`session.events({ after })`).
 *
 * A store that keeps one exposes it as `store.eventLog`; the port is optional, and a runtime on a
 * store without it refuses replay with `EVENT_LOG_UNAVAILABLE`. Appends join the store's current
 * group like every other write, so an event is lost in a crash only with the writes around it; the
 * runtime shows an event to subscribers only once the commit holding it resolved, so a number a
 * subscriber saw is never given to another event after a restart.
 *
 * A log that many processes share (the PostgreSQL store's) has `recordsHere`: each process records
 * the events of the sessions it holds only, numbering them from `lastSeq` (which then counts the
 * events other processes committed), and follows the others by reading the log.
 *
 * @packageDocumentation
 */
import type { RuntimeEvent, TurnEvent } from "../events.js";

/** The event types a session's log records. */
export type LoggedEventType =
  | TurnEvent["type"]
  | "input.accepted"
  | "input.steered"
  | "delegation.dispatched"
  | "delegation.rejected"
  | "delegation.completed"
  | "delegation.delivered";

/** An event a session's log records (text deltas of one model step may arrive joined in one). */
export type LoggedEvent = Extract<RuntimeEvent, { type: LoggedEventType }>;

/** One recorded event of a session. */
export interface SessionEvent {
  readonly sessionId: string;
  /** 1 for the session's first event, one more for each later one. */
  readonly seq: number;
  /** When it was recorded (epoch milliseconds). */
  readonly atMs: number;
  readonly event: LoggedEvent;
}

export interface EventLog {
  /** Records an event; its `seq` is one more than the session's last (the runtime numbers them). */
  append(event: SessionEvent): void;
  /** The session's events with `seq > afterSeq`, oldest first, at most `limit` of them. */
  read(sessionId: string, afterSeq: number, limit: number): readonly SessionEvent[];
  /** The session's last `seq` ever appended (trimmed ones count), 0 when none. */
  lastSeq(sessionId: string): number;
  /** Forgets the session's events with `seq <= throughSeq` (retention). */
  trim(sessionId: string, throughSeq: number): void;
  /**
   * Present on a log that processes share: whether this process records the session's events now
   * (it holds the session's lease, or is creating the session). Events of other sessions are their
   * holder's to record: the runtime leaves them out of the log here (its own event bus still has
   * them), asks `lastSeq` before each append (so a process that takes a session over continues
   * from the last number committed), and shows a subscriber here what the holder committed by
   * reading the log at least every `pollIntervalMs` while the subscriber waits. Absent: the log
   * is this process's alone, and it records every session's events.
   */
  recordsHere?(sessionId: string): boolean;
}
