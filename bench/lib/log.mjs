// Progress lines. Benchmarks run for minutes on a shared machine; a line every few seconds with the
// time since start shows a run is alive, and where the time went.
import { performance } from "node:perf_hooks";

const t0 = performance.now();

/** A progress line with the seconds since the script started, so long runs show they are alive. */
export function log(message) {
  const s = ((performance.now() - t0) / 1000).toFixed(1).padStart(6);
  process.stdout.write(`[${s}s] ${message}\n`);
}

/**
 * Calls `report()` every `everyMs` while a phase runs; returns a function that stops it. The ticker is
 * unref'ed, so it never keeps the process alive, and it needs the event loop to turn: a phase that
 * blocks the thread (a burst of synchronous sends) prints when it yields.
 */
export function ticker(report, everyMs = 2000) {
  const timer = setInterval(report, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
