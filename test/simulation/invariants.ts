/**
 * The invariants the simulation checks, kept apart from the faults that try to break them.
 *
 * The checker keeps its own ledger of every accepted input and every turn, built only from the
 * runtime's event stream and the driver's calls, and compares it with the store, the handles and
 * the metrics. Event-time checks record violations (a listener's throw would be contained by the
 * runtime); `check()` runs at every quiescent point — after each driver step and after every timer
 * the virtual clock fires — and throws {@link SimulationFailure} with every violation found.
 *
 * The rules, precisely:
 * - **One turn per session (P2)**: a session never has two turns between `turn.started` and
 *   `turn.ended`; open turns never exceed `maxConcurrentTurns`; `metrics().runningTurns` equals the
 *   open turns.
 * - **Inbox order (P2)**: inputs fall in two classes, `interrupt` and the rest ("normal"); a
 *   *jumper* is a steered input the model never saw, which went back to the front of the queue (until
 *   a restart re-queues it by acceptance order). When a turn starts:
 *   - it only takes queued inputs; if any queued input has policy `merge` it takes all of them (each
 *     class in acceptance order), else exactly one;
 *   - an interrupt input never starts while an earlier-accepted interrupt input is queued;
 *   - a normal non-jumper input never starts while an interrupt input or a jumper is queued, nor while
 *     an earlier-accepted normal non-jumper input is queued.
 *   A driver's `interrupt` send while a turn runs ends that turn `interrupted`, and an `immediate`
 *   cancel of a running input ends its turn `cancelled`, by the next quiescent point.
 * - **Exactly one terminal state (P3)**: the ledger mirrors the store for every input (queued,
 *   running, or the terminal status); a turn end or an `input.status` event for an input already
 *   terminal is a violation; a terminal status never changes; `runtime.started` recovers exactly the
 *   inputs the ledger holds queued; nothing is accepted while the runtime is not running.
 * - **Every handle settles (P4)**: once an input is terminal its live handles are settled with the
 *   same status; once `stop()` resolved every handle handed out is settled, and so is every
 *   `result()` / `cancel()` promise; at the end of the run (final stop, restart, drain) every input is
 *   terminal in the store and nothing is pending.
 * - **Nothing starts after stop**: no turn starts and no model/tool/function call begins while the
 *   runtime is stopped; no turn starts during a `stop()` without drain, nor after a draining stop
 *   began cancelling; no turn is left open and no input left `running` once `stop()` resolved.
 * - **Stop status matches**: with `live` = fake calls outstanding when the runtime reported
 *   `runtime.stopped`, and `discards` = inputs still queued then or turns ended `runtime_stopped`
 *   during a draining stop: `timeout` (or `force_killed` with `force`) iff live > 0, else
 *   `drained_with_discards` iff drain and discards > 0, else `clean`. Every call outstanding then must
 *   be one that ignores its abort signal (a call that honours it was never aborted: a leak).
 * - **Crash recovery (P3)**: the process may crash at a quiescent point (see `process.ts`). A steered
 *   input the model has seen (its message was in a prompt of its turn, so the checkpoint written with
 *   that model call holds it) belongs to its turn from then on; one it has not seen goes back to the
 *   queue. The new runtime recovers exactly the queued inputs; each turn the crash cut short is
 *   resumed (same id, next attempt, the inputs it started with plus the steered inputs the model saw)
 *   when its agent's `onCrash`/`maxAttempts` allow, else those inputs end `failed`/`crashed` in the
 *   store; no other input is left `running`. Handles and waiters of the dead process are not checked
 *   (nobody is left to wait on them).
 * - **Liveness**: a session idle with queued input while a turn slot is free gets a turn within
 *   `pollIntervalMs`, whatever wakes were lost (also during a draining stop).
 * - **Observability (P8)**: `metrics()` agrees with the ledger (queued inputs, running turns,
 *   outstanding calls, inputs accepted, inputs ended).
 * - **Input the runtime queues itself** (a child's goal, a completion for a parent) reports no
 *   `input.accepted` event: the ledger learns it from the store's writes, and every rule above holds
 *   for it too (a completion at the head of a queue takes every queued completion along when
 *   `mergeCompletions` is on). The rules about children themselves are in `delegation-invariants.ts`.
 *
 * This file is longer than most because the ledger and the rules that read it belong together.
 */
import type { Message } from "../../src/kernel/messages.js";
import type { Reason, ReasonCode, TerminalStatus } from "../../src/kernel/outcome.js";
import type { Policy } from "../../src/kernel/session/inbox.js";
import type { StopStatus } from "../../src/kernel/shutdown/stop-status.js";
import type { RuntimeEvent } from "../../src/runtime/events.js";
import type { InputEnd, InputRecord, Steer, Store } from "../../src/runtime/ports/store.js";
import type { Runtime } from "../../src/runtime/runtime.js";
import type { TurnHandle } from "../../src/runtime/turn-handle.js";
import type { VirtualClock } from "../../src/testing/virtual-clock.js";
import type { SimConfig } from "./config.js";
import { DelegationChecker } from "./delegation-invariants.js";
import type { CallRecord, CallTracker } from "./fakes.js";
import type { Trace } from "./trace.js";

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

export class SimulationFailure extends Error {
  override readonly name = "SimulationFailure";
}

