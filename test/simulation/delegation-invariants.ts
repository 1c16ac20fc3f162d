/**
 * The invariants of background children, beside the inbox and turn rules of `invariants.ts`, which
 * feeds this ledger from the runtime's events, the store's writes and the fake model's prompts.
 *
 * The rules, precisely:
 * - **Caps (P6)**: at every `delegation.dispatched`, the children running (dispatched, not yet
 *   completed) number at most `runningMax` in total and `perParentRunningMax` under the parent, and
 *   the child's depth — counted by this ledger along the parent chain, not read from the record — is
 *   at most `depthMax`; the record agrees on depth and tree. A `delegation.rejected` names a cap that
 *   was really full. `runtime.delegations.running` and the `running` flags of `list()` agree with the
 *   ledger.
 * - **Exactly once, and only to the parent (P3)**: a child completes once (one
 *   `delegation.completed`). Its completion is then either carried into exactly one turn of its
 *   parent — as an input that turn *started* with, so never mid-turn — with exactly one
 *   `delegation.delivered`, or dropped with a recorded reason (its parent, itself a child, had
 *   finished or was stopped; the host withdrew its input, or dropped it once it was held); never
 *   both, never twice. A completion input is never steered and never queued in another session.
 * - **The record tells the truth**: `pending` means its input waits queued in the parent's inbox;
 *   `delivered` means a parent turn took it; `held` and `dropped` mean no input of it is queued or ran.
 *   A record is only pruned once delivered or dropped.
 * - **Budget**: the model calls of a tree's children never exceed `budget.modelCallsMax`. The calls
 *   are counted at the fake model (a child's system prompt names the unique role its spec gave it),
 *   across crashes.
 * - **Control verbs and timeouts**: a child that `cancel`, `interruptAll` or `stopChildren` stopped
 *   (and its own children) has completed by the next quiescent point; so has a child past its
 *   `limits.timeoutMs` while the runtime runs (a restart re-arms the timer for the time left).
 * - **At the end**: every dispatched child completed and its completion was delivered or dropped.
 *
 * The record rule is checked in `delegation-records.ts`; this file keeps the ledger of children and
 * every other rule.
 */
import type { DeliveryState } from "../../src/kernel/delegation/completion-delivery.js";
import type { Message } from "../../src/kernel/messages.js";
import type { RuntimeEvent } from "../../src/runtime/events.js";
import type { DelegationLog } from "../../src/runtime/ports/delegation-log.js";
import type { InputRecord, Store } from "../../src/runtime/ports/store.js";
import type { Runtime } from "../../src/runtime/runtime.js";
import type { VirtualClock } from "../../src/testing/virtual-clock.js";
import type { SimDelegation } from "./config.js";
import { checkRecord } from "./delegation-records.js";

/** What this ledger needs to know about an input (the main ledger's fact). */
export interface InputView {
  readonly sessionId: string;
  readonly state: "queued" | "running" | "terminal";
  readonly delegationId: string | undefined;
}

export interface DelegationFact {
  readonly id: string;
  readonly parentSessionId: string;
  readonly childSessionId: string;
  readonly rootSessionId: string;
  readonly depth: number;
  readonly role: string | undefined;
  /** Epoch time by which `limits.timeoutMs` ends it. */
  readonly deadlineMs: number | undefined;
  completed: boolean;
  /** Inputs that carried its completion towards the parent (a second only after a held one). */
  readonly inputIds: string[];
  /** The parent turn its completion started, once one did. */
  carriedBy: string | undefined;
  deliveredEvents: number;
  /** The delivery state last written to the log. */
  seen: DeliveryState | undefined;
}

export interface DelegationParts {
  readonly delegation: SimDelegation;
  readonly clock: VirtualClock;
  readonly store: Store;
  readonly runtime: () => Runtime;
  readonly inputs: ReadonlyMap<string, InputView>;
  fail(message: string): void;
  count(what: string): void;
}

type Event<T extends RuntimeEvent["type"]> = Extract<RuntimeEvent, { type: T }>;

const SYSTEM_ROLE = /Your role: (\S+)\.$/m;

export class DelegationChecker {
  readonly facts = new Map<string, DelegationFact>();
  readonly #byChild = new Map<string, DelegationFact>();
  readonly #byRole = new Map<string, DelegationFact>();
  readonly #calls = new Map<string, number>();
  readonly #p: DelegationParts;
  readonly #log: DelegationLog;
  /** Children a control verb stopped: each must have completed by the next quiescent point. */
  #mustComplete: { readonly ids: readonly string[]; readonly why: string }[] = [];
  /** Epoch time of the last `runtime.started`, while the runtime runs. */
  #runningSinceMs: number | undefined;

