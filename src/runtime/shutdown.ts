/**
 * Stopping: an optional drain (queued and running work finishes, until a deadline), then running turns
 * are interrupted, calls get until the deadline to return after their abort, the store commits what
 * is pending, and every handle still live settles. Queued inputs stay stored for the next start.
 * Last, the store is closed, which releases its file for a next runtime, in this process or
 * another; `start()` opens it again.
 * The kernel's `stopStatus` names the outcome: `store_failed` when the store failed (before the stop,
 * or at its final commit) and has not worked since; the `runtime.stopped` event and the log then say
 * how many inputs were never written.
 *
 * @packageDocumentation
 */
import { OffstageError } from "../errors.js";
import { DEFAULTS } from "../kernel/limits.js";
import type { Reason } from "../kernel/outcome.js";
import { type StopStatus, stopStatus } from "../kernel/shutdown/stop-status.js";
import { settlesWithin } from "./clock.js";
import type { RuntimeParts } from "./parts.js";
import { DETACHED, detachAll, interruptAll } from "./turn-stops.js";

const STOPPED: Reason = { code: "runtime_stopped", message: "the runtime stopped" };

/** Stops a running runtime (see `Runtime.stop`) and returns how it went. */
export async function shutdown(
  parts: RuntimeParts,
  drain: boolean,
  timeoutMs: number,
  force: boolean,
): Promise<StopStatus> {
  parts.run.state = "stopping";
  parts.health.stopped();
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
  // A failed store can run nothing: the stop settles what its failure left, at once.
  if (drain && run.storeError === undefined) {
    run.draining = true;
    // A drain runs every queued input: those recovery has not read yet too. A read that fails
    // fails the store (the guarded store tells its health, whose cut settles every handle).
    try {
      parts.recovery.loadAll();
    } catch {}
    // The recovery poll is off now: drive every session once, so input whose wake was lost drains too.
    dispatcher.post("drain drive", () => scheduler.driveAll());
    await until(parts, () => driver.runningTurns === 0 && sessions.queuedCount() === 0, deadline);
    run.draining = false;
    discarded = driver.runningTurns + sessions.queuedCount();
  }
  scheduler.close();
  parts.recovery.end();
  interruptAll(parts, STOPPED);
  await until(parts, () => driver.runningTurns === 0 && driver.outstandingCalls === 0, deadline);
  const abandonedCalls = driver.outstandingCalls;
  // The store's last commit, and the leases handed back, get the time left, and `landWaitMs` at
  // least. A store that cannot finish them then (a server that does not answer) has failed: its
  // pending writes are dropped, as a crash drops them, and the handles they carried say so.
  const storeWaitMs = () => Math.max(deadline - clock.monotonicMs(), DEFAULTS.storeProbe.landWaitMs);
  // A rejection reaches the store's health (the guarded store), which names it once.
  let finished = await settlesWithin(clock, store.commit(), storeWaitMs());
  // Before the watched handles settle as detached: those whose input was not committed are not kept.
  let dropped = !finished && (await abandoned(parts));
  if (parts.leaseKeeper !== undefined) {
    parts.leaseKeeper.close((live) => live.settle(DETACHED, undefined, undefined));
    // Other processes take this one's sessions over now, not once its leases lapse.
    if (finished && store.leases !== undefined) {
      finished = await settlesWithin(
        clock,
        store.leases.release().catch((error: unknown) => events.report("handing leases back", error)),
        storeWaitMs(),
      );
      dropped = !finished && (await abandoned(parts));
    }
  }
  // What the store failed to write settles now with its reason (`store_failed`), not as detached.
  await parts.health.landed(deadline - clock.monotonicMs());
  parts.health.cut();
  intake.keys.clear();
  detachAll(parts);
  children?.dispose();
  const storeFailed = run.storeError !== undefined;
  if (!dropped) await store.close().catch((error: unknown) => events.report("closing the store", error));
  const status = stopStatus({ drain, discarded, abandonedCalls, force, storeFailed });
  run.state = "stopped";
  parts.observer.stopped(status);
  if (!storeFailed) {
    events.emit({ type: "runtime.stopped", status });
    return status;
  }
  const lostInputs = parts.health.lostSinceStart;
  parts.log.error(
    { error: run.storeError, lostInputs },
    `stopped with a failed store: ${lostInputs} inputs accepted since the start were never written (they settled failed, store_failed); what the store kept runs after the next start`,
  );
  events.emit({ type: "runtime.stopped", status, lostInputs, storeError: run.storeError!.message });
  return status;
}

/**
 * The store did not finish a commit by the stop's deadline. One that can drop what it holds
 * (`Store.abandon`) has failed: it is dropped, and every handle settles now by what was committed
 * — those writes will never land, unless the store says a commit was in doubt. Returns whether it
 * was dropped; one that cannot be will still commit its writes, so nothing is called lost.
 */
async function abandoned(parts: RuntimeParts): Promise<boolean> {
  const { store, health, events } = parts;
  if (store.abandon === undefined) return false;
  health.failed(
    new OffstageError(
      "STORE_UNAVAILABLE",
      `the ${store.kind} store did not commit within the stop's deadline; its pending writes were dropped`,
    ),
  );
  const { inDoubt } = await store.abandon().catch((error: unknown) => {
    events.report("abandoning the store", error);
    return { inDoubt: true };
  });
  health.cut({ inDoubt });
  return true;
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