export interface InputFact {
  readonly id: string;
  readonly sessionId: string;
  /** Acceptance order (the store's `seq` order). */
  readonly order: number;
  readonly policy: Policy;
  state: "queued" | "running" | "terminal";
  status: TerminalStatus | undefined;
  jumper: boolean;
  turnId: string | undefined;
  steeredInto: string | undefined;
  /** Steered into its running turn, and the model got its message in a prompt of that turn. */
  seen: boolean;
  /** The delegation whose completion it carries to its parent. */
  readonly delegationId: string | undefined;
}

export interface TurnFact {
  readonly id: string;
  readonly sessionId: string;
  /** The inputs it took at its start, or resumed with after a crash. */
  startInputIds: string[];
  /** Those plus the inputs steered into it. */
  inputIds: string[];
  attempt: number;
  open: boolean;
  status: TerminalStatus | undefined;
  /** Set when the process crashed while it ran; cleared when recovery resumed or failed it. */
  crashed: boolean;
}

interface StopWatch {
  readonly drain: boolean;
  readonly force: boolean;
  readonly timeoutMs: number;
  readonly calledAtMs: number;
  cancelling: boolean;
  stoppedEnds: number;
  reported: StopStatus | undefined;
}

interface Watched {
  readonly label: string;
  settled: boolean;
}

interface Kept {
  readonly handle: TurnHandle;
  readonly label: string;
}

export interface CheckerParts {
  readonly config: SimConfig;
  readonly clock: VirtualClock;
  readonly store: Store;
  readonly calls: CallTracker;
  readonly trace: Trace;
  readonly runtime: () => Runtime;
}

export class Checker {
  readonly inputs = new Map<string, InputFact>();
  readonly turns = new Map<string, TurnFact>();
  readonly #open = new Map<string, TurnFact>();
  readonly #p: CheckerParts;
  readonly #violations: string[] = [];
  readonly #dirty = new Set<string>();
  readonly #handles: Kept[] = [];
  readonly #watched: Watched[] = [];
  readonly #expectations: { turnId: string; statuses: readonly TerminalStatus[]; why: string }[] = [];
  readonly #stallSince = new Map<string, number>();
  readonly #unclassified: InputFact[] = [];
  /** Steered inputs running in their turn that no prompt has shown the model yet, with their text. */
  readonly #unseen = new Map<InputFact, string>();
  #crashRecovery = false;
  /** Inputs accepted / ended before the current runtime object existed (its metrics count from 0). */
  #acceptedBase = 0;
  #terminalBase = 0;
  #stop: StopWatch | undefined;
  #accepted = 0;
  #terminal = 0;
  #events = 0;
  /** True once `stop()` resolved, until the next `runtime.started`. */
  #stopped = true;
  /** What the last resolved `stop()` had to settle: the handles and waiters that existed then. */
  #mustSettle: { handles: Kept[]; watched: Watched[] } = { handles: [], watched: [] };
  /** Inputs the runtime queued itself before it reported its start (recovery does not count them). */
  #acceptedWhileStarting = 0;
  /** The ledger of background children, in seeds that delegate. */
  readonly delegations: DelegationChecker | undefined;
  starts = 0;
  readonly stopStatuses: StopStatus[] = [];
  /** How often each interesting thing happened (the test asserts the seeds reach all of them). */
  readonly coverage: Record<string, number> = {};

  count(what: string): void {
    this.coverage[what] = (this.coverage[what] ?? 0) + 1;
  }

  constructor(parts: CheckerParts) {
    this.#p = parts;
    parts.calls.onBegin = (call) => this.#onCallBegin(call);
    const delegation = parts.config.delegation;
    this.delegations =
      delegation === undefined
        ? undefined
        : new DelegationChecker({
            delegation,
            clock: parts.clock,
            store: parts.store,
            runtime: parts.runtime,
            inputs: this.inputs,
            fail: (message) => this.fail(message),
            count: (what) => this.count(what),
          });
  }

  fail(message: string): void {
    this.#violations.push(message);
    this.#p.trace.add(`VIOLATION ${message}`);
  }

  get eventCount(): number {
    return this.#events;
  }

  // ---- queries for the driver --------------------------------------------------------------------

  /** The driver's sessions and every child session dispatched so far. */
  sessionIds(): string[] {
    const ids = this.#p.config.sessions.map((s) => s.id);
    if (this.delegations !== undefined) ids.push(...this.delegations.childSessions());
    return ids;
  }

  openTurn(sessionId: string): TurnFact | undefined {
    return this.#open.get(sessionId);
  }

  queued(sessionId: string): InputFact[] {
    const out: InputFact[] = [];
    for (const f of this.inputs.values()) if (f.sessionId === sessionId && f.state === "queued") out.push(f);
    return out;
  }

  queuedTotal(): number {
    let n = 0;
    for (const f of this.inputs.values()) if (f.state === "queued") n++;
    return n;
  }

  keep(handle: TurnHandle, label: string): void {
    this.#handles.push({ handle, label });
  }

  handles(): readonly Kept[] {
    return this.#handles;
  }

  /** Tracks a promise that must settle by the next stop. */
  watch(promise: Promise<unknown>, label: string): void {
    const w: Watched = { label, settled: false };
    this.#watched.push(w);
    const done = () => {
      w.settled = true;
    };
    promise.then(done, done);
  }

  expectTurnEnd(turnId: string, statuses: readonly TerminalStatus[], why: string): void {
    this.#expectations.push({ turnId, statuses, why });
  }

