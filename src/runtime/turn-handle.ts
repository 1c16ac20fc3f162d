/**
 * `TurnHandle`: what `send()` returns at once. It follows one input from acceptance to its terminal
 * state. Waiting is always explicit (`await handle.result({ timeoutMs })`); a synchronous host calls
 * `poll()` instead. The handle is deliberately not thenable, so `await handle` cannot silently mean
 * "wait for the turn".
 *
 * @packageDocumentation
 */
import { markAsUncloneable } from "node:worker_threads";
import type { OffstageError } from "../errors.js";
import { REASON_CHARS_MAX } from "../kernel/limits.js";
import type { InputStatus, TerminalStatus, TurnOutcome, Usage } from "../kernel/outcome.js";
import type { CancelMode } from "../kernel/turn/turn-machine.js";
import {
  argumentsOf,
  checkOneOf,
  checkOptions,
  checkText,
  fail,
  isInstance,
  type Subject,
} from "../validate.js";
import type { TimerToken } from "./clock.js";
import { EventSubscriber } from "./event-subscriber.js";
import type { TurnEvent } from "./events.js";
import type { RuntimeParts } from "./parts.js";
import type { Receipt } from "./ports/store.js";
import { recorderOf } from "./session-events.js";
import {
  checkResultOptions,
  type ResultOptions,
  type Settled,
  type TurnResult,
  turnTimeout,
  turnValue,
} from "./turn-result.js";
import type { ReleaseWait } from "./turn-scope.js";

/** Options of {@link TurnHandle.cancel}. */
export interface CancelOptions {
  /** `immediate` (default) aborts the call in flight; `after_step` lets the current step finish. */
  readonly mode?: CancelMode;
  readonly reason?: string;
}

/** Options of {@link TurnHandle.events}. */
export interface HandleEventsOptions {
  /** `now` (default): events from now on; `start`: from the input's acceptance, replayed from the log. */
  readonly from?: "now" | "start";
  /** Ends a replaying iteration when it fires. */
  readonly signal?: AbortSignal;
}

const EVENTS: Subject = argumentsOf("events()");
const EVENTS_KEYS = Object.keys({ from: true, signal: true } satisfies Record<
  keyof HandleEventsOptions,
  true
>);
const EVENTS_FROM: readonly ("now" | "start")[] = ["now", "start"];

/** Called when the handle settles. */
type Waiter = () => void;

/**
 * Whoever waits on a handle, made for the few handles someone waits on: a backlog holds a handle
 * per queued input, and most are never awaited one by one.
 */
interface Waits {
  settled: Waiter[] | undefined;
  subscribers: EventSubscriber[] | undefined;
  stored: Promise<Receipt> | undefined;
  /** Told once the input is committed (`undefined`), or lost with the store's error. */
  committed: ((lost: OffstageError | undefined) => void)[] | undefined;
}

const CANCEL: Subject = argumentsOf("cancel()");
const CANCEL_KEYS = Object.keys({ mode: true, reason: true } satisfies Record<keyof CancelOptions, true>);
const CANCEL_MODES: readonly CancelMode[] = ["immediate", "after_step"];
const NO_OPTIONS: ResultOptions = {};

/** One accepted input, followed to its terminal state. */
export class TurnHandle {
  /** The input's id (stable across restarts; `runtime.handle(id)` finds it again). */
  declare readonly id: string;
  declare readonly sessionId: string;
  readonly #parts: RuntimeParts;
  #status: InputStatus;
  /** The receipt once the store committed the input; `undefined` until then. */
  #receipt: Receipt | undefined = undefined;
  /** Why the input was lost, when the store failed before committing it. */
  #lost: OffstageError | undefined = undefined;
  #turnId: string | undefined = undefined;
  #outcome: TurnOutcome | undefined = undefined;
  #usage: Usage | undefined = undefined;
  #waits: Waits | undefined = undefined;

  /** @internal */
  constructor(parts: RuntimeParts, id: string, sessionId: string, status: InputStatus) {
    this.#parts = parts;
    this.id = id;
    this.sessionId = sessionId;
    this.#status = status;
    markAsUncloneable(this);
  }

  /** `queued`, `running`, or a terminal status. */
  get status(): InputStatus {
    return this.#status;
  }

  /** True once the input reached a terminal status. */
  get done(): boolean {
    return this.#outcome !== undefined;
  }

  /** The turn that answers (or answered) this input, once it started. */
  get turnId(): string | undefined {
    return this.#turnId;
  }

