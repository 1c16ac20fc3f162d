/**
 * The scheduler: decides, with the kernel's scheduler, which session's turn starts when, and begins
 * it. Wakes are the fast path — a send notifies the wake channel, whose receiver posts a poke for the
 * session — and the recovery poll drives every session now and then, so a lost wake delays work but
 * never loses it. A turn begins when its session is idle with queued input and a slot is free; its
 * start is written to the store before the driver runs it.
 *
 * @packageDocumentation
 */

import {
  continueRun,
  createScheduler,
  offer,
  type SchedulerState,
  takeReady,
  turnEnded,
  turnStarted,
} from "../kernel/scheduler/scheduler.js";
import { abandonTurn, beginTurn } from "../kernel/session/inbox.js";
import type { TimerToken } from "./clock.js";
import type { LiveTurn } from "./live-turn.js";
import type { RuntimeParts } from "./parts.js";
import type { SessionEntry } from "./session-table.js";

/** How many turns started in one job share one reading of the clock (a no-op turn takes a few µs). */
const STARTS_PER_CLOCK_READ = 32;

export class Scheduler {
  readonly #parts: RuntimeParts;
  #state: SchedulerState<SessionEntry>;
  #pollTimer: TimerToken | undefined;
  #unsubscribe: (() => void) | undefined;
  /** Turns started since the clock was last re-read for them, modulo `STARTS_PER_CLOCK_READ`. */
  #starts = 0;

  constructor(parts: RuntimeParts) {
    this.#parts = parts;
    this.#state = this.#fresh();
  }

  /** Sessions with queued input waiting for a slot. */
  get waiting(): number {
    return this.#state.waiting;
  }

  /** Empties the line and frees every slot: a start begins from nothing running. */
  reset(): void {
    this.#state = this.#fresh();
  }

  /** Starts listening for wakes, and the recovery poll. */
  open(): void {
    this.#unsubscribe = this.#parts.options.wakes.subscribe((id) => this.wake(id));
    this.#schedulePoll();
  }

  /** Stops the recovery poll (a draining stop still drives what is queued). */
  stopPolling(): void {
    if (this.#pollTimer !== undefined) this.#parts.clock.clearTimeout(this.#pollTimer);
    this.#pollTimer = undefined;
  }

  /** Stops listening for wakes. */
  close(): void {
    this.stopPolling();
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  /**
   * Tells the scheduler the session has new input. A session whose wake is already posted gets
   * none: that wake's poke sees this input too, and a burst of sends to one session would otherwise
   * pay a wake, and its look-up, per input.
   */
  notify(entry: SessionEntry): void {
    if (!entry.wakePending) this.#parts.options.wakes.notify(entry.id);
  }

  /** A wake for the session: posts a poke for it, unless one is posted already. */
  wake(sessionId: string): void {
    const entry = this.#parts.sessions.get(sessionId);
    if (entry === undefined || entry.wakePending) return;
    entry.wakePending = true;
    this.#parts.dispatcher.post("wake", () => {
      entry.wakePending = false;
      this.poke(entry);
    });
  }