  constructor(parts: DelegationParts) {
    this.#p = parts;
    const log = parts.store.delegations;
    if (log === undefined) throw new Error("the simulation's store keeps no delegation log");
    this.#log = log;
  }

  // ---- queries for the driver --------------------------------------------------------------------

  /** Children dispatched and not yet completed, optionally those of one parent. */
  running(parentSessionId?: string): DelegationFact[] {
    const out: DelegationFact[] = [];
    for (const f of this.facts.values())
      if (!f.completed && (parentSessionId === undefined || f.parentSessionId === parentSessionId))
        out.push(f);
    return out;
  }

  /** The delegation a child session runs, if it is one. */
  child(sessionId: string): DelegationFact | undefined {
    return this.#byChild.get(sessionId);
  }

  childSessions(): string[] {
    return [...this.#byChild.keys()];
  }

  /** A completion's delivery state reached the log (retention may prune it before the next check). */
  deliveryWritten(id: string, state: DeliveryState): void {
    const fact = this.facts.get(id);
    if (fact !== undefined) fact.seen = state;
  }

  expectCompleted(ids: readonly string[], why: string): void {
    if (ids.length > 0) this.#mustComplete.push({ ids, why });
  }

  // ---- events ------------------------------------------------------------------------------------

  /** The runtime reported its start; `afterCrash` when it recovered from a crash. */
  started(afterCrash: boolean): void {
    this.#runningSinceMs = this.#p.clock.epochMs();
    if (!afterCrash) return;
    const running = this.running();
    if (running.length > 0) this.#p.count("children running across a crash");
    if (running.some((f) => f.deadlineMs !== undefined))
      this.#p.count("child timeout re-armed after a crash");
  }

  stopped(): void {
    this.#runningSinceMs = undefined;
  }

  onEvent(event: RuntimeEvent): void {
    switch (event.type) {
      case "delegation.dispatched":
        this.#dispatched(event);
        return;
      case "delegation.rejected":
        this.#rejected(event);
        return;
      case "delegation.completed":
        this.#completed(event);
        return;
      case "delegation.delivered":
        this.#delivered(event);
        return;
      default:
        return;
    }
  }

  #dispatched(e: Event<"delegation.dispatched">): void {
    const fail = (why: string) => this.#p.fail(`delegation ${e.delegationId}: ${why}`);
    this.#p.count("delegation dispatched");
    const state = this.#p.runtime().state;
    if (state !== "running") fail(`dispatched while the runtime was ${state}`);
    if (this.facts.has(e.delegationId)) {
      fail("dispatched twice");
      return;
    }
    const record = this.#log.get(e.delegationId);
    if (record === undefined) {
      fail("dispatched but not in the log");
      return;
    }
    const parent = this.#byChild.get(e.parentSessionId);
    const depth = parent === undefined ? 1 : parent.depth + 1;
    const rootSessionId = parent === undefined ? e.parentSessionId : parent.rootSessionId;
    if (depth > 1) this.#p.count("grandchild dispatched");
    const fact: DelegationFact = {
      id: e.delegationId,
      parentSessionId: e.parentSessionId,
      childSessionId: e.childSessionId,
      rootSessionId,
      depth,
      role: record.spec.role,
      deadlineMs:
        record.spec.timeoutMs === undefined ? undefined : record.dispatchedAtMs + record.spec.timeoutMs,
      completed: false,
      inputIds: [],
      carriedBy: undefined,
      deliveredEvents: 0,
      seen: undefined,
    };
    this.facts.set(fact.id, fact);
    this.#byChild.set(fact.childSessionId, fact);
    if (fact.role !== undefined) this.#byRole.set(fact.role, fact);
    if (record.parentSessionId !== e.parentSessionId || record.childSessionId !== e.childSessionId)
      fail(
        `the event names ${e.parentSessionId} -> ${e.childSessionId}, the record ${record.parentSessionId} -> ${record.childSessionId}`,
      );
    if (record.depth !== depth || record.rootSessionId !== rootSessionId)
      fail(
        `recorded at depth ${record.depth} of tree ${record.rootSessionId}; its parent ${e.parentSessionId} makes it depth ${depth} of tree ${rootSessionId}`,
      );
    const caps = this.#p.delegation;
    if (depth > caps.depthMax) fail(`depth ${depth} exceeds depthMax ${caps.depthMax}`);
    const total = this.running().length;
    const mine = this.running(e.parentSessionId).length;
    if (total > caps.runningMax) fail(`${total} children running at once; runningMax is ${caps.runningMax}`);
    if (mine > caps.perParentRunningMax)
      fail(
        `${mine} children of ${e.parentSessionId} running at once; perParentRunningMax is ${caps.perParentRunningMax}`,
      );
  }

