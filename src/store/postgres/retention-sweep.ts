/**
 * What the PostgreSQL store's retention sweep deletes (the rules of `../retention.ts`): the SQLite
 * store's rounds (`../sqlite/retention-sweep.ts`), over the fleet's one database. When and where a
 * sweep runs — one process at a time, on a connection of its own, one statement a transaction — is
 * `fleet-sweep.ts`'s; this file is the work of one sweep.
 *
 * A round takes the bounds one after the other, keys first (as the memory store: the count of ended
 * inputs counts those their key's bound kept), then the histories. Each bound deletes a batch per
 * statement through the later of its two cut-offs: its count cut-off, walked a step at a time and
 * kept for the round (`count-cutoff.ts`), and its age cut-off, from the newest end the store holds.
 * An ended turn goes with the last input that takes its outcome from it. The fleet runs about one
 * round a `sweepIntervalMs`, however many processes it has (`retention_marks.round_ended_at`): a
 * process starts one only that long after the last ended, in whichever process, or at once after a
 * busy one of its own.
 *
 * Histories: this process does not see the other processes' turn ends, so the sessions whose
 * history grew are found in the history table itself — rows added since the sweeps last looked
 * (`retention_marks`, kept in the database so that the fleet shares the progress and a restart does
 * not look through everything again). A row whose id was taken before the mark moved past it but
 * that committed after may be passed over; its session is trimmed at its next turn end, and reads
 * keep the bound meanwhile (`held-histories.ts`), so all it costs is that turn's row for a while.
 *
 * @packageDocumentation
 */
import type { Retention, SweepCounts } from "../retention.js";
import { CountCutoff, type Query } from "./count-cutoff.js";
import type { Statements } from "./statements.js";

/** The sizes of a sweep's work: rows per statement, rows per sweep, index entries per walk step. */
export interface SweepSizes {
  readonly batchRows: number;
  readonly rowsMax: number;
  readonly walkRows: number;
  /**
   * How long after a round of any process's ended a new one may start, unless the last was busy:
   * the fleet runs about one round per interval, not one per process.
   */
  readonly roundEveryMs: number;
}

/** The deletes of one bound: its count cut-off, and its two delete statements. */
interface Bound {
  /** `undefined` for a bound without a count. */
  readonly count: CountCutoff | undefined;
  readonly ageMaxMs: number;
  readonly through: string;
  readonly before: string;
}

/** One sweep and what it has done so far. */
interface Run {
  readonly query: Query;
  /** Rows of work so far (a walk or look-up step counts as a batch). */
  spent: number;
  /** The newest end, once read (`null`: no input has ended). */
  newestMs: number | null | undefined;
  /** Where history has been looked through to, once read. */
  historySeen: string | undefined;
}

export class RetentionSweep {
  readonly #sql: Statements;
  readonly #sizes: SweepSizes;
  readonly #historyTurnsMax: number;
  readonly #bounds: readonly Bound[];
  /** The phase this round is at: a bound's index, or past them, the histories. */
  #phaseAt = 0;
  /** Rows this round has deleted so far. */
  #roundRows = 0;
  /** A round is running (from its first sweep until it ends). */
  #inRound = false;
  /** The last round deleted many rows: the next starts at once, whenever the fleet's last ended. */
  #busy = false;
  /** What this process's sweeps deleted (each statement commits on its own). */
  readonly #counts = { inputs: 0, turns: 0, historyRows: 0 };

