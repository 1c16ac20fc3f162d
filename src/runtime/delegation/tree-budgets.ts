/**
 * The budgets of delegation trees as the runtime charges them: each child's model call is admitted
 * by the delegation log, which keeps every tree's account and charges it by deltas in one atomic
 * step (so processes sharing a store add up), and what of a child's running turn is charged already.
 * The kernel's `delegation-budget.ts` decides.
 *
 * @packageDocumentation
 */
import { isOffstageError } from "../../errors.js";
import { type AdmitDecision, refusal, type TreeBudget } from "../../kernel/delegation/delegation-budget.js";
import type { Usage } from "../../kernel/outcome.js";
import type { DelegationLog } from "../ports/delegation-log.js";

/** What a child's account needs of the child: its tree, and its running turn's charged tokens. */
export interface ChargedChild {
  readonly rootSessionId: string;
  /** Tokens of the running turn already charged to the tree. */
  turnTokensCharged: number;
}

const OK: AdmitDecision = { kind: "ok" };

export class TreeBudgets {
  readonly #log: DelegationLog;
  readonly #budget: TreeBudget;
  /**
   * Tokens of ended turns by tree whose charge the store could not take (`STORE_UNAVAILABLE`):
   * charged with the tree's next admission here.
   */
  readonly #owed = new Map<string, number>();

  constructor(log: DelegationLog, budget: TreeBudget) {
    this.#log = log;
    this.#budget = budget;
  }

  /**
   * Before a model call of the child: charges what its running turn's earlier steps used (so the
   * token budget is overrun by at most the calls in flight, not by whole turns), then admits the
   * call or refuses it. A charge that throws counts nothing, so asking again charges the same.
   */
  admit(child: ChargedChild, turnUsage: Usage): AdmitDecision {
    const root = child.rootSessionId;
    const tokens = uncharged(child, turnUsage);
    const charged = this.#log.charge(root, tokens + (this.#owed.get(root) ?? 0), this.#budget);
    this.#owed.delete(root);
    child.turnTokensCharged += tokens;
    return charged.admitted ? OK : refusal(charged.spend, this.#budget);
  }

  /**
   * The child's turn ended with `usage`: the rest of it is charged, now or, when the store is
   * unavailable, with the tree's next admission here (the turn's end must not fail for it).
   */
  turnEnded(child: ChargedChild, usage: Usage): void {
    const root = child.rootSessionId;
    const tokens = uncharged(child, usage);
    child.turnTokensCharged = 0;
    if (tokens === 0) return;
    try {
      this.#log.charge(root, tokens);
    } catch (error) {
      if (!isOffstageError(error, "STORE_UNAVAILABLE")) throw error;
      this.#owed.set(root, (this.#owed.get(root) ?? 0) + tokens);
    }
  }
}

/** The tokens of the child's running turn not charged yet. */
function uncharged(child: ChargedChild, turnUsage: Usage): number {
  return Math.max(0, turnUsage.inputTokens + turnUsage.outputTokens - child.turnTokensCharged);
}
