/**
 * Options of background children (`options.delegation`): caps, retention, budget and merging. Each
 * left out takes its default from `DEFAULTS.delegation`.
 *
 * @packageDocumentation
 */
import type { TreeBudget } from "../../kernel/delegation/delegation-budget.js";
import type { DelegationCaps } from "../../kernel/delegation/delegation-caps.js";
import { DEFAULTS } from "../../kernel/limits.js";
import { checkBoolean, checkOptions, checkPositiveInteger, type Subject } from "../../validate.js";

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

/** Delegation options with every default applied. */
export interface ResolvedDelegationOptions extends DelegationCaps {
  readonly keepPerParent: number;
  readonly staleAfterMs: number;
  readonly mergeCompletions: boolean;
  readonly budget: TreeBudget;
}

const INTEGERS = ["runningMax", "perParentRunningMax", "depthMax", "keepPerParent", "staleAfterMs"] as const;
const KEYS = Object.keys({
  runningMax: true,
  perParentRunningMax: true,
  depthMax: true,
  keepPerParent: true,
  staleAfterMs: true,
  mergeCompletions: true,
  budget: true,
} satisfies Record<keyof DelegationOptions, true>);
const BUDGET_KEYS = Object.keys({ modelCallsMax: true, tokensMax: true } satisfies Record<
  keyof TreeBudget,
  true
>);

/** Checks `options.delegation` and applies the defaults; throws `BootError` `INVALID_OPTIONS`. */
export function resolveDelegationOptions(subject: Subject, given: unknown): ResolvedDelegationOptions {
  if (given === undefined) return { ...DEFAULTS.delegation, budget: {} };
  const options = checkOptions(subject, "delegation", given as DelegationOptions, KEYS);
  for (const key of INTEGERS) {
    if (options[key] !== undefined) checkPositiveInteger(subject, `delegation.${key}`, options[key]);
  }
  if (options.mergeCompletions !== undefined)
    checkBoolean(subject, "delegation.mergeCompletions", options.mergeCompletions);
  const budget = checkOptions(subject, "delegation.budget", options.budget ?? {}, BUDGET_KEYS);
  for (const key of ["modelCallsMax", "tokensMax"] as const) {
    if (budget[key] !== undefined) checkPositiveInteger(subject, `delegation.budget.${key}`, budget[key]);
  }
  return {
    runningMax: options.runningMax ?? DEFAULTS.delegation.runningMax,
    perParentRunningMax: options.perParentRunningMax ?? DEFAULTS.delegation.perParentRunningMax,
    depthMax: options.depthMax ?? DEFAULTS.delegation.depthMax,
    keepPerParent: options.keepPerParent ?? DEFAULTS.delegation.keepPerParent,
    staleAfterMs: options.staleAfterMs ?? DEFAULTS.delegation.staleAfterMs,
    mergeCompletions: options.mergeCompletions ?? DEFAULTS.delegation.mergeCompletions,
    budget: { ...budget },
  };
}
