/**
 * Session leases: the part of the store port a store shared by many processes adds. Such a store
 * lets a process run a session's turns only while it holds the session's lease; a store of one
 * process (memory, SQLite) has no `leases` and its runtime runs every session it stores.
 *
 * What the runtime does with it: it begins a turn only for a session it holds; input accepted here
 * for a session another process holds is that process's to run, and its handle settles from what
 * the store says of it (`outcomes`); the recovery poll and the store's wakes call `claim`, which
 * takes the leases of sessions nobody holds (their holder stopped or died) and hands back work the
 * runtime must take up — their queued input and interrupted turns, and input other processes
 * accepted for sessions this one holds. Everything `claim` returns is this runtime's from then on,
 * exactly once.
 *
 * @packageDocumentation
 */
import type { CancelMode } from "../../kernel/turn/turn-machine.js";
import type { InputSnapshot, RecoveredState, SessionRecord } from "./store.js";

/** A cancel or withdraw asked from a process that does not hold the input's session. */
export interface EndRequest {
  readonly inputId: string;
  readonly sessionId: string;
  readonly status: "cancelled" | "withdrawn";
  readonly mode: CancelMode;
  readonly message: string;
}

/** What a claim hands back: work to take up, and ends asked of work this process runs. */
export interface Claimed extends RecoveredState {
  readonly endRequests: readonly EndRequest[];
}

export interface SessionLeases {
  /** Whether this process holds the session's lease: it may begin the session's turns. */
  holds(sessionId: string): boolean;
  /**
   * Takes the leases of sessions with live input that nobody holds, and returns the work to take
   * up: theirs, and input accepted elsewhere for held sessions (all of them, or only `sessionIds`).
   * Queued input comes back at every claim until the runtime says it has it (`taken`). Its writes
   * join the current group; the runtime commits before it runs what it took.
   */
  claim(sessionIds?: readonly string[]): Promise<Claimed>;
  /** The runtime has these inputs in its inboxes now (a write of the current group). */
  taken(inputIds: readonly string[]): void;
  /**
   * Records a cancel or withdraw for the holder to carry out, and wakes it; returns where the input
   * stood (`undefined`: it had ended, or — for a withdraw — it was not queued, and nothing was asked).
   */
  askToEnd(request: EndRequest): "queued" | "running" | undefined;
  /**
   * The record of a session this runtime has not met (another process created it since this one
   * started): one read of the store; undefined when no process made it. `runtime.session(id)` asks
   * it, so that any process of a fleet can name (and follow, and send to) any session.
   */
  lookup(sessionId: string): SessionRecord | undefined;
  /** Where these inputs stand now (those the store knows), whichever process runs them. */
  outcomes(inputIds: readonly string[]): Promise<readonly InputSnapshot[]>;
  /**
   * Calls `onWake` with a session's id when input waits for this process to claim it (another
   * process accepted input for a session this one holds, or the store has input for a session it
   * takes up), and `onLost` with sessions whose leases this process lost (it was cut off past its
   * lease, and another took them over); returns a function that stops listening. Wakes are the fast
   * path: one may be lost, the poll finds its work.
   */
  listen(onWake: (sessionId: string) => void, onLost: (sessionIds: readonly string[]) => void): () => void;
  /** Hands every lease this process holds back at once (a clean stop); the next `open()` claims again. */
  release(): Promise<void>;
}
