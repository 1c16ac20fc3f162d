/**
 * What `Slot` and `SessionSlot` share: one call in flight at most, a finished value handed over
 * once, a failure logged once with its cause, `cancel()` and an idempotent `close()`. How a call is
 * started and how its end is seen differ (a promise, a turn handle polled), so each gives a
 * {@link Flight}.
 *
 * @packageDocumentation
 */
import { RuntimeLog, stderrLogger } from "../runtime/logger.js";
import type { SlotOptions } from "./slot.js";

/** How a call in flight ended, once it has. */
export type Landing<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: unknown };

/** One call in flight, as the slot sees it. */
export interface Flight<T> {
  /** Never blocks: how the call ended, or `undefined` while it runs. */
  landed(): Landing<T> | undefined;
  /** Stops the call; its outcome will be discarded. */
  abort(reason: Error): void;
}

export class SlotCore<T> {
  readonly #name: string;
  readonly #log: RuntimeLog;
  #flight: Flight<T> | undefined;
  #controller: AbortController | undefined;
  #closed = false;

  constructor(kind: string, options: SlotOptions) {
    this.#name = options.name ?? kind;
    this.#log = new RuntimeLog(options.logger ?? stderrLogger);
  }

  get pending(): boolean {
    return this.#flight !== undefined && this.#flight.landed() === undefined;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Starts a call with `start` unless one is in flight or the slot is closed (then `start` is not called). */
  accept(start: (signal: AbortSignal) => Flight<T>): boolean {
    if (this.#closed || this.pending) return false;
    // A landed value nobody polled is replaced (the caller asked for a newer one); a landed failure
    // is still logged.
    this.#take();
    const controller = new AbortController();
    this.#controller = controller;
    this.#flight = start(controller.signal);
    return true;
  }

  poll(): T | undefined {
    const landing = this.#flight?.landed();
    if (landing === undefined) return undefined;
    return this.#take();
  }

  cancel(reason: string): void {
    const flight = this.#flight;
    const controller = this.#controller;
    if (flight === undefined) return;
    if (flight.landed() !== undefined) {
      this.#take();
      return;
    }
    this.#flight = undefined;
    this.#controller = undefined;
    const error = new Error(`slot ${JSON.stringify(this.#name)}: ${reason}`);
    controller?.abort(error);
    flight.abort(error);
  }

  /** Clears a landed call: its value, or `undefined` after logging its failure (once: it is cleared). */
  #take(): T | undefined {
    const landing = this.#flight?.landed();
    this.#flight = undefined;
    this.#controller = undefined;
    if (landing === undefined) return undefined;
    if (landing.ok) return landing.value;
    this.#log.warn(
      { slot: this.#name, error: landing.error },
      `slot ${JSON.stringify(this.#name)}: the call failed; poll() returns nothing, so the caller keeps its last value`,
    );
    return undefined;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.cancel("the slot was closed");
  }
}
