/**
 * The budgets of delegation trees as the runtime keeps them: each tree's account (read from the
 * delegation log the first time after a start, written back after each change), and how much of a
 * child's running turn is charged to it already. The kernel's `delegation-budget.ts` decides.
 *
 * @packageDocumentation
 */
import {
  type AdmitDecision,
  admitModelCall,
  chargeTokens,
  createTreeSpend,
  type TreeBudget,
  type TreeSpend,
} from "../../kernel/delegation/delegation-budget.js";
import type { Usage } from "../../kernel/outcome.js";
import type { DelegationLog } from "../ports/delegation-log.js";

/** What a child's account needs of the child: its tree, and its running turn's charged tokens. */
export interface ChargedChild {
  readonly rootSessionId: string;
  /** Tokens of the running turn already charged to the tree. */
  turnTokensCharged: number;
}

export class TreeBudgets {
  readonly #log: DelegationLog;
  readonly #budget: TreeBudget;
  /** Each tree's account, by its top-level session's id. */
  readonly #spend = new Map<string, TreeSpend>();

  constructor(log: DelegationLog, budget: TreeBudget) {
    this.#log = log;
    this.#budget = budget;
  }

  /**
   * Before a model call of the child: charges what its running turn's earlier steps used (so the
   * token budget is overrun by at most the calls in flight, not by whole turns), then admits the
   * call or refuses it.
   */
  admit(child: ChargedChild, turnUsage: Usage): AdmitDecision {
    const spend = this.#account(child.rootSessionId);
    charge(child, spend, turnUsage);
    const decision = admitModelCall(spend, this.#budget);
    if (decision.kind === "ok") this.#log.setSpend(child.rootSessionId, spend);
    return decision;
  }

  /** The child's turn ended with `usage`: the rest of it is charged. */
  turnEnded(child: ChargedChild, usage: Usage): void {
    const spend = this.#account(child.rootSessionId);
    charge(child, spend, usage);
    child.turnTokensCharged = 0;
    this.#log.setSpend(child.rootSessionId, spend);
  }

  /** Forgets the accounts; the next start reads them from the log again. */
  clear(): void {
    this.#spend.clear();
  }

  #account(rootSessionId: string): TreeSpend {
    let spend = this.#spend.get(rootSessionId);
    if (spend === undefined) {
      spend = this.#log.spend(rootSessionId) ?? createTreeSpend();
      this.#spend.set(rootSessionId, spend);
    }
    return spend;
  }
}

/** Charges the tokens of the child's running turn not charged yet. */
function charge(child: ChargedChild, spend: TreeSpend, turnUsage: Usage): void {
  const tokens = turnUsage.inputTokens + turnUsage.outputTokens;
  if (tokens <= child.turnTokensCharged) return;
  chargeTokens(spend, tokens - child.turnTokensCharged);
  child.turnTokensCharged = tokens;
}
