/**
 * The clock port. All time the runtime reads or waits on goes through a `Clock`, so a simulation can
 * swap in `VirtualClock` (from `offstage/testing`) and replay a run exactly.
 *
 * @packageDocumentation
 */
// Node's global `performance` is a getter that every read calls (bench/NOTES.md, "clock reads").
import { performance } from "node:perf_hooks";

/** An opaque timer token returned by {@link Clock.setTimeout}. */
export type TimerToken = { readonly __timer: true } | object;

/** Time and timers. */
export interface Clock {
  /** Monotonic milliseconds (sub-millisecond precision where available), for durations and lag. */
  monotonicMs(): number;
  /** Wall-clock milliseconds since the epoch, for timestamps that are stored. */
  epochMs(): number;
  setTimeout(callback: () => void, delayMs: number): TimerToken;
  clearTimeout(token: TimerToken): void;
}

/**
 * Whether `work` settled (resolved or rejected: its failure is the caller's to hear elsewhere)
 * within `waitMs` on `clock`. A wait that must end even when the work never does.
 */
export function settlesWithin(clock: Clock, work: Promise<unknown>, waitMs: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const timer = clock.setTimeout(() => resolve(false), Math.max(0, waitMs));
    const done = () => {
      clock.clearTimeout(timer);
      resolve(true);
    };
    work.then(done, done);
  });
}

/** The process's real clock: `performance.now()`, `Date.now()` and Node timers (unref'd). */
export const systemClock: Clock = {
  monotonicMs: () => performance.now(),
  epochMs: () => Date.now(),
  setTimeout(callback, delayMs) {
    const timer = setTimeout(callback, delayMs);
    // A pending poll or timeout must never keep the host process alive on its own.
    timer.unref();
    return timer;
  },
  clearTimeout(token) {
    clearTimeout(token as NodeJS.Timeout);
  },
};
