/**
 * The invariants the simulation checks, kept apart from the faults that try to break them.
 *
 * The checker keeps its own ledger (`ledger.ts`) of every accepted input and every turn, built only
 * from the runtime's event stream and the driver's calls, and compares it with the store, the handles
 * and the metrics. Event-time checks record violations (a listener's throw would be contained by the
 * runtime); `check()` runs at every quiescent point — after each driver step and after every timer
 * the virtual clock fires — and throws {@link SimulationFailure} with every violation found.
 *
 * The rules, one file per promise, each opening with its rules precisely:
 * - `one-turn-per-session.ts` — P2: one turn per session, in inbox order; interrupts and immediate
 *   cancels end the turn they aim at.
 * - `nothing-lost.ts` — P3: every accepted input reaches exactly one terminal state, which the store
 *   agrees with; P5: every ending names its cause.
 * - `crash-recovery.ts` — P3 across a crash: recovery resumes or fails each turn cut short, and
 *   recovers exactly the queued inputs.
 * - `every-handle-settles.ts` — P4: every handle and waiter settles by the next stop; nothing starts
 *   after stop; the stop status matches what happened.
 * - `liveness.ts` — liveness (no session starves while a slot is free) and P8 (metrics agree).
 * - `delegation-invariants.ts` — the rules of background children (caps, exactly-once delivery,
 *   budgets, control verbs), fed by this checker.
 */
import type { Message } from "../../src/kernel/messages.js";
import type { TerminalStatus } from "../../src/kernel/outcome.js";
import type { StopStatus } from "../../src/kernel/shutdown/stop-status.js";
import type { RuntimeEvent } from "../../src/runtime/events.js";
import type { InputEnd, InputRecord, Steer } from "../../src/runtime/ports/store.js";
import type { TurnHandle } from "../../src/runtime/turn-handle.js";
import { crashed, prompted, runtimeStarted } from "./crash-recovery.js";
import { DelegationChecker } from "./delegation-invariants.js";
import {
  callBegan,
  checkEnd,
  checkStopped,
  runtimeStopped,
  stopCalled,
  stopResolved,
  watch,
} from "./every-handle-settles.js";
import { type CheckerParts, type InputFact, type Kept, Ledger, type TurnFact } from "./ledger.js";
import { checkLive } from "./liveness.js";
import {
  checkDirty,
  checkReason,
  classified,
  inputAccepted,
  inputStatus,
  sent,
  steered,
  storeAccepted,
  storeInputEnded,
  storeSteered,
  turnEnded,
} from "./nothing-lost.js";
import { checkExpectations, turnStarted } from "./one-turn-per-session.js";
import { describeEvent } from "./trace.js";

export type { CheckerParts, InputFact, TurnFact } from "./ledger.js";
export { SimulationFailure } from "./ledger.js";

/** The simulation's checker: the driver and the fakes report to it; it routes to the rules. */
export class Checker {
  readonly #l: Ledger;

  constructor(parts: CheckerParts) {
    const l = new Ledger(parts);
    this.#l = l;
    parts.calls.onBegin = (call) => callBegan(l, call);
    const delegation = parts.config.delegation;
    l.delegations =
      delegation === undefined
        ? undefined
        : new DelegationChecker({
            delegation,
            clock: parts.clock,
            store: parts.store,
            runtime: parts.runtime,
            inputs: l.inputs,
            fail: (message) => l.fail(message),
            count: (what) => l.count(what),
          });
  }

  get inputs(): ReadonlyMap<string, InputFact> {
    return this.#l.inputs;
  }

  get turns(): ReadonlyMap<string, TurnFact> {
    return this.#l.turns;
  }

  /** The ledger of background children, in seeds that delegate. */
  get delegations(): DelegationChecker | undefined {
    return this.#l.delegations;
  }

  get starts(): number {
    return this.#l.starts;
  }

  get stopStatuses(): readonly StopStatus[] {
    return this.#l.stopStatuses;
  }

  /** How often each interesting thing happened (the test asserts the seeds reach all of them). */
  get coverage(): Readonly<Record<string, number>> {
    return this.#l.coverage;
  }

  get eventCount(): number {
    return this.#l.events;
  }

  count(what: string): void {
    this.#l.count(what);
  }

  fail(message: string): void {
    this.#l.fail(message);
  }

  // ---- queries for the driver --------------------------------------------------------------------

  /** The driver's sessions and every child session dispatched so far. */
  sessionIds(): string[] {
    return this.#l.sessionIds();
  }

  openTurn(sessionId: string): TurnFact | undefined {
    return this.#l.open.get(sessionId);
  }

