/**
 * Background children as the runtime drives them: a parent session hands work to a child agent, goes
 * on talking to its user, and gets the child's result as a *new turn* when it is idle.
 *
 * The story of a child: `dispatch` reserves capacity for the whole fan-out in the kernel's ledger (or
 * rejects it, never running anything synchronously instead), records the child and queues its goal as
 * the first input of its own session. The child runs turns like any session. When it is idle with
 * nothing queued and no children of its own still running, it *completes*: its completion record, the
 * turn end that finished it and the input that carries the completion to its parent are written in
 * one store group, so a crash keeps all three or none. The parent's inbox runs that input as a new
 * turn when the parent is idle — never inside a running turn — and the record turns `delivered` when
 * that turn starts. A completion whose parent is gone or finished is dropped with a record; one older
 * than `staleAfterMs` at startup is held for the host to confirm.
 *
 * Stopping children (cancel, interruptAll, stopChildren, timeouts) ends their running turns and
 * queued input; they still report once, with what they had produced so far.
 *
 * @packageDocumentation
 */
import { type ChildStop, renderCompletions } from "../../kernel/delegation/child-completion.js";
import type { AdmitDecision } from "../../kernel/delegation/delegation-budget.js";
import {
  clearLedger,
  createDelegationLedger,
  release,
  reserve,
  restoreSlot,
  runningUnder,
} from "../../kernel/delegation/delegation-caps.js";
import type { Message } from "../../kernel/messages.js";
import type { Reason, TurnOutcome, Usage } from "../../kernel/outcome.js";
import { argumentsOf, checkArray, fail } from "../../validate.js";
import type { ModelAgent } from "../agent.js";
import type { RuntimeParts } from "../parts.js";
import type { DelegationLog, DelegationRecord } from "../ports/delegation-log.js";
import type { SessionEntry } from "../session-table.js";
import { stopSession } from "../turn-stops.js";
import { CompletionDeliveries } from "./completion-deliveries.js";
import {
  checkSpec,
  childAgent,
  type DelegateResult,
  type DelegateSpec,
  depthOf,
  firstInput,
  rootOf,
} from "./delegate-spec.js";
import type { ResolvedDelegationOptions } from "./delegation-options.js";
import { completionOf, type LiveChild, liveChild, recordTurn } from "./live-child.js";
import { ParentInbox } from "./parent-inbox.js";
import { TreeBudgets } from "./tree-budgets.js";

/** Why an input carrying a completion ended without a turn. */
export type InputEndCause = "withdraw" | "cancel" | "stop" | "hold";

const DELEGATE = argumentsOf("delegate()");

export class Children {
  readonly #parts: RuntimeParts;
  readonly #log: DelegationLog;
  readonly #options: ResolvedDelegationOptions;
  readonly #ledger = createDelegationLedger();
  /** Running children, by their session's id. */
  readonly #live = new Map<string, LiveChild>();
  readonly #budgets: TreeBudgets;
  readonly #deliveries: CompletionDeliveries;
  /** Whether a completion can go to its parent, and the input that carries it there. */
  readonly parentInbox: ParentInbox;

