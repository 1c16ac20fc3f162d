/**
 * The memory store's delegation log: records in dispatch order, kept for the store's lifetime.
 *
 * @packageDocumentation
 */
import type { ChildCompletion } from "../../kernel/delegation/child-completion.js";
import {
  chargeTree,
  createTreeSpend,
  type TreeBudget,
  type TreeSpend,
} from "../../kernel/delegation/delegation-budget.js";
import type {
  DelegationLog,
  DelegationRecord,
  DeliveryPlan,
  TreeCharge,
} from "../../runtime/ports/delegation-log.js";

export class MemoryDelegationLog implements DelegationLog {
  readonly #records = new Map<string, DelegationRecord>();
  readonly #spend = new Map<string, TreeSpend>();

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

  list(parentSessionId?: string): readonly DelegationRecord[] {
    const all = [...this.#records.values()];
    return parentSessionId === undefined ? all : all.filter((r) => r.parentSessionId === parentSessionId);
  }

  prune(delegationIds: readonly string[]): void {
    for (const id of delegationIds) this.#records.delete(id);
  }

  spend(rootSessionId: string): TreeSpend | undefined {
    const spend = this.#spend.get(rootSessionId);
    return spend === undefined ? undefined : { ...spend };
  }

  /** One process holds the memory store: charging its own account is atomic. */
  charge(rootSessionId: string, tokens: number, admit?: TreeBudget): TreeCharge {
    const spend = this.#spend.get(rootSessionId) ?? createTreeSpend();
    this.#spend.set(rootSessionId, spend);
    const admitted = chargeTree(spend, tokens, admit);
    return { spend: { ...spend }, admitted };
  }
}

function deliveryFields(delivery: DeliveryPlan): Partial<DelegationRecord> {
  return { delivery: delivery.state, deliveryReason: delivery.reason, deliveryInputId: delivery.inputId };
}
