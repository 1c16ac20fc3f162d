/**
 * The SQLite store's retention (the rules of `../retention.ts`), applied in the background: a sweep
 * runs every `sweepIntervalMs`, only between groups — in a transaction of its own, never in the one
 * that commits a turn — and deletes at most `batchRows` rows per statement. When a bound still has
 * rows beyond it, the next sweep follows as soon as the event loop has run. Between sweeps a bound
 * may be overrun by what ended meanwhile: the file stays flat, not exact.
 *
 * A sweep runs on the host's event loop, just after a commit whose waiters are still to be answered,
 * so it is cut to the work that made it due: it deletes about as many rows as inputs ended since the
 * last sweep, and a batch more to work off what is left over (`sweep()`). So a server committing
 * small groups often sweeps a batch after each (a hundred rows cost about a millisecond), and a store
 * ending thousands of inputs between two commits sweeps as many; retention keeps up with either. A
 * round of sweeps takes the bounds one after the other, keys first (as the memory store: the count of
 * ended inputs counts those their key's bound kept), then the histories that grew; each bound's count
 * cut-off is found a step at a time and kept until the round has deleted through it
 * (`count-cutoff.ts` says why that is safe).
 *
 * @packageDocumentation
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { Retention, SweepCounts } from "../retention.js";
import { CountCutoff, CUTOFF_WALK_ROWS } from "./count-cutoff.js";
import type { GroupCommit } from "./group-commit.js";

const SQL = {
  /** The newest end: ages count from it. */
  newestEnd: "SELECT max(ended_at_ms) AS ms FROM inputs WHERE ended_at_ms IS NOT NULL",
  /** Params: ms, seq (inclusive), rows. */
  deleteThrough: `DELETE FROM inputs WHERE rowid IN (SELECT rowid FROM inputs
      WHERE ended_at_ms IS NOT NULL AND (ended_at_ms, seq) <= (?, ?) ORDER BY ended_at_ms, seq LIMIT ?)
    RETURNING turn_id`,
  deleteThroughKeyed: `DELETE FROM inputs WHERE rowid IN (SELECT rowid FROM inputs
      WHERE ended_at_ms IS NOT NULL AND idempotency_key IS NOT NULL AND (ended_at_ms, seq) <= (?, ?)
      ORDER BY ended_at_ms, seq LIMIT ?)
    RETURNING turn_id`,
  /** Params: ms (exclusive), rows. */
  deleteBefore: `DELETE FROM inputs WHERE rowid IN (SELECT rowid FROM inputs
      WHERE ended_at_ms IS NOT NULL AND ended_at_ms < ? ORDER BY ended_at_ms, seq LIMIT ?)
    RETURNING turn_id`,
  deleteBeforeKeyed: `DELETE FROM inputs WHERE rowid IN (SELECT rowid FROM inputs
      WHERE ended_at_ms IS NOT NULL AND idempotency_key IS NOT NULL AND ended_at_ms < ?
      ORDER BY ended_at_ms, seq LIMIT ?)
    RETURNING turn_id`,
  /** An ended turn no input takes its outcome from any more. Param: id. */
  deleteTurn: `DELETE FROM turns WHERE id = ?1 AND ended_at_ms IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM inputs WHERE turn_id = ?1)`,
  /** A session's history rows beyond its newest `historyTurnsMax`. Params: session_id, the bound, rows. */
  trimHistory: `DELETE FROM history WHERE rowid IN (SELECT id FROM history
      WHERE session_id = ?1 AND id < (SELECT id FROM history WHERE session_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)
      ORDER BY id LIMIT ?3)`,
  allSessions: "SELECT id FROM sessions",
} as const;

/** The deletes of one bound: its count cut-off, and its two delete statements. */
interface Bound {
  /** `undefined` for a bound without a count. */
  readonly count: CountCutoff | undefined;
  readonly ageMaxMs: number;
  readonly through: StatementSync;
  readonly before: StatementSync;
}

export class RetentionSweep {
  readonly #group: GroupCommit;
  readonly #batchRows: number;
  readonly #historyTurnsMax: number;
  readonly #newestEnd: StatementSync;
  readonly #bounds: readonly Bound[];
  /** The phase this round of sweeps is at: a bound's index, or past them, the histories. */
  #phaseAt = 0;
  /** Inputs this round has deleted so far. */
  #roundInputs = 0;
  /** A round is running (from its first sweep until it ends). */
  #inRound = false;
  /**
   * Inputs ended since the last sweep of the running round, as the store reported them. Those that
   * end between rounds are the next round's to find, a batch a sweep beside its own.
   */
  #endedSinceSweep = 0;
  /** The work of the running sweep so far, in rows (a walk step counts as a batch). */
  #spent = 0;
  readonly #deleteTurn: StatementSync;
  readonly #trimHistory: StatementSync;
  /** Sessions whose history may be over its bound. */
  readonly #historyGrew = new Set<string>();
  /** Told of each session whose history rows a sweep deleted. */
  readonly #trimmed: (sessionId: string) => void;
  readonly #counts = { inputs: 0, turns: 0, historyRows: 0 };

