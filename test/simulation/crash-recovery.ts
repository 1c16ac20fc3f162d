/**
 * P3 across a crash: nothing accepted is lost or run twice when the process dies.
 *
 * The process may crash at a quiescent point (see `process.ts`). A steered input the model has seen
 * (its message was in a prompt of its turn, so the checkpoint written with that model call holds it)
 * belongs to its turn from then on; one it has not seen goes back to the queue. The new runtime
 * recovers exactly the queued inputs (`runtime.started` says how many, and after a clean stop resumes
 * no turn); each turn the crash cut short is resumed (same id, next attempt, the inputs it started
 * with plus the steered inputs the model saw) when its agent's `onCrash`/`maxAttempts` allow, else
 * those inputs end `failed`/`crashed` in the store; no other input is left `running`. Handles and
 * waiters of the dead process are not checked (nobody is left to wait on them).
 */
import type { Message } from "../../src/kernel/messages.js";
import type { Ledger, TurnFact } from "./ledger.js";

/**
 * The process crashed at a quiescent point. Its turns stay open in the ledger (the store still has
 * them running) until recovery resumes or fails them; its handles and waiters died with it.
 */
export function crashed(l: Ledger): void {
  for (const turn of l.open.values()) {
    turn.crashed = true;
    splitSteered(l, turn);
  }
  l.crashRecovery = true;
  l.delegations?.stopped();
  l.stop = undefined;
  l.stopped = true;
  l.handles.length = 0;
  l.watched.length = 0;
  l.mustSettle = { handles: [], watched: [] };
  l.unclassified.length = 0;
  l.expectations.length = 0;
  l.stallSince.clear();
  // A new runtime object counts from zero.
  l.acceptedBase = l.accepted;
  l.acceptedWhileStarting = 0;
  l.count("process crashed");
}

/**
 * What recovery must do with the inputs steered into a turn the crash cut short: those the model saw
 * stay with the turn (they resume or fail with it), the others are queued again.
 */
function splitSteered(l: Ledger, turn: TurnFact): void {
  for (const id of turn.inputIds) {
    const fact = l.inputs.get(id);
    if (fact === undefined || fact.steeredInto !== turn.id || fact.state !== "running") continue;
    fact.steeredInto = undefined;
    l.unseen.delete(fact);
    l.dirty.add(id);
    if (fact.seen) {
      fact.seen = false;
      turn.startInputIds.push(id);
      l.count("steered input recovered with its turn");
    } else {
      fact.state = "queued";
      fact.turnId = undefined;
      l.count("steered input re-queued by recovery");
    }
  }
  turn.inputIds = [...turn.startInputIds];
}

/**
 * The fake model got a prompt: a steered input whose message is in it was seen by the model, and
 * the runtime checkpoints a turn's messages as it makes each model call.
 */
export function prompted(l: Ledger, prompt: readonly Message[]): void {
  l.delegations?.modelCalled(prompt);
  if (l.unseen.size === 0) return;
  const texts = new Set<string>();
  for (const m of prompt) if (m.role === "user") for (const part of m.content) texts.add(part.text);
  for (const [fact, text] of l.unseen) {
    if (!texts.has(text)) continue;
    fact.seen = true;
    l.unseen.delete(fact);
  }
}

