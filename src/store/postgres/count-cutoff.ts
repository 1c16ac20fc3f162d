/**
 * A count bound's cut-off in the PostgreSQL store, found a step at a time by `../cutoff-walk.ts`
 * (which says why a cut-off found over several steps, kept for a while, or walked while other
 * processes' sweeps delete, is safe to delete through). Here a step is one statement on the sweep's
 * connection, off the event loop; it is bounded all the same, so that each sweep stays short.
 *
 * @packageDocumentation
 */
import { CutoffWalk } from "../cutoff-walk.js";
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
  readonly #walk: CutoffWalk<Cutoff>;
  /** Param: the offset. */
  readonly #fromNewest: string;
  /** Params: ms, ord (exclusive), the offset. */
  readonly #fromOlder: string;

  constructor(sql: Statements, countMax: number, keyed: boolean, walkRows: number) {
    this.#walk = new CutoffWalk(countMax, walkRows);
    this.#fromNewest = keyed ? sql.cutoffFromNewestKeyed : sql.cutoffFromNewest;
    this.#fromOlder = keyed ? sql.cutoffFromOlderKeyed : sql.cutoffFromOlder;
  }

  /**
   * Walks one step; resolves with the cut-off once found (`null`: no ended input lies beyond the
   * bound), `undefined` while the walk goes on. Once found, it stays until {@link reset}.
   */
  async step(query: Query): Promise<Cutoff | null | undefined> {
    const step = this.#walk.next();
    if (step === undefined) return this.#walk.found;
    const { after, offset } = step;
    const [row] =
      after === undefined
        ? await query(this.#fromNewest, [offset])
        : await query(this.#fromOlder, [after.ms, after.ord, offset]);
    return this.#walk.reached(row === undefined ? undefined : { ms: String(row.ms), ord: String(row.ord) });
  }

  /** Forgets the cut-off: the next {@link step} walks from the newest end again. */
  reset(): void {
    this.#walk.reset();
  }
}
