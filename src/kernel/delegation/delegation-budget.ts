/**
 * A per-tree budget: every model call and token spent by a delegation tree (a top-level session's
 * children, their children, ...) is charged to one account, so a runaway model that keeps delegating
 * cannot spend without bound. Pure: the delegation log keeps the account.
 *
 * A model call is admitted *before* it is made, so the call budget is never exceeded. Tokens are only
 * known after a call, so a tree can overrun its token budget by at most the one call that crossed it;
 * the next call is then refused.
 */

/** Limits for one tree; `undefined` means unbounded. */
export interface TreeBudget {
  readonly modelCallsMax?: number | undefined;
  readonly tokensMax?: number | undefined;
}

/** What a tree has spent so far. */
export interface TreeSpend {
  modelCalls: number;
  tokens: number;
}

export type AdmitDecision = { readonly kind: "ok" } | { readonly kind: "exceeded"; readonly message: string };

export function createTreeSpend(): TreeSpend {
  return { modelCalls: 0, tokens: 0 };
}

/**
 * Whether a tree that has spent `spend` may make one more model call under `budget`, counting
 * nothing. A store shared by processes applies the same rule in one atomic step (see
 * `DelegationLog.charge`), so it must stay this simple: calls under the call limit, tokens under the
 * token limit.
 */
export function budgetVerdict(spend: TreeSpend, budget: TreeBudget): AdmitDecision {
  if (budget.modelCallsMax !== undefined && spend.modelCalls >= budget.modelCallsMax) {
    return {
      kind: "exceeded",
      message: `the delegation tree has made ${spend.modelCalls} model calls; its budget is ${budget.modelCallsMax}`,
    };
  }
  if (budget.tokensMax !== undefined && spend.tokens >= budget.tokensMax) {
    return {
      kind: "exceeded",
      message: `the delegation tree has used ${spend.tokens} tokens; its budget is ${budget.tokensMax}`,
    };
  }
  return { kind: "ok" };
}

/**
 * Why the delegation log refused a model call, from the account it returned. An account only grows,
 * so it shows the limit reached; the general message covers a store that reads it back imprecisely.
 */
export function refusal(spend: TreeSpend, budget: TreeBudget): AdmitDecision {
  const verdict = budgetVerdict(spend, budget);
  return verdict.kind === "exceeded"
    ? verdict
    : { kind: "exceeded", message: "the delegation tree has spent its budget" };
}

/**
 * Charges a tree's account: the `tokens` its calls made so far reported, then, when `admit` gives
 * the budget, one model call if the budget still allows it. Returns whether that call was counted.
 */
export function chargeTree(spend: TreeSpend, tokens: number, admit?: TreeBudget): boolean {
  spend.tokens += tokens;
  if (admit === undefined || budgetVerdict(spend, admit).kind !== "ok") return false;
  spend.modelCalls += 1;
  return true;
}
