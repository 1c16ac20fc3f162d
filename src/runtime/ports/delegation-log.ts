/**
 * The delegation log: the store's record of background children — who dispatched them, what they
 * were asked, how they ended, and whether their completion reached the parent. A store that supports
 * delegation exposes one as `store.delegations`.
 *
 * Writes join the store's current group like every other write, so a child's completion, the turn
 * end that finished the child and the input that carries the completion to its parent commit in one
 * transaction: after a crash either all of them happened or none did.
 *
 * @packageDocumentation
 */
import type { ChildCompletion, ChildSpec } from "../../kernel/delegation/child-completion.js";
import type { DeliveryState } from "../../kernel/delegation/completion-delivery.js";
import type { TreeBudget, TreeSpend } from "../../kernel/delegation/delegation-budget.js";

/** What the parent asked for, as stored: the spec plus what the child's agent is built from. */
export interface StoredChildSpec extends ChildSpec {
  /** The agent the child's agent is derived from. */
  readonly agent: string;
  /** Model calls per turn for the child, when the spec limited them. */
  readonly modelCallsMax?: number | undefined;
  /** Time the child may run before it ends `timed_out`, when the spec limited it. */
  readonly timeoutMs?: number | undefined;
}

export interface DelegationRecord {
  readonly id: string;
  readonly parentSessionId: string;
  readonly childSessionId: string;
  /** The top-level session of the tree; budgets are kept per tree. */
  readonly rootSessionId: string;
  /** 1 for a top-level session's child, 2 for its grandchild, ... */
  readonly depth: number;
  readonly spec: StoredChildSpec;
  readonly dispatchedAtMs: number;
  /** Set once, when the child ends. */
  readonly completion?: ChildCompletion | undefined;
  /** Where the completion stands; `undefined` while the child runs. */
  readonly delivery?: DeliveryState | undefined;
  /** Why it was dropped or held. */
  readonly deliveryReason?: string | undefined;
  /** The parent input that carries the completion, once there is one. */
  readonly deliveryInputId?: string | undefined;
}

/** Where a completion goes when it is written. */
export interface DeliveryPlan {
  readonly state: DeliveryState;
  readonly reason?: string | undefined;
  readonly inputId?: string | undefined;
}

/** A store shared by processes decides the running caps across all of them. */
export type FleetReserve =
  | { readonly kind: "reserved" }
  | {
      readonly kind: "rejected";
      readonly code: "DELEGATION_CAP_GLOBAL" | "DELEGATION_CAP_PARENT";
      readonly reason: string;
    };

/** A tree's account after a charge, and whether the model call the charge asked for was counted. */
export interface TreeCharge {
  readonly spend: TreeSpend;
  readonly admitted: boolean;
}

export interface DelegationLog {
  /** Records a dispatched child. */
  dispatch(record: DelegationRecord): void;
  /**
   * Records a fan-out of dispatched children of one parent — all, or none when running children
   * across every process sharing the store (in total, or under the parent) would pass the caps.
   * Only a store shared by processes has it: the runtime's own ledger counts this process's children.
   */
  reserve?(
    records: readonly DelegationRecord[],
    caps: { readonly runningMax: number; readonly perParentRunningMax: number },
  ): FleetReserve;
  /** Records how the child ended; ignored (returns false) when it already has a completion. */
  complete(completion: ChildCompletion, delivery: DeliveryPlan): boolean;
  /** Moves a completion along: delivered, dropped, held, or pending again with a new input. */
  setDelivery(delegationId: string, delivery: DeliveryPlan): void;
  get(delegationId: string): DelegationRecord | undefined;
  /** Every retained record (of one parent, when given), in dispatch order. */
  list(parentSessionId?: string): readonly DelegationRecord[];
  /** Forgets finished records (retention). */
  prune(delegationIds: readonly string[]): void;
  /** What a delegation tree (named by its top-level session) has spent; `undefined` before anything. */
  spend(rootSessionId: string): TreeSpend | undefined;
  /**
   * Charges a tree (named by its top-level session), in one atomic step in the store: adds `tokens`
   * its calls reported, then, when `admit` gives the budget, counts one model call if the account
   * is still within it by the kernel's `budgetVerdict` (`admitted` says whether it did). Charges are
   * deltas, never totals, so processes sharing the store add up instead of overwriting each other,
   * and a budget of N calls is N across all of them. Written as each call is admitted, so a restart —
   * which forgets running children's counts and may have pruned finished records — never forgets one.
   */
  charge(rootSessionId: string, tokens: number, admit?: TreeBudget): TreeCharge;
}
