/**
 * Background children: a parent session hands work to a child agent, goes on talking to its user,
 * and gets the child's result as a *new turn* when it is idle.
 *
 * The story of a child: `dispatch` reserves capacity for the whole fan-out (or rejects it, never
 * running anything synchronously instead), records the child and queues its goal as the first input
 * of its own session. The child runs turns like any session. When it is idle with nothing queued and
 * no children of its own still running, it *completes*: its completion record, the turn end that
 * finished it and the input that carries the completion to its parent are written in one store group,
 * so a crash keeps all three or none. The parent's inbox runs that input as a new turn when the
 * parent is idle — never inside a running turn — and the record turns `delivered` when that turn
 * starts. A completion whose parent is gone or finished is dropped with a record; one older than
 * `staleAfterMs` at startup is held for the host to confirm.
 *
 * Stopping children (cancel, interruptAll, stopChildren, timeouts) ends their running turns and
 * queued input; they still report once, with what they had produced so far.
 *
 * The file is longer than most: the public controls and the runtime's hooks share one ledger of live
 * children, and each rule (caps, budget, completion, delivery, restore) reads and writes it; split
 * apart, the invariants between them would have no single place to be read.
 *
 * @packageDocumentation
 */
import { describeValue, InvalidInputError } from "../errors.js";
import {
  type ChildCompletion,
  type ChildStatus,
  renderCompletions,
} from "../kernel/delegation/child-completion.js";
import { decideDelivery, recordsToPrune } from "../kernel/delegation/completion-delivery.js";
import {
  type AdmitDecision,
  admitModelCall,
  chargeTokens,
  createTreeSpend,
  type TreeBudget,
  type TreeSpend,
} from "../kernel/delegation/delegation-budget.js";
import {
  createDelegationLedger,
  type DelegationCaps,
  type DelegationRejectCode,
  release,
  reserve,
} from "../kernel/delegation/delegation-caps.js";
import type { Message } from "../kernel/messages.js";
import type { Reason, TurnOutcome, Usage } from "../kernel/outcome.js";
import { type Agent, isFunctionAgent, type ModelAgent } from "./agent.js";
import type { Clock, TimerToken } from "./clock.js";
import type { RuntimeEvent } from "./events.js";
import type { DelegationLog, DelegationRecord, StoredChildSpec } from "./ports/delegation-log.js";
import type { Model } from "./ports/model.js";

/** What a parent asks a child to do. */
export interface DelegateSpec {
  /** What the child must achieve; the child's first input. */
  readonly goal: string;
  /** What the child needs to know; it sees nothing of the parent's conversation. */
  readonly context?: string;
  /** Who the child is ("a careful reviewer"); added to its system prompt. */
  readonly role?: string;
  /** The agent the child is derived from (default: the parent's own agent). Must be a model agent. */
  readonly agent?: string;
  /** A key of `options.models` to use instead of the agent's model. */
  readonly model?: string;
  /** Tool names the child may use: a subset of its agent's tools (default: all of them). */
  readonly tools?: readonly string[];
  /** Model calls per turn for the child, and how long it may run before it ends `timed_out`. */
  readonly limits?: { readonly modelCallsMax?: number; readonly timeoutMs?: number };
}

/** The answer to a dispatch: at once, never after the child ran. */
export type DelegateResult =
  | { readonly status: "dispatched"; readonly ids: readonly string[] }
  | { readonly status: "rejected"; readonly code: DelegationRejectCode; readonly reason: string };

/** Options of delegation (`options.delegation`). */
export interface DelegationOptions extends Partial<DelegationCaps> {
  /** Finished records kept per parent (default 100); records waiting for delivery are never pruned. */
  readonly keepPerParent?: number;
  /** Completions older than this at startup are held for confirmation (default 24 h). */
  readonly staleAfterMs?: number;
  /** Several waiting completions become one parent turn (default true). */
  readonly mergeCompletions?: boolean;
  /** Per-tree budget of model calls and tokens (default unbounded). */
  readonly budget?: TreeBudget;
}

/** A delegation as `list()` and `get()` show it. */
export type DelegationInfo = DelegationRecord & { readonly running: boolean };

