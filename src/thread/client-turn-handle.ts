/**
 * `ClientTurnHandle`: a `TurnHandle` for an input of a runtime in another thread. Its status, receipt
 * and end are what the worker last told it; `status`, `done` and `poll()` read the worker's news
 * first, without yielding, so a synchronous loop sees the input go `queued` → `running` → settled
 * while it never awaits.
 *
 * @packageDocumentation
 */
import { markAsUncloneable } from "node:worker_threads";
import { DEFAULT_LIMITS } from "../kernel/limits.js";
import type { InputStatus, TerminalStatus, TurnOutcome, Usage } from "../kernel/outcome.js";
import { EventSubscriber } from "../runtime/event-subscriber.js";
import type { TurnEvent } from "../runtime/events.js";
import type { Receipt } from "../runtime/ports/store.js";
import type { CancelOptions } from "../runtime/turn-handle.js";
import {
  checkResultOptions,
  type ResultOptions,
  type Settled,
  type TurnResult,
  turnTimeout,
  turnValue,
} from "../runtime/turn-result.js";
import type { ClientConnection } from "./client-connection.js";
import type { HandleSnapshot } from "./protocol.js";

/** One accepted input of a runtime in a worker thread, followed to its terminal state. */
export class ClientTurnHandle {
  /** The input's id (the same in the worker: `runtime.handle(id)` finds it from any client). */
  readonly id: string;
  readonly sessionId: string;
  readonly #conn: ClientConnection;
  #snapshot: HandleSnapshot;
  #stored: boolean;
  #outcome: TurnOutcome | undefined;
  #usage: Usage | undefined;
  #settled: (() => void)[] = [];
  #storedWaiters: (() => void)[] = [];
  #subscribers: EventSubscriber[] = [];

  /** @internal Made by the client from the worker's answer. */
  constructor(conn: ClientConnection, snapshot: HandleSnapshot) {
    this.#conn = conn;
    this.id = snapshot.id;
    this.sessionId = snapshot.sessionId;
    this.#snapshot = snapshot;
    this.#stored = snapshot.stored;
    markAsUncloneable(this);
  }

  /** `queued`, `running`, or a terminal status. Never blocks. */
  get status(): InputStatus {
    this.#conn.drain();
    return this.#outcome?.status ?? this.#snapshot.status;
  }

  /** True once the input reached a terminal status. Never blocks. */
  get done(): boolean {
    this.#conn.drain();
    return this.#outcome !== undefined;
  }

  /** The turn that answers (or answered) this input, once it started. */
  get turnId(): string | undefined {
    this.#conn.drain();
    return this.#snapshot.turnId;
  }

  /** What "accepted" means for this input: `stored` (in memory) or `durable` (committed to disk). */
  get receipt(): Receipt {
    this.#conn.drain();
    return this.#snapshot.receipt;
  }

  /** Resolves with the receipt once the store has committed the input. */
  stored(): Promise<Receipt> {
    if (this.#stored || this.#outcome !== undefined) return Promise.resolve(this.#snapshot.receipt);
    const release = this.#conn.hold();
    return new Promise<Receipt>((resolve) => {
      this.#storedWaiters.push(() => {
        release();
        resolve(this.#snapshot.receipt);
      });
    });
  }

  /** Never blocks, never yields: the terminal status and outcome once settled, else `undefined`. */
  poll(): Settled | undefined {
    this.#conn.drain();
    return this.#outcome === undefined ? undefined : { status: this.#outcome.status, outcome: this.#outcome };
  }

  /**
   * Waits for the turn's value, as `TurnHandle.result()` does: resolves for `completed`, `failed` and
   * `max_iterations`; throws `TurnCancelled` for `cancelled`, `interrupted` (also when the worker
   * died: reason `crashed`) and `withdrawn`; throws `TurnTimeout` when `timeoutMs` passes first.
   */
  async result(options: ResultOptions = {}): Promise<TurnResult> {
    const { timeoutMs, signal } = checkResultOptions("result()", options);
    this.#conn.drain();
    if (this.#outcome === undefined) await this.#wait(timeoutMs, signal);
    return turnValue(this, this.#outcome!, this.#usage);
  }

  /**
   * Cancels the input in the worker (see `TurnHandle.cancel`); resolves with the terminal status
   * once it has settled.
   */
  async cancel(options: CancelOptions = {}): Promise<TerminalStatus> {
    if (this.#outcome !== undefined) return this.#outcome.status;
    return (await this.#conn.ask("cancel", [this.id, options])) as TerminalStatus;
  }

  /** Withdraws a queued input before it starts (`OffstageError` `NOT_WITHDRAWABLE` once it started). */
  withdraw(): void {
    this.#conn.call("withdraw", [this.id]);
    this.#conn.drain();
  }

  /**
   * The turn's events as they reach this thread, from the moment of asking (the worker sends them
   * for every handle a client holds); ends after the input settles. Throws `OffstageError` `EVENT_BUFFER_OVERFLOW` when the consumer falls too far behind.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<TurnEvent, void, undefined> {
    if (this.done) return;
    const subscriber = new EventSubscriber(DEFAULT_LIMITS.handleEventBufferMax);
    this.#subscribers.push(subscriber);
    const release = this.#conn.hold();
    try {
      yield* subscriber.drain(this.id, () => this.#outcome !== undefined);
    } finally {
      release();
      this.#subscribers = this.#subscribers.filter((s) => s !== subscriber);
    }
  }

  /** @internal The worker's news of the input. */
  update(snapshot: HandleSnapshot): void {
    this.#snapshot = snapshot;
    if (!snapshot.stored || this.#stored) return;
    this.#stored = true;
    this.#wakeStored();
  }

  /** @internal The input settled (or the worker went away); later calls are ignored. */
  settle(outcome: TurnOutcome, usage: Usage | undefined): void {
    if (this.#outcome !== undefined) return;
    this.#outcome = outcome;
    this.#usage = usage;
    this.#wakeStored();
    const settled = this.#settled;
    this.#settled = [];
    for (const wake of settled) wake();
    for (const s of this.#subscribers) s.wake();
  }

  /** @internal One of the input's turn events (it also tells the input's status and turn). */
  pushEvent(event: TurnEvent): void {
    // A terminal status waits for the `settled` news, which brings the outcome with it.
    if (event.type === "input.status" && (event.status === "queued" || event.status === "running"))
      this.#snapshot = { ...this.#snapshot, status: event.status };
    else if (event.type === "turn.started")
      this.#snapshot = { ...this.#snapshot, status: "running", turnId: event.turnId };
    for (const s of this.#subscribers) s.offer(event);
  }

  #wakeStored(): void {
    const waiting = this.#storedWaiters;
    this.#storedWaiters = [];
    for (const wake of waiting) wake();
  }

  #wait(timeoutMs: number | undefined, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const release = this.#conn.hold();
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (error?: unknown) => {
        release();
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.#settled = this.#settled.filter((w) => w !== waiter);
        if (error === undefined) resolve();
        else reject(error);
      };
      const waiter = () => done();
      const onAbort = () => done(signal!.reason);
      this.#settled.push(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
      if (timeoutMs !== undefined)
        timer = setTimeout(
          () => done(turnTimeout(this.id, this.sessionId, this.status, timeoutMs)),
          timeoutMs,
        );
    });
  }
}
