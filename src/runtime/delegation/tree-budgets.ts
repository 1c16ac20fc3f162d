/**
 * The budgets of delegation trees as the runtime charges them: each child's model call is admitted
 * by the delegation log, which keeps every tree's account and charges it by deltas in one atomic
 * step (so processes sharing a store add up), and what of a child's running turn is charged already.
 * The kernel's `delegation-budget.ts` decides.
 *
 * @packageDocumentation
 */
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
    const charged = this.#log.charge(child.rootSessionId, uncharged(child, turnUsage), this.#budget);
    return charged.admitted ? OK : refusal(charged.spend, this.#budget);
  }

  /** The child's turn ended with `usage`: the rest of it is charged. */
  turnEnded(child: ChargedChild, usage: Usage): void {
    const tokens = uncharged(child, usage);
    child.turnTokensCharged = 0;
    if (tokens > 0) this.#log.charge(child.rootSessionId, tokens);
  }
}

/** The tokens of the child's running turn not charged yet, counted as charged from now. */
function uncharged(child: ChargedChild, turnUsage: Usage): number {
  const tokens = turnUsage.inputTokens + turnUsage.outputTokens;
  if (tokens <= child.turnTokensCharged) return 0;
  const delta = tokens - child.turnTokensCharged;
  child.turnTokensCharged = tokens;
  return delta;
}