/** What the delegations need from the runtime. */
export interface DelegationHost {
  readonly clock: Clock;
  readonly ids: () => string;
  readonly log: DelegationLog;
  readonly agents: ReadonlyMap<string, Agent>;
  readonly models: ReadonlyMap<string, Model>;
  /** Creates the child's session with its own agent and queues its first input. */
  startChild(childSessionId: string, baseAgent: string, agent: ModelAgent, input: string): void;
  /** Queues a completion in the parent's inbox and returns the input's id. */
  deliver(parentSessionId: string, text: string, delegationId: string): string;
  /** Ends the session's running turn and queued input; false when there was neither. */
  stopSession(sessionId: string, status: "cancelled" | "interrupted", reason: Reason): boolean;
  sessionExists(sessionId: string): boolean;
  /** The runtime is running: it accepts new work (not while starting or stopping). */
  accepting(): boolean;
  emit(event: RuntimeEvent): void;
}

interface LiveChild {
  record: DelegationRecord;
  modelCalls: number;
  usage: Usage | undefined;
  last: TurnOutcome | undefined;
  /** Text of the child's latest answer, for the partial output of a child that was stopped. */
  lastText: string;
  stop: { status: "cancelled" | "interrupted"; reason: Reason } | undefined;
  timer: TimerToken | undefined;
  /** Tokens of the running turn already charged to the tree (see `admit`). */
  turnTokensCharged: number;
}

const TEXT_MAX = 16_384;

