/**
 * Liveness and P8, observability, checked at every quiescent point while the runtime runs or stops:
 * - every live input has a live handle that agrees with the ledger (status, and the turn it runs in);
 * - `metrics()` agrees with the ledger: queued inputs, running turns, outstanding calls, inputs
 *   accepted and inputs ended by this runtime object;
 * - a session idle with queued input while a turn slot is free gets a turn within `pollIntervalMs`,
 *   whatever wakes were lost (also during a draining stop).
 */
import type { Runtime } from "../../src/runtime/runtime.js";
import type { Ledger } from "./ledger.js";

export function checkLive(l: Ledger, runtime: Runtime, state: string): void {
  let queuedTotal = 0;
  for (const fact of l.inputs.values()) {
    if (fact.state === "terminal") continue;
    if (fact.state === "queued") queuedTotal += 1;
    const handle = runtime.handle(fact.id);
    if (handle === undefined || handle.done || handle.status !== fact.state)
      l.fail(
        `input ${fact.id} is ${fact.state} but runtime.handle() gives ${handle === undefined ? "nothing" : `a handle that is ${handle.status}`}`,
      );
    if (fact.state === "running" && handle?.turnId !== fact.turnId)
      l.fail(`input ${fact.id} runs in turn ${fact.turnId} but its handle names ${String(handle?.turnId)}`);
  }
  const m = runtime.metrics();
  const open = l.open.size;
  if (m.runningTurns !== open) l.fail(`metrics.runningTurns is ${m.runningTurns}; ${open} turns are running`);
  if (m.queuedInputs !== queuedTotal)
    l.fail(`metrics.queuedInputs is ${m.queuedInputs}; ${queuedTotal} inputs are queued`);
  if (m.outstandingCalls !== l.parts.calls.live.size)
    l.fail(
      `metrics.outstandingCalls is ${m.outstandingCalls}; ${l.parts.calls.live.size} fake calls are in flight`,
    );
  if (m.inputsAccepted !== l.accepted - l.acceptedBase)
    l.fail(
      `metrics.inputsAccepted is ${m.inputsAccepted}; ${l.accepted - l.acceptedBase} were accepted by this runtime`,
    );
  let ended = 0;
  for (const n of Object.values(m.ended)) ended += n;
  if (ended !== l.terminal - l.terminalBase)
    l.fail(`metrics.ended sums to ${ended}; this runtime ended ${l.terminal - l.terminalBase} inputs`);
  checkStall(l, state);
}

/** A session idle with queued input while a slot is free gets a turn within one poll interval. */
function checkStall(l: Ledger, state: string): void {
  const stop = l.stop;
  const drivable = state === "running" || (stop?.drain === true && !stop.cancelling);
  const slotFree = l.open.size < l.parts.config.maxConcurrentTurns;
  const now = l.parts.clock.monotonicMs();
  for (const id of l.sessionIds()) {
    const stalled = drivable && slotFree && !l.open.has(id) && l.queued(id).length > 0;
    if (!stalled) {
      l.stallSince.delete(id);
      continue;
    }
    const since = l.stallSince.get(id);
    if (since === undefined) l.stallSince.set(id, now);
    else if (now - since > l.parts.config.pollIntervalMs)
      l.fail(
        `session ${id} has been idle with ${l.queued(id).length} queued input(s) and a free slot for ${now - since}ms (poll interval ${l.parts.config.pollIntervalMs}ms, runtime ${state})`,
      );
  }
}
