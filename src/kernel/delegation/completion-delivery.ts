/**
 * Delivery of completions to parents, and retention of finished delegation records. Pure decisions;
 * the store records them.
 *
 * A completion is `pending` until it becomes part of a parent turn (`delivered`) or is `dropped` with
 * a reason. A completion whose parent no longer exists is dropped with a record instead of being
 * replayed forever. One that waited longer than `staleAfterMs` (say, across a long downtime) is
 * *held* for the host to confirm, never injected as a surprise turn.
 */

export type DeliveryState = "pending" | "held" | "delivered" | "dropped";

export type DeliveryDecision =
  | { readonly kind: "deliver" }
  | { readonly kind: "hold"; readonly ageMs: number }
  | { readonly kind: "drop"; readonly reason: string };

export function decideDelivery(
  parentExists: boolean,
  completedAtMs: number,
  nowMs: number,
  staleAfterMs: number,
): DeliveryDecision {
  if (!parentExists) return { kind: "drop", reason: "parent_missing" };
  const ageMs = nowMs - completedAtMs;
  if (ageMs > staleAfterMs) return { kind: "hold", ageMs };
  return { kind: "deliver" };
}

/** A finished delegation record, as far as retention cares. */
export interface RetainedRecord {
  readonly id: string;
  readonly parentSessionId: string;
  readonly completedAtMs: number;
  readonly delivery: DeliveryState;
}

/**
 * The records to prune: for each parent, all but its `keepPerParent` most recently completed —
 * never one still waiting for delivery (`pending` or `held`), whose loss would lose a result.
 */
export function recordsToPrune(records: readonly RetainedRecord[], keepPerParent: number): string[] {
  const byParent = new Map<string, RetainedRecord[]>();
  for (const record of records) {
    const list = byParent.get(record.parentSessionId);
    if (list === undefined) byParent.set(record.parentSessionId, [record]);
    else list.push(record);
  }
  const prune: string[] = [];
  for (const list of byParent.values()) {
    list.sort((a, b) => b.completedAtMs - a.completedAtMs || (a.id < b.id ? 1 : -1));
    for (const record of list.slice(keepPerParent)) {
      if (record.delivery === "delivered" || record.delivery === "dropped") prune.push(record.id);
    }
  }
  return prune;
}
