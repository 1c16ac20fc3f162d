/**
 * The crash child's background-children workload: host-side fan-outs (`delegate`, `delegateAll`)
 * from top-level sessions and from children, the control verbs (`cancel(id)`, `stopChildren`,
 * `interruptAll`), and held completions delivered or dropped. The `lead` agent's own dispatches
 * (its `delegate` tool) come from its inputs (`workload.ts`).
 *
 * A dispatch is reported to the parent only once it is committed: every dispatch, host-side or by
 * the tool, is collected from the `delegation.dispatched` event and reported after a later
 * `store.commit()`, which resolves once every write made before it is committed. The caps are
 * checked at every dispatch, in the process itself: after the fact the file cannot tell how many
 * children ran at once.
 *
 * @packageDocumentation
 */
import type { Runtime, RuntimeEvent } from "../../src/index.js";
import type { SeededRandom } from "../../src/testing/seeded-random.js";
import type { DispatchedChild, Report } from "./protocol.js";
import { agentOfSession, DELEGATION, delegateSpecs, overCaps, sessionId } from "./workload.js";

interface KnownChild {
  readonly id: string;
  readonly childSessionId: string;
}

export class ChildDelegations {
  readonly #runtime: Runtime;
  readonly #commit: () => Promise<void>;
  readonly #random: SeededRandom;
  readonly #sessions: number;
  readonly #report: (line: Report) => void;
  /** Dispatched, not yet reported (waiting for a commit). */
  #unreported: DispatchedChild[] = [];
  #reporting: Promise<void> | undefined;
  /** Children dispatched in this process or running at its start: what the control verbs pick from. */
  readonly #known: KnownChild[] = [];

  constructor(options: {
    readonly runtime: Runtime;
    readonly commit: () => Promise<void>;
    readonly random: SeededRandom;
    readonly sessions: number;
    readonly report: (line: Report) => void;
  }) {
    this.#runtime = options.runtime;
    this.#commit = options.commit;
    this.#random = options.random;
    this.#sessions = options.sessions;
    this.#report = options.report;
  }

  /** For the runtime's event listener. */
  onEvent(event: RuntimeEvent): void {
    if (event.type !== "delegation.dispatched") return;
    this.#unreported.push({ id: event.delegationId, parent: event.parentSessionId });
    this.#known.push({ id: event.delegationId, childSessionId: event.childSessionId });
    const parent = event.parentSessionId;
    const underParent = this.#runtime.delegations.list({ parentSessionId: parent }).filter((d) => d.running);
    const over = overCaps(this.#runtime.delegations.running, parent, underParent.length, DELEGATION);
    if (over !== undefined) this.#violation(`at the dispatch of ${event.delegationId}: ${over}`);
  }

  /** After `start()` in `work` mode: learns the children recovery restored, settles held completions soon. */
  started(): void {
    for (const d of this.#runtime.delegations.list())
      if (d.running) this.#known.push({ id: d.id, childSessionId: d.childSessionId });
    for (const held of this.#runtime.delegations.pendingStale()) {
      // Later, so a kill can land between the hold and the host's answer.
      setTimeout(() => this.#settleHeld(held.id, this.#random.chance(0.7)), this.#random.int(0, 300));
    }
  }

  /** Reports the dispatches collected so far once a commit holds them; one report in flight at a time. */
  flush(): Promise<void> {
    if (this.#reporting !== undefined || this.#unreported.length === 0)
      return this.#reporting ?? Promise.resolve();
    const batch = this.#unreported;
    this.#unreported = [];
    this.#reporting = this.#commit().then(
      () => {
        this.#reporting = undefined;
        this.#report({ t: "dispatched", delegations: batch });
      },
      (error: unknown) => {
        this.#reporting = undefined;
        this.#violation(`a commit after dispatches failed: ${String(error)}`);
      },
    );
    return this.#reporting;
  }

  /** Until nothing is left to report (the drain's end). */
  async flushAll(): Promise<void> {
    while (this.#reporting !== undefined || this.#unreported.length > 0) await this.flush();
  }

  /** The drain: every held completion is delivered, or dropped when its parent cannot take it. */
  settleAllHeld(): void {
    for (const held of this.#runtime.delegations.pendingStale()) this.#settleHeld(held.id, true);
  }

  /** One workload step, `roll` in [0, 1): mostly a fan-out (none while `busy`), now and then a control verb. */
  act(roll: number, options: { readonly busy: boolean }): void {
    const delegations = this.#runtime.delegations;
    if (roll < 0.6) {
      if (!options.busy) this.#fanOut();
    } else if (roll < 0.8) {
      const child = this.#pick();
      if (child !== undefined) delegations.cancel(child.id, "cancelled by the crash test");
    } else if (roll < 0.98) {
      const parent = this.#random.chance(0.5)
        ? sessionId(this.#random.int(0, this.#sessions - 1))
        : this.#pick()?.childSessionId;
      if (parent !== undefined) delegations.stopChildren(parent, { recursive: this.#random.chance(0.5) });
    } else delegations.interruptAll("interrupted by the crash test");
  }

  #fanOut(): void {
    const child = this.#random.chance(0.2) ? this.#pick() : undefined;
    const id = child?.childSessionId ?? sessionId(this.#random.int(0, this.#sessions - 1));
    const specs = delegateSpecs(this.#random);
    try {
      // A child's session exists already (it runs its base agent); a top-level one may be new.
      const session =
        child === undefined
          ? this.#runtime.session(id, { agent: agentOfSession(id) })
          : this.#runtime.session(id);
      if (specs.length === 1 && this.#random.chance(0.7)) session.delegate(specs[0]!);
      else session.delegateAll(specs);
    } catch (error) {
      this.#violation(`delegate from ${id} threw: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  #settleHeld(id: string, deliver: boolean): void {
    const delegations = this.#runtime.delegations;
    try {
      // deliverStale refuses a completion whose parent can no longer take it: drop that one.
      if (!(deliver && delegations.deliverStale(id))) delegations.dropStale(id, "dropped by the crash test");
    } catch (error) {
      this.#violation(
        `settling held completion ${id} threw: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  #pick(): KnownChild | undefined {
    return this.#known.length === 0 ? undefined : this.#random.pick(this.#known);
  }

  #violation(message: string): void {
    this.#report({ t: "violation", message });
  }
}