  stopCalled(drain: boolean, force: boolean, timeoutMs: number): void {
    this.#stop = {
      drain,
      force,
      timeoutMs,
      calledAtMs: this.#p.clock.monotonicMs(),
      cancelling: false,
      stoppedEnds: 0,
      reported: undefined,
    };
  }

  /** `stop()` resolved with `status`. */
  stopResolved(status: StopStatus): void {
    this.delegations?.stopped();
    const watch = this.#stop;
    this.#stop = undefined;
    this.#stopped = true;
    this.#mustSettle = { handles: [...this.#handles], watched: [...this.#watched] };
    this.stopStatuses.push(status);
    if (watch === undefined) {
      if (status !== "clean") this.fail(`stop() of a runtime that was not running returned ${status}`);
      return;
    }
    if (watch.reported === undefined) {
      // Stopped while starting with nothing to stop: no event.
      if (status !== "clean") this.fail(`stop() returned ${status} without a runtime.stopped event`);
    } else if (watch.reported !== status) {
      this.fail(`stop() resolved ${status} but the runtime.stopped event said ${watch.reported}`);
    }
  }

  // ---- events ------------------------------------------------------------------------------------

  readonly listener = (event: RuntimeEvent): void => {
    this.#classified();
    this.#events += 1;
    this.#p.trace.add(describeEvent(event));
    switch (event.type) {
      case "input.accepted":
        this.#onAccepted(event.sessionId, event.inputId, event.policy);
        return;
      case "turn.started":
        this.#onTurnStarted(event.sessionId, event.turnId, [...event.inputIds], event.attempt);
        this.delegations?.turnStarted(event.sessionId, event.turnId, event.inputIds, event.attempt);
        return;
      case "turn.ended":
        this.#checkReason(`turn ${event.turnId}`, event.outcome.status, event.outcome.reason);
        this.#onTurnEnded(
          event.sessionId,
          event.turnId,
          [...event.inputIds],
          event.outcome.status,
          event.outcome.reason.code,
        );
        return;
      case "input.status": {
        const snap = this.#p.store.input(event.inputId);
        if (snap?.outcome !== undefined)
          this.#checkReason(`input ${event.inputId}`, snap.outcome.status, snap.outcome.reason);
        this.#onInputStatus(event.inputId, event.status);
        return;
      }
      case "runtime.started":
        this.#onRuntimeStarted(event.recoveredInputs, event.resumedTurns);
        return;
      case "runtime.stopped":
        this.#onRuntimeStopped(event.status);
        return;
      case "tool.started": {
        const turn = this.turns.get(event.turnId);
        if (turn === undefined || !turn.open)
          this.fail(`tool ${event.toolCallId} started in turn ${event.turnId}, which is not running`);
        return;
      }
      case "error":
        this.fail(`the runtime reported an error in ${event.where}: ${event.message}`);
        return;
      case "delegation.dispatched":
      case "delegation.rejected":
      case "delegation.completed":
      case "delegation.delivered":
        if (this.delegations === undefined) this.fail(`${event.type} in a seed that never delegates`);
        else this.delegations.onEvent(event);
        return;
      default:
        return;
    }
  };

  // ---- store writes --------------------------------------------------------------------------------

  /**
   * An input reached the store. One the runtime queued itself — a child's goal, or a completion for
   * its parent — joins the ledger here, since no `input.accepted` event reports it.
   */
  storeAccepted(input: InputRecord): void {
    // Child sessions are `parent>id`; the driver never sends to one, so all their input is internal.
    if (input.delegationId === undefined && !input.sessionId.includes(">")) return;
    if (this.inputs.has(input.id)) {
      this.fail(`input id ${input.id} was accepted twice`);
      return;
    }
    const state = this.#p.runtime().state;
    // Until runtime.started is reported, recovery may still be running turns (a resumed child can
    // finish at once, writing its completion).
    if (state === "starting" || (state === "running" && this.#stopped)) {
      this.#acceptedWhileStarting += 1;
      if (input.delegationId !== undefined) this.count("completion written during recovery");
    } else if (state !== "running" && state !== "stopping")
      this.fail(`the runtime queued input ${input.id} while ${state}`);
    const fact: InputFact = {
      id: input.id,
      sessionId: input.sessionId,
      order: this.#accepted,
      policy: input.policy,
      state: "queued",
      status: undefined,
      jumper: false,
      turnId: undefined,
      steeredInto: undefined,
      seen: false,
      delegationId: input.delegationId,
    };
    this.#accepted += 1;
    this.inputs.set(input.id, fact);
    this.#dirty.add(input.id);
    if (input.delegationId !== undefined) this.delegations?.completionAccepted(input);
  }

  /** Never mid-turn: a completion only ever starts a turn of its own. */
  storeSteered(steer: Steer): void {
    const fact = this.inputs.get(steer.inputId);
    if (fact?.delegationId !== undefined)
      this.fail(`completion input ${steer.inputId} was steered into running turn ${steer.turnId}`);
  }

  storeInputEnded(end: InputEnd): void {
    const fact = this.inputs.get(end.inputId);
    if (fact?.delegationId !== undefined)
      this.#p.trace.add(`  store: completion input ${end.inputId} ended ${end.status} (${end.reason.code})`);
    if (fact?.delegationId !== undefined) this.count(`completion input ${end.status} before its turn`);
  }

  #onAccepted(sessionId: string, inputId: string, policy: Policy): void {
    const state = this.#p.runtime().state;
    if (state !== "running") this.fail(`input ${inputId} was accepted while the runtime was ${state}`);
    if (this.inputs.has(inputId)) {
      this.fail(`input id ${inputId} was accepted twice`);
      return;
    }
    const fact: InputFact = {
      id: inputId,
      sessionId,
      order: this.#accepted,
      policy,
      state: "queued",
      status: undefined,
      jumper: false,
      turnId: undefined,
      steeredInto: undefined,
      seen: false,
      delegationId: undefined,
    };
    this.#accepted += 1;
    this.inputs.set(inputId, fact);
    this.#dirty.add(inputId);
    // Whether a steer joined the running turn is decided right after this event: see sent().
    if (policy === "steer" && this.#open.has(sessionId)) this.#unclassified.push(fact);
  }

  /**
   * Called with the handle of every accepted send, right after `send()` returned: a handle already
   * `running` was steered into the session's running turn (a turn that already decided to end takes
   * no steer, so this cannot be told from the policy alone).
   */
  sent(handle: TurnHandle): void {
    const at = this.#unclassified.findIndex((f) => f.id === handle.id);
    if (at < 0) return;
    const fact = this.#unclassified[at]!;
    this.#unclassified.splice(at, 1);
    if (handle.status !== "running") return;
    const open = this.#open.get(fact.sessionId);
    if (open === undefined || handle.turnId !== open.id) {
      this.fail(
        `input ${fact.id} was steered into turn ${String(handle.turnId)}, which is not the running turn ${String(open?.id)}`,
      );
      return;
    }
    fact.state = "running";
    fact.turnId = open.id;
    fact.steeredInto = open.id;
    open.inputIds.push(fact.id);
    const payload = this.#p.store.input(fact.id)?.payload;
    this.#unseen.set(fact, typeof payload === "string" ? payload : JSON.stringify(payload));
    this.count("input steered into a running turn");
  }

  /** Every steer accepted so far was reported through sent(). */
  #classified(): void {
    if (this.#unclassified.length === 0) return;
    for (const f of this.#unclassified)
      this.fail(`input ${f.id} (steer) was accepted but its send never returned a handle`);
    this.#unclassified.length = 0;
  }

  #onTurnStarted(sessionId: string, turnId: string, inputIds: string[], attempt: number): void {
    const state = this.#p.runtime().state;
    if (attempt !== 1) {
      this.#onTurnResumed(sessionId, turnId, inputIds, attempt, state);
      return;
    }
    const stop = this.#stop;
    if (this.#stopped || state === "stopped")
      this.fail(`turn ${turnId} started while the runtime was stopped`);
    if (state === "stopping" && stop !== undefined && !stop.drain)
      this.fail(`turn ${turnId} started during stop() without drain`);
    if (state === "stopping" && stop?.cancelling === true)
      this.fail(`turn ${turnId} started after the draining stop began interrupting turns`);
    const open = this.#open.get(sessionId);
    if (open !== undefined)
      this.fail(`session ${sessionId} started turn ${turnId} while turn ${open.id} runs`);
    if (this.turns.has(turnId)) this.fail(`turn id ${turnId} was used twice`);
    if (this.#open.size + 1 > this.#p.config.maxConcurrentTurns)
      this.fail(
        `turn ${turnId} is turn ${this.#open.size + 1} at once; maxConcurrentTurns is ${this.#p.config.maxConcurrentTurns}`,
      );
    this.#checkOrder(sessionId, turnId, inputIds);
    if (inputIds.length > 1) this.count("merged turn");
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
    this.turns.set(turnId, turn);
    this.#open.set(sessionId, turn);
    // The session was driven: a turn that starts and ends between two checks still ends a stall.
    this.#stallSince.delete(sessionId);
    for (const id of inputIds) {
      const fact = this.inputs.get(id);
      if (fact === undefined) continue;
      fact.state = "running";
      fact.turnId = turnId;
      fact.jumper = false;
      this.#dirty.add(id);
    }
  }

  /** Recovery resumes a turn cut short by a crash: same id, next attempt, the inputs it started with. */
  #onTurnResumed(
    sessionId: string,
    turnId: string,
    inputIds: string[],
    attempt: number,
    state: string,
  ): void {
    const turn = this.turns.get(turnId);
    if (turn === undefined || !turn.crashed) {
      this.fail(
        `turn ${turnId} started with attempt ${attempt}, but no turn of that id was cut short by a crash`,
      );
      return;
    }
    if (state !== "starting")
      this.fail(`turn ${turnId} resumed while the runtime was ${state}, not starting`);
    if (turn.sessionId !== sessionId)
      this.fail(`turn ${turnId} of ${turn.sessionId} resumed in session ${sessionId}`);
    if (attempt !== turn.attempt + 1)
      this.fail(`turn ${turnId} resumed with attempt ${attempt} after attempt ${turn.attempt}`);
    const { onCrash, maxAttempts } = this.#p.config;
    if (onCrash === "fail" || attempt > maxAttempts)
      this.fail(
        `turn ${turnId} resumed (attempt ${attempt}) though onCrash is ${onCrash} and maxAttempts ${maxAttempts}`,
      );
    if (inputIds.join(",") !== turn.startInputIds.join(","))
      this.fail(
        `turn ${turnId} resumed with [${inputIds.join(",")}]; it started with [${turn.startInputIds.join(",")}]`,
      );
    turn.crashed = false;
    turn.attempt = attempt;
    turn.startInputIds = [...inputIds];
    turn.inputIds = [...inputIds];
    this.count("turn resumed after a crash");
    if (sessionId.includes(">")) this.count("child turn resumed after a crash");
  }

  /** The inbox-order rules of the file header, checked as a turn starts. */
  #checkOrder(sessionId: string, turnId: string, taken: readonly string[]): void {
    const queued = this.queued(sessionId);
    const takenFacts: InputFact[] = [];
    for (const id of taken) {
      const fact = this.inputs.get(id);
      if (fact === undefined || fact.sessionId !== sessionId || fact.state !== "queued") {
        this.fail(
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
        this.fail(
          `turn ${turnId} must merge every queued input [${list(queued)}] but took [${list(takenFacts)}]`,
        );
      for (const cls of [true, false]) {
        const seq = takenFacts
          .filter((f) => (f.policy === "interrupt") === cls && !f.jumper)
          .map((f) => f.order);
        for (let i = 1; i < seq.length; i++)
          if (seq[i]! < seq[i - 1]!)
            this.fail(`merged turn ${turnId} took [${list(takenFacts)}] out of acceptance order`);
      }
      return;
    }
    const x = takenFacts[0]!;
    if (x.delegationId !== undefined && this.#p.config.delegation?.mergeCompletions === true) {
      // A completion at the head of the queue takes every queued completion along, and only those.
      const completions = queued.filter((f) => f.delegationId !== undefined);
      const order = takenFacts.map((f) => f.order);
      if (
        takenFacts.length !== completions.length ||
        takenFacts.some((f) => f.delegationId === undefined) ||
        order.some((o, i) => i > 0 && o < order[i - 1]!)
      )
        this.fail(
          `turn ${turnId} took [${list(takenFacts)}]; a completion at the head takes every queued completion [${list(completions)}], in order`,
        );
      if (takenFacts.length > 1) this.count("completions merged");
    } else if (takenFacts.length !== 1) {
      this.fail(
        `turn ${turnId} took [${list(takenFacts)}]; without a queued merge input a turn takes exactly one`,
      );
      return;
    }
    const why = (other: InputFact, rule: string) =>
      this.fail(
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

  #onTurnEnded(
    sessionId: string,
    turnId: string,
    inputIds: string[],
    status: TerminalStatus,
    code: string,
  ): void {
    const turn = this.turns.get(turnId);
    if (turn === undefined || !turn.open) {
      this.fail(`turn ${turnId} ended but was not running`);
      return;
    }
    turn.open = false;
    turn.status = status;
    if (this.#open.get(sessionId) === turn) this.#open.delete(sessionId);
    else this.fail(`turn ${turnId} ended in session ${sessionId} but ran in ${turn.sessionId}`);
    if (code === "runtime_stopped") {
      if (this.#stop === undefined)
        this.fail(`turn ${turnId} ended runtime_stopped but no stop() is in progress`);
      else {
        this.#stop.cancelling = true;
        this.#stop.stoppedEnds += 1;
      }
    }
    const want = [...turn.inputIds].sort().join(",");
    const got = [...inputIds].sort().join(",");
    if (want !== got) this.fail(`turn ${turnId} ended answering [${got}]; it took and was steered [${want}]`);
    for (const id of inputIds) {
      const fact = this.inputs.get(id);
      if (fact === undefined) continue;
      this.#dirty.add(id);
      if (fact.state === "terminal") {
        this.fail(
          `input ${id} reached a second terminal state: ${fact.status} then ${status} (turn ${turnId})`,
        );
        continue;
      }
      const stored = this.#p.store.input(id)?.status;
      if (stored === "queued") {
        if (fact.steeredInto !== turnId)
          this.fail(`input ${id} went back to the queue after turn ${turnId} but was not steered into it`);
        fact.state = "queued";
        fact.jumper = true;
        this.count("steered input re-queued unseen");
        fact.turnId = undefined;
        fact.steeredInto = undefined;
        this.#unseen.delete(fact);
        continue;
      }
      if (stored !== status)
        this.fail(`turn ${turnId} ended ${status} but the store says input ${id} is ${String(stored)}`);
      this.#terminate(fact, status);
    }
  }

  /** P5: every ending names its specific cause, with the reason code that belongs to its status. */
  #checkReason(what: string, status: TerminalStatus, reason: Reason): void {
    const codes = REASONS[status];
    if (!codes.includes(reason.code))
      this.fail(`${what} ended ${status} with reason ${reason.code}: ${reason.message}`);
    if (reason.code === "model_error" && !reason.message.includes("fake model"))
      this.fail(
        `${what} failed with model_error but the message does not name the model's error: ${reason.message}`,
      );
    if (reason.code === "function_error" && !reason.message.includes("fn "))
      this.fail(
        `${what} failed with function_error but the message does not name the function's error: ${reason.message}`,
      );
    this.coverage[`${status}/${reason.code}`] = (this.coverage[`${status}/${reason.code}`] ?? 0) + 1;
  }

  #onInputStatus(inputId: string, status: string): void {
    const fact = this.inputs.get(inputId);
    if (fact === undefined) {
      this.fail(`input.status for unknown input ${inputId}`);
      return;
    }
    this.#dirty.add(inputId);
    const dropped = fact.state === "running" && fact.steeredInto !== undefined && !fact.seen;
    if (dropped) {
      // Cancelled while steered and unseen: it leaves its turn, which answers the others.
      if (status !== "cancelled")
        this.fail(`steered input ${inputId} left its turn ${status}, not cancelled`);
      const turn = this.turns.get(fact.steeredInto!);
      if (turn !== undefined) turn.inputIds = turn.inputIds.filter((id) => id !== inputId);
      this.count("unseen steered input cancelled alone");
      this.#terminate(fact, status as TerminalStatus);
      return;
    }
    if (fact.state !== "queued") {
      this.fail(
        `input ${inputId} ended ${status} without a turn but it was ${fact.state} (${String(fact.status)})`,
      );
      return;
    }
    // A stopped child's queued input ends with the child's stop status.
    const stopped = status === "interrupted" && this.delegations?.child(fact.sessionId) !== undefined;
    if (status !== "withdrawn" && status !== "cancelled" && !stopped)
      this.fail(`input ${inputId} ended ${status} while queued`);
    this.#terminate(fact, status as TerminalStatus);
  }

  #terminate(fact: InputFact, status: TerminalStatus): void {
    fact.state = "terminal";
    fact.status = status;
    fact.jumper = false;
    fact.seen = false;
    this.#unseen.delete(fact);
    this.#terminal += 1;
  }

  /**
   * The process crashed at a quiescent point. Its turns stay open in the ledger (the store still has
   * them running) until recovery resumes or fails them; its handles and waiters died with it.
   */
  crashed(): void {
    for (const turn of this.#open.values()) {
      turn.crashed = true;
      this.#splitSteered(turn);
    }
    this.#crashRecovery = true;
    this.delegations?.stopped();
    this.#stop = undefined;
    this.#stopped = true;
    this.#handles.length = 0;
    this.#watched.length = 0;
    this.#mustSettle = { handles: [], watched: [] };
    this.#unclassified.length = 0;
    this.#expectations.length = 0;
    this.#stallSince.clear();
    // A new runtime object counts from zero.
    this.#acceptedBase = this.#accepted;
    this.#acceptedWhileStarting = 0;
    this.count("process crashed");
  }

  /**
   * What recovery must do with the inputs steered into a turn the crash cut short: those the model saw
   * stay with the turn (they resume or fail with it), the others are queued again.
   */
  #splitSteered(turn: TurnFact): void {
    for (const id of turn.inputIds) {
      const fact = this.inputs.get(id);
      if (fact === undefined || fact.steeredInto !== turn.id || fact.state !== "running") continue;
      fact.steeredInto = undefined;
      this.#unseen.delete(fact);
      this.#dirty.add(id);
      if (fact.seen) {
        fact.seen = false;
        turn.startInputIds.push(id);
        this.count("steered input recovered with its turn");
      } else {
        fact.state = "queued";
        fact.turnId = undefined;
        this.count("steered input re-queued by recovery");
      }
    }
    turn.inputIds = [...turn.startInputIds];
  }

  /**
   * The fake model got a prompt: a steered input whose message is in it was seen by the model, and
   * the runtime checkpoints a turn's messages as it makes each model call.
   */
  prompted(prompt: readonly Message[]): void {
    this.delegations?.modelCalled(prompt);
    if (this.#unseen.size === 0) return;
    const texts = new Set<string>();
    for (const m of prompt)
      if (m.role === "user") for (const part of m.content) if (part.type === "text") texts.add(part.text);
    for (const [fact, text] of this.#unseen) {
      if (!texts.has(text)) continue;
      fact.seen = true;
      this.#unseen.delete(fact);
    }
  }

  /** After a crash: every turn cut short was resumed or ended failed/crashed; nothing else runs. */
  #checkRecovery(resumed: number): void {
    let resumedTurns = 0;
    for (const turn of this.turns.values()) {
      if (!turn.open) continue;
      if (!turn.crashed) {
        resumedTurns += 1;
        continue;
      }
      const { onCrash, maxAttempts } = this.#p.config;
      if (onCrash === "resume" && turn.attempt + 1 <= maxAttempts)
        this.fail(
          `turn ${turn.id} (attempt ${turn.attempt}) was cut short by a crash and may resume, but recovery did not resume it`,
        );
      turn.crashed = false;
      turn.open = false;
      turn.status = "failed";
      if (this.#open.get(turn.sessionId) === turn) this.#open.delete(turn.sessionId);
      for (const id of turn.startInputIds) {
        const fact = this.inputs.get(id)!;
        const stored = this.#p.store.input(id);
        if (stored?.status !== "failed" || stored.outcome?.reason.code !== "crashed")
          this.fail(
            `input ${id} of turn ${turn.id}, cut short by a crash and not resumed, is ${String(stored?.status)}/${String(stored?.outcome?.reason.code)}, expected failed/crashed`,
          );
        this.#dirty.add(id);
        if (fact.state !== "terminal") this.#terminate(fact, "failed");
      }
      this.count("turn failed after a crash");
      if (turn.sessionId.includes(">")) this.count("child turn failed after a crash");
    }
    if (resumed !== resumedTurns)
      this.fail(`runtime.started says ${resumed} turns resumed; ${resumedTurns} did`);
    for (const fact of this.inputs.values()) {
      if (fact.state !== "running") continue;
      const turn = fact.turnId === undefined ? undefined : this.turns.get(fact.turnId);
      if (turn === undefined || !turn.open || !turn.inputIds.includes(fact.id))
        this.fail(
          `input ${fact.id} was running in turn ${String(fact.turnId)} when the process crashed (steered into it); recovery neither resumed nor ended it, so it stays "${String(this.#p.store.input(fact.id)?.status)}" in the store forever`,
        );
    }
    // Crash failures are written at boot without metrics; the new runtime counts from here.
    this.#terminalBase = this.#terminal;
  }

  #onRuntimeStarted(recovered: number, resumed: number): void {
    this.starts += 1;
    this.#stopped = false;
    // A completion written at boot (a crashed child failed) is queued, but was not recovered.
    const queued = this.queuedTotal() - this.#acceptedWhileStarting;
    this.#acceptedWhileStarting = 0;
    if (recovered !== queued)
      this.fail(`runtime.started recovered ${recovered} queued inputs; ${queued} were queued`);
    this.delegations?.started(this.#crashRecovery);
    if (this.#crashRecovery) {
      this.#crashRecovery = false;
      this.#checkRecovery(resumed);
    } else if (resumed !== 0) this.fail(`runtime.started resumed ${resumed} turns after a clean stop`);
    // Recovery re-queues by acceptance order with the ordering part of the policy only.
    for (const f of this.inputs.values()) f.jumper = false;
  }

  #onRuntimeStopped(status: StopStatus): void {
    const stop = this.#stop;
    if (stop === undefined) {
      this.fail(`runtime.stopped (${status}) without a stop() call`);
      return;
    }
    stop.reported = status;
    this.count(`stop ${status}`);
    const live = [...this.#p.calls.live.values()];
    const queued = this.queuedTotal();
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
    if (status !== expected) this.fail(`stop() reported ${status}, expected ${expected} (${facts})`);
    for (const call of live) {
      if (!call.ignoresAbort)
        this.fail(
          `${call.kind} call "${call.label}" (started ${call.startedAtMs}ms) honours abort but was still outstanding at stop: it was never aborted`,
        );
    }
    if (stop.drain) {
      // A draining stop must drive every session: one left idle with queued input past a poll
      // interval (its wake lost, and no poll runs during stop) was never drained.
      const now = this.#p.clock.monotonicMs();
      for (const [id, since] of this.#stallSince) {
        if (now - since > this.#p.config.pollIntervalMs && this.queued(id).length > 0)
          this.fail(`the draining stop left session ${id} idle with queued input from ${since}ms to the end`);
      }
    }
    const elapsed = this.#p.clock.monotonicMs() - stop.calledAtMs;
    if ((status === "timeout" || status === "force_killed") && elapsed < stop.timeoutMs)
      this.fail(`stop() reported ${status} after ${elapsed}ms, before its ${stop.timeoutMs}ms deadline`);
    if (elapsed > stop.timeoutMs)
      this.fail(`stop() took ${elapsed}ms, past its ${stop.timeoutMs}ms deadline`);
  }

  #onCallBegin(call: CallRecord): void {
    if (this.#stopped) this.fail(`${call.kind} call "${call.label}" began while the runtime was stopped`);
  }

  // ---- quiescent checks --------------------------------------------------------------------------

  /** Runs every check that needs a quiescent runtime; throws when anything was violated. */
  check(where: string): void {
    this.#classified();
    const runtime = this.#p.runtime();
    const state = runtime.state;
    this.#checkExpectations();
    this.#checkDirty();
    if (state === "running" || state === "stopping") this.#checkLive(runtime, state);
    else this.#stallSince.clear();
    if (this.#stopped) this.#checkStopped(this.#mustSettle);
    this.delegations?.check();
    this.throwIfFailed(where);
  }

  throwIfFailed(where: string): void {
    if (this.#violations.length === 0) return;
    const list = this.#violations.map((v) => `  - ${v}`).join("\n");
    this.#violations.length = 0;
    throw new SimulationFailure(`invariant violated (${where}):\n${list}`);
  }

  #checkExpectations(): void {
    for (const e of this.#expectations) {
      const turn = this.turns.get(e.turnId);
      if (turn === undefined || turn.open) this.fail(`${e.why}: turn ${e.turnId} should have ended by now`);
      else if (!e.statuses.includes(turn.status!))
        this.fail(`${e.why}: turn ${e.turnId} ended ${turn.status}, expected ${e.statuses.join(" or ")}`);
    }
    this.#expectations.length = 0;
  }

  /** The ledger mirrors the store for inputs that changed; live handles agree; terminal ones settled. */
  #checkDirty(): void {
    for (const id of this.#dirty) {
      const fact = this.inputs.get(id)!;
      this.#mirror(fact);
      if (fact.state === "terminal") {
        for (const kept of this.#handles) {
          if (kept.handle.id === id && !kept.handle.done)
            this.fail(
              `input ${id} is ${fact.status} in the store but handle ${kept.label} is still ${kept.handle.status}`,
            );
        }
      }
    }
    this.#dirty.clear();
  }

  #mirror(fact: InputFact): void {
    const stored = this.#p.store.input(fact.id);
    const want = fact.state === "terminal" ? fact.status : fact.state;
    if (stored === undefined) this.fail(`input ${fact.id} is missing from the store (ledger: ${want})`);
    else if (stored.status !== want)
      this.fail(`input ${fact.id}: the store says ${stored.status}, the ledger ${want}`);
  }

  #checkLive(runtime: Runtime, state: string): void {
    let queuedTotal = 0;
    for (const fact of this.inputs.values()) {
      if (fact.state === "terminal") continue;
      if (fact.state === "queued") queuedTotal += 1;
      const handle = runtime.handle(fact.id);
      if (handle === undefined || handle.done || handle.status !== fact.state)
        this.fail(
          `input ${fact.id} is ${fact.state} but runtime.handle() gives ${handle === undefined ? "nothing" : `a handle that is ${handle.status}`}`,
        );
      if (fact.state === "running" && handle?.turnId !== fact.turnId)
        this.fail(
          `input ${fact.id} runs in turn ${fact.turnId} but its handle names ${String(handle?.turnId)}`,
        );
    }
    const m = runtime.metrics();
    const open = this.#open.size;
    if (m.runningTurns !== open)
      this.fail(`metrics.runningTurns is ${m.runningTurns}; ${open} turns are running`);
    if (m.queuedInputs !== queuedTotal)
      this.fail(`metrics.queuedInputs is ${m.queuedInputs}; ${queuedTotal} inputs are queued`);
    if (m.outstandingCalls !== this.#p.calls.live.size)
      this.fail(
        `metrics.outstandingCalls is ${m.outstandingCalls}; ${this.#p.calls.live.size} fake calls are in flight`,
      );
    if (m.inputsAccepted !== this.#accepted - this.#acceptedBase)
      this.fail(
        `metrics.inputsAccepted is ${m.inputsAccepted}; ${this.#accepted - this.#acceptedBase} were accepted by this runtime`,
      );
    let ended = 0;
    for (const n of Object.values(m.ended)) ended += n;
    if (ended !== this.#terminal - this.#terminalBase)
      this.fail(
        `metrics.ended sums to ${ended}; this runtime ended ${this.#terminal - this.#terminalBase} inputs`,
      );
    this.#checkStall(state);
  }

  /** A session idle with queued input while a slot is free gets a turn within one poll interval. */
  #checkStall(state: string): void {
    const stop = this.#stop;
    const drivable = state === "running" || (stop?.drain === true && !stop.cancelling);
    const slotFree = this.#open.size < this.#p.config.maxConcurrentTurns;
    const now = this.#p.clock.monotonicMs();
    for (const id of this.sessionIds()) {
      const stalled = drivable && slotFree && !this.#open.has(id) && this.queued(id).length > 0;
      if (!stalled) {
        this.#stallSince.delete(id);
        continue;
      }
      const since = this.#stallSince.get(id);
      if (since === undefined) this.#stallSince.set(id, now);
      else if (now - since > this.#p.config.pollIntervalMs)
        this.fail(
          `session ${id} has been idle with ${this.queued(id).length} queued input(s) and a free slot for ${now - since}ms (poll interval ${this.#p.config.pollIntervalMs}ms, runtime ${state})`,
        );
    }
  }

  /** After `stop()` resolved: nothing open, nothing running in the store, everything settled. */
  #checkStopped(must: { handles: readonly Kept[]; watched: readonly Watched[] }): void {
    for (const turn of this.#open.values())
      this.fail(`turn ${turn.id} is still running after stop() resolved`);
    for (const fact of this.inputs.values()) {
      if (fact.state === "running") this.fail(`input ${fact.id} is still running after stop() resolved`);
    }
    for (const kept of must.handles) {
      if (!kept.handle.done)
        this.fail(
          `handle ${kept.label} (input ${kept.handle.id}) is still ${kept.handle.status} after stop() resolved`,
        );
    }
    for (const w of must.watched)
      if (!w.settled) this.fail(`${w.label} is still pending after stop() resolved`);
  }

  /** The end of the run: every accepted input is terminal, every terminal status still holds. */
  checkFinal(): void {
    for (const fact of this.inputs.values()) {
      if (fact.state !== "terminal")
        this.fail(`input ${fact.id} never reached a terminal state (${fact.state})`);
      this.#mirror(fact);
    }
    if (this.#p.calls.live.size > 0)
      this.fail(`${this.#p.calls.live.size} fake calls are still in flight at the end`);
    this.#checkStopped({ handles: this.#handles, watched: this.#watched });
    this.delegations?.checkFinal();
    this.throwIfFailed("end of run");
  }
}

function describeEvent(e: RuntimeEvent): string {
  switch (e.type) {
    case "input.accepted":
      return `  ev input.accepted ${e.inputId} ${e.sessionId} ${e.policy}`;
    case "turn.started":
      return `  ev turn.started ${e.turnId} ${e.sessionId} [${e.inputIds.join(",")}] attempt ${e.attempt}`;
    case "turn.ended":
      return `  ev turn.ended ${e.turnId} ${e.sessionId} [${e.inputIds.join(",")}] ${e.outcome.status}/${e.outcome.reason.code}`;
    case "input.status":
      return `  ev input.status ${e.inputId} ${e.status}`;
    case "tool.started":
      return `  ev tool.started ${e.turnId} ${e.toolName} ${e.toolCallId}`;
    case "tool.ended":
      return `  ev tool.ended ${e.turnId} ${e.toolName} ${e.toolCallId}${e.isError ? " error" : ""}`;
    case "model.text":
    case "model.reasoning":
    case "model.step":
    case "model.retry":
      return `  ev ${e.type} ${e.turnId}`;
    case "runtime.started":
      return `  ev runtime.started recovered=${e.recoveredInputs} resumed=${e.resumedTurns}`;
    case "runtime.stopped":
      return `  ev runtime.stopped ${e.status}`;
    case "delegation.dispatched":
      return `  ev delegation.dispatched ${e.delegationId} ${e.parentSessionId} -> ${e.childSessionId}`;
    case "delegation.rejected":
      return `  ev delegation.rejected ${e.parentSessionId} ${e.code}`;
    case "delegation.completed":
      return `  ev delegation.completed ${e.delegationId} ${e.status} -> ${e.parentSessionId} ${e.delivery}`;
    case "delegation.delivered":
      return `  ev delegation.delivered ${e.delegationId} -> ${e.parentSessionId}`;
    case "dispatcher.hog":
      return `  ev dispatcher.hog ${e.label} ${e.durationMs}ms`;
    case "error":
      return `  ev error ${e.where}: ${e.message}`;
  }
}