/** Recovery resumes a turn cut short by a crash: same id, next attempt, the inputs it started with. */
export function turnResumed(
  l: Ledger,
  sessionId: string,
  turnId: string,
  inputIds: string[],
  attempt: number,
  state: string,
): void {
  const turn = l.turns.get(turnId);
  if (turn === undefined || !turn.crashed) {
    l.fail(`turn ${turnId} started with attempt ${attempt}, but no turn of that id was cut short by a crash`);
    return;
  }
  if (state !== "starting") l.fail(`turn ${turnId} resumed while the runtime was ${state}, not starting`);
  if (turn.sessionId !== sessionId)
    l.fail(`turn ${turnId} of ${turn.sessionId} resumed in session ${sessionId}`);
  if (attempt !== turn.attempt + 1)
    l.fail(`turn ${turnId} resumed with attempt ${attempt} after attempt ${turn.attempt}`);
  const { onCrash, maxAttempts } = l.parts.config;
  if (onCrash === "fail" || attempt > maxAttempts)
    l.fail(
      `turn ${turnId} resumed (attempt ${attempt}) though onCrash is ${onCrash} and maxAttempts ${maxAttempts}`,
    );
  if (inputIds.join(",") !== turn.startInputIds.join(","))
    l.fail(
      `turn ${turnId} resumed with [${inputIds.join(",")}]; it started with [${turn.startInputIds.join(",")}]`,
    );
  turn.crashed = false;
  turn.attempt = attempt;
  turn.startInputIds = [...inputIds];
  turn.inputIds = [...inputIds];
  l.count("turn resumed after a crash");
  if (sessionId.includes(">")) l.count("child turn resumed after a crash");
}

/** `runtime.started`: it recovered exactly the queued inputs, and after a crash, the turns cut short. */
export function runtimeStarted(l: Ledger, recovered: number, resumed: number): void {
  l.starts += 1;
  l.stopped = false;
  // A completion written at boot (a crashed child failed) is queued, but was not recovered.
  const queued = l.queuedTotal() - l.acceptedWhileStarting;
  l.acceptedWhileStarting = 0;
  if (recovered !== queued)
    l.fail(`runtime.started recovered ${recovered} queued inputs; ${queued} were queued`);
  l.delegations?.started(l.crashRecovery);
  if (l.crashRecovery) {
    l.crashRecovery = false;
    checkRecovery(l, resumed);
  } else if (resumed !== 0) l.fail(`runtime.started resumed ${resumed} turns after a clean stop`);
  // Recovery re-queues by acceptance order with the ordering part of the policy only.
  for (const f of l.inputs.values()) f.jumper = false;
}

/** After a crash: every turn cut short was resumed or ended failed/crashed; nothing else runs. */
function checkRecovery(l: Ledger, resumed: number): void {
  let resumedTurns = 0;
  for (const turn of l.turns.values()) {
    if (!turn.open) continue;
    if (!turn.crashed) {
      resumedTurns += 1;
      continue;
    }
    const { onCrash, maxAttempts } = l.parts.config;
    if (onCrash === "resume" && turn.attempt + 1 <= maxAttempts)
      l.fail(
        `turn ${turn.id} (attempt ${turn.attempt}) was cut short by a crash and may resume, but recovery did not resume it`,
      );
    turn.crashed = false;
    turn.open = false;
    turn.status = "failed";
    if (l.open.get(turn.sessionId) === turn) l.open.delete(turn.sessionId);
    for (const id of turn.startInputIds) {
      const fact = l.inputs.get(id)!;
      const stored = l.parts.store.input(id);
      if (stored?.status !== "failed" || stored.outcome?.reason.code !== "crashed")
        l.fail(
          `input ${id} of turn ${turn.id}, cut short by a crash and not resumed, is ${String(stored?.status)}/${String(stored?.outcome?.reason.code)}, expected failed/crashed`,
        );
      l.dirty.add(id);
      if (fact.state !== "terminal") l.terminate(fact, "failed");
    }
    l.count("turn failed after a crash");
    if (turn.sessionId.includes(">")) l.count("child turn failed after a crash");
  }
  if (resumed !== resumedTurns) l.fail(`runtime.started says ${resumed} turns resumed; ${resumedTurns} did`);
  for (const fact of l.inputs.values()) {
    if (fact.state !== "running") continue;
    const turn = fact.turnId === undefined ? undefined : l.turns.get(fact.turnId);
    if (turn === undefined || !turn.open || !turn.inputIds.includes(fact.id))
      l.fail(
        `input ${fact.id} was running in turn ${String(fact.turnId)} when the process crashed (steered into it); recovery neither resumed nor ended it, so it stays "${String(l.parts.store.input(fact.id)?.status)}" in the store forever`,
      );
  }
  // Crash failures are written at boot without metrics; the new runtime counts from here.
  l.terminalBase = l.terminal;
}
