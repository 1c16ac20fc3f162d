/**
 * The SQLite store's retention (the rules of `../retention.ts`), applied in the background: a sweep
 * runs every `sweepIntervalMs`, only between groups — in a transaction of its own, never in the one
 * that commits a turn — and deletes at most `batchRows` rows per statement. When a bound still has
 * rows beyond it, the next sweep follows as soon as the event loop has run. Between sweeps a bound
 * may be overrun by what ended meanwhile: the file stays flat, not exact.
 *
 * What a sweep deletes: ended inputs beyond their bounds (oldest end first), each ended turn whose
 * last input went with them (an input ended by a turn takes its outcome from the turn's row), and,
 * with `historyTurnsMax`, the oldest history rows (one per turn) of each session that gained history
 * since the last sweep. Sessions are never deleted.
 *
 * @packageDocumentation
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { Retention } from "../retention.js";
import type { GroupCommit } from "./group-commit.js";

const SQL = {
  /** The newest end: ages count from it. */
  newestEnd: "SELECT max(ended_at_ms) AS ms FROM inputs WHERE ended_at_ms IS NOT NULL",
  /** The newest ended input beyond the count bound (param: the bound), whose end and all older go. */
  countCutoff: `SELECT ended_at_ms AS ms, seq FROM inputs WHERE ended_at_ms IS NOT NULL
    ORDER BY ended_at_ms DESC, seq DESC LIMIT 1 OFFSET ?`,
  countCutoffKeyed: `SELECT ended_at_ms AS ms, seq FROM inputs
    WHERE ended_at_ms IS NOT NULL AND idempotency_key IS NOT NULL
    ORDER BY ended_at_ms DESC, seq DESC LIMIT 1 OFFSET ?`,
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

type Cutoff = { readonly ms: number; readonly seq: number };

/** What a sweep deleted, for tests and `stats()`. */
export interface SweepCounts {
  readonly inputs: number;
  readonly turns: number;
  readonly historyRows: number;
}

/** The deletes of one bound: its count cut-off, and its two delete statements. */
interface Bound {
  readonly countMax: number;
  readonly ageMaxMs: number;
  readonly cutoff: StatementSync;
  readonly through: StatementSync;
  readonly before: StatementSync;
}

export class RetentionSweep {
  readonly #group: GroupCommit;
  readonly #batchRows: number;
  readonly #historyTurnsMax: number;
  readonly #newestEnd: StatementSync;
  readonly #bounds: readonly Bound[];
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
      countMax,
      ageMaxMs,
      cutoff: db.prepare(keyed ? SQL.countCutoffKeyed : SQL.countCutoff),
      through: db.prepare(keyed ? SQL.deleteThroughKeyed : SQL.deleteThrough),
      before: db.prepare(keyed ? SQL.deleteBeforeKeyed : SQL.deleteBefore),
    });
    // Keys first, as the memory store: the count of ended inputs counts those their key's bound kept.
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

  counts(): SweepCounts {
    return { ...this.#counts };
  }

  /**
   * One sweep, in a group of its own (the caller makes sure none is open): at most `batchRows` rows
   * per statement. Returns whether rows beyond a bound are left for the next sweep.
   */
  sweep(): boolean {
    this.#group.write();
    let more: boolean;
    try {
      more = this.#delete();
    } catch (error) {
      throw this.#group.fail(error);
    }
    this.#group.flush();
    return more;
  }

  #delete(): boolean {
    let more = false;
    const turnIds = new Set<string>();
    const newest = (this.#newestEnd.get() as { ms: number | null }).ms;
    if (newest !== null) for (const bound of this.#bounds) more = this.#apply(bound, newest, turnIds) || more;
    for (const id of turnIds) this.#counts.turns += Number(this.#deleteTurn.run(id).changes);
    let sessions = 0;
    for (const sessionId of this.#historyGrew) {
      if (sessions++ >= this.#batchRows) {
        more = true;
        break;
      }
      this.#historyGrew.delete(sessionId);
      const deleted = Number(
        this.#trimHistory.run(sessionId, this.#historyTurnsMax - 1, this.#batchRows).changes,
      );
      if (deleted === 0) continue;
      this.#counts.historyRows += deleted;
      this.#trimmed(sessionId);
      if (deleted === this.#batchRows) {
        this.#historyGrew.add(sessionId);
        more = true;
      }
    }
    return more;
  }

  /** Deletes a batch beyond one bound; returns whether it was a full batch. */
  #apply(bound: Bound, newestMs: number, turnIds: Set<string>): boolean {
    const ageCutoffMs = newestMs - bound.ageMaxMs;
    const byCount =
      bound.countMax === Number.POSITIVE_INFINITY
        ? undefined
        : (bound.cutoff.get(bound.countMax) as Cutoff | undefined);
    let rows: { turn_id: string | null }[];
    // Whichever cut-off lies later deletes what the other would, and more.
    if (byCount !== undefined && byCount.ms >= ageCutoffMs)
      rows = bound.through.all(byCount.ms, byCount.seq, this.#batchRows) as typeof rows;
    else if (ageCutoffMs > Number.NEGATIVE_INFINITY)
      rows = bound.before.all(ageCutoffMs, this.#batchRows) as typeof rows;
    else return false;
    for (const row of rows) if (row.turn_id !== null) turnIds.add(row.turn_id);
    this.#counts.inputs += rows.length;
    return rows.length === this.#batchRows;
  }
}
