/**
 * The PostgreSQL store's delegation log: one row per background child. Its writes join the store's
 * current transaction, so a child's completion commits with the turn end that finished the child
 * and the parent input that carries it; reads see them.
 *
 * A fan-out is counted against the caps under an advisory lock that stays held until its group
 * commits: the reservation commits with the children's sessions and first inputs, or not at all (a
 * reservation committed alone and then cut off by a kill would be a child that never runs and never
 * reports). The group open before it commits first, so a process waiting for the lock holds no other
 * lock, and no wait on the lock closes a cycle.
 *
 * @packageDocumentation
 */
import type { ChildCompletion } from "../../kernel/delegation/child-completion.js";
import {
  createTreeSpend,
  type TreeBudget,
  type TreeSpend,
} from "../../kernel/delegation/delegation-budget.js";
import type {
  DelegationLog,
  DelegationRecord,
  DeliveryPlan,
  FleetReserve,
  TreeCharge,
} from "../../runtime/ports/delegation-log.js";
import { type DelegationRow, recordOf } from "../delegation-rows.js";
import type { Statements } from "./statements.js";
import type { Rows } from "./sync-connection.js";

/** How the log reaches the store's connection. */
export interface LogAccess {
  readonly sql: Statements;
  write(sql: string, params: readonly unknown[]): void;
  /** A statement whose rows or count the caller needs now; `write` when it changes rows. */
  readSync(sql: string, params: readonly unknown[], write?: boolean): { rows: Rows; count: number };
  /**
   * A statement committed at once on the side, its rows returned now (see `SyncConnection.asideSync`);
   * not replayed with the group, as a charge run twice would count twice.
   */
  asideSync(sql: string, params: readonly unknown[]): { rows: Rows; count: number };
  /** Commits the current transaction, now (see `SyncConnection.aloneSync`). */
  commitSync(): void;
  /** The advisory lock fan-outs take. */
  readonly lockName: string;
}

export class PostgresDelegationLog implements DelegationLog {
  readonly #db: LogAccess;

  /** @internal The PostgreSQL store creates it. */
  constructor(db: LogAccess) {
    this.#db = db;
  }

  dispatch(record: DelegationRecord): void {
    this.#db.write(this.#db.sql.insertDelegation, [
      record.id,
      record.parentSessionId,
      dispatchedJson(record),
    ]);
  }

  /** Counted in the database under an advisory lock, so a cap of N is N across every process. */
  reserve(
    records: readonly DelegationRecord[],
    caps: { readonly runningMax: number; readonly perParentRunningMax: number },
  ): FleetReserve {
    const { sql } = this.#db;
    const parent = records[0]!.parentSessionId;
    this.#db.commitSync();
    this.#db.readSync(sql.lockDelegations, [this.#db.lockName], true);
    const { count } = this.#db.readSync(
      sql.reserveDelegations,
      [
        records.map((record) => record.id),
        parent,
        records.map(dispatchedJson),
        caps.runningMax,
        caps.perParentRunningMax,
      ],
      true,
    );
    if (count === records.length) return { kind: "reserved" };
    const row = this.#db.readSync(sql.runningDelegations, [parent]).rows[0] as {
      total: number;
      mine: number;
    };
    const asked = records.length;
    if (row.mine + asked > caps.perParentRunningMax)
      return {
        kind: "rejected",
        code: "DELEGATION_CAP_PARENT",
        reason:
          `this session already has ${row.mine} background children running and may have at most ${caps.perParentRunningMax} ` +
          `(asked for ${asked} more). Wait for a running child's result to arrive, or do the work yourself.`,
      };
    return {
      kind: "rejected",
      code: "DELEGATION_CAP_GLOBAL",
      reason:
        `the processes sharing this store are running ${row.total} background children and may run at most ${caps.runningMax} ` +
        `(asked for ${asked} more). Wait for a result to arrive, or do the work yourself.`,
    };
  }

  complete(completion: ChildCompletion, delivery: DeliveryPlan): boolean {
    const { count } = this.#db.readSync(
      this.#db.sql.completeDelegation,
      [completion.delegationId, JSON.stringify(completion), ...params(delivery)],
      true,
    );
    return count > 0;
  }

  setDelivery(delegationId: string, delivery: DeliveryPlan): void {
    this.#db.write(this.#db.sql.setDelivery, [delegationId, ...params(delivery)]);
  }

  get(delegationId: string): DelegationRecord | undefined {
    const row = this.#db.readSync(this.#db.sql.delegationById, [delegationId]).rows[0];
    return row === undefined ? undefined : recordOf(row as unknown as DelegationRow);
  }

  list(parentSessionId?: string): readonly DelegationRecord[] {
    const { sql } = this.#db;
    const { rows } =
      parentSessionId === undefined
        ? this.#db.readSync(sql.allDelegations, [])
        : this.#db.readSync(sql.delegationsOfParent, [parentSessionId]);
    return rows.map((row) => recordOf(row as unknown as DelegationRow));
  }

  prune(delegationIds: readonly string[]): void {
    if (delegationIds.length > 0) this.#db.write(this.#db.sql.deleteDelegations, [[...delegationIds]]);
  }

  spend(rootSessionId: string): TreeSpend | undefined {
    const row = this.#db.readSync(this.#db.sql.spendOf, [rootSessionId]).rows[0];
    return row === undefined ? undefined : spendOf(row);
  }

  /**
   * Each step is one statement committed on the side: the account's row is locked only while it
   * runs (never for the rest of a group, where another process's charge would wait on it), and the
   * admission's condition and count are one update, so a budget of N calls is N across processes.
   */
  charge(rootSessionId: string, tokens: number, admit?: TreeBudget): TreeCharge {
    const { sql } = this.#db;
    let row = tokens > 0 ? this.#db.asideSync(sql.chargeTokens, [rootSessionId, tokens]).rows[0] : undefined;
    if (admit === undefined)
      return { spend: row === undefined ? this.#spendNow(rootSessionId) : spendOf(row), admitted: false };
    row = this.#db.asideSync(sql.admitCall, [
      rootSessionId,
      admit.modelCallsMax ?? null,
      admit.tokensMax ?? null,
    ]).rows[0];
    return row === undefined
      ? { spend: this.#spendNow(rootSessionId), admitted: false }
      : { spend: spendOf(row), admitted: true };
  }

  /** The account as it stands now, for a charge whose statement returned no row. */
  #spendNow(rootSessionId: string): TreeSpend {
    return this.spend(rootSessionId) ?? createTreeSpend();
  }
}

function spendOf(row: Record<string, unknown>): TreeSpend {
  return { modelCalls: row.model_calls as number, tokens: row.tokens as number };
}

/** What was dispatched, as stored: the record without what its end adds. */
function dispatchedJson(record: DelegationRecord): string {
  const { completion: _c, delivery: _d, deliveryReason: _r, deliveryInputId: _i, ...dispatched } = record;
  return JSON.stringify(dispatched);
}

function params(delivery: DeliveryPlan): [string, string | null, string | null] {
  return [delivery.state, delivery.reason ?? null, delivery.inputId ?? null];
}
