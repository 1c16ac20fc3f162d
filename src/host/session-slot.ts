/**
 * `SessionSlot`: a {@link Slot} whose call is a turn of one session. `submit(input)` sends the input
 * (refused while the previous turn is pending); `poll()` hands over the turn's output once it has
 * completed. It reads the turn's handle with `handle.poll()`, which never blocks, so it sees the end
 * of a turn as soon as the handle does — no promise callback has to run first.
 *
 * @packageDocumentation
 */

import type { SendOptions } from "../runtime/session.js";
import type { TurnHandle } from "../runtime/turn-handle.js";
import { argumentsOf, fail, type Subject } from "../validate.js";
import { checkSlotOptions, type SlotOptions } from "./slot.js";
import { type Flight, type Landing, SlotCore } from "./slot-core.js";

const CREATE: Subject = argumentsOf("createSessionSlot()");

/** What a session slot needs of a session: `send`, which returns a handle at once. */
export interface SlotSession {
  readonly id: string;
  send(payload: unknown, options?: SendOptions): SlotTurn;
}

/** What a session slot needs of a turn's handle (a `TurnHandle`, or a client's handle in another thread). */
export type SlotTurn = Pick<TurnHandle, "poll" | "cancel" | "turnId">;

/** One turn at a time of one session, for a synchronous loop. */
export class SessionSlot implements Disposable {
  readonly #session: SlotSession;
  readonly #core: SlotCore<unknown>;

  constructor(session: SlotSession, options: SlotOptions = {}) {
    let id: unknown;
    let send: unknown;
    try {
      send = session?.send;
      id = session?.id;
    } catch {
      // A revoked proxy or a throwing getter: not a session, refused below.
    }
    if (typeof send !== "function" || typeof id !== "string")
      fail(CREATE, "session", session, "a Session (runtime.session(id))");
    this.#session = session;
    this.#core = new SlotCore(`session ${id}`, checkSlotOptions(CREATE, options));
  }

  /** True from an accepted `submit` until its turn has settled (or was cancelled). */
  get pending(): boolean {
    return this.#core.pending;
  }

  /** True after `close()`: every submit returns `false`. */
  get closed(): boolean {
    return this.#core.closed;
  }

  /**
   * Sends `input` to the session unless a turn of this slot is pending or the slot is closed.
   * Returns `true` when sent, `false` otherwise (and then nothing is sent). A send the session
   * refuses (a payload JSON cannot carry, a stopped runtime) is a failed call: `submit` returns
   * `true`, the refusal is logged once and `poll()` returns `undefined`.
   */
  submit(input: unknown, options?: SendOptions): boolean {
    return this.#core.accept(() => turnFlight(this.#session, input, options));
  }

  /**
   * Never blocks: the output of the turn once it completed, handed over once. A turn that ended
   * otherwise (failed, cancelled, interrupted, max_iterations) is logged once with its reason, and
   * `poll()` returns `undefined`, so the caller keeps its last value.
   */
  poll(): unknown {
    return this.#core.poll();
  }

  /** Cancels the pending turn (`immediate`) and discards its output; takes a new submit at once. */
  cancel(): void {
    this.#core.cancel("the turn was cancelled");
  }

  /** Cancels the pending turn and refuses further submits. Idempotent. */
  close(): void {
    this.#core.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function turnFlight(session: SlotSession, input: unknown, options: SendOptions | undefined): Flight<unknown> {
  let handle: SlotTurn;
  try {
    handle = session.send(input, options);
  } catch (error) {
    const landing: Landing<unknown> = { ok: false, error };
    return { landed: () => landing, abort: () => {} };
  }
  return {
    landed: () => {
      const settled = handle.poll();
      if (settled === undefined) return undefined;
      const { outcome } = settled;
      if (outcome.status === "completed") return { ok: true, value: outcome.output };
      const { code, message } = outcome.reason;
      const turn = handle.turnId === undefined ? "" : ` ${handle.turnId}`;
      return {
        ok: false,
        error: new Error(
          `the turn${turn} of session ${JSON.stringify(session.id)} ended ${outcome.status} (${code}): ${message}`,
        ),
      };
    },
    abort: (reason) => {
      // Contained: the cancel settles the handle, and nothing waits on this promise.
      handle.cancel({ reason: reason.message }).catch(() => {});
    },
  };
}

/**
 * Binds a slot to a session: `submit(input)` sends a turn, `poll()` returns its output once.
 *
 * @example
 * ```ts
 * const npc = createSessionSlot(runtime.session("npc-1", { agent: "npc" }));
 * let line = "…";
 * // each frame:
 * npc.submit("the player waves");   // false while the last line is still being written
 * line = String(npc.poll() ?? line);
 * ```
 */
export function createSessionSlot(session: SlotSession, options: SlotOptions = {}): SessionSlot {
  return new SessionSlot(session, options);
}