  queued(sessionId: string): InputFact[] {
    return this.#l.queued(sessionId);
  }

  keep(handle: TurnHandle, label: string): void {
    this.#l.handles.push({ handle, label });
  }

  handles(): readonly Kept[] {
    return this.#l.handles;
  }

  /** Tracks a promise that must settle by the next stop. */
  watch(promise: Promise<unknown>, label: string): void {
    watch(this.#l, promise, label);
  }

  expectTurnEnd(turnId: string, statuses: readonly TerminalStatus[], why: string): void {
    this.#l.expectations.push({ turnId, statuses, why });
  }

  stopCalled(drain: boolean, force: boolean, timeoutMs: number): void {
    stopCalled(this.#l, drain, force, timeoutMs);
  }

  /** `stop()` resolved with `status`. */
  stopResolved(status: StopStatus): void {
    stopResolved(this.#l, status);
  }

  /** Called with the handle of every accepted send, right after `send()` returned. */
  sent(handle: TurnHandle): void {
    sent(this.#l, handle);
  }

  /** The process crashed at a quiescent point. */
  crashed(): void {
    crashed(this.#l);
  }

  /** The fake model got a prompt. */
  prompted(prompt: readonly Message[]): void {
    prompted(this.#l, prompt);
  }

  // ---- events and store writes -------------------------------------------------------------------

  readonly listener = (event: RuntimeEvent): void => {
    const l = this.#l;
    // Emitted inside the steering send(): the one event that may come before it returns.
    if (event.type === "input.steered") steered(l, event.inputId, event.turnId);
    classified(l);
    l.events += 1;
    l.parts.trace.add(describeEvent(event));
    switch (event.type) {
      case "input.accepted":
        inputAccepted(l, event.sessionId, event.inputId, event.policy);
        return;
      case "turn.started":
        turnStarted(l, event.sessionId, event.turnId, [...event.inputIds], event.attempt);
        l.delegations?.turnStarted(event.sessionId, event.turnId, event.inputIds, event.attempt);
        return;
      case "turn.ended":
        checkReason(l, `turn ${event.turnId}`, event.outcome.status, event.outcome.reason);
        turnEnded(
          l,
          event.sessionId,
          event.turnId,
          [...event.inputIds],
          event.outcome.status,
          event.outcome.reason.code,
        );
        return;
      case "input.status": {
        const snap = l.parts.store.input(event.inputId);
        if (snap?.outcome !== undefined)
          checkReason(l, `input ${event.inputId}`, snap.outcome.status, snap.outcome.reason);
        inputStatus(l, event.inputId, event.status);
        return;
      }
      case "runtime.started":
        runtimeStarted(l, event.recoveredInputs, event.resumedTurns);
        return;
      case "runtime.stopped":
        runtimeStopped(l, event.status);
        return;
      case "tool.started": {
        const turn = l.turns.get(event.turnId);
        if (turn === undefined || !turn.open)
          l.fail(`tool ${event.toolCallId} started in turn ${event.turnId}, which is not running`);
        return;
      }
      case "error":
        l.fail(`the runtime reported an error in ${event.where}: ${event.message}`);
        return;
      case "delegation.dispatched":
      case "delegation.rejected":
      case "delegation.completed":
      case "delegation.delivered":
        if (l.delegations === undefined) l.fail(`${event.type} in a seed that never delegates`);
        else l.delegations.onEvent(event);
        return;
      default:
        return;
    }
  };

  /** An input reached the store (the runtime's own inputs join the ledger here). */
  storeAccepted(input: InputRecord): void {
    storeAccepted(this.#l, input);
  }

  /** A steer reached the store: never one of a completion. */
  storeSteered(steer: Steer): void {
    storeSteered(this.#l, steer);
  }

  /** An input's end without a turn reached the store. */
  storeInputEnded(end: InputEnd): void {
    storeInputEnded(this.#l, end);
  }

  // ---- quiescent checks --------------------------------------------------------------------------

  /** Runs every check that needs a quiescent runtime; throws when anything was violated. */
  check(where: string): void {
    const l = this.#l;
    classified(l);
    const runtime = l.parts.runtime();
    const state = runtime.state;
    checkExpectations(l);
    checkDirty(l);
    if (state === "running" || state === "stopping") checkLive(l, runtime, state);
    else l.stallSince.clear();
    if (l.stopped) checkStopped(l, l.mustSettle);
    l.delegations?.check();
    l.throwIfFailed(where);
  }

  throwIfFailed(where: string): void {
    this.#l.throwIfFailed(where);
  }

  /** The end of the run: every accepted input is terminal, every terminal status still holds. */
  checkFinal(): void {
    checkEnd(this.#l);
  }
}
