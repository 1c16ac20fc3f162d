/**
 * The last event number of each session this process records events of (it holds the session, or
 * is creating it), kept in memory so that numbering an event needs no round trip to the server.
 *
 * While a process holds a session's lease it is the only one that appends the session's events
 * (appends are fenced by the lease, `event-statements.ts`), so the number it read once plus the
 * appends it made since is the session's last number. So an entry is valid for the lease epoch it
 * was made under only (a session taken over, or lost and claimed again, is read afresh: the new
 * holder continues from the last number the old one committed), and a group that fails to commit
 * drops every entry (its appends are lost with it). Beyond a bound the entries set longest ago are
 * let go, and read again when next needed.
 *
 * @packageDocumentation
 */

/** Sessions kept at most. */
const SESSIONS_MAX = 100_000;

interface Entry {
  readonly epoch: number;
  readonly seq: number;
}

export class HeldEventSeqs {
  /** In order of last set, oldest first. */
  readonly #sessions = new Map<string, Entry>();

  /** The session's last number, if kept for lease `epoch`. */
  get(sessionId: string, epoch: number): number | undefined {
    const entry = this.#sessions.get(sessionId);
    return entry?.epoch === epoch ? entry.seq : undefined;
  }

  /** The session's last number is `seq`, under lease `epoch`. */
  set(sessionId: string, epoch: number, seq: number): void {
    this.#sessions.delete(sessionId);
    this.#sessions.set(sessionId, { epoch, seq });
    if (this.#sessions.size > SESSIONS_MAX) {
      const oldest = this.#sessions.keys().next().value;
      if (oldest !== undefined) this.#sessions.delete(oldest);
    }
  }

  forget(sessionId: string): void {
    this.#sessions.delete(sessionId);
  }

  clear(): void {
    this.#sessions.clear();
  }
}
