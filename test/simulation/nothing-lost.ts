/**
 * P3, nothing lost and nothing ended twice: every accepted input reaches exactly one terminal state.
 *
 * The ledger mirrors the store for every input (queued, running, or the terminal status); a turn end
 * or an `input.status` event for an input already terminal is a violation; a terminal status never
 * changes; nothing is accepted while the runtime is not running; once an input is terminal its live
 * handles are settled with the same status. Input the runtime queues itself (a child's goal, a
 * completion for a parent) reports no `input.accepted` event: the ledger learns it from the store's
 * writes, and every rule holds for it too. P5 rides along: every ending names its specific cause,
 * with the reason code that belongs to its status.
 */
import type { Reason, ReasonCode, TerminalStatus } from "../../src/kernel/outcome.js";
import type { Policy } from "../../src/kernel/session/inbox.js";
import type { InputEnd, InputRecord, Steer } from "../../src/runtime/ports/store.js";
import type { TurnHandle } from "../../src/runtime/turn-handle.js";
import type { Ledger } from "./ledger.js";

/**
 * The reason codes each terminal status may carry in an event (crash failures are written at boot
 * without one). Only children end `budget_exceeded` or `timed_out`.
 */
const REASONS: Record<TerminalStatus, readonly ReasonCode[]> = {
  completed: ["ok"],
  failed: ["model_error", "function_error", "budget_exceeded"],
  cancelled: ["cancel_requested"],
  interrupted: ["interrupted_by_input", "runtime_stopped", "timed_out"],
  max_iterations: ["model_call_limit"],
  withdrawn: ["withdrawn"],
};

/** `input.accepted`: a driver's send joined the ledger. */
export function inputAccepted(l: Ledger, sessionId: string, inputId: string, policy: Policy): void {
  const state = l.parts.runtime().state;
  if (state !== "running") l.fail(`input ${inputId} was accepted while the runtime was ${state}`);
  if (l.inputs.has(inputId)) {
    l.fail(`input id ${inputId} was accepted twice`);
    return;
  }
  const fact = l.addInput(inputId, sessionId, policy, undefined);
  // Whether a steer joined the running turn is decided right after this event: see sent().
  if (policy === "steer" && l.open.has(sessionId)) l.unclassified.push(fact);
}

/**
 * An input reached the store. One the runtime queued itself — a child's goal, or a completion for
 * its parent — joins the ledger here, since no `input.accepted` event reports it.
 */
export function storeAccepted(l: Ledger, input: InputRecord): void {
  // Child sessions are `parent>id`; the driver never sends to one, so all their input is internal.
  if (input.delegationId === undefined && !input.sessionId.includes(">")) return;
  if (l.inputs.has(input.id)) {
    l.fail(`input id ${input.id} was accepted twice`);
    return;
  }
  const state = l.parts.runtime().state;
  // Until runtime.started is reported, recovery may still be running turns (a resumed child can
  // finish at once, writing its completion).
  if (state === "starting" || (state === "running" && l.stopped)) {
    l.acceptedWhileStarting += 1;
    if (input.delegationId !== undefined) l.count("completion written during recovery");
  } else if (state !== "running" && state !== "stopping")
    l.fail(`the runtime queued input ${input.id} while ${state}`);
  l.addInput(input.id, input.sessionId, input.policy, input.delegationId);
  if (input.delegationId !== undefined) l.delegations?.completionAccepted(input);
}

/** Never mid-turn: a completion only ever starts a turn of its own. */
export function storeSteered(l: Ledger, steer: Steer): void {
  const fact = l.inputs.get(steer.inputId);
  if (fact?.delegationId !== undefined)
    l.fail(`completion input ${steer.inputId} was steered into running turn ${steer.turnId}`);
}

export function storeInputEnded(l: Ledger, end: InputEnd): void {
  const fact = l.inputs.get(end.inputId);
  if (fact?.delegationId !== undefined)
    l.parts.trace.add(`  store: completion input ${end.inputId} ended ${end.status} (${end.reason.code})`);
  if (fact?.delegationId !== undefined) l.count(`completion input ${end.status} before its turn`);
}

/**
 * Called with the handle of every accepted send, right after `send()` returned: a handle already
 * `running` was steered into the session's running turn (a turn that already decided to end takes
 * no steer, so this cannot be told from the policy alone).
 */
export function sent(l: Ledger, handle: TurnHandle): void {
  if (handle.status === "running") steered(l, handle.id, handle.turnId);
  else {
    const at = l.unclassified.findIndex((f) => f.id === handle.id);
    if (at >= 0) l.unclassified.splice(at, 1);
  }
}

/**
 * `input.steered` (or a send that returned a running handle, when no event said so): the input joined
 * the session's running turn `turnId`.
 */
export function steered(l: Ledger, inputId: string, turnId: string | undefined): void {
  const at = l.unclassified.findIndex((f) => f.id === inputId);
  if (at < 0) return;
  const fact = l.unclassified[at]!;
  l.unclassified.splice(at, 1);
  const open = l.open.get(fact.sessionId);
  if (open === undefined || turnId !== open.id) {
    l.fail(
      `input ${fact.id} was steered into turn ${String(turnId)}, which is not the running turn ${String(open?.id)}`,
    );
    return;
  }
  fact.state = "running";
  fact.turnId = open.id;
  fact.steeredInto = open.id;
  open.inputIds.push(fact.id);
  const payload = l.parts.store.input(fact.id)?.payload;
  l.unseen.set(fact, typeof payload === "string" ? payload : JSON.stringify(payload));
  l.count("input steered into a running turn");
}