export class Delegations {
  readonly #host: DelegationHost;
  readonly #caps: DelegationCaps;
  readonly #keepPerParent: number;
  readonly #staleAfterMs: number;
  readonly #budget: TreeBudget;
  readonly mergeCompletions: boolean;
  readonly #ledger = createDelegationLedger();
  readonly #live = new Map<string, LiveChild>();
  readonly #spend = new Map<string, TreeSpend>();
  /** @internal The runtime creates it. */
  constructor(host: DelegationHost, options: DelegationOptions) {
    this.#host = host;
    this.#caps = {
      runningMax: options.runningMax ?? 64,
      perParentRunningMax: options.perParentRunningMax ?? 8,
      depthMax: options.depthMax ?? 2,
    };
    this.#keepPerParent = options.keepPerParent ?? 100;
    this.#staleAfterMs = options.staleAfterMs ?? 24 * 60 * 60 * 1000;
    this.#budget = options.budget ?? {};
    this.mergeCompletions = options.mergeCompletions ?? true;
  }

  // ---- public controls -------------------------------------------------------------------------

  /** Every retained delegation, optionally of one parent, in dispatch order. */
  list(filter: { readonly parentSessionId?: string } = {}): DelegationInfo[] {
    return this.#host.log.list(filter.parentSessionId).map((r) => this.#info(r));
  }

  get(id: string): DelegationInfo | undefined {
    const record = this.#host.log.get(id);
    return record === undefined ? undefined : this.#info(record);
  }

  /** Cancels a running child and its own children; false when it is not running. It still reports. */
  cancel(id: string, reason = "cancelled by the host"): boolean {
    const child = this.#liveById(id);
    if (child === undefined) return false;
    this.#stop(child, "cancelled", { code: "cancel_requested", message: reason });
    return true;
  }

  /** Interrupts every running child; each still reports once, with its partial output. */
  interruptAll(reason = "interrupted by the host"): number {
    const all = [...this.#live.values()];
    for (const child of all)
      this.#stop(child, "interrupted", { code: "interrupted_by_input", message: reason });
    return all.length;
  }

  /**
   * Stops the children of one parent session (and, with `recursive`, theirs). The parent's own turn
   * goes on; to stop that, cancel its handle.
   */
  stopChildren(
    parentSessionId: string,
    options: { readonly recursive?: boolean; readonly reason?: string } = {},
  ): number {
    const reason: Reason = {
      code: "interrupted_by_input",
      message: options.reason ?? "stopped by the parent",
    };
    let count = 0;
    for (const child of [...this.#live.values()]) {
      if (child.record.parentSessionId !== parentSessionId) continue;
      if (options.recursive === true) count += this.stopChildren(child.record.childSessionId, options);
      this.#stop(child, "interrupted", reason);
      count += 1;
    }
    return count;
  }

  /** Completions held at startup because they were older than `staleAfterMs`. */
  pendingStale(): DelegationRecord[] {
    return this.#host.log.list().filter((r) => r.delivery === "held");
  }

  /**
   * Delivers a held completion after all. False when it is not held, when its parent cannot take it
   * (gone, or a child that has finished), or while the runtime is not running (starting, stopping or
   * stopped): call it after `start()` resolved, which is also when completions are held. The
   * completion stays held until then.
   */
  deliverStale(id: string): boolean {
    const record = this.#host.log.get(id);
    if (record?.delivery !== "held" || record.completion === undefined) return false;
    // Stopped, the runtime would queue the input in memory for no turn to take, and the next start,
    // which recovers it from the store, would run it twice. Stopping, no turn may take it either: a
    // draining stop may be past its drain, and sends are refused then too.
    if (!this.#host.accepting() || this.#undeliverable(record) !== undefined) return false;
    const inputId = this.#host.deliver(record.parentSessionId, renderCompletions([record.completion]), id);
    this.#host.log.setDelivery(id, { state: "pending", inputId });
    return true;
  }

  /** Drops a held completion with a record. */
  dropStale(id: string, reason = "dropped by the host"): boolean {
    const record = this.#host.log.get(id);
    if (record?.delivery !== "held") return false;
    this.#host.log.setDelivery(id, { state: "dropped", reason });
    return true;
  }

  // ---- runtime hooks ---------------------------------------------------------------------------

  /**
   * Loads the log at startup: running children get their slots and timers back, and completions
   * still pending that are older than `staleAfterMs` are held. Returns ids of inputs to withdraw
   * because their completion is held: held now, or held by an earlier start that died before the
   * withdrawal (a later group than the hold) committed, which would otherwise run the input and
   * leave the record held, for `deliverStale` to deliver a second time.
   */
  restore(): string[] {
    const now = this.#host.clock.epochMs();
    const held: string[] = [];
    for (const record of this.#host.log.list()) {
      if (record.completion !== undefined) {
        if (record.delivery === "pending") {
          const decision = decideDelivery(true, record.completion.completedAtMs, now, this.#staleAfterMs);
          if (decision.kind === "hold") {
            // The input id stays on the record: a later start must still find the input to withdraw.
            this.#host.log.setDelivery(record.id, {
              state: "held",
              reason: `waited ${decision.ageMs} ms`,
              inputId: record.deliveryInputId,
            });
            if (record.deliveryInputId !== undefined) held.push(record.deliveryInputId);
          }
        } else if (record.delivery === "held" && record.deliveryInputId !== undefined) {
          held.push(record.deliveryInputId);
        }
        continue;
      }
      this.#ledger.running += 1;
      this.#ledger.byParent.set(
        record.parentSessionId,
        (this.#ledger.byParent.get(record.parentSessionId) ?? 0) + 1,
      );
      this.#track(record);
    }
    return held;
  }

  /** The agent a child session runs, rebuilt from its record; `undefined` for other sessions. */
  agentFor(sessionId: string): ModelAgent | undefined {
    const child = this.#live.get(sessionId);
    return child === undefined ? undefined : this.#childAgent(child.record.spec, child.record.depth);
  }

  /** Dispatches children of `parentSessionId`. Throws `InvalidInputError` for a malformed spec. */
  dispatch(parentSessionId: string, parentAgent: string, specs: readonly DelegateSpec[]): DelegateResult {
    if (!Array.isArray(specs) || specs.length === 0)
      throw invalid("delegate(): give at least one spec", specs);
    const checked = specs.map((spec) => this.#check(spec, parentAgent));
    const parent = this.#live.get(parentSessionId);
    // A finished child's session can still be driven by the host: its id (`parent>id`, and `>` is
    // reserved for children) still says how deep it sits and which tree it belongs to.
    const depth = parent === undefined ? depthOf(parentSessionId) : parent.record.depth;
    const decision = reserve(this.#ledger, this.#caps, parentSessionId, depth, checked.length);
    if (decision.kind === "rejected") {
      this.#host.emit({
        type: "delegation.rejected",
        parentSessionId,
        code: decision.code,
        reason: decision.reason,
      });
      return { status: "rejected", code: decision.code, reason: decision.reason };
    }
    const rootSessionId = parent === undefined ? rootOf(parentSessionId) : parent.record.rootSessionId;
    const ids: string[] = [];
    for (const spec of checked) {
      const id = this.#host.ids();
      const record: DelegationRecord = {
        id,
        parentSessionId,
        childSessionId: `${parentSessionId}>${id}`,
        rootSessionId,
        depth: depth + 1,
        spec,
        dispatchedAtMs: this.#host.clock.epochMs(),
      };
      this.#host.log.dispatch(record);
      this.#track(record);
      this.#host.startChild(
        record.childSessionId,
        spec.agent,
        this.#childAgent(spec, record.depth),
        firstInput(spec),
      );
      this.#host.emit({
        type: "delegation.dispatched",
        parentSessionId,
        delegationId: id,
        childSessionId: record.childSessionId,
      });
      ids.push(id);
    }
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
    const root = child.record.rootSessionId;
    const spend = this.#treeSpend(root);
    this.#chargeTurn(child, spend, turnUsage);
    const decision = admitModelCall(spend, this.#budget);
    if (decision.kind === "ok") {
      child.modelCalls += 1;
      this.#host.log.setSpend(root, spend);
    }
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
    child.last = outcome;
    const said = typeof outcome.output === "string" ? outcome.output : lastAssistantText(messages);
    if (said !== "") child.lastText = said;
    child.usage = add(child.usage, usage);
    const root = child.record.rootSessionId;
    const spend = this.#treeSpend(root);
    this.#chargeTurn(child, spend, usage);
    child.turnTokensCharged = 0;
    this.#host.log.setSpend(root, spend);
    const waiting = this.#ledger.byParent.get(sessionId) ?? 0;
    if (child.stop !== undefined || (queued === 0 && waiting === 0)) this.#complete(child);
  }

  /** Inputs carrying these delegations' completions became part of a parent turn. */
  delivered(delegationIds: readonly string[]): void {
    const parents = new Set<string>();
    for (const id of delegationIds) {
      const record = this.#host.log.get(id);
      // A turn resumed after a crash takes its completions again: they were delivered once already.
      if (record?.delivery !== "pending") continue;
      this.#host.log.setDelivery(id, { state: "delivered", inputId: record.deliveryInputId });
      parents.add(record.parentSessionId);
      this.#host.emit({
        type: "delegation.delivered",
        parentSessionId: record.parentSessionId,
        delegationId: id,
      });
    }
    for (const parent of parents) {
      const records = this.#host.log.list(parent).filter((r) => r.completion !== undefined);
      const prune = recordsToPrune(
        records.map((r) => ({
          id: r.id,
          parentSessionId: r.parentSessionId,
          completedAtMs: r.completion!.completedAtMs,
          delivery: r.delivery ?? "pending",
        })),
        this.#keepPerParent,
      );
      if (prune.length > 0) this.#host.log.prune(prune);
    }
  }

  /**
   * The input carrying a completion ended without starting a turn: its session (a child) was
   * stopped, or the host withdrew or cancelled it. The completion is dropped with that reason;
   * a held completion (whose input is withdrawn when it is held) stays held.
   */
  inputEnded(delegationId: string, inputId: string, verb: string): void {
    const record = this.#host.log.get(delegationId);
    if (record?.delivery !== "pending" || record.deliveryInputId !== inputId) return;
    const reason = verb === "stop" ? "parent_stopped" : verb === "withdraw" ? "withdrawn" : "cancelled";
    this.#host.log.setDelivery(delegationId, { state: "dropped", reason, inputId });
  }

  /**
   * A child's last queued input ended without a turn (the host withdrew or cancelled it, or it was a
   * held completion): with no turn left to end and no children of its own running, nothing else
   * would ever complete it.
   */
  idle(sessionId: string): void {
    const child = this.#live.get(sessionId);
    if (child === undefined || (this.#ledger.byParent.get(sessionId) ?? 0) > 0) return;
    this.#complete(child);
  }

  /** Running children (for metrics). */
  get running(): number {
    return this.#live.size;
  }

  /** Clears timers; the children stay recorded and resume at the next start. */
  dispose(): void {
    for (const child of this.#live.values())
      if (child.timer !== undefined) this.#host.clock.clearTimeout(child.timer);
    this.#live.clear();
    this.#ledger.running = 0;
    this.#ledger.byParent.clear();
    this.#spend.clear();
  }

  // ---- inside ------------------------------------------------------------------------------------

  #track(record: DelegationRecord): void {
    const child: LiveChild = {
      record,
      modelCalls: 0,
      usage: undefined,
      last: undefined,
      lastText: "",
      stop: undefined,
      timer: undefined,
      turnTokensCharged: 0,
    };
    const timeoutMs = record.spec.timeoutMs;
    if (timeoutMs !== undefined) {
      const left = Math.max(0, record.dispatchedAtMs + timeoutMs - this.#host.clock.epochMs());
      child.timer = this.#host.clock.setTimeout(() => {
        child.timer = undefined;
        if (this.#live.get(record.childSessionId) === child)
          this.#stop(child, "interrupted", {
            code: "timed_out",
            message: `the child ran longer than ${timeoutMs} ms`,
          });
      }, left);
    }
    this.#live.set(record.childSessionId, child);
  }

  #stop(child: LiveChild, status: "cancelled" | "interrupted", reason: Reason): void {
    if (child.stop !== undefined) return;
    child.stop = { status, reason };
    // Its own children first: their reports are dropped (the child is finishing), but they still
    // end, so nothing keeps running under a stopped child.
    for (const grandchild of [...this.#live.values()]) {
      if (grandchild.record.parentSessionId === child.record.childSessionId)
        this.#stop(grandchild, status, reason);
    }
    if (!this.#host.stopSession(child.record.childSessionId, status, reason)) this.#complete(child);
  }

  #complete(child: LiveChild): void {
    const { record } = child;
    if (this.#live.get(record.childSessionId) !== child) return;
    this.#live.delete(record.childSessionId);
    if (child.timer !== undefined) this.#host.clock.clearTimeout(child.timer);
    release(this.#ledger, record.parentSessionId);
    const { status, error, exitReason } = childStatus(child);
    const completion: ChildCompletion = {
      delegationId: record.id,
      parentSessionId: record.parentSessionId,
      childSessionId: record.childSessionId,
      spec: record.spec,
      status,
      summary: status === "completed" ? child.lastText : "",
      error,
      exitReason,
      modelCalls: child.modelCalls,
      usage: child.usage,
      dispatchedAtMs: record.dispatchedAtMs,
      completedAtMs: this.#host.clock.epochMs(),
      partialOutput: status === "completed" || child.lastText === "" ? undefined : child.lastText,
    };
    const reason = this.#undeliverable(record);
    const parentGone = reason !== undefined;
    if (parentGone) {
      this.#host.log.complete(completion, { state: "dropped", reason });
    } else {
      const inputId = this.#host.deliver(record.parentSessionId, renderCompletions([completion]), record.id);
      this.#host.log.complete(completion, { state: "pending", inputId });
    }
    this.#host.emit({
      type: "delegation.completed",
      parentSessionId: record.parentSessionId,
      delegationId: record.id,
      status,
      delivery: parentGone ? "dropped" : "pending",
    });
  }

  /** Why a completion cannot go to its parent, or `undefined` when it can. */
  #undeliverable(record: DelegationRecord): string | undefined {
    if (!this.#host.sessionExists(record.parentSessionId)) return "parent_missing";
    if (record.depth === 1) return undefined;
    // The parent is itself a child: it must still be running to take the result.
    const parent = this.#live.get(record.parentSessionId);
    if (parent === undefined) return "parent_finished";
    return parent.stop === undefined ? undefined : "parent_stopped";
  }

  #check(spec: DelegateSpec, parentAgent: string): StoredChildSpec {
    if (typeof spec !== "object" || spec === null) throw invalid("a delegate spec must be an object", spec);
    const goal = text("goal", spec.goal, true)!;
    const agentName = spec.agent ?? parentAgent;
    const agent = this.#host.agents.get(agentName);
    if (agent === undefined || isFunctionAgent(agent))
      throw invalid(`delegate(): agent must name a model agent`, agentName);
    if (spec.model !== undefined && !this.#host.models.has(spec.model))
      throw invalid(
        `delegate(): model must be a key of options.models (${[...this.#host.models.keys()].join(", ")})`,
        spec.model,
      );
    const own = (agent.tools ?? []).map((t) => t.name);
    const tools = spec.tools ?? own;
    if (!Array.isArray(tools)) throw invalid("delegate(): tools must be an array of tool names", tools);
    for (const name of tools) {
      if (!own.includes(name))
        throw invalid(`delegate(): tool is not one of agent ${agentName}'s (${own.join(", ")})`, name);
    }
    const limits = spec.limits ?? {};
    for (const key of ["modelCallsMax", "timeoutMs"] as const) {
      const value = limits[key];
      if (value !== undefined && !(Number.isInteger(value) && value > 0))
        throw invalid(`delegate(): limits.${key} must be a positive integer`, value);
    }
    return {
      goal,
      context: text("context", spec.context, false),
      role: text("role", spec.role, false),
      model: spec.model,
      tools: [...tools],
      agent: agentName,
      modelCallsMax: limits.modelCallsMax,
      timeoutMs: limits.timeoutMs,
    };
  }

  #childAgent(spec: StoredChildSpec, depth: number): ModelAgent {
    const base = this.#host.agents.get(spec.agent) as ModelAgent;
    const role = spec.role === undefined ? "" : `\nYour role: ${spec.role}.`;
    const brief =
      "You are a background worker: do the task you are given and answer with what you found. " +
      "Nobody can answer questions from you while you work.";
    return {
      ...base,
      model: spec.model === undefined ? base.model : this.#host.models.get(spec.model)!,
      system: `${base.system === undefined ? "" : `${base.system}\n\n`}${brief}${role}`,
      tools: (base.tools ?? []).filter((t) => spec.tools.includes(t.name)),
      // A child at the depth limit could only be refused: it gets no delegate tool at all.
      delegates: base.delegates === true && depth < this.#caps.depthMax,
      ...(spec.modelCallsMax === undefined ? {} : { modelCallsPerTurnMax: spec.modelCallsMax }),
    };
  }

  /** The tree's account, read from the log the first time after a start. */
  /** Charges the tokens of the child's running turn not charged yet. */
  #chargeTurn(child: LiveChild, spend: TreeSpend, turnUsage: Usage): void {
    const tokens = turnUsage.inputTokens + turnUsage.outputTokens;
    if (tokens <= child.turnTokensCharged) return;
    chargeTokens(spend, tokens - child.turnTokensCharged);
    child.turnTokensCharged = tokens;
  }

  #treeSpend(rootSessionId: string): TreeSpend {
    let spend = this.#spend.get(rootSessionId);
    if (spend === undefined) {
      spend = this.#host.log.spend(rootSessionId) ?? createTreeSpend();
      this.#spend.set(rootSessionId, spend);
    }
    return spend;
  }

  #liveById(id: string): LiveChild | undefined {
    for (const child of this.#live.values()) if (child.record.id === id) return child;
    return undefined;
  }

  #info(record: DelegationRecord): DelegationInfo {
    return { ...record, running: this.#live.get(record.childSessionId)?.record.id === record.id };
  }
}

