/**
 * The dispatcher: the one place where the runtime's state changes happen. Jobs are posted from
 * anywhere (a send, a model's stream ending, a tool resolving, a timer) and run one at a time, in
 * post order, on the host's event loop.
 *
 * Jobs must not block. The dispatcher drains in slices: a slice starts on a microtask, runs jobs
 * until its time budget is used, then yields to the event loop with `setImmediate` so host IO and
 * timers interleave. It measures each job's post→run lag and flags a job that held the thread longer
 * than `hogThresholdMs`, naming it; the synchronous part of a tool's or function agent's call, which
 * runs outside jobs, is measured the same way (`timed`).
 *
 * @packageDocumentation
 */
import type { Clock } from "./clock.js";
import { LatencyRecorder, type LatencyStats } from "./latency-stats.js";
import { StallWatch } from "./stall-watch.js";
import { outsideTurn } from "./turn-scope.js";

const NOTHING = (): void => {};

interface Job {
  readonly label: string;
  readonly run: () => void;
  readonly postedAtMs: number;
}

/** A moment, read once and shared by whatever happened in it (see {@link Dispatcher.stamp}). */
export interface Stamp {
  readonly epochMs: number;
  readonly monotonicMs: number;
}

/** How many calls outside a job share one stamp (a send takes well under a microsecond). */
const STAMP_USES = 32;

/**
 * What held the thread too long: `job`, a dispatcher job (the runtime's own work, and the listeners
 * it called); `call`, the synchronous part of a tool's or function agent's call, measured around it;
 * `stall`, the thread held while the named calls were in flight, past any job or call measured
 * (their code after an `await`, or the host's own code meanwhile).
 */
export type HogSource = "job" | "call" | "stall";

/** What the dispatcher reports about something that held the thread too long. */
export interface HogReport {
  readonly label: string;
  readonly durationMs: number;
  readonly source: HogSource;
}

export interface DispatcherOptions {
  readonly clock: Clock;
  readonly hogThresholdMs: number;
  /** Time budget of one drain slice before yielding to the event loop. */
  readonly sliceMs: number;
  readonly onHog: (report: HogReport) => void;
  /** A job threw: the dispatcher goes on; the owner logs it. */
  readonly onJobError: (label: string, error: unknown) => void;
  /** How to yield to the event loop between slices (the simulation runs slices on its virtual clock). */
  readonly yieldToLoop?: (next: () => void) => void;
  /** Watch the real thread for stalls while calls are in flight (off on a virtual clock). */
  readonly watchStalls?: boolean;
}

export class Dispatcher {
  readonly #options: DispatcherOptions;
  readonly #lag = new LatencyRecorder();
  #jobs: Job[] = [];
  #head = 0;
  #scheduled = false;
  #ran = 0;
  /** A job is running (the times below are its own). */
  #inJob = false;
  #jobStartedAtMs = 0;
  #jobEpochMs: number | undefined;
  #jobStamp: Stamp | undefined;
  /** Outside a job: the stamp of the current synchronous run, and how many calls it served (modulo STAMP_USES). */
  #outsideStamp: Stamp = { epochMs: 0, monotonicMs: 0 };
  #outsideUses = 0;
  #outsideEnding = false;
  readonly #stalls: StallWatch | undefined;
  /** When a hog was last reported, on the process's clock (what the stall watch reads). */
  #lastReportAtMs = Number.NEGATIVE_INFINITY;

  constructor(options: DispatcherOptions) {
    this.#options = options;
    this.#stalls =
      options.watchStalls === true
        ? new StallWatch({
            thresholdMs: options.hogThresholdMs,
            onStall: (label, durationMs) => this.#hog({ label, durationMs, source: "stall" }),
            lastReportAtMs: () => this.#lastReportAtMs,
          })
        : undefined;
  }

