/**
 * The walk that finds a count bound's cut-off over ended inputs — the newest ended input beyond the
 * newest `countMax` — a step at a time. Finding it passes `countMax` entries of an index from the
 * newest end (a few milliseconds at 100 000), so each step passes at most `walkRows`, on from where
 * the last one stopped. The SQLite and PostgreSQL stores' sweeps run each step's statement their own
 * way (`sqlite/count-cutoff.ts`, synchronously on the host's loop; `postgres/count-cutoff.ts`, on the
 * sweep's connection); this is the walk they share.
 *
 * Why a cut-off found over several steps, or kept for a while, is safe to delete through: every entry
 * a step passed was newer than it when passed, and nothing but the sweeps' deletes, which follow a
 * walk, removes one. Inputs that end meanwhile only add newer entries, which move the true cut-off
 * later: the one found keeps those and more. Another process's sweep deleting entries this walk has
 * passed (PostgreSQL) keeps it so: such an entry was deleted through a cut-off at least as old as
 * it, so this walk, going on towards older entries, ends at or before that cut-off — itself safe.
 *
 * @packageDocumentation
 */

/** The statement of a walk's next step: the entry `offset` places past `after` (exclusive), newest first. */
export interface WalkStep<C> {
  /** The entry the last step reached; `undefined`: from the newest end. */
  readonly after: C | undefined;
  readonly offset: number;
}

export class CutoffWalk<C> {
  readonly #countMax: number;
  readonly #walkRows: number;
  /** Where the walk stopped, and how many entries it has still to pass. */
  #after: C | undefined;
  #left: number;
  /** Entries the step under way passes. */
  #passing = 0;
  #found: C | null | undefined;

  constructor(countMax: number, walkRows: number) {
    this.#countMax = countMax;
    this.#walkRows = walkRows;
    this.#left = countMax;
  }

  /** The cut-off once found (`null`: no ended input lies beyond the bound), `undefined` before. */
  get found(): C | null | undefined {
    return this.#found;
  }

  /** The next step's statement; `undefined` once the cut-off is found. */
  next(): WalkStep<C> | undefined {
    if (this.#found !== undefined) return undefined;
    this.#passing = Math.min(this.#left, this.#walkRows);
    // The entry that many past the newest end, or that many past `after` counting from it.
    return { after: this.#after, offset: this.#after === undefined ? this.#passing : this.#passing - 1 };
  }

  /**
   * What the step's statement answered (`undefined`: it ran past the oldest entry); returns the
   * cut-off once found, `undefined` while the walk goes on. Once found, it stays until {@link reset}.
   */
  reached(entry: C | undefined): C | null | undefined {
    this.#left -= this.#passing;
    if (entry === undefined) this.#found = null;
    else if (this.#left === 0) this.#found = entry;
    else this.#after = entry;
    return this.#found;
  }

  /** Forgets the cut-off: the next step walks from the newest end again. */
  reset(): void {
    this.#after = undefined;
    this.#left = this.#countMax;
    this.#found = undefined;
  }
}
