/**
 * The memory store's delegation log: records in dispatch order, kept for the store's lifetime.
 *
 * @packageDocumentation
 */
import type { ChildCompletion } from "../../kernel/delegation/child-completion.js";
import type { DelegationLog, DelegationRecord, DeliveryPlan } from "../../runtime/ports/delegation-log.js";

export class MemoryDelegationLog implements DelegationLog {
  readonly #records = new Map<string, DelegationRecord>();

  dispatch(record: DelegationRecord): void {
    if (!this.#records.has(record.id)) this.#records.set(record.id, record);
  }

  complete(completion: ChildCompletion, delivery: DeliveryPlan): boolean {
    const record = this.#records.get(completion.delegationId);
    if (record === undefined || record.completion !== undefined) return false;
    this.#records.set(record.id, { ...record, completion, ...deliveryFields(delivery) });
    return true;
  }

  setDelivery(delegationId: string, delivery: DeliveryPlan): void {
    const record = this.#records.get(delegationId);
    if (record?.completion === undefined) return;
    this.#records.set(delegationId, { ...record, ...deliveryFields(delivery) });
  }

  get(delegationId: string): DelegationRecord | undefined {
    return this.#records.get(delegationId);
  }

  list(): readonly DelegationRecord[] {
    return [...this.#records.values()];
  }

  prune(delegationIds: readonly string[]): void {
    for (const id of delegationIds) this.#records.delete(id);
  }
}

function deliveryFields(delivery: DeliveryPlan): Partial<DelegationRecord> {
  return { delivery: delivery.state, deliveryReason: delivery.reason, deliveryInputId: delivery.inputId };
}
