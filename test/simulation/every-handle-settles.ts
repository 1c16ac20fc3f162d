/**
 * P4, every handle settles, and the stop that settles them reports what it did:
 * - once `stop()` resolved every handle handed out is settled, and so is every `result()` /
 *   `cancel()` promise and event iterator; at the end of the run (final stop, restart, drain) every
 *   input is terminal in the store and nothing is pending;
 * - nothing starts after stop: no model/tool/function call begins while the runtime is stopped; no
 *   turn is left open and no input left `running` once `stop()` resolved;
 * - the stop status matches: with `live` = fake calls outstanding when the runtime reported
 *   `runtime.stopped`, and `discards` = inputs still queued then or turns ended `runtime_stopped`
 *   during a draining stop: `timeout` (or `force_killed` with `force`) iff live > 0, else
 *   `drained_with_discards` iff drain and discards > 0, else `clean`. Every call outstanding then must
 *   be one that ignores its abort signal (a call that honours it was never aborted: a leak). A
 *   draining stop drives every session, and keeps to its deadline.
 */
import type { StopStatus } from "../../src/kernel/shutdown/stop-status.js";
import type { Kept, Ledger, Watched } from "./ledger.js";
import type { CallRecord } from "./world.js";

/** Tracks a promise that must settle by the next stop. */
export function watch(l: Ledger, promise: Promise<unknown>, label: string): void {
  const w: Watched = { label, settled: false };
  l.watched.push(w);
  const done = () => {
    w.settled = true;
  };
  promise.then(done, done);
}

export function stopCalled(l: Ledger, drain: boolean, force: boolean, timeoutMs: number): void {
  l.stop = {
    drain,
    force,
    timeoutMs,
    calledAtMs: l.parts.clock.monotonicMs(),
    cancelling: false,
    stoppedEnds: 0,
    reported: undefined,
  };
}

/** `stop()` resolved with `status`. */
export function stopResolved(l: Ledger, status: StopStatus): void {
  l.delegations?.stopped();
  const stop = l.stop;
  l.stop = undefined;
  l.stopped = true;
  l.mustSettle = { handles: [...l.handles], watched: [...l.watched] };
  l.stopStatuses.push(status);
  if (stop === undefined) {
    if (status !== "clean") l.fail(`stop() of a runtime that was not running returned ${status}`);
    return;
  }
  if (stop.reported === undefined) {
    // Stopped while starting with nothing to stop: no event.
    if (status !== "clean") l.fail(`stop() returned ${status} without a runtime.stopped event`);
  } else if (stop.reported !== status) {
    l.fail(`stop() resolved ${status} but the runtime.stopped event said ${stop.reported}`);
  }
}

/** `runtime.stopped`: the status it reports is the one the facts of the header call for. */
export function runtimeStopped(l: Ledger, status: StopStatus): void {
  const stop = l.stop;
  if (stop === undefined) {
    l.fail(`runtime.stopped (${status}) without a stop() call`);
    return;
  }
  stop.reported = status;
  l.count(`stop ${status}`);
  const live = [...l.parts.calls.live.values()];
  const queued = l.queuedTotal();
  const discards = stop.drain && (queued > 0 || stop.stoppedEnds > 0);
  const expected: StopStatus =
    live.length > 0
      ? stop.force
        ? "force_killed"
        : "timeout"
      : discards
        ? "drained_with_discards"
        : "clean";
  const facts = `drain=${stop.drain} force=${stop.force} timeoutMs=${stop.timeoutMs} liveCalls=${live.length} queued=${queued} turnsInterrupted=${stop.stoppedEnds}`;
  if (status !== expected) l.fail(`stop() reported ${status}, expected ${expected} (${facts})`);
  for (const call of live) {
    if (!call.ignoresAbort)
      l.fail(
        `${call.kind} call "${call.label}" (started ${call.startedAtMs}ms) honours abort but was still outstanding at stop: it was never aborted`,
      );
  }
  if (stop.drain) {
    // A draining stop must drive every session: one left idle with queued input past a poll
    // interval (its wake lost, and no poll runs during stop) was never drained.
    const now = l.parts.clock.monotonicMs();
    for (const [id, since] of l.stallSince) {
      if (now - since > l.parts.config.pollIntervalMs && l.queued(id).length > 0)
        l.fail(`the draining stop left session ${id} idle with queued input from ${since}ms to the end`);
    }
  }
  const elapsed = l.parts.clock.monotonicMs() - stop.calledAtMs;
  if ((status === "timeout" || status === "force_killed") && elapsed < stop.timeoutMs)
    l.fail(`stop() reported ${status} after ${elapsed}ms, before its ${stop.timeoutMs}ms deadline`);
  if (elapsed > stop.timeoutMs) l.fail(`stop() took ${elapsed}ms, past its ${stop.timeoutMs}ms deadline`);
}

/** A fake model, tool or function call began. */
export function callBegan(l: Ledger, call: CallRecord): void {
  if (l.stopped) l.fail(`${call.kind} call "${call.label}" began while the runtime was stopped`);
}

/** After `stop()` resolved: nothing open, nothing running in the store, everything settled. */
export function checkStopped(
  l: Ledger,
  must: { handles: readonly Kept[]; watched: readonly Watched[] },
): void {
  for (const turn of l.open.values()) l.fail(`turn ${turn.id} is still running after stop() resolved`);
  for (const fact of l.inputs.values()) {
    if (fact.state === "running") l.fail(`input ${fact.id} is still running after stop() resolved`);
  }
  for (const kept of must.handles) {
    if (!kept.handle.done)
      l.fail(
        `handle ${kept.label} (input ${kept.handle.id}) is still ${kept.handle.status} after stop() resolved`,
      );
  }
  for (const w of must.watched) if (!w.settled) l.fail(`${w.label} is still pending after stop() resolved`);
}

/** The end of the run: every accepted input is terminal, every terminal status still holds. */
export function checkEnd(l: Ledger): void {
  for (const fact of l.inputs.values()) {
    if (fact.state !== "terminal") l.fail(`input ${fact.id} never reached a terminal state (${fact.state})`);
    l.mirror(fact);
  }
  if (l.parts.calls.live.size > 0)
    l.fail(`${l.parts.calls.live.size} fake calls are still in flight at the end`);
  checkStopped(l, { handles: l.handles, watched: l.watched });
  l.delegations?.checkFinal();
  l.throwIfFailed("end of run");
}
