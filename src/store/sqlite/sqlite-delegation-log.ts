/**
 * The SQLite store's delegation log: one row per background child. Its writes join the store's
 * current group, so a child's completion commits with the turn end that finished the child and the
 * parent input that carries it.
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
import { type DelegationRow, recordOf } from "../delegation-rows.js";
import type { Statements } from "./statements.js";

/** How the log reaches the store's connection: writes join its group, reads see them. */
export interface LogAccess {
  write<T>(apply: (sql: Statements) => T): T;
  read<T>(query: (sql: Statements) => T): T;
}

export class SqliteDelegationLog implements DelegationLog {
  readonly #db: LogAccess;

  /** @internal The SQLite store creates it. */
  constructor(db: LogAccess) {
    this.#db = db;
  }

  dispatch(record: DelegationRecord): void {
    const { completion: _c, delivery: _d, deliveryReason: _r, deliveryInputId: _i, ...dispatched } = record;
    this.#db.write((sql) =>
      sql.insertDelegation.run(record.id, record.parentSessionId, JSON.stringify(dispatched)),
    );
  }

  complete(completion: ChildCompletion, delivery: DeliveryPlan): boolean {
    return this.#db.write(
      (sql) =>
        sql.completeDelegation.run({
          id: completion.delegationId,
          completion: JSON.stringify(completion),
          ...params(delivery),
        }).changes > 0,
    );
  }

  setDelivery(delegationId: string, delivery: DeliveryPlan): void {
    this.#db.write((sql) => sql.setDelivery.run({ id: delegationId, ...params(delivery) }));
  }

  get(delegationId: string): DelegationRecord | undefined {
    const row = this.#db.read((sql) => sql.delegationById.get(delegationId) as DelegationRow | undefined);
    return row === undefined ? undefined : recordOf(row);
  }

  list(parentSessionId?: string): readonly DelegationRecord[] {
    const rows = this.#db.read(
      (sql) =>
        (parentSessionId === undefined
          ? sql.allDelegations.all()
          : sql.delegationsOfParent.all(parentSessionId)) as unknown as DelegationRow[],
    );
    return rows.map(recordOf);
  }

  prune(delegationIds: readonly string[]): void {
    this.#db.write((sql) => {
      for (const id of delegationIds) sql.deleteDelegation.run(id);
    });
  }

  spend(rootSessionId: string): TreeSpend | undefined {
    const row = this.#db.read(
      (sql) => sql.spendOf.get(rootSessionId) as { model_calls: number; tokens: number } | undefined,
    );
    return row === undefined ? undefined : { modelCalls: row.model_calls, tokens: row.tokens };
  }

  /**
   * One process holds the file (the store's lock), and this thread reads and writes the account in
   * one go: read, charge and write back is atomic.
   */
  charge(rootSessionId: string, tokens: number, admit?: TreeBudget): TreeCharge {
    const spend = this.spend(rootSessionId) ?? createTreeSpend();
    const admitted = chargeTree(spend, tokens, admit);
    this.#db.write((sql) => sql.setSpend.run(rootSessionId, spend.modelCalls, spend.tokens));
    return { spend, admitted };
  }
}

function params(delivery: DeliveryPlan): { delivery: string; reason: string | null; input: string | null } {
  return { delivery: delivery.state, reason: delivery.reason ?? null, input: delivery.inputId ?? null };
}