  constructor(sql: Statements, retention: Retention, sizes: SweepSizes) {
    this.#sql = sql;
    this.#sizes = sizes;
    this.#historyTurnsMax = retention.historyTurnsMax;
    const bound = (countMax: number, ageMaxMs: number, keyed: boolean): Bound => ({
      count:
        countMax === Number.POSITIVE_INFINITY
          ? undefined
          : new CountCutoff(sql, countMax, keyed, sizes.walkRows),
      ageMaxMs,
      through: keyed ? sql.deleteThroughKeyed : sql.deleteThrough,
      before: keyed ? sql.deleteBeforeKeyed : sql.deleteBefore,
    });
    this.#bounds = [
      bound(retention.idempotencyKeysMax, retention.idempotencyKeyAgeMaxMs, true),
      bound(retention.endedInputsMax, retention.endedInputAgeMaxMs, false),
    ];
  }

  /** What this process's sweeps deleted, since it was made. */
  counts(): SweepCounts {
    return { ...this.#counts };
  }

  /**
   * One sweep, with `query` (its caller holds the fleet's sweep lock): batches until about `rowsMax`
   * rows of work are done or the round ends. Resolves whether the round goes on. A new round waits
   * for `roundEveryMs` after the fleet's last, unless `now`.
   */
  async sweep(query: Query, { rowsMax = this.#sizes.rowsMax, now = false } = {}): Promise<boolean> {
    const run: Run = { query, spent: 0, newestMs: undefined, historySeen: undefined };
    if (!this.#inRound) {
      // Each round walks every count bound's cut-off again: once per interval for the fleet, not
      // once per process.
      const lately = !now && !this.#busy && (await this.#roundEndedLately(query));
      if (lately) return false;
      this.#inRound = true;
    }
    let more: boolean;
    do more = await this.#step(run);
    while (more && run.spent < rowsMax);
    return more;
  }

  /** A statement of the sweep failed: the round starts again. */
  abort(): void {
    this.#phaseAt = 0;
    this.#roundRows = 0;
    this.#inRound = false;
    for (const bound of this.#bounds) bound.count?.reset();
  }

  /** One step of the round: a batch of its phase (each bound, then the histories). */
  async #step(run: Run): Promise<boolean> {
    const phase = this.#phaseAt;
    const bound = this.#bounds[phase];
    if (bound === undefined ? await this.#trimHistories(run) : await this.#sweepBound(run, bound))
      return true;
    this.#phaseAt = (phase + 1) % (this.#bounds.length + 1);
    if (this.#phaseAt !== 0) return true;
    // A round that deleted many rows most likely left as many ended since: the next starts at once.
    this.#busy = this.#roundRows >= this.#sizes.walkRows;
    this.#roundRows = 0;
    this.#inRound = false;
    await run.query(this.#sql.roundEnded, []);
    return this.#busy;
  }

  async #roundEndedLately(query: Query): Promise<boolean> {
    return (await query(this.#sql.roundEndedLately, [this.#sizes.roundEveryMs]))[0]?.lately === true;
  }

  /** A batch of one bound, or a step of its cut-off's walk; resolves whether the bound has more to do. */
  async #sweepBound(run: Run, bound: Bound): Promise<boolean> {
    const { batchRows } = this.#sizes;
    if (run.newestMs === undefined) {
      const ms = (await run.query(this.#sql.newestEnd, []))[0]?.ms;
      run.newestMs = ms === null || ms === undefined ? null : Number(ms);
    }
    const ageCutoffMs = run.newestMs === null ? Number.NEGATIVE_INFINITY : run.newestMs - bound.ageMaxMs;
    // `undefined` while the walk goes on; `null` when nothing lies beyond the count (or there is none).
    const byCount =
      run.newestMs === null || bound.count === undefined ? null : await bound.count.step(run.query);
    const walking = byCount === undefined;
    if (walking) run.spent += batchRows;
    let deleted: Record<string, unknown> | undefined;
    // Whichever cut-off lies later deletes what the other would, and more.
    if (byCount != null && Number(byCount.ms) >= ageCutoffMs)
      [deleted] = await run.query(bound.through, [byCount.ms, byCount.ord, batchRows]);
    else if (ageCutoffMs > Number.NEGATIVE_INFINITY)
      [deleted] = await run.query(bound.before, [ageCutoffMs, batchRows]);
    const inputs = Number(deleted?.inputs ?? 0);
    this.#counts.inputs += inputs;
    this.#counts.turns += Number(deleted?.turns ?? 0);
    this.#roundRows += inputs;
    run.spent += inputs;
    const more = walking || inputs === batchRows;
    if (!more) bound.count?.reset();
    return more;
  }

  /**
   * Trims the histories of the sessions among a batch of history rows added since the sweeps last
   * looked; resolves whether more may be left.
   */
  async #trimHistories(run: Run): Promise<boolean> {
    const bound = this.#historyTurnsMax;
    if (bound === Number.POSITIVE_INFINITY) return false;
    const { batchRows } = this.#sizes;
    if (run.historySeen === undefined) run.historySeen = await this.#historyMark(run.query, bound);
    const grown = await run.query(this.#sql.historyGrown, [run.historySeen, batchRows]);
    if (grown.length === 0) return false;
    const sessions = [...new Set(grown.map((row) => row.session_id as string))];
    const trimmed = await run.query(this.#sql.trimHistories, [sessions, bound, batchRows]);
    this.#counts.historyRows += trimmed.length;
    this.#roundRows += trimmed.length;
    run.spent += Math.max(grown.length, trimmed.length);
    // A full batch deleted: those sessions may have more beyond the bound; look at them again.
    if (trimmed.length === batchRows) return true;
    run.historySeen = String(grown[grown.length - 1]!.id);
    await run.query(this.#sql.markHistorySeen, [run.historySeen]);
    return grown.length === batchRows;
  }

  /**
   * Where history has been looked through to under this bound: from the start again when the last
   * look was under a higher bound, or none (the bound was lowered, or set for the first time).
   */
  async #historyMark(query: Query, bound: number): Promise<string> {
    const marks = (await query(this.#sql.historyMarks, []))[0];
    const was = marks?.bound;
    if (was !== null && was !== undefined && Number(was) <= bound) return String(marks!.seen);
    await query(this.#sql.restartHistory, [bound]);
    return "0";
  }
}
