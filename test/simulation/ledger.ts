/**
 * The checker's ledger: every accepted input and every turn, built only from the runtime's event
 * stream, the store's writes and the driver's calls, with the bookkeeping the rules share (what
 * changed since the last check, the handles and waiters to settle, the stop in progress, the counts
 * the metrics are compared with). The rules that read it live in one file per promise; see
 * `invariants.ts`.
 */
import type { TerminalStatus } from "../../src/kernel/outcome.js";
import type { Policy } from "../../src/kernel/session/inbox.js";
import type { StopStatus } from "../../src/kernel/shutdown/stop-status.js";
import type { Store } from "../../src/runtime/ports/store.js";
import type { Runtime } from "../../src/runtime/runtime.js";
import type { TurnHandle } from "../../src/runtime/turn-handle.js";
import type { VirtualClock } from "../../src/testing/virtual-clock.js";
import type { SimConfig } from "./config.js";
import type { DelegationChecker } from "./delegation-invariants.js";
import type { Trace } from "./trace.js";
import type { CallTracker } from "./world.js";

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

/** A `stop()` in progress, and what happened during it. */
export interface StopWatch {
  readonly drain: boolean;
  readonly force: boolean;
  readonly timeoutMs: number;
  readonly calledAtMs: number;
  cancelling: boolean;
  stoppedEnds: number;
  reported: StopStatus | undefined;
}

/** A promise (`result()`, `cancel()`, an event iterator) that must settle by the next stop. */
export interface Watched {
  readonly label: string;
  settled: boolean;
}

/** A handle the driver was given, which must settle with its input. */
export interface Kept {
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

export class Ledger {
  readonly parts: CheckerParts;
  readonly inputs = new Map<string, InputFact>();
  readonly turns = new Map<string, TurnFact>();
  /** The open turn of each session. */
  readonly open = new Map<string, TurnFact>();
  readonly violations: string[] = [];
  /** Inputs whose state changed since the last quiescent check. */
  readonly dirty = new Set<string>();
  readonly handles: Kept[] = [];
  readonly watched: Watched[] = [];
  /** Turns the driver's calls must have ended by the next quiescent point. */
  readonly expectations: { turnId: string; statuses: readonly TerminalStatus[]; why: string }[] = [];
  /** Since when each session has been idle with queued input and a free slot. */
  readonly stallSince = new Map<string, number>();
  /** Steers accepted into a running turn's session whose send has not returned yet. */
  readonly unclassified: InputFact[] = [];
  /** Steered inputs running in their turn that no prompt has shown the model yet, with their text. */
  readonly unseen = new Map<InputFact, string>();
  crashRecovery = false;
  /** Inputs accepted / ended before the current runtime object existed (its metrics count from 0). */
  acceptedBase = 0;
  terminalBase = 0;
  stop: StopWatch | undefined;
  accepted = 0;
  terminal = 0;
  events = 0;
  /** True once `stop()` resolved, until the next `runtime.started`. */
  stopped = true;
  /** What the last resolved `stop()` had to settle: the handles and waiters that existed then. */
  mustSettle: { handles: Kept[]; watched: Watched[] } = { handles: [], watched: [] };
  /** Inputs the runtime queued itself before it reported its start (recovery does not count them). */
  acceptedWhileStarting = 0;
  /** The ledger of background children, in seeds that delegate. */
  delegations: DelegationChecker | undefined;
  starts = 0;
  readonly stopStatuses: StopStatus[] = [];
  /** How often each interesting thing happened (the test asserts the seeds reach all of them). */
  readonly coverage: Record<string, number> = {};

  constructor(parts: CheckerParts) {
    this.parts = parts;
  }

  /** Records a violation; `check()` throws them all at the next quiescent point. */
  fail(message: string): void {
    this.violations.push(message);
    this.parts.trace.add(`VIOLATION ${message}`);
  }

  count(what: string): void {
    this.coverage[what] = (this.coverage[what] ?? 0) + 1;
  }

  /** The driver's sessions and every child session dispatched so far. */
  sessionIds(): string[] {
    const ids = this.parts.config.sessions.map((s) => s.id);
    if (this.delegations !== undefined) ids.push(...this.delegations.childSessions());
    return ids;
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

  /** A new input, queued, in acceptance order. */
  addInput(id: string, sessionId: string, policy: Policy, delegationId: string | undefined): InputFact {
    const fact: InputFact = {
      id,
      sessionId,
      order: this.accepted,
      policy,
      state: "queued",
      status: undefined,
      jumper: false,
      turnId: undefined,
      steeredInto: undefined,
      seen: false,
      delegationId,
    };
    this.accepted += 1;
    this.inputs.set(id, fact);
    this.dirty.add(id);
    return fact;
  }

  terminate(fact: InputFact, status: TerminalStatus): void {
    fact.state = "terminal";
    fact.status = status;
    fact.jumper = false;
    fact.seen = false;
    this.unseen.delete(fact);
    this.terminal += 1;
  }

  /** The ledger agrees with the store about this input. */
  mirror(fact: InputFact): void {
    const stored = this.parts.store.input(fact.id);
    const want = fact.state === "terminal" ? fact.status : fact.state;
    if (stored === undefined) this.fail(`input ${fact.id} is missing from the store (ledger: ${want})`);
    else if (stored.status !== want)
      this.fail(`input ${fact.id}: the store says ${stored.status}, the ledger ${want}`);
  }

  /** Throws every violation recorded so far, if any. */
  throwIfFailed(where: string): void {
    if (this.violations.length === 0) return;
    const list = this.violations.map((v) => `  - ${v}`).join("\n");
    this.violations.length = 0;
    throw new SimulationFailure(`invariant violated (${where}):\n${list}`);
  }
}
