/**
 * `Slot`: how a synchronous loop (a game's frame, a DCC's idle callback) uses async work without
 * waiting on it. The loop submits one call at a time and polls for its value each time round:
 *
 * - `submit(factory)` starts `factory(signal)` and returns `true`, or returns `false` and does not
 *   call the factory while a call is pending or after `close()`: a loop may submit every frame and
 *   get one call at a time, with nothing started and dropped.
 * - `poll()` never blocks: it returns a finished value once (the next poll returns `undefined`
 *   until another call finishes). A call that failed is logged once with its cause and `poll()`
 *   returns `undefined`, so the caller keeps the last value it had.
 * - `cancel()` aborts the call's signal and discards its value; `close()` cancels and refuses
 *   further submits. Both are safe to call at any time, any number of times.
 *
 * @packageDocumentation
 */
import type { Logger } from "../runtime/logger.js";
import {
  argumentsOf,
  checkFunction,
  checkOptions,
  checkText,
  fail,
  hasMethods,
  type Subject,
} from "../validate.js";
import { type Flight, type Landing, SlotCore } from "./slot-core.js";

/** Starts the slot's call; `signal` fires when the slot cancels it. */
export type SlotFactory<T> = (signal: AbortSignal) => T | PromiseLike<T>;

/** Options of {@link createSlot} and `createSessionSlot`. */
export interface SlotOptions {
  /** Names the slot in its log lines (default `"slot"`, `"session slot"`). */
  readonly name?: string;
  /** Where a failed call is logged, once, with its cause (default: stderr). A pino logger fits. */
  readonly logger?: Logger;
}

const CREATE: Subject = argumentsOf("createSlot()");
const SLOT_OPTION_KEYS = Object.keys({ name: true, logger: true } satisfies Record<keyof SlotOptions, true>);

/** Checks the options of a slot; returns a plain copy. */
export function checkSlotOptions(subject: Subject, options: SlotOptions): SlotOptions {
  const copy = checkOptions(subject, "options", options, SLOT_OPTION_KEYS);
  if (copy.name !== undefined) checkText(subject, "options.name", copy.name, 128);
  const { logger } = copy;
  if (logger !== undefined && !hasMethods(logger, ["warn", "error"]))
    fail(subject, "options.logger", logger, "a Logger with warn() and error()");
  return copy;
}

/** One async call at a time for a synchronous loop: see the module's description. */
export class Slot<T> implements Disposable {
  readonly #core: SlotCore<T>;

  constructor(options: SlotOptions = {}) {
    this.#core = new SlotCore("slot", checkSlotOptions(CREATE, options));
  }

  /** True from an accepted `submit` until its call has finished (or was cancelled). */
  get pending(): boolean {
    return this.#core.pending;
  }

  /** True after `close()`: every submit returns `false`. */
  get closed(): boolean {
    return this.#core.closed;
  }

  /**
   * Starts `factory(signal)` unless a call is pending or the slot is closed. Returns `true` when it
   * started; `false` otherwise, and then `factory` is not called. A factory that throws is a failed
   * call like one whose promise rejects: `submit` returns `true`, the failure is logged once and
   * `poll()` returns `undefined`. A finished value nobody polled is replaced by the new call's.
   *
   * @throws {@link InvalidInputError} `INVALID_ARGUMENT` when `factory` is not a function (nothing starts).
   */
  submit(factory: SlotFactory<T>): boolean {
    checkFunction(argumentsOf("submit()"), "factory", factory);
    return this.#core.accept((signal) => promiseFlight(factory, signal));
  }

  /** Never blocks: the finished call's value, once; otherwise (running, failed, none) `undefined`. */
  poll(): T | undefined {
    return this.#core.poll();
  }

  /** Aborts the pending call's signal and discards its value; the slot takes a new submit at once. */
  cancel(): void {
    this.#core.cancel("the call was cancelled");
  }

  /** Cancels the pending call and refuses further submits. Idempotent. */
  close(): void {
    this.#core.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** A call whose end a promise tells: seen by `poll()` once the host's loop has run its callbacks. */
function promiseFlight<T>(factory: SlotFactory<T>, signal: AbortSignal): Flight<T> {
  let landing: Landing<T> | undefined;
  let aborted = false;
  try {
    const result = factory(signal);
    if (isThenable(result)) {
      result.then(
        (value) => {
          if (!aborted) landing = { ok: true, value };
        },
        (error: unknown) => {
          if (!aborted) landing = { ok: false, error };
        },
      );
    } else {
      landing = { ok: true, value: result };
    }
  } catch (error) {
    landing = { ok: false, error };
  }
  return {
    landed: () => landing,
    abort: () => {
      aborted = true;
    },
  };
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/**
 * Makes a {@link Slot}: one async call at a time for a synchronous loop.
 *
 * @example
 * ```ts
 * const weather = createSlot<string>({ name: "weather" });
 * let shown = "…";
 * setInterval(() => {                       // the host's loop: never awaits
 *   weather.submit((signal) => fetch("https://wttr.in/Oslo?format=3", { signal }).then((r) => r.text()));
 *   shown = weather.poll() ?? shown;         // a failure keeps the last value
 * }, 16);
 * ```
 */
export function createSlot<T>(options: SlotOptions = {}): Slot<T> {
  return new Slot<T>(options);
}
