/**
 * Stopping: an optional drain (queued and running work finishes, until a deadline), then running turns
 * are interrupted, calls get until the deadline to return after their abort, the store commits what
 * is pending, and every handle still live settles. Queued inputs stay stored for the next start.
 * The kernel's `stopStatus` names the outcome.
 *
 * @packageDocumentation
 */
import type { Reason } from "../kernel/outcome.js";
import { type StopStatus, stopStatus } from "../kernel/shutdown/stop-status.js";
import { DETACHED } from "./intake.js";
import type { RuntimeParts } from "./parts.js";

const STOPPED: Reason = { code: "runtime_stopped", message: "the runtime stopped" };

/** Stops a running runtime (see `Runtime.stop`) and returns how it went. */
export async function shutdown(
  parts: RuntimeParts,
  drain: boolean,
  timeoutMs: number,
  force: boolean,
): Promise<StopStatus> {
  parts.run.state = "stopping";
  // Its waits are on the runtime's unref'd timers: the host awaiting stop() must see it return.
  parts.keepAlive.busy();
  try {
    return await stopping(parts, drain, timeoutMs, force);
  } finally {
    parts.keepAlive.release();
  }
}

/** The stop itself: drain, interrupt, wait for calls, commit, settle every handle. */
async function stopping(
  parts: RuntimeParts,
  drain: boolean,
  timeoutMs: number,
  force: boolean,
): Promise<StopStatus> {
  const { run, clock, scheduler, dispatcher, driver, sessions, store, events, intake, children } = parts;
  const deadline = clock.monotonicMs() + timeoutMs;
  scheduler.stopPolling();
  let discarded = 0;
  if (drain) {
    run.draining = true;
    // The recovery poll is off now: drive every session once, so input whose wake was lost drains too.
    dispatcher.post("drain drive", () => scheduler.driveAll());
    await until(parts, () => driver.runningTurns === 0 && sessions.queuedCount() === 0, deadline);
    run.draining = false;
    discarded = driver.runningTurns + sessions.queuedCount();
  }
  scheduler.close();
  driver.interruptAll(STOPPED);
  await until(parts, () => driver.runningTurns === 0 && driver.outstandingCalls === 0, deadline);
  const abandonedCalls = driver.outstandingCalls;
  await store.commit().catch((error: unknown) => events.report("final commit", error));
  if (parts.leaseKeeper !== undefined) {
    parts.leaseKeeper.close((live) => live.settle(DETACHED, undefined, undefined));
    // Other processes take this one's sessions over now, not once its leases lapse.
    await store.leases?.release().catch((error: unknown) => events.report("handing leases back", error));
  }
  intake.forgetAll();
  driver.detachAll();
  children?.dispose();
  const status = stopStatus({ drain, discarded, abandonedCalls, force });
  run.state = "stopped";
  parts.observer.stopped(status);
  events.emit({ type: "runtime.stopped", status });
  return status;
}

/** Resolves when `done()` holds (checked whenever work settles) or the deadline passes. */
function until(parts: RuntimeParts, done: () => boolean, deadlineMs: number): Promise<void> {
  if (done()) return Promise.resolve();
  const { clock, driver } = parts;
  return new Promise<void>((resolve) => {
    const finish = () => {
      driver.onSettled = undefined;
      clock.clearTimeout(timer);
      resolve();
    };
    const timer = clock.setTimeout(finish, Math.max(0, deadlineMs - clock.monotonicMs()));
    driver.onSettled = () => {
      if (done()) finish();
    };
  });
}
