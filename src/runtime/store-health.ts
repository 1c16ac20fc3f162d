/**
 * The store's health: what the runtime does when its store fails, and how it comes back.
 *
 * A store write that throws or a commit that rejects (a full disk, an I/O error, the database file
 * deleted) means the store lost writes nobody was told about, so what this process holds — queues,
 * running turns, receipts and ends waiting for their commit — no longer matches what the store
 * keeps. The runtime drops it, as a crash would, and rebuilds it from the store once the store works:
 *
 * 1. `failed(error)`, from the guarded store (`guarded-store.ts`) wherever the failure happens: the
 *    runtime turns `degraded` at once, so every send is refused with the store's error. The failure
 *    is emitted as `store.failed` and logged, at most once per `logEveryMs`, however often the
 *    store fails and recovers.
 * 2. The cut, in a dispatcher job once the commits already asked for have landed (the failing call
 *    unwinds first, and a group committed before the failure tells its receipts): nothing starts any
 *    more, running turns are aborted and let go (their late results are dropped), and every live
 *    handle settles:
 *    - an input the store committed (receipt `durable`, or any input of a store whose receipt is
 *      `stored`) settles `interrupted`, reason `store_failed`: the store keeps it, and it runs again
 *      once the store works (`runtime.handle(id)` then follows it to its end);
 *    - an input the store had not committed settles `failed`, reason `store_failed`, and its
 *      `stored()` rejects with the store's error: its write was lost, so it will never run; sending
 *      it again is safe.
 * 3. The probe: `store.open()` again, after {@link DEFAULTS.storeProbe} `firstMs`, then twice as long
 *    each time up to `maxMs`. While it fails, the log repeats the failure once per `logEveryMs`. When
 *    it succeeds, what the store kept is recovered as at a start (`boot.ts`): queued input
 *    queues again, a turn cut short resumes from its checkpoint. The runtime is `running` again and
 *    `store.recovered` is emitted.
 *
 * A stop meanwhile ends the probing; it reports `store_failed`. A failure while stopping cuts the
 * same way and makes the stop report `store_failed` too.
 *
 * @packageDocumentation
 */
import { OffstageError } from "../errors.js";
import { DEFAULTS } from "../kernel/limits.js";
import { describeCause, type Reason, type TurnOutcome } from "../kernel/outcome.js";
import { driveRecovered, openStore, recoverStored } from "./boot.js";
import { settlesWithin, type TimerToken } from "./clock.js";
import type { LiveInput } from "./live-input.js";
import type { RuntimeParts } from "./parts.js";
import { detachAll } from "./turn-stops.js";

/** The store's side of `runtime.metrics()`. */
export interface StoreHealthMetrics {
  /** The store failed and has not worked since (the runtime is `degraded`, or stopped since). */
  readonly degraded: boolean;
  /** Times the store failed. */
  readonly failures: number;
  /** Times a failed store worked again and the runtime recovered without a restart. */
  readonly recoveries: number;
  /** Inputs whose write the store lost: they settled `failed` (`store_failed`) and never run. */
  readonly lostInputs: number;
  /** Inputs the store kept whose handles settled `interrupted` (`store_failed`); they run after recovery. */
  readonly interruptedInputs: number;
}

export class StoreHealth {
  readonly #parts: RuntimeParts;
  #probeTimer: TimerToken | undefined;
  /** The probe in flight, if any. */
  #probing: Promise<void> | undefined;
  #probeMs: number = DEFAULTS.storeProbe.firstMs;
  /** Monotonic time the store failed, and when the failure was last logged. */
  #failedAtMs = 0;
  /** When a failure was last logged, and whether this failure was (its recovery is logged then). */
  #loggedAtMs = Number.NEGATIVE_INFINITY;
  #logged = false;
  /** When the store last worked again: a failure soon after keeps the probes' back-off. */
  #recoveredAtMs = Number.NEGATIVE_INFINITY;
  #probes = 0;
  #failures = 0;
  #recoveries = 0;
  #lostInputs = 0;
  #interruptedInputs = 0;
  /** Inputs lost since the runtime started, for the stop to name. */
  #lostSinceStart = 0;

  constructor(parts: RuntimeParts) {
    this.#parts = parts;
  }

  /** Inputs whose write was lost since the last start (what a stop reports it could not write). */
  get lostSinceStart(): number {
    return this.#lostSinceStart;
  }

  metrics(): StoreHealthMetrics {
    return {
      degraded: this.#parts.run.storeError !== undefined,
      failures: this.#failures,
      recoveries: this.#recoveries,
      lostInputs: this.#lostInputs,
      interruptedInputs: this.#interruptedInputs,
    };
  }