  /** The rejection's numbers must match the ledger, and the cap it names must really be full. */
  #rejected(e: Event<"delegation.rejected">): void {
    this.#p.count(`delegation rejected ${e.code}`);
    const caps = this.#p.delegation;
    const fail = (why: string) =>
      this.#p.fail(`a dispatch of ${e.parentSessionId} was rejected ${e.code} (${e.reason}): ${why}`);
    const nums = (e.reason.match(/\d+/g) ?? []).map(Number);
    const mine = this.running(e.parentSessionId).length;
    const parentDepth = this.#byChild.get(e.parentSessionId)?.depth ?? 0;
    if (e.code === "DELEGATION_DEPTH") {
      if (parentDepth + 1 <= caps.depthMax)
        fail(`the parent is at depth ${parentDepth}; depthMax ${caps.depthMax} allows a child`);
      return;
    }
    const [held, max, asked] = [nums[0], nums[1], nums[2]];
    if (asked === undefined) {
      fail("the reason does not say how many were asked for");
      return;
    }
    if (e.code === "DELEGATION_CAP_PARENT") {
      if (held !== mine || max !== caps.perParentRunningMax || mine + asked <= max)
        fail(`the ledger has ${mine} running under the parent, cap ${caps.perParentRunningMax}`);
    } else if (e.code === "DELEGATION_CAP_GLOBAL") {
      const total = this.running().length;
      if (held !== total || max !== caps.runningMax || total + asked <= max)
        fail(`the ledger has ${total} running in total, cap ${caps.runningMax}`);
    } else fail("unknown code");
  }

  #completed(e: Event<"delegation.completed">): void {
    const fact = this.facts.get(e.delegationId);
    const fail = (why: string) => this.#p.fail(`delegation ${e.delegationId}: ${why}`);
    if (fact === undefined) {
      fail("completed but never dispatched");
      return;
    }
    if (fact.completed) {
      fail("completed twice");
      return;
    }
    fact.completed = true;
    this.#p.count(`child ${e.status}`);
    if (e.parentSessionId !== fact.parentSessionId)
      fail(`completed towards ${e.parentSessionId}; its parent is ${fact.parentSessionId}`);
    const record = this.#log.get(e.delegationId);
    if (record?.completion === undefined) {
      fail("completed, but the log holds no completion");
      return;
    }
    fact.seen = record.delivery;
    if (e.delivery === "dropped") {
      this.#p.count(`completion dropped ${String(record.deliveryReason)}`);
      const parent = this.#byChild.get(fact.parentSessionId);
      if (parent === undefined)
        fail(`dropped (${String(record.deliveryReason)}) though its parent is a top-level session`);
      else if (record.deliveryReason === "parent_finished" && !parent.completed)
        fail(`dropped as parent_finished, but its parent ${parent.id} has not completed`);
      else if (record.deliveryReason !== "parent_finished" && record.deliveryReason !== "parent_stopped")
        fail(`dropped with reason ${String(record.deliveryReason)}`);
      if (fact.inputIds.length > 0) fail(`dropped, yet input ${fact.inputIds.join(",")} carries it`);
      return;
    }
    const live = fact.inputIds.filter((id) => this.#p.inputs.get(id)?.state === "queued");
    if (record.delivery !== "pending" || live.length !== 1 || record.deliveryInputId !== live[0])
      fail(
        `completed as ${e.delivery}; the log says ${String(record.delivery)} via ${String(record.deliveryInputId)}, queued inputs [${live.join(",")}]`,
      );
  }

  #delivered(e: Event<"delegation.delivered">): void {
    const fact = this.facts.get(e.delegationId);
    if (fact === undefined) {
      this.#p.fail(`delegation ${e.delegationId} was delivered but never dispatched`);
      return;
    }
    fact.deliveredEvents += 1;
    if (fact.deliveredEvents > 1)
      this.#p.fail(`delegation ${e.delegationId} was reported delivered ${fact.deliveredEvents} times`);
  }

  // ---- store writes, turns and prompts -----------------------------------------------------------

  /** An input carrying a completion reached the store. */
  completionAccepted(input: InputRecord): void {
    const fact = this.facts.get(input.delegationId!);
    const fail = (why: string) =>
      this.#p.fail(`completion input ${input.id} of delegation ${input.delegationId}: ${why}`);
    if (fact === undefined) {
      fail("carries a delegation never dispatched");
      return;
    }
    if (input.sessionId !== fact.parentSessionId)
      fail(`queued in session ${input.sessionId}; the parent is ${fact.parentSessionId}`);
    if (typeof input.payload !== "string" || !input.payload.includes(`<delegation id="${fact.id}"`))
      fail("does not render its own completion");
    const other = fact.inputIds.find((id) => this.#p.inputs.get(id)?.state !== "terminal");
    if (other !== undefined) fail(`a second completion input while ${other} still carries it`);
    if (fact.carriedBy !== undefined) fail(`queued again after turn ${fact.carriedBy} took it`);
    fact.inputIds.push(input.id);
  }

  /** A turn started (or resumed) with these inputs. */
  turnStarted(sessionId: string, turnId: string, inputIds: readonly string[], attempt: number): void {
    for (const id of inputIds) {
      const delegationId = this.#p.inputs.get(id)?.delegationId;
      if (delegationId === undefined) continue;
      const fact = this.facts.get(delegationId);
      if (fact === undefined) continue;
      const fail = (why: string) =>
        this.#p.fail(
          `turn ${turnId} of ${sessionId} (attempt ${attempt}) took the completion of ${fact.id}: ${why}`,
        );
      if (sessionId !== fact.parentSessionId) fail(`its parent is ${fact.parentSessionId}`);
      if (attempt === 1) {
        if (fact.carriedBy !== undefined) fail(`turn ${fact.carriedBy} already took it`);
        fact.carriedBy = turnId;
        this.#p.count("completion delivered");
      } else if (fact.carriedBy !== turnId) fail(`it was carried by ${String(fact.carriedBy)}`);
      if (fact.deliveredEvents !== 1)
        fail(`${fact.deliveredEvents} delegation.delivered events were reported for it`);
    }
  }

  /** The fake model is called: a child's call is charged to its tree. */
  modelCalled(prompt: readonly Message[]): void {
    const system = prompt[0];
    if (system?.role !== "system") return;
    const role = SYSTEM_ROLE.exec(system.content)?.[1];
    const fact = role === undefined ? undefined : this.#byRole.get(role);
    if (fact === undefined) return;
    const calls = (this.#calls.get(fact.rootSessionId) ?? 0) + 1;
    this.#calls.set(fact.rootSessionId, calls);
    const max = this.#p.delegation.modelCallsMax;
    if (max !== undefined && calls > max)
      this.#p.fail(
        `the tree of ${fact.rootSessionId} made its ${calls}th children's model call (by ${fact.childSessionId}); budget.modelCallsMax is ${max}`,
      );
  }

  // ---- quiescent checks --------------------------------------------------------------------------

  check(): void {
    for (const { ids, why } of this.#mustComplete) {
      for (const id of ids)
        if (this.facts.get(id)?.completed !== true)
          this.#p.fail(`${why}: child ${id} should have completed by now`);
    }
    this.#mustComplete = [];
    const since = this.#runningSinceMs;
    const now = this.#p.clock.epochMs();
    if (since !== undefined && this.#p.runtime().state === "running") {
      for (const f of this.running())
        if (f.deadlineMs !== undefined && now > Math.max(f.deadlineMs, since))
          this.#p.fail(
            `child ${f.id} is still running ${now - f.deadlineMs}ms past its timeout (runtime running since ${since - f.deadlineMs}ms relative to it)`,
          );
    }
    const runtime = this.#p.runtime();
    const live = runtime.state === "running" || runtime.state === "stopping";
    if (live && runtime.delegations.running !== this.running().length)
      this.#p.fail(
        `runtime.delegations.running is ${runtime.delegations.running}; the ledger has ${this.running().length} children running`,
      );
    for (const fact of this.facts.values()) checkRecord(this.#p, this.#log, fact, live);
  }

  /** The end of the run: every child completed, every completion delivered or dropped. */
  checkFinal(): void {
    this.check();
    for (const fact of this.facts.values()) {
      if (!fact.completed) this.#p.fail(`delegation ${fact.id} never completed`);
      else if (fact.carriedBy === undefined && fact.seen !== "dropped")
        this.#p.fail(`the completion of ${fact.id} was neither delivered nor dropped (${String(fact.seen)})`);
    }
  }
}