function childStatus(child: LiveChild): {
  status: ChildStatus;
  error: ChildCompletion["error"];
  exitReason: string;
} {
  const outcome = child.last;
  if (child.stop !== undefined && (outcome === undefined || outcome.status !== "completed")) {
    const status: ChildStatus = child.stop.reason.code === "timed_out" ? "timed_out" : child.stop.status;
    return {
      status,
      error: { code: child.stop.reason.code, message: child.stop.reason.message },
      exitReason: child.stop.reason.code,
    };
  }
  if (outcome === undefined)
    return {
      status: "failed",
      error: { code: "no_turn", message: "the child never ran" },
      exitReason: "no_turn",
    };
  if (outcome.status === "completed")
    return { status: "completed", error: undefined, exitReason: outcome.reason.code };
  const status: ChildStatus =
    outcome.reason.code === "timed_out"
      ? "timed_out"
      : outcome.status === "cancelled" || outcome.status === "interrupted"
        ? outcome.status
        : "failed";
  return {
    status,
    error: { code: outcome.reason.code, message: outcome.reason.message },
    exitReason: outcome.reason.code,
  };
}

/** What the model last said in these messages (its partial output when the turn was cut short). */
function lastAssistantText(messages: readonly Message[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role !== "assistant") continue;
    const text = m.content.flatMap((part) => (part.type === "text" ? [part.text] : [])).join("");
    if (text !== "") return text;
  }
  return "";
}