  /** The runtime starts: nothing lost yet. */
  started(): void {
    this.#lostSinceStart = 0;
  }

  /**
   * A store call threw or a commit rejected. The first failure of a running (or stopping) runtime
   * degrades it and schedules the cut; later ones are known already. Failures while it boots are
   * boot's to report. Returns the failure as an `OffstageError` (`STORE_FAILED`, or the store's own
   * `STORE_*` error) for the caller to throw.
   */
  failed(error: unknown): OffstageError {
    const { run, events, dispatcher, clock } = this.#parts;
    const typed = storeErrorOf(error);
    events.quiet(error);
    events.quiet(typed);
    if (run.storeError !== undefined || (run.state !== "running" && run.state !== "stopping")) return typed;
    run.storeError = typed;
    if (run.state === "running") run.state = "degraded";
    this.#failures += 1;
    this.#failedAtMs = clock.monotonicMs();
    this.#probes = 0;
    // A store that fails again soon after it recovered (a write that fails every time) is probed
    // at the back-off it had reached, not from the start: no fast loop of recover and fail.
    if (this.#failedAtMs - this.#recoveredAtMs >= DEFAULTS.storeProbe.logEveryMs)
      this.#probeMs = DEFAULTS.storeProbe.firstMs;
    this.#logged = false;
    // A stop logs the failure itself, once it has settled what the failure left.
    if (run.state === "degraded") this.#logFailure();
    events.emit({
      type: "store.failed",
      code: run.storeError.code,
      message: run.storeError.message,
    });
    // Once the commits already asked for have landed: a group committed before the failure tells
    // its receipts first (see `CommitGate.settled`).
    void this.landed(DEFAULTS.storeProbe.landWaitMs).then(() =>
      dispatcher.post("store failed", () => this.cut()),
    );
    if (run.state === "degraded") this.#scheduleProbe();
    return typed;
  }

  /**
   * Drops what this process holds and settles every live handle (see the top). Idempotent: with
   * nothing live, it changes nothing. `inDoubt`: the store cannot tell whether its last commit
   * landed (`Store.abandon`), so an input not known committed settles `interrupted`, reason
   * `store_in_doubt`, rather than lost.
   */
  cut({ inDoubt = false }: { readonly inDoubt?: boolean } = {}): void {
    this.#drop(true, inDoubt);
  }

  /** The cut; `counted` false for what a failed recovery rebuilt (handles nobody was given). */
  #drop(counted: boolean, inDoubt = false): void {
    const { run, scheduler, sessions, gate, driver, intake, children, keepAlive } = this.#parts;
    const error = run.storeError;
    if (error === undefined) return;
    scheduler.close();
    // What recovery has not read yet stays stored: the next recovery reads it.
    this.#parts.recovery.end();
    const kept = keptOutcome(error);
    const lost = lostOutcome(error);
    const doubt = inDoubt ? doubtOf(error) : undefined;
    const settle = (live: LiveInput): void => {
      if (live.poll() !== undefined) return;
      if (live.receipt === "durable" || this.#parts.store.receipt === "stored") {
        live.settle(kept, undefined, undefined);
        if (counted) this.#interruptedInputs += 1;
      } else if (doubt !== undefined) live.markLost(doubt.outcome, doubt.error);
      else {
        live.markLost(lost, error);
        if (!counted) return;
        this.#lostInputs += 1;
        this.#lostSinceStart += 1;
      }
    };
    for (const entry of sessions.values()) {
      for (const live of entry.queue) settle(live);
      if (entry.turn !== undefined) for (const live of entry.turn.inputs) settle(live);
    }
    // Input another process runs: one accepted here may have been in the lost group too.
    this.#parts.leaseKeeper?.settleWatched(settle);
    gate.abandon(settle);
    intake.keys.clear();
    detachAll(this.#parts, kept.reason);
    children?.dispose();
    if (run.state !== "stopping") keepAlive.release();
    driver.onSettled?.();
  }

  /**
   * How a handle of a stored, unfinished input settles while the store fails (`undefined` while it
   * works): `runtime.handle(id)` builds such handles.
   */
  keptOutcome(): TurnOutcome | undefined {
    const error = this.#parts.run.storeError;
    return error === undefined ? undefined : keptOutcome(error);
  }

  /**
   * Resolves once the commits already asked for have landed (see `CommitGate.settled`), or after
   * `waitMs` at most: a store whose commit never answers must not leave handles hanging.
   */
  async landed(waitMs: number): Promise<void> {
    const { gate, clock } = this.#parts;
    await settlesWithin(clock, gate.settled(), waitMs);
  }

  /** A stop: no more probes. */
  stopped(): void {
    if (this.#probeTimer !== undefined) this.#parts.clock.clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
  }

  #scheduleProbe(): void {
    if (this.#probeTimer !== undefined) return;
    this.#probeTimer = this.#parts.clock.setTimeout(this.#probe, this.#probeMs);
    this.#probeMs = Math.min(this.#probeMs * 2, DEFAULTS.storeProbe.maxMs);
  }

  /** The probe in flight, if any, as a promise that resolves once it finished (never rejects). */
  get probing(): Promise<void> | undefined {
    return this.#probing;
  }

  readonly #probe = (): void => {
    this.#probeTimer = undefined;
    this.#probes += 1;
    this.#probing = this.#tryAgain()
      .catch((error: unknown) => this.#parts.events.report("store probe", error))
      .finally(() => {
        this.#probing = undefined;
      });
  };

  async #tryAgain(): Promise<void> {
    const { run, events, log, clock, metrics } = this.#parts;
    if (run.state !== "degraded") return;
    // Should the cut not have run yet, what this process held must go before it is rebuilt.
    await this.landed(DEFAULTS.storeProbe.landWaitMs);
    if (run.state !== "degraded") return;
    this.cut();
    try {
      const recovery = await recoverStored(this.#parts, await openStore(this.#parts));
      driveRecovered(this.#parts, recovery);
      const { recoveredInputs, resumedTurns } = recovery;
      const downMs = Math.round(clock.monotonicMs() - this.#failedAtMs);
      this.#recoveries += 1;
      this.#recoveredAtMs = clock.monotonicMs();
      // Told when its failure was: a store that keeps failing and recovering logs once a minute.
      if (this.#logged)
        log.warn(
          { downMs, probes: this.#probes, recoveredInputs, resumedTurns, failures: this.#failures },
          `the store works again after ${downMs} ms; the runtime is running again`,
        );
      events.emit({ type: "store.recovered", downMs, recoveredInputs, resumedTurns });
    } catch (error) {
      events.quiet(error);
      metrics.commitRetried();
      // What the failed recovery rebuilt is dropped again; the store's first error still names why.
      this.#drop(false);
      this.#logFailure(error);
      this.#scheduleProbe();
    }
  }

  /** Logs the failure: at once the first time, then once per `logEveryMs` while it lasts. */
  #logFailure(latest?: unknown): void {
    const { run, clock, log } = this.#parts;
    const now = clock.monotonicMs();
    if (now - this.#loggedAtMs < DEFAULTS.storeProbe.logEveryMs) return;
    const first = !this.#logged;
    this.#loggedAtMs = now;
    this.#logged = true;
    const error = latest ?? run.storeError;
    const downMs = Math.round(now - this.#failedAtMs);
    log.error(
      { error, downMs, probes: this.#probes, failures: this.#failures, lostInputs: this.#lostSinceStart },
      first
        ? "the store failed: the runtime is degraded, refuses sends and settled every live handle; it retries the store and recovers when it works again"
        : `the store still fails after ${downMs} ms (${this.#probes} probes); the runtime stays degraded`,
    );
  }
}

/** The error sends are refused with while degraded: the store's own, or one that wraps what it threw. */
function storeErrorOf(error: unknown): OffstageError {
  if (error instanceof OffstageError && error.code.startsWith("STORE_")) return error;
  return new OffstageError("STORE_FAILED", `the store failed: ${describeCause(error)}`, { cause: error });
}

/** How a handle settles when the store keeps its input, which runs again once the store works. */
function keptOutcome(error: OffstageError): TurnOutcome {
  const reason: Reason = {
    code: "store_failed",
    message: `the store failed (${error.code}: ${error.message}); the input is stored and runs again once the store works (runtime.handle(id) follows it)`,
  };
  return { status: "interrupted", reason };
}

/** How a handle settles, and its `stored()` rejects, when the store cannot tell whether it committed it. */
function doubtOf(error: OffstageError): { outcome: TurnOutcome; error: OffstageError } {
  const message = `the store failed while it committed this input (${error.code}: ${error.message}), and cannot tell whether the commit landed: if it did, the input runs after the next start (runtime.handle(id) then finds it)`;
  return {
    outcome: { status: "interrupted", reason: { code: "store_in_doubt", message } },
    error: new OffstageError(error.code, message, { cause: error }),
  };
}

/** How a handle settles when the store lost its input before committing it. */
function lostOutcome(error: OffstageError): TurnOutcome {
  const reason: Reason = {
    code: "store_failed",
    message: `the store failed before it committed this input (${error.code}: ${error.message}); it was not kept and will not run: send it again`,
  };
  return { status: "failed", reason };
}
