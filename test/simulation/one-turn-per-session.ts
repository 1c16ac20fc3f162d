/**
 * P2, one turn per session, in inbox order, checked as each turn starts:
 * - a session never has two turns between `turn.started` and `turn.ended`; open turns never exceed
 *   `maxConcurrentTurns`; no turn starts while the runtime is stopped, during a `stop()` without
 *   drain, nor after a draining stop began interrupting turns;
 * - inputs fall in two classes, `interrupt` and the rest ("normal"); a *jumper* is a steered input
 *   the model never saw, which went back to the front of the queue (until a restart re-queues it by
 *   acceptance order). A turn only takes queued inputs; if any queued input has policy `merge` it
 *   takes all of them (each class in acceptance order), else exactly one (a completion at the head
 *   takes every queued completion along when `mergeCompletions` is on); an interrupt input never
 *   starts while an earlier-accepted interrupt input is queued; a normal non-jumper input never starts
 *   while an interrupt input or a jumper is queued, nor while an earlier-accepted normal non-jumper
 *   input is queued;
 * - a driver's `interrupt` send while a turn runs ends that turn `interrupted`, and an `immediate`
 *   cancel of a running input ends its turn `cancelled`, by the next quiescent point.
 */
import { turnResumed } from "./crash-recovery.js";
import type { InputFact, Ledger, TurnFact } from "./ledger.js";

/** `turn.started`: a fresh turn is checked against the rules above; a resumed one by recovery's. */
export function turnStarted(
  l: Ledger,
  sessionId: string,
  turnId: string,
  inputIds: string[],
  attempt: number,
): void {
  const state = l.parts.runtime().state;
  if (attempt !== 1) {
    turnResumed(l, sessionId, turnId, inputIds, attempt, state);
    return;
  }
  const stop = l.stop;
  if (l.stopped || state === "stopped") l.fail(`turn ${turnId} started while the runtime was stopped`);
  if (state === "stopping" && stop !== undefined && !stop.drain)
    l.fail(`turn ${turnId} started during stop() without drain`);
  if (state === "stopping" && stop?.cancelling === true)
    l.fail(`turn ${turnId} started after the draining stop began interrupting turns`);
  const open = l.open.get(sessionId);
  if (open !== undefined) l.fail(`session ${sessionId} started turn ${turnId} while turn ${open.id} runs`);
  if (l.turns.has(turnId)) l.fail(`turn id ${turnId} was used twice`);
  if (l.open.size + 1 > l.parts.config.maxConcurrentTurns)
    l.fail(
      `turn ${turnId} is turn ${l.open.size + 1} at once; maxConcurrentTurns is ${l.parts.config.maxConcurrentTurns}`,
    );
  checkOrder(l, sessionId, turnId, inputIds);
  if (inputIds.length > 1) l.count("merged turn");
  const turn: TurnFact = {
    id: turnId,
    sessionId,
    startInputIds: [...inputIds],
    inputIds,
    attempt,
    open: true,
    status: undefined,
    crashed: false,
  };
  l.turns.set(turnId, turn);
  l.open.set(sessionId, turn);
  // The session was driven: a turn that starts and ends between two checks still ends a stall.
  l.stallSince.delete(sessionId);
  for (const id of inputIds) {
    const fact = l.inputs.get(id);
    if (fact === undefined) continue;
    fact.state = "running";
    fact.turnId = turnId;
    fact.jumper = false;
    l.dirty.add(id);
  }
}

/** The inbox-order rules of the file header, checked as a turn starts. */
function checkOrder(l: Ledger, sessionId: string, turnId: string, taken: readonly string[]): void {
  const queued = l.queued(sessionId);
  const takenFacts: InputFact[] = [];
  for (const id of taken) {
    const fact = l.inputs.get(id);
    if (fact === undefined || fact.sessionId !== sessionId || fact.state !== "queued") {
      l.fail(
        `turn ${turnId} took input ${id}, which is ${fact === undefined ? "unknown" : `${fact.state} in ${fact.sessionId}`}`,
      );
      return;
    }
    takenFacts.push(fact);
  }
  const name = (f: InputFact) => `${f.id}(${f.policy}${f.jumper ? ",jumper" : ""})`;
  const list = (fs: readonly InputFact[]) => fs.map(name).join(" ");
  if (queued.some((f) => f.policy === "merge")) {
    if (takenFacts.length !== queued.length)
      l.fail(`turn ${turnId} must merge every queued input [${list(queued)}] but took [${list(takenFacts)}]`);
    for (const cls of [true, false]) {
      const seq = takenFacts
        .filter((f) => (f.policy === "interrupt") === cls && !f.jumper)
        .map((f) => f.order);
      for (let i = 1; i < seq.length; i++)
        if (seq[i]! < seq[i - 1]!)
          l.fail(`merged turn ${turnId} took [${list(takenFacts)}] out of acceptance order`);
    }
    return;
  }
  const x = takenFacts[0]!;
  if (x.delegationId !== undefined && l.parts.config.delegation?.mergeCompletions === true) {
    // A completion at the head of the queue takes every queued completion along, and only those.
    const completions = queued.filter((f) => f.delegationId !== undefined);
    const order = takenFacts.map((f) => f.order);
    if (
      takenFacts.length !== completions.length ||
      takenFacts.some((f) => f.delegationId === undefined) ||
      order.some((o, i) => i > 0 && o < order[i - 1]!)
    )
      l.fail(
        `turn ${turnId} took [${list(takenFacts)}]; a completion at the head takes every queued completion [${list(completions)}], in order`,
      );
    if (takenFacts.length > 1) l.count("completions merged");
  } else if (takenFacts.length !== 1) {
    l.fail(
      `turn ${turnId} took [${list(takenFacts)}]; without a queued merge input a turn takes exactly one`,
    );
    return;
  }
  const why = (other: InputFact, rule: string) =>
    l.fail(
      `inbox order: turn ${turnId} took ${name(x)} while ${name(other)} was queued (${rule}); queue [${list(queued)}]`,
    );
  if (x.policy === "interrupt") {
    const earlier = queued.find((f) => f.policy === "interrupt" && f.order < x.order);
    if (earlier !== undefined) why(earlier, "interrupt inputs run in acceptance order");
    return;
  }
  if (x.jumper) return;
  const blocker =
    queued.find((f) => f.policy === "interrupt") ??
    queued.find((f) => f.jumper) ??
    queued.find((f) => !f.jumper && f.order < x.order);
  if (blocker !== undefined)
    why(
      blocker,
      blocker.policy === "interrupt"
        ? "interrupt input goes first"
        : blocker.jumper
          ? "re-queued steered input goes first"
          : "FIFO",
    );
}

/** The turns the driver's interrupts and immediate cancels must have ended by now, did, as expected. */
export function checkExpectations(l: Ledger): void {
  for (const e of l.expectations) {
    const turn = l.turns.get(e.turnId);
    if (turn === undefined || turn.open) l.fail(`${e.why}: turn ${e.turnId} should have ended by now`);
    else if (!e.statuses.includes(turn.status!))
      l.fail(`${e.why}: turn ${e.turnId} ended ${turn.status}, expected ${e.statuses.join(" or ")}`);
  }
  l.expectations.length = 0;
}