  constructor(parts: RuntimeParts, log: DelegationLog) {
    this.#parts = parts;
    this.#log = log;
    this.#options = parts.options.delegation;
    this.#budgets = new TreeBudgets(log, this.#options.budget);
    this.#deliveries = new CompletionDeliveries(log, parts.events, this.#options);
    this.parentInbox = new ParentInbox(parts, log, this.#live);
  }

  get log(): DelegationLog {
    return this.#log;
  }

  get mergeCompletions(): boolean {
    return this.#options.mergeCompletions;
  }

  /** Running children. */
  get running(): number {
    return this.#live.size;
  }

  /** Model calls the record's child made in this process; 0 when it does not run here. */
  modelCallsOf(record: DelegationRecord): number {
    const live = this.#live.get(record.childSessionId);
    return live?.record.id === record.id ? live.modelCalls : 0;
  }

  /** Whether a child's session runs in this process now (its record is tracked here). */
  runsChild(sessionId: string): boolean {
    return this.#live.has(sessionId);
  }

  /** Whether the record's child runs in this process now. */
  isRunning(record: DelegationRecord): boolean {
    return this.#live.get(record.childSessionId)?.record.id === record.id;
  }

  /**
   * Loads the log at startup: running children get their slots and timers back, and completions
   * still pending that are older than `staleAfterMs` are held. Returns ids of inputs to withdraw
   * because their completion is held: held now, or held by an earlier start that died before the
   * withdrawal (a later group than the hold) committed, which would otherwise run the input and
   * leave the record held, for `deliverStale` to deliver a second time.
   *
   * `runsHere` names the sessions this process runs (with a store shared by processes, those it
   * holds): a running child is restored where its session runs, a completion where its parent's
   * does. A process that takes sessions over later restores their running children only
   * (`childrenOnly`): their completions' delivery was decided where the parent ran.
   */
  restore(
    runsHere: (sessionId: string) => boolean = () => true,
    { childrenOnly = false }: { readonly childrenOnly?: boolean } = {},
  ): string[] {
    const now = this.#parts.clock.epochMs();
    const held: string[] = [];
    for (const record of this.#log.list()) {
      const running = record.completion === undefined;
      if ((childrenOnly && !running) || !runsHere(running ? record.childSessionId : record.parentSessionId))
        continue;
      if (record.completion === undefined) {
        restoreSlot(this.#ledger, record.parentSessionId);
        this.#track(record);
        continue;
      }
      const inputId = this.#deliveries.holdIfStale(record, now);
      if (inputId !== undefined) held.push(inputId);
    }
    return held;
  }

  /** The agent a child session runs, rebuilt from its record; `undefined` for other sessions. */
  agentFor(sessionId: string): ModelAgent | undefined {
    const child = this.#live.get(sessionId);
    if (child === undefined) return undefined;
    return childAgent(child.record.spec, child.record.depth, this.#options.depthMax, this.#parts.options);
  }

  /** Dispatches children of `parent`. Throws `InvalidInputError` for a malformed spec. */
  dispatch(parent: SessionEntry, specs: readonly DelegateSpec[]): DelegateResult {
    this.#parts.run.assertAccepting();
    const given = checkArray(DELEGATE, "specs", specs, "an array of 1-1000 specs");
    if (given.length === 0) fail(DELEGATE, "specs", specs, "at least one spec");
    const parentSessionId = parent.id;
    const checked = given.map((spec) => checkSpec(spec, parent.agentName, this.#parts.options));
    const live = this.#live.get(parentSessionId);
    // A finished child's session can still be driven by the host: its id (`parent>id`, and `>` is
    // reserved for children) still says how deep it sits and which tree it belongs to.
    const depth = live === undefined ? depthOf(parentSessionId) : live.record.depth;
    const decision = reserve(this.#ledger, this.#options, parentSessionId, depth, checked.length);
    if (decision.kind === "rejected") {
      const { code, reason } = decision;
      this.#parts.events.emit({ type: "delegation.rejected", parentSessionId, code, reason });
      return { status: "rejected", code, reason };
    }
    const rootSessionId = live === undefined ? rootOf(parentSessionId) : live.record.rootSessionId;
    const records = checked.map((spec): DelegationRecord => {
      const id = this.#parts.options.ids();
      return {
        id,
        parentSessionId,
        childSessionId: `${parentSessionId}>${id}`,
        rootSessionId,
        depth: depth + 1,
        spec,
        dispatchedAtMs: this.#parts.clock.epochMs(),
      };
    });
    // A store shared by processes counts the caps across all of them, and records the fan-out then.
    const fleet = this.#log.reserve?.(records, this.#options);
    if (fleet?.kind === "rejected") {
      this.#commitFleet();
      for (let i = 0; i < records.length; i++) release(this.#ledger, parentSessionId);
      const { code, reason } = fleet;
      this.#parts.events.emit({ type: "delegation.rejected", parentSessionId, code, reason });
      return { status: "rejected", code, reason };
    }
    const ids: string[] = [];
    for (const record of records) {
      const { id, spec } = record;
      if (fleet === undefined) this.#log.dispatch(record);
      this.#track(record);
      const agent = childAgent(spec, record.depth, this.#options.depthMax, this.#parts.options);
      this.#parts.intake.startChild(record.childSessionId, spec.agent, agent, firstInput(spec));
      this.#parts.events.emit({
        type: "delegation.dispatched",
        parentSessionId,
        delegationId: id,
        childSessionId: record.childSessionId,
      });
      ids.push(id);
    }
    if (fleet !== undefined) this.#commitFleet();
    return { status: "dispatched", ids };
  }

  /**
   * Before a model call of `sessionId`: the tree's budget decides. `undefined` for non-children.
   * `turnUsage` is what the running turn's earlier steps used: it is charged now, so the token budget
   * is overrun by at most the calls in flight, not by whole turns.
   */
  admit(sessionId: string, turnUsage: Usage): AdmitDecision | undefined {
    const child = this.#live.get(sessionId);
    if (child === undefined) return undefined;
    const decision = this.#budgets.admit(child, turnUsage);
    if (decision.kind === "ok") child.modelCalls += 1;
    return decision;
  }

  /**
   * A turn of `sessionId` ended and its end is written (not yet committed). A child that is now
   * settled completes in the same store group. `queued` is what its inbox still holds.
   */
  turnEnded(
    sessionId: string,
    outcome: TurnOutcome,
    messages: readonly Message[],
    usage: Usage,
    queued: number,
  ): void {
    const child = this.#live.get(sessionId);
    if (child === undefined) return;
    recordTurn(child, outcome, messages, usage);
    this.#budgets.turnEnded(child, usage);
    if (child.stop !== undefined || (queued === 0 && !this.#hasRunningChildren(sessionId)))
      this.#complete(child);
  }

  /** Inputs carrying these delegations' completions became part of a parent turn. */
  delivered(delegationIds: readonly string[]): void {
    this.#deliveries.delivered(delegationIds);
  }

  /** The input carrying a completion ended without starting a turn (see `CompletionDeliveries`). */
  inputEnded(delegationId: string, inputId: string, cause: InputEndCause): void {
    this.#deliveries.inputEnded(delegationId, inputId, cause);
  }

  /**
   * A child's last queued input ended without a turn (the host withdrew or cancelled it, or it was a
   * held completion): with no turn left to end and no children of its own running, nothing else
   * would ever complete it.
   */
  idle(sessionId: string): void {
    const child = this.#live.get(sessionId);
    if (child === undefined || this.#hasRunningChildren(sessionId)) return;
    this.#complete(child);
  }

  /** Stops the child with this delegation id and its own children; false when it is not running. */
  stopById(id: string, status: ChildStop["status"], reason: Reason): boolean {
    for (const child of this.#live.values()) {
      if (child.record.id !== id) continue;
      this.#stop(child, { status, reason });
      return true;
    }
    return false;
  }

  /** Stops every running child; returns how many. */
  stopAll(status: ChildStop["status"], reason: Reason): number {
    const all = [...this.#live.values()];
    for (const child of all) this.#stop(child, { status, reason });
    return all.length;
  }

  /** Stops the children of one parent session (and, with `recursive`, theirs); returns how many. */
  stopChildrenOf(parentSessionId: string, recursive: boolean, reason: Reason): number {
    let count = 0;
    for (const child of [...this.#live.values()]) {
      if (child.record.parentSessionId !== parentSessionId) continue;
      if (recursive) count += this.stopChildrenOf(child.record.childSessionId, recursive, reason);
      this.#stop(child, { status: "interrupted", reason });
      count += 1;
    }
    return count;
  }

  /**
   * Another process holds the child's session now (this one lost its lease): it runs the child and
   * completes it, so this process forgets it without completing it.
   */
  letGo(sessionId: string): void {
    const child = this.#live.get(sessionId);
    if (child === undefined) return;
    this.#live.delete(sessionId);
    if (child.timer !== undefined) this.#parts.clock.clearTimeout(child.timer);
    release(this.#ledger, child.record.parentSessionId);
  }

  /** Clears timers and slots; the children stay recorded and resume at the next start. */
  dispose(): void {
    for (const child of this.#live.values())
      if (child.timer !== undefined) this.#parts.clock.clearTimeout(child.timer);
    this.#live.clear();
    clearLedger(this.#ledger);
  }

  /**
   * Whether children of the session still run. With a store shared by processes they may run in
   * another process (or in none now, until one claims them): the store counts them.
   */
  #hasRunningChildren(sessionId: string): boolean {
    if (runningUnder(this.#ledger, sessionId) > 0) return true;
    if (this.#parts.leaseKeeper === undefined) return false;
    return this.#log.list(sessionId).some((record) => record.completion === undefined);
  }

  /**
   * A shared store's reservation commits with the children's sessions and first inputs, under a
   * lock other processes' fan-outs wait on until then: it commits now rather than when its group
   * closes. A failure is the store's to report (its guard marks it failed).
   */
  #commitFleet(): void {
    this.#parts.store.commit().catch(() => undefined);
  }

  #track(record: DelegationRecord): void {
    const child = liveChild(record);
    const { timeoutMs } = record.spec;
    if (timeoutMs !== undefined) {
      const { clock } = this.#parts;
      const left = Math.max(0, record.dispatchedAtMs + timeoutMs - clock.epochMs());
      child.timer = clock.setTimeout(() => {
        child.timer = undefined;
        if (this.#live.get(record.childSessionId) !== child) return;
        const reason: Reason = { code: "timed_out", message: `the child ran longer than ${timeoutMs} ms` };
        this.#stop(child, { status: "interrupted", reason });
      }, left);
    }
    this.#live.set(record.childSessionId, child);
  }

  #stop(child: LiveChild, stop: ChildStop): void {
    if (child.stop !== undefined) return;
    child.stop = stop;
    // Its own children first: their reports are dropped (the child is finishing), but they still
    // end, so nothing keeps running under a stopped child.
    for (const grandchild of [...this.#live.values()]) {
      if (grandchild.record.parentSessionId === child.record.childSessionId) this.#stop(grandchild, stop);
    }
    if (!stopSession(this.#parts, child.record.childSessionId, stop.status, stop.reason))
      this.#complete(child);
  }

  #complete(child: LiveChild): void {
    const { record } = child;
    if (this.#live.get(record.childSessionId) !== child) return;
    this.#live.delete(record.childSessionId);
    if (child.timer !== undefined) this.#parts.clock.clearTimeout(child.timer);
    release(this.#ledger, record.parentSessionId);
    const completion = completionOf(child, this.#parts.clock.epochMs());
    const { status } = completion;
    const reason = this.parentInbox.undeliverable(record);
    if (reason !== undefined) {
      this.#log.complete(completion, { state: "dropped", reason });
    } else {
      const inputId = this.parentInbox.carry(record, renderCompletions([completion]));
      this.#log.complete(completion, { state: "pending", inputId });
    }
    this.#parts.events.emit({
      type: "delegation.completed",
      parentSessionId: record.parentSessionId,
      delegationId: record.id,
      status,
      delivery: reason === undefined ? "pending" : "dropped",
    });
  }
}