/** Every steer accepted so far was reported through sent(). */
export function classified(l: Ledger): void {
  if (l.unclassified.length === 0) return;
  for (const f of l.unclassified)
    l.fail(`input ${f.id} (steer) was accepted but its send never returned a handle`);
  l.unclassified.length = 0;
}

/** `turn.ended`: each input it answered ends with it, once; an unseen steered one goes back to the queue. */
export function turnEnded(
  l: Ledger,
  sessionId: string,
  turnId: string,
  inputIds: string[],
  status: TerminalStatus,
  code: string,
): void {
  const turn = l.turns.get(turnId);
  if (turn === undefined || !turn.open) {
    l.fail(`turn ${turnId} ended but was not running`);
    return;
  }
  turn.open = false;
  turn.status = status;
  if (l.open.get(sessionId) === turn) l.open.delete(sessionId);
  else l.fail(`turn ${turnId} ended in session ${sessionId} but ran in ${turn.sessionId}`);
  if (code === "runtime_stopped") {
    if (l.stop === undefined) l.fail(`turn ${turnId} ended runtime_stopped but no stop() is in progress`);
    else {
      l.stop.cancelling = true;
      l.stop.stoppedEnds += 1;
    }
  }
  const want = [...turn.inputIds].sort().join(",");
  const got = [...inputIds].sort().join(",");
  if (want !== got) l.fail(`turn ${turnId} ended answering [${got}]; it took and was steered [${want}]`);
  for (const id of inputIds) {
    const fact = l.inputs.get(id);
    if (fact === undefined) continue;
    l.dirty.add(id);
    if (fact.state === "terminal") {
      l.fail(`input ${id} reached a second terminal state: ${fact.status} then ${status} (turn ${turnId})`);
      continue;
    }
    const stored = l.parts.store.input(id)?.status;
    if (stored === "queued") {
      if (fact.steeredInto !== turnId)
        l.fail(`input ${id} went back to the queue after turn ${turnId} but was not steered into it`);
      fact.state = "queued";
      fact.jumper = true;
      l.count("steered input re-queued unseen");
      fact.turnId = undefined;
      fact.steeredInto = undefined;
      l.unseen.delete(fact);
      continue;
    }
    if (stored !== status)
      l.fail(`turn ${turnId} ended ${status} but the store says input ${id} is ${String(stored)}`);
    l.terminate(fact, status);
  }
}

/** P5: every ending names its specific cause, with the reason code that belongs to its status. */
export function checkReason(l: Ledger, what: string, status: TerminalStatus, reason: Reason): void {
  const codes = REASONS[status];
  if (!codes.includes(reason.code))
    l.fail(`${what} ended ${status} with reason ${reason.code}: ${reason.message}`);
  if (reason.code === "model_error" && !reason.message.includes("fake model"))
    l.fail(
      `${what} failed with model_error but the message does not name the model's error: ${reason.message}`,
    );
  if (reason.code === "function_error" && !reason.message.includes("fn "))
    l.fail(
      `${what} failed with function_error but the message does not name the function's error: ${reason.message}`,
    );
  l.coverage[`${status}/${reason.code}`] = (l.coverage[`${status}/${reason.code}`] ?? 0) + 1;
}

/** `input.status`: an input ended without a turn (withdrawn, cancelled, a stopped child's input). */
export function inputStatus(l: Ledger, inputId: string, status: string): void {
  const fact = l.inputs.get(inputId);
  if (fact === undefined) {
    l.fail(`input.status for unknown input ${inputId}`);
    return;
  }
  l.dirty.add(inputId);
  const dropped = fact.state === "running" && fact.steeredInto !== undefined && !fact.seen;
  if (dropped) {
    // Cancelled while steered and unseen: it leaves its turn, which answers the others.
    if (status !== "cancelled") l.fail(`steered input ${inputId} left its turn ${status}, not cancelled`);
    const turn = l.turns.get(fact.steeredInto!);
    if (turn !== undefined) turn.inputIds = turn.inputIds.filter((id) => id !== inputId);
    l.count("unseen steered input cancelled alone");
    l.terminate(fact, status as TerminalStatus);
    return;
  }
  if (fact.state !== "queued") {
    l.fail(
      `input ${inputId} ended ${status} without a turn but it was ${fact.state} (${String(fact.status)})`,
    );
    return;
  }
  // A stopped child's queued input ends with the child's stop status.
  const stopped = status === "interrupted" && l.delegations?.child(fact.sessionId) !== undefined;
  if (status !== "withdrawn" && status !== "cancelled" && !stopped)
    l.fail(`input ${inputId} ended ${status} while queued`);
  l.terminate(fact, status as TerminalStatus);
}

/** The ledger mirrors the store for inputs that changed; live handles agree; terminal ones settled. */
export function checkDirty(l: Ledger): void {
  for (const id of l.dirty) {
    const fact = l.inputs.get(id)!;
    l.mirror(fact);
    if (fact.state === "terminal") {
      for (const kept of l.handles) {
        if (kept.handle.id === id && !kept.handle.done)
          l.fail(
            `input ${id} is ${fact.status} in the store but handle ${kept.label} is still ${kept.handle.status}`,
          );
      }
    }
  }
  l.dirty.clear();
}
