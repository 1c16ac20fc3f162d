/**
 * A `delegations` row as the SQL stores keep it (the dispatched record and, once the child ended,
 * its completion as JSON, beside the delivery columns), and the record it reads back as.
 *
 * @packageDocumentation
 */
import type { ChildCompletion } from "../kernel/delegation/child-completion.js";
import type { DeliveryState } from "../kernel/delegation/completion-delivery.js";
import type { DelegationRecord } from "../runtime/ports/delegation-log.js";

export interface DelegationRow {
  readonly record: string;
  readonly completion: string | null;
  readonly delivery: string | null;
  readonly delivery_reason: string | null;
  readonly delivery_input_id: string | null;
}

/** The record a row holds, with its completion and delivery once the child ended. */
export function recordOf(row: DelegationRow): DelegationRecord {
  const record = JSON.parse(row.record) as DelegationRecord;
  if (row.completion === null) return record;
  return {
    ...record,
    completion: JSON.parse(row.completion) as ChildCompletion,
    delivery: (row.delivery ?? undefined) as DeliveryState | undefined,
    deliveryReason: row.delivery_reason ?? undefined,
    deliveryInputId: row.delivery_input_id ?? undefined,
  };
}