  /** Queues a job. It runs after every job posted before it. */
  post(label: string, run: () => void): void {
    this.#jobs.push({ label, run, postedAtMs: this.#options.clock.monotonicMs() });
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#drain);
    }
  }

  /** Jobs waiting to run. */
  get depth(): number {
    return this.#jobs.length - this.#head;
  }

  /** Jobs run since creation. */
  get ran(): number {
    return this.#ran;
  }

  /**
   * Monotonic milliseconds. Inside a job, the time the job started: the slice reads the clock
   * between jobs anyway, and a job that starts and ends many turns would otherwise read it for each.
   */
  monotonicNow(): number {
    return this.#inJob ? this.#jobStartedAtMs : this.#options.clock.monotonicMs();
  }

  /** Epoch milliseconds; inside a job, read once, when the job first asks. */
  epochNow(): number {
    if (!this.#inJob) return this.#options.clock.epochMs();
    this.#jobEpochMs ??= this.#options.clock.epochMs();
    return this.#jobEpochMs;
  }

  /**
   * The current moment as one object, shared: inside a job, the job's; outside one (a host's
   * sends), one per STAMP_USES calls of a synchronous run, so a burst of sends reads the clock once
   * per 32 sends and its inputs share one pair of times (bench/NOTES.md, "shared stamp").
   */
  stamp(): Stamp {
    if (this.#inJob) {
      this.#jobStamp ??= { epochMs: this.epochNow(), monotonicMs: this.#jobStartedAtMs };
      return this.#jobStamp;
    }
    if (this.#outsideUses === 0) {
      const { clock } = this.#options;
      this.#outsideStamp = { epochMs: clock.epochMs(), monotonicMs: clock.monotonicMs() };
      if (!this.#outsideEnding) {
        this.#outsideEnding = true;
        queueMicrotask(this.#endOutsideRun);
      }
    }
    this.#outsideUses = (this.#outsideUses + 1) % STAMP_USES;
    return this.#outsideStamp;
  }

  /** The synchronous run ended: the next call outside a job reads the clock again. */
  readonly #endOutsideRun = (): void => {
    this.#outsideUses = 0;
    this.#outsideEnding = false;
  };

  /** Reads the clock again for the rest of the running job: for a job that works through a batch. */
  refreshTime(): void {
    if (!this.#inJob) return;
    this.#jobStartedAtMs = this.#options.clock.monotonicMs();
    this.#jobEpochMs = undefined;
    this.#jobStamp = undefined;
  }

  /**
   * Runs `fn` — the synchronous part of a tool's or a function agent's call, which runs outside any
   * job but holds the same thread — and reports it under `label` when it held the thread longer
   * than `hogThresholdMs`, as a job would be.
   */
  timed<T>(label: string, fn: () => T): T {
    const { clock, hogThresholdMs } = this.#options;
    const start = clock.monotonicMs();
    try {
      return fn();
    } finally {
      const durationMs = clock.monotonicMs() - start;
      if (durationMs > hogThresholdMs) this.#hog({ label, durationMs, source: "call" });
    }
  }

  /**
   * Marks a tool's or function agent's call as in flight, under `label`, until the returned function
   * is called: stalls of the thread meanwhile are reported naming it (see `stall-watch.ts`).
   */
  inFlight(label: string): () => void {
    return this.#stalls === undefined ? NOTHING : this.#stalls.enter(label);
  }

  #hog(hog: HogReport): void {
    this.#lastReportAtMs = performance.now();
    report(() => this.#options.onHog(hog));
  }

  lag(): LatencyStats {
    return this.#lag.stats();
  }

  /** Every slice runs outside any turn's scope, so no job inherits the scope of whoever posted it. */
  readonly #drain = (): void => outsideTurn(this.#slice);

  readonly #slice = (): void => {
    const { clock, hogThresholdMs, sliceMs } = this.#options;
    const sliceStart = clock.monotonicMs();
    let now = sliceStart;
    while (this.#head < this.#jobs.length) {
      const job = this.#jobs[this.#head]!;
      this.#head += 1;
      this.#lag.record(now - job.postedAtMs);
      this.#inJob = true;
      this.#jobStartedAtMs = now;
      this.#jobEpochMs = undefined;
      this.#jobStamp = undefined;
      try {
        job.run();
      } catch (error) {
        report(() => this.#options.onJobError(job.label, error));
      }
      this.#inJob = false;
      this.#ran += 1;
      const after = clock.monotonicMs();
      if (after - now > hogThresholdMs)
        this.#hog({ label: job.label, durationMs: after - now, source: "job" });
      now = after;
      if (now - sliceStart >= sliceMs && this.#head < this.#jobs.length) {
        this.#compact();
        (this.#options.yieldToLoop ?? setImmediate)(this.#drain);
        return;
      }
    }
    this.#jobs = [];
    this.#head = 0;
    this.#scheduled = false;
  };

  #compact(): void {
    if (this.#head > 1024) {
      this.#jobs = this.#jobs.slice(this.#head);
      this.#head = 0;
    }
  }
}

/**
 * Calls an owner's report hook (which logs through the host's logger). If that throws too there is
 * nobody left to tell, and letting it escape would stop the drain for good: it is dropped.
 */
function report(hook: () => void): void {
  try {
    hook();
  } catch {
    // Dropped on purpose; see above.
  }
}
