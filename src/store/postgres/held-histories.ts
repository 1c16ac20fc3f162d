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
 * Retention (`historyTurnsMax`) deletes history rows under the entries' feet: a sweep may run in any
 * process of the fleet, at any time, and tells no cache. An entry never holds a row a sweep deleted
 * all the same, because an entry keeps what a read of the history would return, bound included: the
 * read returns the newest `historyTurnsMax` turns (one row a turn; `statements.ts`, `history`), and
 * the entry drops its oldest turn whenever an end takes it past the bound, as the memory store
 * does. A sweep deletes only rows beyond a session's newest `historyTurnsMax` committed turns; rows
 * are only ever added after those, one turn at a time, by the lease holder, so a row beyond the bound
 * once stays beyond it, and the entry — the newest turns, committed or this group's — dropped it
 * before or as the sweep saw it so. (Were reads not bounded, an entry made before a trim would go on
 * serving turns the database no longer has, and one made after it fewer: the history a turn saw
 * would depend on which process swept when.)
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
  /** How many messages each turn in `messages` added, oldest first (one history row each), while `historyTurnsMax` bounds it. */
  readonly sizes: number[];
  /** The attempt of each turn seen starting since the entry was made, or ENDED. */
  readonly turns: Map<string, number>;
}

export class HeldHistories {
  /** In order of last use, least recent first. */
  readonly #sessions = new Map<string, Entry>();
  #messages = 0;
  /** The turns a history keeps (`historyTurnsMax`; `Infinity`: all). */
  readonly #turnsMax: number;

  constructor(turnsMax: number) {
    this.#turnsMax = turnsMax;
  }

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

  /**
   * Keeps the session's history, as read (or known empty) under lease `epoch`: its turns' messages,
   * oldest first. Returns the messages as kept.
   */
  set(sessionId: string, epoch: number, turns: readonly (readonly Message[])[]): readonly Message[] {
    this.forget(sessionId);
    const entry: Entry = { epoch, messages: [], sizes: [], turns: new Map() };
    for (const messages of turns) this.#append(entry, messages);
    this.#sessions.set(sessionId, entry);
    this.#evict();
    return entry.messages;
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
    this.#append(entry, messages);
    this.#evict();
  }

  /** A turn's messages join the entry (none: no history row, no turn); beyond the bound, the oldest turn's leave. */
  #append(entry: Entry, messages: readonly Message[]): void {
    if (messages.length === 0) return;
    for (const message of messages) entry.messages.push(message);
    this.#messages += messages.length;
    if (this.#turnsMax === Number.POSITIVE_INFINITY) return;
    entry.sizes.push(messages.length);
    if (entry.sizes.length <= this.#turnsMax) return;
    const dropped = entry.sizes.shift()!;
    entry.messages.splice(0, dropped);
    this.#messages -= dropped;
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