/** How deep a session sits, from its id: each `>` is one delegation (`>` is reserved for children). */
function depthOf(sessionId: string): number {
  let depth = 0;
  for (let i = 0; i < sessionId.length; i++) if (sessionId.charCodeAt(i) === 0x3e) depth++;
  return depth;
}

/** The top-level session of a child's tree, from its id. */
function rootOf(sessionId: string): string {
  const at = sessionId.indexOf(">");
  return at < 0 ? sessionId : sessionId.slice(0, at);
}

function firstInput(spec: StoredChildSpec): string {
  return spec.context === undefined ? spec.goal : `${spec.goal}\n\nContext:\n${spec.context}`;
}

function text(name: string, value: unknown, required: boolean): string | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== "string" || value.trim().length === 0 || value.length > TEXT_MAX)
    throw invalid(`delegate(): ${name} must be a non-empty string of at most ${TEXT_MAX} characters`, value);
  return value;
}

function invalid(problem: string, value: unknown): InvalidInputError {
  return new InvalidInputError("INVALID_ARGUMENT", `${problem}; got ${describeValue(value)}`);
}

function add(a: Usage | undefined, b: Usage): Usage {
  return a === undefined
    ? b
    : { inputTokens: a.inputTokens + b.inputTokens, outputTokens: a.outputTokens + b.outputTokens };
}
