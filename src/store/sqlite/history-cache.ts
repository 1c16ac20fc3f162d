/**
 * Histories the SQLite store has read, so that a session's next turn reads only the rows added since
 * (history rows are only ever appended, one per turn, with increasing ids): a 25 000-message history
 * is parsed once, not at every turn. The sessions read least recently are let go beyond
 * `messagesMax` messages in all.
 *
 * A cached history holds rows read inside an open group, which a rollback takes back (and whose ids
 * SQLite may then hand out again): the cache is emptied whenever the group's rollback count moves,
 * and a session whose rows retention deleted is forgotten.
 *
 * @packageDocumentation
 */
import type { Message } from "../../kernel/messages.js";
import { messagesOf } from "./rows.js";

interface Cached {
  readonly messages: Message[];
  /** The id of the last row read. */
  lastId: number;
}

/** A row of `SQL.historyAfter`. */
export interface HistoryRow {
  readonly id: number;
  readonly messages: string;
}

export class HistoryCache {
  readonly #messagesMax: number;
  /** In order of last use, least recent first. */
  readonly #sessions = new Map<string, Cached>();
  #messages = 0;
  #rollbacks = 0;

  constructor(messagesMax: number) {
    this.#messagesMax = messagesMax;
  }

  /**
   * The session's history: the cached part, then the rows `rowsAfter` reads past it. The array is
   * the cache's own; callers copy it before handing it out.
   */
  read(
    sessionId: string,
    rollbacks: number,
    rowsAfter: (lastId: number) => readonly HistoryRow[],
  ): readonly Message[] {
    if (rollbacks !== this.#rollbacks) {
      this.clear();
      this.#rollbacks = rollbacks;
    }
    const cached = this.#sessions.get(sessionId) ?? { messages: [], lastId: 0 };
    this.#sessions.delete(sessionId);
    const before = cached.messages.length;
    for (const row of rowsAfter(cached.lastId)) {
      for (const message of messagesOf(row.messages)) cached.messages.push(message);
      cached.lastId = row.id;
    }
    this.#messages += cached.messages.length - before;
    this.#sessions.set(sessionId, cached);
    this.#evict();
    return cached.messages;
  }

  forget(sessionId: string): void {
    const cached = this.#sessions.get(sessionId);
    if (cached === undefined) return;
    this.#sessions.delete(sessionId);
    this.#messages -= cached.messages.length;
  }

  clear(): void {
    this.#sessions.clear();
    this.#messages = 0;
  }

  #evict(): void {
    for (const [sessionId, cached] of this.#sessions) {
      if (this.#messages <= this.#messagesMax || this.#sessions.size === 1) return;
      this.#sessions.delete(sessionId);
      this.#messages -= cached.messages.length;
    }
  }
}
