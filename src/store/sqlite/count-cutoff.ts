/**
 * The cut-off of a count bound on ended inputs — the newest ended input beyond the newest `countMax`
 * — found a step at a time. Finding it walks `countMax` entries of an index from the newest end (a
 * few milliseconds at 100 000), too long for one turn of the host's event loop, so each step walks at
 * most {@link CUTOFF_WALK_ROWS} entries, on from where the last one stopped.
 *
 * Why a cut-off found over several steps, or kept for a while, is safe to delete through: every entry
 * a step passed was newer than it when passed, and nothing but the sweep's own deletes, which follow
 * the walk, removes one. Inputs that end meanwhile only add newer entries, which move the true
 * cut-off later: the one found keeps those and more.
 *
 * @packageDocumentation
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";

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
  readonly #countMax: number;
  /** Params: the entries to pass. */
  readonly #fromNewest: StatementSync;
  /** Params: ms, seq (exclusive), the entries to pass less one. */
  readonly #fromOlder: StatementSync;
  /** Where the walk stopped, and how many entries it has still to pass. */
  #from: Cutoff | undefined;
  #left: number;
  #found: Cutoff | null | undefined;

  constructor(db: DatabaseSync, countMax: number, keyed: boolean) {
    const ended = keyed ? ENDED.keyed : ENDED.all;
    this.#countMax = countMax;
    this.#left = countMax;
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
    if (this.#found !== undefined) return this.#found;
    const passed = Math.min(this.#left, CUTOFF_WALK_ROWS);
    const row = (
      this.#from === undefined
        ? this.#fromNewest.get(passed)
        : this.#fromOlder.get(this.#from.ms, this.#from.seq, passed - 1)
    ) as Cutoff | undefined;
    this.#left -= passed;
    if (row === undefined) this.#found = null;
    else if (this.#left === 0) this.#found = { ms: row.ms, seq: row.seq };
    else this.#from = { ms: row.ms, seq: row.seq };
    return this.#found;
  }

  /** Forgets the cut-off: the next {@link step} walks from the newest end again. */
  reset(): void {
    this.#from = undefined;
    this.#left = this.#countMax;
    this.#found = undefined;
  }
}
