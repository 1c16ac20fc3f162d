/**
 * The driver's delegation actions, for seeds that delegate: host-side fan-out (`session.delegate`
 * and `delegateAll`, from driver sessions and from running children, so trees grow to depth 2 and
 * beyond), malformed specs, the control verbs (`cancel`, `interruptAll`, `stopChildren`) and the
 * held-completion verbs (`deliverStale`, `dropStale`). Each call is checked against a prediction
 * made from the ledger alone; what the children then do is checked by `delegation-invariants.ts`.
 */
import { isOffstageError } from "../../src/errors.js";
import type { DelegateResult, DelegateSpec } from "../../src/runtime/delegation/delegate-spec.js";
import type { Runtime } from "../../src/runtime/runtime.js";
import type { Session } from "../../src/runtime/session.js";
import type { SeededRandom } from "../../src/testing/seeded-random.js";
import type { SimConfig, SimDelegation } from "./config.js";
import type { DelegationChecker, DelegationFact } from "./delegation-invariants.js";
import type { Checker } from "./invariants.js";
import type { Trace } from "./trace.js";

export interface DelegationDriverParts {
  readonly config: SimConfig;
  readonly delegation: SimDelegation;
  readonly r: SeededRandom;
  readonly trace: Trace;
  readonly checker: Checker;
  readonly ledger: DelegationChecker;
  readonly runtime: () => Runtime;
  /** A driver session by id (created on first use). */
  readonly session: (id: string) => Session;
  readonly nextRole: () => string;
}

const MODEL_AGENTS = ["chat", "boss"] as const;
const TOOLS = ["work", "stubborn", "strict"];

type Expected =
  | { readonly kind: "throws"; readonly code: string }
  | { readonly kind: "rejected"; readonly code: string }
  | { readonly kind: "dispatched"; readonly count: number };

export class DelegationDriver {
  readonly #p: DelegationDriverParts;

  constructor(parts: DelegationDriverParts) {
    this.#p = parts;
  }