  constructor(
    db: DatabaseSync,
    group: GroupCommit,
    retention: Retention,
    batchRows: number,
    trimmed: (sessionId: string) => void,
  ) {
    this.#group = group;
    this.#batchRows = batchRows;
    this.#historyTurnsMax = retention.historyTurnsMax;
    this.#trimmed = trimmed;
    this.#newestEnd = db.prepare(SQL.newestEnd);
    const bound = (countMax: number, ageMaxMs: number, keyed: boolean): Bound => ({
      count: countMax === Number.POSITIVE_INFINITY ? undefined : new CountCutoff(db, countMax, keyed),
      ageMaxMs,
      through: db.prepare(keyed ? SQL.deleteThroughKeyed : SQL.deleteThrough),
      before: db.prepare(keyed ? SQL.deleteBeforeKeyed : SQL.deleteBefore),
    });
    this.#bounds = [
      bound(retention.idempotencyKeysMax, retention.idempotencyKeyAgeMaxMs, true),
      bound(retention.endedInputsMax, retention.endedInputAgeMaxMs, false),
    ];
    this.#deleteTurn = db.prepare(SQL.deleteTurn);
    this.#trimHistory = db.prepare(SQL.trimHistory);
    // A bound lowered since the last run: every session's history may be over it.
    if (this.bindsHistory)
      for (const row of db.prepare(SQL.allSessions).all() as { id: string }[]) this.#historyGrew.add(row.id);
  }

  get bindsHistory(): boolean {
    return this.#historyTurnsMax !== Number.POSITIVE_INFINITY;
  }

  /** A turn end added to the session's history; call when the store is told of it. */
  historyGrew(sessionId: string): void {
    if (this.bindsHistory) this.#historyGrew.add(sessionId);
  }

  /** `count` inputs ended; call when the store is told of it. */
  ended(count: number): void {
    if (this.#inRound) this.#endedSinceSweep += count;
  }

  counts(): SweepCounts {
    return { ...this.#counts };
  }

  /**
   * One sweep, in a group of its own (the caller makes sure none is open): batches of at most
   * `batchRows` rows per statement until about `rowsMax` rows are deleted (by default, as many as
   * inputs ended since the last sweep, and a batch more). Returns whether the round goes on.
   */
  sweep(rowsMax = this.#endedSinceSweep + this.#batchRows): boolean {
    this.#group.write();
    this.#inRound = true;
    this.#endedSinceSweep = 0;
    this.#spent = 0;
    let more: boolean;
    try {
      do more = this.#step();
      while (more && this.#spent < rowsMax);
    } catch (error) {
      throw this.#group.fail(error);
    }
    this.#group.flush();
    return more;
  }

  /** One step of the round: a batch of its phase (each bound, then the histories that grew). */
  #step(): boolean {
    const phase = this.#phaseAt;
    const bound = this.#bounds[phase];
    if (bound === undefined ? this.#trimHistories() : this.#sweepBound(bound)) return true;
    this.#phaseAt = (phase + 1) % (this.#bounds.length + 1);
    // The round goes on with the next phase; after the last, it ends.
    if (this.#phaseAt !== 0) return true;
    // A round that deleted many rows most likely left as many ended since: the next starts at once
    // (its walk then costs little beside its deletes).
    const busy = this.#roundInputs >= CUTOFF_WALK_ROWS;
    this.#roundInputs = 0;
    this.#inRound = busy;
    return busy;
  }

  /** A batch of one bound; returns whether the bound has more to do this round. */
  #sweepBound(bound: Bound): boolean {
    const newest = (this.#newestEnd.get() as { ms: number | null }).ms;
    const turnIds = new Set<string>();
    const more = newest !== null && this.#apply(bound, newest, turnIds);
    for (const id of turnIds) this.#counts.turns += Number(this.#deleteTurn.run(id).changes);
    if (!more) bound.count?.reset();
    return more;
  }

  /** Trims the histories of up to `batchRows` sessions that grew; returns whether any are left. */
  #trimHistories(): boolean {
    let sessions = 0;
    for (const sessionId of this.#historyGrew) {
      if (sessions++ >= this.#batchRows) return true;
      this.#historyGrew.delete(sessionId);
      const deleted = Number(
        this.#trimHistory.run(sessionId, this.#historyTurnsMax - 1, this.#batchRows).changes,
      );
      // A statement per session: one row's work even when it deletes none.
      this.#spent += Math.max(1, deleted);
      if (deleted === 0) continue;
      this.#counts.historyRows += deleted;
      this.#trimmed(sessionId);
      // Rows left beyond the bound: the session comes round again.
      if (deleted === this.#batchRows) this.#historyGrew.add(sessionId);
    }
    return false;
  }

  /**
   * Deletes a batch beyond one bound, or walks its count cut-off a step; returns whether the bound
   * has more to do this round.
   */
  #apply(bound: Bound, newestMs: number, turnIds: Set<string>): boolean {
    const ageCutoffMs = newestMs - bound.ageMaxMs;
    // `undefined` while the walk goes on; `null` when nothing lies beyond the count (or there is none).
    const byCount = bound.count === undefined ? null : bound.count.step();
    const walking = byCount === undefined;
    if (walking) this.#spent += this.#batchRows;
    let rows: { turn_id: string | null }[];
    // Whichever cut-off lies later deletes what the other would, and more.
    if (byCount != null && byCount.ms >= ageCutoffMs)
      rows = bound.through.all(byCount.ms, byCount.seq, this.#batchRows) as typeof rows;
    else if (ageCutoffMs > Number.NEGATIVE_INFINITY)
      rows = bound.before.all(ageCutoffMs, this.#batchRows) as typeof rows;
    else return walking;
    for (const row of rows) if (row.turn_id !== null) turnIds.add(row.turn_id);
    this.#counts.inputs += rows.length;
    this.#roundInputs += rows.length;
    this.#spent += rows.length;
    return walking || rows.length === this.#batchRows;
  }
}
