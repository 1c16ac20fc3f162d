/**
 * The cut-off of a count bound on ended inputs in the PostgreSQL store — the newest ended input
 * beyond the newest `countMax` — found a step at a time, as the SQLite store finds its own
 * (`../sqlite/count-cutoff.ts`, which says why a cut-off found over several steps, or kept for a
 * while, is safe to delete through). Here a step is one statement on the sweep's connection, off the
 * event loop; it is bounded all the same, so that each sweep stays short.
 *
 * Several processes sweep the one database in turn, each with a cut-off of its own, and another
 * process's deletes may remove entries this walk has passed. That keeps it safe: such an entry was
 * deleted through a cut-off at least as old as it, so the walk, which goes on from there towards
 * older entries, ends at or before that cut-off — itself safe, since entries newer than a cut-off
 * are only ever deleted through a newer one.
 *
 * @packageDocumentation
 */
import type { Statements } from "./statements.js";
import type { Rows } from "./sync-connection.js";

/** A statement of the sweep, on its connection. */
export type Query = (sql: string, params: readonly unknown[]) => Promise<Rows>;

/** An ended input's place in end order: its end time and `ord`, as the server gives them (BIGINT text). */
export interface Cutoff {
  readonly ms: string;
  readonly ord: string;
}

export class CountCutoff {
  readonly #countMax: number;
  readonly #walkRows: number;
  /** Params: the entries to pass. */
  readonly #fromNewest: string;
  /** Params: ms, ord (exclusive), the entries to pass less one. */
  readonly #fromOlder: string;
  /** Where the walk stopped, and how many entries it has still to pass. */
  #from: Cutoff | undefined;
  #left: number;
  #found: Cutoff | null | undefined;

  constructor(sql: Statements, countMax: number, keyed: boolean, walkRows: number) {
    this.#countMax = countMax;
    this.#walkRows = walkRows;
    this.#left = countMax;
    this.#fromNewest = keyed ? sql.cutoffFromNewestKeyed : sql.cutoffFromNewest;
    this.#fromOlder = keyed ? sql.cutoffFromOlderKeyed : sql.cutoffFromOlder;
  }

  /**
   * Walks one step; resolves with the cut-off once found (`null`: no ended input lies beyond the
   * bound), `undefined` while the walk goes on. Once found, it stays until {@link reset}.
   */
  async step(query: Query): Promise<Cutoff | null | undefined> {
    if (this.#found !== undefined) return this.#found;
    const passed = Math.min(this.#left, this.#walkRows);
    const from = this.#from;
    const rows =
      from === undefined
        ? await query(this.#fromNewest, [passed])
        : await query(this.#fromOlder, [from.ms, from.ord, passed - 1]);
    const row = rows[0];
    this.#left -= passed;
    if (row === undefined) this.#found = null;
    else if (this.#left === 0) this.#found = { ms: String(row.ms), ord: String(row.ord) };
    else this.#from = { ms: String(row.ms), ord: String(row.ord) };
    return this.#found;
  }

  /** Forgets the cut-off: the next {@link step} walks from the newest end again. */
  reset(): void {
    this.#from = undefined;
    this.#left = this.#countMax;
    this.#found = undefined;
  }
}
