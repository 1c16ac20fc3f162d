/**
 * Delegation capacity: how many children may run at once, in total and under one parent, and how
 * deep a tree of delegations may grow. Pure: the caller keeps the ledger and calls `reserve` and
 * `release` in its serialised state changes.
 *
 * A fan-out of N children is one decision: either all N get a slot or none does, so a parent never
 * runs half of a plan it made as a whole. Over a cap the dispatch is *rejected* — never queued, never
 * run synchronously instead — and the reason tells the model what it can do next.
 */

/** The caps; each must be a positive integer. */
export interface DelegationCaps {
  /** Children running at once across the runtime. */
  readonly runningMax: number;
  /** Children running at once under one parent session. */
  readonly perParentRunningMax: number;
  /** How deep a tree may grow: a top-level session is depth 0, its children depth 1. */
  readonly depthMax: number;
}

/** Slots in use. Mutated only by {@link reserve}, {@link release} and {@link restoreSlot}. */
export interface DelegationLedger {
  running: number;
  readonly byParent: Map<string, number>;
}

/** Stable codes of a rejected dispatch. */
export type DelegationRejectCode = "DELEGATION_CAP_GLOBAL" | "DELEGATION_CAP_PARENT" | "DELEGATION_DEPTH";

export type ReserveDecision =
  | { readonly kind: "reserved" }
  | { readonly kind: "rejected"; readonly code: DelegationRejectCode; readonly reason: string };

export function createDelegationLedger(): DelegationLedger {
  return { running: 0, byParent: new Map() };
}

/**
 * Reserves `count` slots for children of `parentId`, which sits at `parentDepth`, or rejects the
 * whole fan-out. A rejection leaves the ledger exactly as it was.
 */
export function reserve(
  ledger: DelegationLedger,
  caps: DelegationCaps,
  parentId: string,
  parentDepth: number,
  count: number,
): ReserveDecision {
  if (parentDepth + 1 > caps.depthMax) {
    return rejected(
      "DELEGATION_DEPTH",
      `delegation depth limit reached (a child here would be depth ${parentDepth + 1}; the limit is ${caps.depthMax}). ` +
        "Do this work yourself instead of delegating it.",
    );
  }
  const mine = ledger.byParent.get(parentId) ?? 0;
  if (mine + count > caps.perParentRunningMax) {
    return rejected(
      "DELEGATION_CAP_PARENT",
      `this session already has ${mine} background children running and may have at most ${caps.perParentRunningMax} ` +
        `(asked for ${count} more). Wait for a running child's result to arrive, or do the work yourself.`,
    );
  }
  if (ledger.running + count > caps.runningMax) {
    return rejected(
      "DELEGATION_CAP_GLOBAL",
      `the runtime is running ${ledger.running} background children and may run at most ${caps.runningMax} ` +
        `(asked for ${count} more). Wait for a result to arrive, or do the work yourself.`,
    );
  }
  ledger.running += count;
  ledger.byParent.set(parentId, mine + count);
  return { kind: "reserved" };
}

/** Frees one slot of `parentId`'s children. Releasing a slot that is not held is a no-op. */
export function release(ledger: DelegationLedger, parentId: string): void {
  const mine = ledger.byParent.get(parentId) ?? 0;
  if (mine === 0) return;
  if (mine === 1) ledger.byParent.delete(parentId);
  else ledger.byParent.set(parentId, mine - 1);
  ledger.running -= 1;
}

/**
 * Counts the slot of a child that was running when the runtime last stopped or crashed. Caps are not
 * checked: the child was admitted when it was dispatched, and refusing it now would lose its work.
 */
export function restoreSlot(ledger: DelegationLedger, parentId: string): void {
  ledger.byParent.set(parentId, (ledger.byParent.get(parentId) ?? 0) + 1);
  ledger.running += 1;
}

/** How many children of `parentId` hold a slot. */
export function runningUnder(ledger: DelegationLedger, parentId: string): number {
  return ledger.byParent.get(parentId) ?? 0;
}

/** Frees every slot: the runtime stopped, and the next start restores the children still running. */
export function clearLedger(ledger: DelegationLedger): void {
  ledger.byParent.clear();
  ledger.running = 0;
}

function rejected(code: DelegationRejectCode, reason: string): ReserveDecision {
  return { kind: "rejected", code, reason };
}
