/**
 * One statement for many rows: an INSERT of them, or an UPDATE joined to them as a `VALUES` list.
 * Running a statement costs `node:sqlite` and SQLite about as much as inserting a small row (the
 * call, binding, starting and finishing the statement's program), so the rows a group holds back go
 * in statements of up to {@link ROWS_MAX} rows. A statement is prepared per row count the first time
 * that count is needed, and only powers of two are used: any number of rows takes the full
 * statements, then at most one of each smaller size.
 *
 * @packageDocumentation
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";

/** Beyond about 16 rows a statement, the saving per row no longer grows (measured under cachegrind). */
const ROWS_MAX = 32;

/** What SQLite reports for a statement refused by a constraint (`SQLITE_CONSTRAINT`). */
export function isConstraintError(error: unknown): boolean {
  return ((error as { errcode?: number }).errcode ?? 0) % 256 === 19;
}

/** A multi-row statement: its text up to `VALUES`, one row's placeholders, and what follows the rows. */
export interface MultiRowSpec {
  readonly head: string;
  /** `(?, ?, ...)`. */
  readonly row: string;
  readonly tail?: string;
}

export class MultiRowStatement {
  readonly #db: DatabaseSync;
  readonly #spec: MultiRowSpec;
  /** Values per row. */
  readonly columns: number;
  readonly #statements = new Map<number, StatementSync>();

  constructor(db: DatabaseSync, spec: MultiRowSpec) {
    this.#db = db;
    this.#spec = spec;
    this.columns = spec.row.split("?").length - 1;
  }

  /**
   * Runs the statement for the rows `values` holds, in order: `columns` values per row, as the row's
   * placeholders take them, and returns how many rows it inserted or changed. A statement refused by a
   * constraint changes nothing (SQLite undoes it): `refused(from, to)` is then told its rows, by
   * index, to insert them another way; without it, the error is thrown.
   */
  run(values: readonly SQLInputValue[], refused?: (from: number, to: number) => void): number {
    const rows = values.length / this.columns;
    let changed = 0;
    for (let from = 0; from < rows; ) {
      let count = ROWS_MAX;
      while (count > rows - from) count >>= 1;
      try {
        const args = values.slice(from * this.columns, (from + count) * this.columns);
        changed += Number(this.#statement(count).run(...args).changes);
      } catch (error) {
        if (refused === undefined || !isConstraintError(error)) throw error;
        refused(from, from + count);
      }
      from += count;
    }
    return changed;
  }

  #statement(rows: number): StatementSync {
    let statement = this.#statements.get(rows);
    if (statement === undefined) {
      const { head, row, tail = "" } = this.#spec;
      statement = this.#db.prepare(`${head} ${new Array<string>(rows).fill(row).join(", ")}${tail}`);
      this.#statements.set(rows, statement);
    }
    return statement;
  }
}
