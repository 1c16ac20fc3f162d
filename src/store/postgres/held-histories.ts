/**
 * The histories of sessions this process holds, kept in memory so that a turn's start needs no
 * round trip to the server (a runtime reads the history of every session it starts a turn in).
 *
 * While a process holds a session's lease it is the only writer of the session's history (every
 * turn end is fenced by the lease), so what it read once plus what its own turn ends added since is
 * the history — provided each of those ends was written. So an entry is valid for the lease epoch it
 * was made under only (a session lost and claimed again comes back under a new epoch and is read
 * afresh), it adds the messages of an end only when it saw that turn's attempt start and not end
 * since (the database ignores any other end; the entry is then dropped, and the next turn reads the
 * history again), and a group that fails to commit drops every entry ({@link HeldHistories.clear}).
 * The sessions used least recently are let go beyond a bound on the messages kept.
 *
 * @packageDocumentation
 */
import type { Message } from "../../kernel/messages.js";

/** Messages kept in all, at most (the SQLite store's history cache has the same bound). */
const MESSAGES_MAX = 1_000_000;
/** Turns an entry remembers, at most; beyond, it is dropped and read again at the next turn. */
const TURNS_MAX = 1000;
/** What `Entry.turns` says of a turn that ended. */
const ENDED = -1;

interface Entry {
  readonly epoch: number;
  readonly messages: Message[];
  /** The attempt of each turn seen starting since the entry was made, or ENDED. */
  readonly turns: Map<string, number>;
}

export class HeldHistories {
  /** In order of last use, least recent first. */
  readonly #sessions = new Map<string, Entry>();
  #messages = 0;

  /** The session's history, if kept for lease `epoch`. The array is this cache's own. */
  get(sessionId: string, epoch: number): readonly Message[] | undefined {
    const entry = this.#sessions.get(sessionId);
    if (entry === undefined) return undefined;
    this.#sessions.delete(sessionId);
    if (entry.epoch !== epoch) {
      this.#messages -= entry.messages.length;
      return undefined;
    }
    this.#sessions.set(sessionId, entry);
    return entry.messages;
  }

  /** Keeps the session's whole history, as read (or known empty) under lease `epoch`. */
  set(sessionId: string, epoch: number, messages: readonly Message[]): void {
    this.forget(sessionId);
    this.#sessions.set(sessionId, { epoch, messages: [...messages], turns: new Map() });
    this.#messages += messages.length;
    this.#evict();
  }

  /** A turn's attempt starts under lease `epoch` (the database keeps only a higher attempt). */
  started(sessionId: string, epoch: number, turnId: string, attempt: number): void {
    const entry = this.#sessions.get(sessionId);
    if (entry === undefined) return;
    if (entry.epoch !== epoch || entry.turns.size >= TURNS_MAX) {
      this.forget(sessionId);
      return;
    }
    const known = entry.turns.get(turnId);
    if (known === undefined || (known !== ENDED && known < attempt)) entry.turns.set(turnId, attempt);
  }

  /** A turn's attempt ends under lease `epoch`, adding `messages` to the session's history. */
  ended(
    sessionId: string,
    epoch: number,
    turnId: string,
    attempt: number,
    messages: readonly Message[],
  ): void {
    const entry = this.#sessions.get(sessionId);
    if (entry === undefined) return;
    if (entry.epoch !== epoch || entry.turns.get(turnId) !== attempt) {
      this.forget(sessionId);
      return;
    }
    entry.turns.set(turnId, ENDED);
    for (const message of messages) entry.messages.push(message);
    this.#messages += messages.length;
    this.#evict();
  }

  forget(sessionId: string): void {
    const entry = this.#sessions.get(sessionId);
    if (entry === undefined) return;
    this.#sessions.delete(sessionId);
    this.#messages -= entry.messages.length;
  }

  clear(): void {
    this.#sessions.clear();
    this.#messages = 0;
  }

  #evict(): void {
    for (const [sessionId, entry] of this.#sessions) {
      if (this.#messages <= MESSAGES_MAX || this.#sessions.size === 1) return;
      this.#sessions.delete(sessionId);
      this.#messages -= entry.messages.length;
    }
  }
}
