/**
 * A count bound's cut-off in the SQLite store, found a step at a time by `../cutoff-walk.ts` (which
 * says why a cut-off found over several steps, or kept for a while, is safe to delete through). A
 * step runs on the host's event loop, so it passes at most {@link CUTOFF_WALK_ROWS} index entries.
 *
 * @packageDocumentation
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { CutoffWalk } from "../cutoff-walk.js";

/** An ended input's place in end order. */
export interface Cutoff {
  readonly ms: number;
  readonly seq: number;
}

/** Index entries one step passes: about half a millisecond. */
export const CUTOFF_WALK_ROWS = 10_000;

const ORDER = "ORDER BY ended_at_ms DESC, seq DESC LIMIT 1 OFFSET ?";

/** The ended inputs a bound counts: all of them, or those with an idempotency key. */
const ENDED = {
  all: "ended_at_ms IS NOT NULL",
  keyed: "ended_at_ms IS NOT NULL AND idempotency_key IS NOT NULL",
} as const;

export class CountCutoff {
  readonly #walk: CutoffWalk<Cutoff>;
  /** Param: the offset. */
  readonly #fromNewest: StatementSync;
  /** Params: ms, seq (exclusive), the offset. */
  readonly #fromOlder: StatementSync;

  constructor(db: DatabaseSync, countMax: number, keyed: boolean) {
    const ended = keyed ? ENDED.keyed : ENDED.all;
    this.#walk = new CutoffWalk(countMax, CUTOFF_WALK_ROWS);
    this.#fromNewest = db.prepare(`SELECT ended_at_ms AS ms, seq FROM inputs WHERE ${ended} ${ORDER}`);
    this.#fromOlder = db.prepare(
      `SELECT ended_at_ms AS ms, seq FROM inputs WHERE ${ended} AND (ended_at_ms, seq) < (?, ?) ${ORDER}`,
    );
  }

  /**
   * Walks one step; returns the cut-off once found (`null`: no ended input lies beyond the bound),
   * `undefined` while the walk goes on. Once found, it stays until {@link reset}.
   */
  step(): Cutoff | null | undefined {
    const step = this.#walk.next();
    if (step === undefined) return this.#walk.found;
    const { after, offset } = step;
    const row = (
      after === undefined ? this.#fromNewest.get(offset) : this.#fromOlder.get(after.ms, after.seq, offset)
    ) as Cutoff | undefined;
    return this.#walk.reached(row === undefined ? undefined : { ms: row.ms, seq: row.seq });
  }

  /** Forgets the cut-off: the next {@link step} walks from the newest end again. */
  reset(): void {
    this.#walk.reset();
  }
}
