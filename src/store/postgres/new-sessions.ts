/**
 * The sessions this process is creating, so that `runtime.session()` of a new session costs no
 * round trip to the server. A new session's row is held with the group's writes and inserted aside
 * when they are written (`held-writes.ts`); until its answer comes back the session is *pending*:
 * this process does not hold it yet, and the runtime treats input sent to it as input for a session
 * another process holds (its handle follows the store). The input's row is written after the
 * session's, taken by this process only if the session's row names it. The answer says:
 *
 * - *created*, with no input sent meanwhile: the session is held, under the epoch its row has;
 * - *created*, with input sent meanwhile: the session is *fresh* — its row names this process, but
 *   the runtime must take that input up (a claim hands it back, from here, as it hands back input
 *   other processes sent) before it may begin a turn there, or a later send would run first. The
 *   store wakes the runtime for it, and the claim that hands back every input sent so far makes it
 *   held;
 * - *there already* (another process made it): its input, not taken, waits for that session's
 *   holder, whom the store wakes; nothing is held here.
 *
 * @packageDocumentation
 */
import type { InputRecord } from "../../runtime/ports/store.js";

interface Fresh {
  readonly epoch: number;
  /** Inputs sent to it since it was created here, in the order sent. */
  readonly accepted: InputRecord[];
  /** How many of them a claim handed back. */
  handed: number;
}

/** Fresh sessions, as a claim found them before it read: how many inputs each had. */
export type FreshSnapshot = ReadonlyMap<string, number>;

export class NewSessions {
  /** Inputs sent to each pending session so far. */
  readonly #pending = new Map<string, InputRecord[]>();
  readonly #fresh = new Map<string, Fresh>();

  /** Pending or fresh: input sent to it waits for a claim. */
  has(sessionId: string): boolean {
    return this.#pending.has(sessionId) || this.#fresh.has(sessionId);
  }

  isPending(sessionId: string): boolean {
    return this.#pending.has(sessionId);
  }

  /** The epoch of a fresh session's row. */
  epochOf(sessionId: string): number | undefined {
    return this.#fresh.get(sessionId)?.epoch;
  }

  /** Its row is held for the group. */
  add(sessionId: string): void {
    this.#pending.set(sessionId, []);
  }

  /** Input was sent to a pending or fresh session. */
  accepted(input: InputRecord): void {
    (this.#pending.get(input.sessionId) ?? this.#fresh.get(input.sessionId)?.accepted)?.push(input);
  }

  /**
   * The answer for a pending session: `epoch` when its row was created here. Returns what became of
   * it: `held` (take its lease), `fresh` (wake the runtime), `elsewhere` with input sent to it (wake
   * its holder), or `undefined` (nothing to do, or not pending any more).
   */
  answered(
    sessionId: string,
    epoch: number | undefined,
    { freshAllowed }: { readonly freshAllowed: boolean },
  ): "held" | "fresh" | "elsewhere" | undefined {
    const accepted = this.#pending.get(sessionId);
    if (accepted === undefined) return undefined;
    this.#pending.delete(sessionId);
    if (epoch === undefined) return accepted.length > 0 ? "elsewhere" : undefined;
    if (accepted.length === 0 || !freshAllowed) return "held";
    this.#fresh.set(sessionId, { epoch, accepted, handed: 0 });
    return "fresh";
  }

  /** The fresh sessions a claim of `sessionIds` (all when `undefined`) takes up, before it reads. */
  snapshot(sessionIds: readonly string[] | undefined): FreshSnapshot {
    const taken = new Map<string, number>();
    if (sessionIds === undefined) for (const [id, fresh] of this.#fresh) taken.set(id, fresh.accepted.length);
    else
      for (const id of sessionIds) {
        const fresh = this.#fresh.get(id);
        if (fresh !== undefined) taken.set(id, fresh.accepted.length);
      }
    return taken;
  }

  /** The input of `snapshot`'s sessions that no claim handed back yet, for the runtime to take up. */
  inputsOf(snapshot: FreshSnapshot): InputRecord[] {
    const inputs: InputRecord[] = [];
    for (const [id, count] of snapshot) {
      const fresh = this.#fresh.get(id);
      if (fresh !== undefined) inputs.push(...fresh.accepted.slice(fresh.handed, count));
    }
    return inputs;
  }

  /**
   * The claim of `snapshot` handed the runtime their input: those sent no input since become held
   * (returned with their epochs); the others stay fresh for the next claim (`again`).
   */
  takenUp(snapshot: FreshSnapshot): { held: [string, number][]; again: string[] } {
    const held: [string, number][] = [];
    const again: string[] = [];
    for (const [id, count] of snapshot) {
      const fresh = this.#fresh.get(id);
      if (fresh === undefined) continue;
      fresh.handed = count;
      if (fresh.accepted.length !== count) again.push(id);
      else {
        this.#fresh.delete(id);
        held.push([id, fresh.epoch]);
      }
    }
    return { held, again };
  }

  /** A fresh session the caller runs a turn of (a store used without a runtime): held from now. */
  promote(sessionId: string): number | undefined {
    const fresh = this.#fresh.get(sessionId);
    this.#fresh.delete(sessionId);
    return fresh?.epoch;
  }

  /** Fresh sessions are given up (a lapse): their input waits in the database for any claim. */
  dropFresh(): void {
    this.#fresh.clear();
  }

  clear(): void {
    this.#pending.clear();
    this.#fresh.clear();
  }
}