  /** What "accepted" means for this input right now: `stored` (in memory) or `durable` (committed to disk). */
  get receipt(): Receipt {
    return this.#receipt ?? "stored";
  }

  /**
   * Resolves with the receipt once the store has committed the input. Rejects with `OffstageError`
   * `STORE_FAILED` (or `STORE_FILE_GONE`) when the store failed before committing it: the input was
   * not kept, and its handle settled `failed` with reason `store_failed`.
   */
  stored(): Promise<Receipt> {
    const waits = this.#wants();
    waits.stored ??= new Promise<Receipt>((resolve, reject) => {
      if (this.#receipt !== undefined) resolve(this.#receipt);
      else if (this.#lost !== undefined) reject(this.#lost);
      else {
        waits.committed ??= [];
        waits.committed.push((lost) => (lost === undefined ? resolve(this.receipt) : reject(lost)));
      }
    });
    return waits.stored;
  }

  /** Never blocks: the terminal status and outcome once settled, else `undefined`. */
  poll(): Settled | undefined {
    return this.#outcome === undefined ? undefined : { status: this.#outcome.status, outcome: this.#outcome };
  }

  /**
   * Waits for the turn's value. Resolves for `completed`, `failed` and `max_iterations`; throws
   * `TurnCancelled` for `cancelled`, `interrupted` and `withdrawn`; throws `TurnTimeout` when `timeoutMs`
   * passes first; throws `DeadlockError` when called from inside a turn of the same session, or of a
   * session this one's turn waits on (a cycle: f's turn waits on g, whose turn waits on f).
   */
  result(options: ResultOptions = NO_OPTIONS): Promise<TurnResult> {
    let release: ReleaseWait;
    let given: ResultOptions;
    try {
      given = options === NO_OPTIONS ? options : checkResultOptions("result()", options);
      if (this.#outcome !== undefined) return Promise.resolve(this.#value());
      release = this.#parts.waits.enter(this.sessionId, "handle.result()");
    } catch (error) {
      return Promise.reject(error);
    }
    const waiting = this.#wait(given.timeoutMs, given.signal);
    // Until the wait ends, the waiting turn's session waits on this one (see WaitGraph).
    return waiting.then(
      () => {
        release();
        return this.#value();
      },
      (error: unknown) => {
        release();
        throw error;
      },
    );
  }

  /**
   * Cancels the input: a queued input ends `cancelled` at once; a running turn is aborted
   * (`immediate`) or stopped at its next step boundary (`after_step`). Resolves with the terminal
   * status once the input has settled (a settled input is left as it is).
   */
  async cancel(options: CancelOptions = {}): Promise<TerminalStatus> {
    const given = checkOptions(CANCEL, "options", options, CANCEL_KEYS);
    const mode = given.mode ?? "immediate";
    checkOneOf(CANCEL, "mode", mode, CANCEL_MODES);
    if (given.reason !== undefined) checkText(CANCEL, "reason", given.reason, REASON_CHARS_MAX, 0);
    if (this.#outcome === undefined) {
      const { clock, metrics } = this.#parts;
      const askedAtMs = clock.monotonicMs();
      this.#parts.intake.cancel(this, mode, given.reason ?? "cancelled by the caller");
      if (this.#outcome === undefined) await this.#wait(undefined, undefined);
      metrics.cancelSettled(mode, clock.monotonicMs() - askedAtMs);
    }
    return this.#outcome!.status;
  }

  /**
   * Withdraws a queued input before it starts; its handle settles `withdrawn`. Throws
   * `OffstageError` `NOT_WITHDRAWABLE` when the input already started or ended.
   */
  withdraw(): void {
    this.#parts.intake.withdraw(this);
  }

  /**
   * The input's events: from now on (`from: "now"`, the default, as iterating the handle), or from
   * its acceptance (`from: "start"`, replayed from the session's event log, then live), until it has
   * settled. `from: "start"` throws `OffstageError` `EVENT_LOG_UNAVAILABLE` unless the runtime
   * records events (`options.eventLog`).
   */
  events(options: HandleEventsOptions = {}): AsyncGenerator<TurnEvent, void, undefined> {
    const given = checkOptions(EVENTS, "options", options, EVENTS_KEYS);
    const from = given.from ?? "now";
    checkOneOf(EVENTS, "from", from, EVENTS_FROM);
    if (given.signal !== undefined && !isInstance(given.signal, AbortSignal))
      fail(EVENTS, "signal", given.signal, "an AbortSignal");
    if (from === "now") return this[Symbol.asyncIterator]();
    return recorderOf(this.#parts).followInput(this, given.signal);
  }

  /**
   * The turn's events as they happen: status changes, model text, tool start/end, the end. Ends after
   * the input settles. A consumer that falls more than `limits.handleEventBufferMax` events behind
   * gets `OffstageError` `EVENT_BUFFER_OVERFLOW` instead of unbounded memory.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<TurnEvent, void, undefined> {
    const subscriber = new EventSubscriber(this.#parts.limits.handleEventBufferMax);
    if (this.#outcome !== undefined) return;
    const waits = this.#wants();
    waits.subscribers ??= [];
    waits.subscribers.push(subscriber);
    this.#parts.events.subscribed(1);
    try {
      yield* subscriber.drain(this.id, () => this.#outcome !== undefined);
    } finally {
      const at = waits.subscribers.indexOf(subscriber);
      if (at >= 0) waits.subscribers.splice(at, 1);
      this.#parts.events.subscribed(-1);
    }
  }

  /** @internal */
  emit(event: TurnEvent): void {
    const subscribers = this.#waits?.subscribers;
    if (subscribers === undefined) return;
    for (const s of subscribers) s.offer(event);
  }

  /** @internal */
  markRunning(turnId: string): void {
    this.#status = "running";
    this.#turnId = turnId;
  }

  /** @internal Out of its turn, which never answered it (a steered input cancelled unseen). */
  leaveTurn(): void {
    this.#turnId = undefined;
  }

  /** @internal Back to the queue (a steered input the model never saw). */
  markQueued(): void {
    this.#status = "queued";
    this.#turnId = undefined;
  }

  /** @internal The store committed the input. */
  markStored(receipt: Receipt): void {
    this.#receipt = receipt;
    this.#tellCommitted(undefined);
  }

  /**
   * @internal The store failed before it committed the input, so the input is lost: the handle
   * settles with `outcome` and `stored()` rejects with `error`.
   */
  markLost(outcome: TurnOutcome, error: OffstageError): void {
    if (this.#receipt !== undefined || this.#outcome !== undefined) return;
    this.#lost = error;
    this.#tellCommitted(error);
    this.settle(outcome, undefined, undefined);
  }

  #tellCommitted(lost: OffstageError | undefined): void {
    const waiting = this.#waits?.committed;
    if (waiting === undefined) return;
    this.#waits!.committed = undefined;
    for (const tell of waiting) tell(lost);
  }

  /** @internal Settles the handle; later calls are ignored. */
  settle(outcome: TurnOutcome, turnId: string | undefined, usage: Usage | undefined): void {
    if (this.#outcome !== undefined) return;
    this.#outcome = outcome;
    this.#status = outcome.status;
    if (turnId !== undefined) this.#turnId = turnId;
    this.#usage = usage;
    const waits = this.#waits;
    if (waits === undefined) return;
    const settled = waits.settled;
    waits.settled = undefined;
    if (settled !== undefined) for (const w of settled) w();
    if (waits.subscribers !== undefined) for (const s of waits.subscribers) s.wake();
  }

  #wants(): Waits {
    this.#waits ??= { settled: undefined, subscribers: undefined, stored: undefined, committed: undefined };
    return this.#waits;
  }

  #wait(timeoutMs: number | undefined, signal: AbortSignal | undefined): Promise<void> {
    // The common wait has neither deadline nor signal: nothing to clean up, so no closures for it.
    const waits = this.#wants();
    if (timeoutMs === undefined && signal === undefined) {
      return new Promise<void>((resolve) => {
        waits.settled ??= [];
        waits.settled.push(resolve);
      });
    }
    return new Promise<void>((resolve, reject) => {
      let timer: TimerToken | undefined;
      const waiter: Waiter = () => {
        cleanup();
        resolve();
      };
      const onAbort = () => {
        cleanup();
        waits.settled = waits.settled?.filter((w) => w !== waiter);
        reject(signal!.reason);
      };
      const cleanup = () => {
        if (timer !== undefined) this.#parts.clock.clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      if (signal?.aborted) return reject(signal.reason);
      waits.settled ??= [];
      waits.settled.push(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = this.#parts.clock.setTimeout(() => {
          cleanup();
          waits.settled = waits.settled?.filter((w) => w !== waiter);
          reject(turnTimeout(this.id, this.sessionId, this.#status, timeoutMs));
        }, timeoutMs);
      }
    });
  }

  #value(): TurnResult {
    return turnValue(this, this.#outcome!, this.#usage);
  }
}