  /** `session.delegate()` or `delegateAll()` of 1-4 specs, from a driver session or a running child. */
  delegate(): void {
    const { r, ledger, config } = this.#p;
    const children = ledger.running().map((f) => f.childSessionId);
    const parentId = children.length > 0 && r.chance(0.3) ? r.pick(children) : r.pick(config.sessions).id;
    const parentChild = ledger.child(parentId);
    const parentAgent =
      parentChild === undefined
        ? config.sessions.find((s) => s.id === parentId)!.agent
        : this.#p.runtime().delegations.get(parentChild.id)?.spec.agent;
    const count = r.chance(0.5) ? 1 : r.int(1, 4);
    const single = count === 1 && r.chance(0.6);
    const specs: DelegateSpec[] = [];
    let invalid = false;
    for (let i = 0; i < count; i++) {
      const { spec, bad } = this.#spec(parentAgent);
      specs.push(spec);
      invalid ||= bad;
    }
    const expected = this.#predict(parentId, parentChild, count, invalid);
    let result: DelegateResult | undefined;
    let error: unknown;
    try {
      const session =
        parentChild === undefined ? this.#p.session(parentId) : this.#p.runtime().session(parentId);
      if (single) {
        const one = session.delegate(specs[0]!);
        result = one.status === "dispatched" ? { status: "dispatched", ids: [one.id] } : one;
      } else result = session.delegateAll(specs);
    } catch (e) {
      error = e;
    }
    const got =
      result === undefined
        ? `threw ${isOffstageError(error) ? error.code : String(error)}`
        : result.status === "dispatched"
          ? `dispatched ${result.ids.join(",")}`
          : `rejected ${result.code}`;
    this.#p.trace.add(
      `> ${single ? "delegate" : "delegateAll"} from ${parentId} ${specs.length} spec(s)${invalid ? " (malformed)" : ""} -> ${got} (expected ${expected.kind}${"code" in expected ? ` ${expected.code}` : ""})`,
    );
    this.#p.checker.count(`host delegate ${expected.kind}${"code" in expected ? ` ${expected.code}` : ""}`);
    const fail = (why: string) => this.#p.checker.fail(`delegate from ${parentId}: ${why}`);
    switch (expected.kind) {
      case "throws":
        if (!isOffstageError(error) || error.code !== expected.code)
          fail(`${got}; expected it to throw ${expected.code}`);
        return;
      case "rejected":
        if (result?.status !== "rejected" || result.code !== expected.code)
          fail(`${got}; expected rejected ${expected.code}`);
        return;
      case "dispatched":
        if (result?.status !== "dispatched" || result.ids.length !== expected.count) {
          fail(`${got}; expected ${expected.count} dispatched`);
          return;
        }
        for (const id of result.ids)
          if (!ledger.facts.has(id)) fail(`${id} was dispatched without a delegation.dispatched event`);
    }
  }

  #predict(
    parentId: string,
    parentChild: DelegationFact | undefined,
    count: number,
    invalid: boolean,
  ): Expected {
    const state = this.#p.runtime().state;
    if (state !== "running")
      return { kind: "throws", code: state === "stopping" ? "STOPPING" : "NOT_RUNNING" };
    if (invalid) return { kind: "throws", code: "INVALID_ARGUMENT" };
    const caps = this.#p.delegation;
    const depth = parentChild === undefined ? 0 : parentChild.depth;
    if (depth + 1 > caps.depthMax) return { kind: "rejected", code: "DELEGATION_DEPTH" };
    const { ledger } = this.#p;
    if (ledger.running(parentId).length + count > caps.perParentRunningMax)
      return { kind: "rejected", code: "DELEGATION_CAP_PARENT" };
    if (ledger.running().length + count > caps.runningMax)
      return { kind: "rejected", code: "DELEGATION_CAP_GLOBAL" };
    return { kind: "dispatched", count };
  }

  /** A spec with a unique role; sometimes one the runtime must refuse. */
  #spec(parentAgent: string | undefined): { spec: DelegateSpec; bad: boolean } {
    const r = this.#p.r;
    const role = this.#p.nextRole();
    const agent = r.chance(0.3) ? undefined : r.pick(MODEL_AGENTS);
    const limits: { modelCallsMax?: number; timeoutMs?: number } = {};
    if (r.chance(this.#p.delegation.timeoutP)) limits.timeoutMs = r.int(20, 1500);
    if (r.chance(0.2)) limits.modelCallsMax = r.int(1, 3);
    const spec: DelegateSpec = {
      goal: `host task for ${role}`,
      role,
      ...(agent === undefined ? {} : { agent }),
      ...(r.chance(0.3) ? { context: `context ${r.int(0, 99)}` } : {}),
      ...(r.chance(0.3) ? { tools: TOOLS.filter(() => r.chance(0.5)) } : {}),
      ...(Object.keys(limits).length === 0 ? {} : { limits }),
    };
    // A function agent cannot run a child: a spec that falls back to it is malformed.
    const fallsBackToFn = agent === undefined && parentAgent === "fn";
    if (!r.chance(0.06)) return { spec, bad: fallsBackToFn };
    const broken = r.pick<DelegateSpec>([
      { ...spec, goal: "" },
      { ...spec, agent: "fn" },
      { ...spec, agent: "nobody" },
      { ...spec, tools: ["ghost"] },
      { ...spec, limits: { timeoutMs: 0 } },
    ]);
    return { spec: broken, bad: true };
  }

  /** `cancel(id)`, `interruptAll()` or `stopChildren(parent, { recursive })`. */
  control(): void {
    const { r, ledger } = this.#p;
    const runtime = this.#p.runtime();
    const state = runtime.state;
    const live = state === "running" || state === "stopping";
    const verb = r.pick(["cancel", "cancel", "stopChildren", "interruptAll"] as const);
    let stopped: DelegationFact[];
    let got: number | boolean;
    let want: number | boolean;
    let what: string;
    if (verb === "cancel") {
      const facts = [...ledger.facts.values()];
      const fact = facts.length === 0 || r.chance(0.1) ? undefined : r.pick(facts);
      const id = fact?.id ?? "no-such-delegation";
      what = `cancel(${id})`;
      want = live && fact !== undefined && !fact.completed;
      stopped = want && fact !== undefined ? [fact, ...this.#descendants(fact.childSessionId)] : [];
      got = runtime.delegations.cancel(id, "simulated cancel");
    } else if (verb === "interruptAll") {
      what = "interruptAll()";
      stopped = live ? ledger.running() : [];
      want = stopped.length;
      got = runtime.delegations.interruptAll("simulated interruptAll");
    } else {
      const parents = [...this.#p.config.sessions.map((s) => s.id), ...ledger.childSessions()];
      const parent = r.pick(parents);
      const recursive = r.chance(0.5);
      what = `stopChildren(${parent}, recursive=${recursive})`;
      const direct = live ? ledger.running(parent) : [];
      const all = live ? this.#descendants(parent) : [];
      stopped = all;
      want = recursive ? all.length : direct.length;
      got = runtime.delegations.stopChildren(parent, { recursive, reason: "simulated stopChildren" });
    }
    this.#p.trace.add(`> ${what} -> ${String(got)} (expected ${String(want)}, runtime ${state})`);
    this.#p.checker.count(`delegations.${verb}`);
    if (got !== want) this.#p.checker.fail(`${what} returned ${String(got)}; expected ${String(want)}`);
    if (state === "running")
      this.#p.ledger.expectCompleted(
        stopped.map((f) => f.id),
        what,
      );
  }

  /** Running children under `sessionId`, at every depth. */
  #descendants(sessionId: string): DelegationFact[] {
    const out: DelegationFact[] = [];
    for (const child of this.#p.ledger.running(sessionId))
      out.push(child, ...this.#descendants(child.childSessionId));
    return out;
  }

  /** `deliverStale` or `dropStale` of a held completion (or of one that is not held: false). */
  stale(): void {
    const runtime = this.#p.runtime();
    const r = this.#p.r;
    const held = runtime.delegations.pendingStale().map((d) => d.id);
    const facts = [...this.#p.ledger.facts.keys()];
    const id = held.length > 0 && r.chance(0.8) ? r.pick(held) : facts.length > 0 ? r.pick(facts) : "none";
    const deliver = r.chance(0.6);
    // Delivery also needs a running runtime (not a stopping one) and a parent that can still take it.
    const live = runtime.state === "running";
    const want = held.includes(id) && (!deliver || (live && this.#deliverable(id)));
    const got = deliver
      ? runtime.delegations.deliverStale(id)
      : runtime.delegations.dropStale(id, "simulated drop");
    const what = `${deliver ? "deliverStale" : "dropStale"}(${id})`;
    this.#p.trace.add(`> ${what} -> ${got} (expected ${want}, runtime ${runtime.state})`);
    if (want) this.#p.checker.count(`held completion ${deliver ? "delivered" : "dropped"} by the host`);
    if (got !== want) this.#p.checker.fail(`${what} returned ${got}; expected ${want}`);
  }

  /** A top-level parent, or a child parent still running. */
  #deliverable(id: string): boolean {
    const fact = this.#p.ledger.facts.get(id);
    if (fact === undefined) return false;
    const parent = this.#p.ledger.child(fact.parentSessionId);
    return parent === undefined || !parent.completed;
  }

  /** Settles every held completion, so the end of the run can demand all were delivered or dropped. */
  settleHeld(): void {
    const runtime = this.#p.runtime();
    for (const { id } of runtime.delegations.pendingStale()) {
      const deliver = this.#deliverable(id) && this.#p.r.chance(0.5);
      const ok = deliver ? runtime.delegations.deliverStale(id) : runtime.delegations.dropStale(id, "final");
      this.#p.trace.add(`> final: ${deliver ? "deliverStale" : "dropStale"}(${id}) -> ${ok}`);
      if (!ok)
        this.#p.checker.fail(
          `final ${deliver ? "deliverStale" : "dropStale"}(${id}) of a held completion returned false`,
        );
    }
  }
}
