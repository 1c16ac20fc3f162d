/**
 * A per-tree budget: every model call and token spent by a delegation tree (a top-level session's
 * children, their children, ...) is charged to one account, so a runaway model that keeps delegating
 * cannot spend without bound. Pure: the caller keeps the account.
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

/** Admits one model call and counts it, or refuses it (counting nothing) when the budget is spent. */
export function admitModelCall(spend: TreeSpend, budget: TreeBudget): AdmitDecision {
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
  spend.modelCalls += 1;
  return { kind: "ok" };
}

/** Records the tokens a finished model call reported. */
export function chargeTokens(spend: TreeSpend, tokens: number): void {
  spend.tokens += tokens;
}