  /** Pokes every session: the startup drive, the recovery poll and a drain. */
  driveAll(): void {
    for (const entry of this.#parts.sessions.values()) this.poke(entry);
  }

  /** Starts a turn for the session if it is idle with queued input and a slot is free. */
  poke(entry: SessionEntry): void {
    if (!this.#parts.run.driving) return;
    if (entry.turn !== undefined || entry.queue.length === 0) return;
    if (this.#parts.leaseKeeper?.holds(entry.id) === false) return;
    if (!offer(this.#state, entry)) return;
    const turn = this.#begin(entry);
    if (turn !== undefined) this.#start(turn);
  }

  /**
   * Starts turns while slots are free after turns ended: first the next turns of the sessions of
   * `ended[from, to)` while their run goes on (`continueRun`: the slot quantum), then those of waiting
   * sessions. It begins them all, then runs them (measured 1.07x the throughput of beginning and
   * running them one by one: bench/NOTES.md), through the driver's `startAll`.
   */
  pump(ended: readonly LiveTurn[], from: number, to: number): void {
    if (!this.#parts.run.driving) return;
    const begun: LiveTurn[] = [];
    const now = this.#parts.dispatcher.monotonicNow();
    for (let i = from; i < to; i++) {
      const { entry, startedAtMs } = ended[i]!;
      if (entry.turn !== undefined) continue;
      if (!continueRun(this.#state, entry, entry.queue.length > 0, startedAtMs, now)) continue;
      const turn = this.#begin(entry);
      if (turn !== undefined) begun.push(turn);
    }
    for (;;) {
      const entry = takeReady(this.#state);
      if (entry === undefined) break;
      if (entry.turn !== undefined || entry.queue.length === 0) continue;
      const turn = this.#begin(entry);
      if (turn !== undefined) begun.push(turn);
    }
    this.#parts.driver.startAll(begun, this.#start);
  }

  /** A turn took a slot without beginning here: a turn resumed after a crash. */
  claimSlot(): void {
    turnStarted(this.#state);
  }

  /** A turn finished: its slot is free (the caller pumps). */
  releaseSlot(): void {
    turnEnded(this.#state);
  }

  /**
   * Begins a turn of the session's queued input: returns it, ready to be fed its `start`. When its
   * start cannot be stored, the error is reported and the inputs go back to the front of the queue,
   * for a later drive (the recovery poll's, at the latest) to try again; other sessions still start.
   */
  #begin(entry: SessionEntry): LiveTurn | undefined {
    const { driver, options, store, dispatcher, leaseKeeper } = this.#parts;
    // Another process holds the session: its turns are that process's to run.
    if (leaseKeeper?.holds(entry.id) === false) return undefined;
    const turnId = options.ids();
    const merge = this.#parts.children?.mergeCompletions ?? true;
    const turn = beginTurn(entry, turnId, driver.open, merge);
    if (turn === undefined) return undefined;
    try {
      store.startTurn({
        turnId,
        sessionId: entry.id,
        inputIds: turn.inputIds(),
        attempt: 1,
        startedAtMs: dispatcher.epochNow(),
      });
    } catch (error) {
      abandonTurn(entry, turnId);
      this.#parts.events.report(`start of turn ${turnId}`, error, { sessionId: entry.id, turnId });
      return undefined;
    }
    turnStarted(this.#state);
    driver.activate(turn);
    return turn;
  }

  /**
   * Feeds a begun turn its start. The turns a job starts (and, with a synchronous model, ends) are
   * stamped with the job's time; it is re-read every few starts to stay close. A throw (a store
   * write of its end that failed) is reported, so that the job's other turns still start.
   */
  readonly #start = (turn: LiveTurn): void => {
    this.#starts = (this.#starts + 1) % STARTS_PER_CLOCK_READ;
    if (this.#starts === 0) this.#parts.dispatcher.refreshTime();
    try {
      this.#parts.driver.start(turn);
    } catch (error) {
      this.#parts.events.report(`start of turn ${turn.turnId}`, error, {
        sessionId: turn.sessionId,
        turnId: turn.turnId,
      });
    }
  };

  #schedulePoll(): void {
    const { clock, options, run, dispatcher } = this.#parts;
    this.#pollTimer = clock.setTimeout(() => {
      if (run.state !== "running") return;
      dispatcher.post("recovery poll", () => {
        this.#parts.leaseKeeper?.poll();
        this.driveAll();
        // Work that settled without a turn ending (withdrawn, cancelled while queued) lets go here.
        this.#parts.keepAlive.settled();
      });
      this.#schedulePoll();
    }, options.pollIntervalMs);
  }

  #fresh(): SchedulerState<SessionEntry> {
    const { limits, options } = this.#parts;
    return createScheduler(limits.maxConcurrentTurns, options.slotQuantumMs);
  }
}
