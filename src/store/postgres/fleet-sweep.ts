/**
 * When and where the PostgreSQL store's retention sweep runs (`retention-sweep.ts` is what it
 * deletes). Many processes share the database, so the fleet sweeps one process at a time:
 *
 * - Every process tries about once a second (`sweepIntervalMs`, an `unref`'d timer stopped at
 *   `close()`). A sweep is one transaction that first takes the fleet's sweep lock,
 *   `pg_try_advisory_xact_lock`, named after the schema: a process that does not get it does nothing
 *   until its next try, and the lock goes with the transaction's end, or with the connection of a
 *   process that dies. A process frozen inside its sweep (`SIGSTOP`) is cut off by the server after
 *   `leaseMs` idle in its transaction, so the fleet's sweeps go on without it. Rounds of sweeps
 *   (`retention-sweep.ts`) start about once a `sweepIntervalMs` for the whole fleet, not once per
 *   process: a try finds out under the lock whether another process's round just ended.
 * - It runs on a connection of its own, made at the first sweep, with plain asynchronous queries:
 *   never in the transaction that commits a turn (which is the store's worker's), never on the
 *   event loop's thread for more than the moment it takes to send a statement and read its answer.
 * - Its work is bounded: batches of `sweepBatchRows` rows, `sweepRowsMax` rows a sweep. When a round
 *   has more to do, the next sweep follows at once, so retention keeps up with a busy fleet while
 *   each transaction stays short. Its row locks are on rows no turn writes (ended inputs, ended
 *   turns, old history); the one wait it can cause is a send with the idempotency key of an input
 *   the sweep is deleting, which waits for the sweep's commit.
 *
 * A sweep that fails (the server restarted, a timeout) is rolled back, its connection dropped and
 * made again at the next try; nothing else hears of it, and nothing the turns need depends on it.
 *
 * @packageDocumentation
 */
import pg from "pg";
import type { Retention, SweepCounts } from "../retention.js";
import { RetentionSweep, type SweepSizes } from "./retention-sweep.js";
import type { Statements } from "./statements.js";

/** What a sweep needs. */
export interface FleetSweepOptions {
  /** The store's connection settings; the sweep makes a connection of its own with them. */
  readonly config: pg.ClientConfig;
  readonly schema: string;
  readonly sql: Statements;
  readonly retention: Retention;
  readonly sizes: SweepSizes;
  readonly intervalMs: number;
  /** How long one statement may take before the sweep gives up (the store's `readTimeoutMs`). */
  readonly statementTimeoutMs: number;
  /** How long the sweep's transaction may sit idle before the server ends it (the store's `leaseMs`). */
  readonly idleTimeoutMs: number;
}

export class FleetSweep {
  readonly #options: FleetSweepOptions;
  readonly #sweep: RetentionSweep;
  readonly #lockName: string;
  readonly #counts = { inputs: 0, turns: 0, historyRows: 0 };
  #client: pg.Client | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** The last sweep asked for: sweeps share one connection, so each waits for the one before. */
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: FleetSweepOptions) {
    this.#options = options;
    this.#sweep = new RetentionSweep(options.sql, options.retention, options.sizes);
    this.#lockName = `offstage-retention:${options.schema}`;
  }

  /** Starts the periodic sweeps. */
  start(): void {
    this.#schedule(this.#options.intervalMs);
  }

  /** What the sweeps of this process deleted, committed, since it was made. */
  counts(): SweepCounts {
    return { ...this.#counts };
  }

  /**
   * Sweeps until nothing is beyond the bounds, waiting for the fleet's sweep lock if another process
   * holds it; resolves with {@link counts}.
   */
  async sweepNow(): Promise<SweepCounts> {
    while (await this.#serial(() => this.#once(true)));
    return this.counts();
  }

  /** Stops the sweeps and disconnects; a sweep under way is rolled back by the server. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#drop();
    await this.#tail.catch(() => undefined);
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      void this.#serial(() => this.#once(false)).then(
        (more) => this.#schedule(more === true ? 0 : this.#options.intervalMs),
        () => this.#schedule(this.#options.intervalMs),
      );
    }, delayMs);
    // Background housekeeping: it never keeps the process alive.
    this.#timer.unref();
  }

  #serial<T>(run: () => Promise<T>): Promise<T> {
    const next = this.#tail.then(run, run);
    this.#tail = next.catch(() => undefined);
    return next;
  }

  /**
   * One sweep in a transaction of its own. Resolves whether its round goes on, or `undefined` when
   * another process holds the fleet's sweep lock (only when not `wait`ing for it, as `sweepNow`
   * does).
   */
  async #once(wait: boolean): Promise<boolean | undefined> {
    if (this.#closed) return false;
    const client = await this.#connected();
    const query = async (text: string, params: readonly unknown[]) =>
      (await client.query(text, params as unknown[])).rows;
    await client.query("BEGIN");
    try {
      const sql = this.#options.sql;
      const [lock] = await query(wait ? sql.lock : sql.tryLock, [this.#lockName]);
      if (lock?.locked !== true) {
        await client.query("ROLLBACK");
        return undefined;
      }
      // Asked for now (`sweepNow`): the whole round in this transaction, whenever the last was.
      const { more, deleted } = await this.#sweep.sweep(
        query,
        wait ? { rowsMax: Number.POSITIVE_INFINITY, now: true } : {},
      );
      await client.query("COMMIT");
      this.#counts.inputs += deleted.inputs;
      this.#counts.turns += deleted.turns;
      this.#counts.historyRows += deleted.historyRows;
      return more;
    } catch (error) {
      this.#sweep.abort();
      // The connection may be gone or mid-transaction: a fresh one at the next sweep.
      this.#drop();
      throw error;
    }
  }

  async #connected(): Promise<pg.Client> {
    if (this.#client !== undefined) return this.#client;
    const { config, statementTimeoutMs, idleTimeoutMs } = this.#options;
    const client = new pg.Client({
      ...config,
      // Named in pg_stat_activity as the store's other connections are, and as the sweep's.
      application_name: `${(config.application_name ?? "offstage").slice(0, 57)} sweep`,
      statement_timeout: statementTimeoutMs,
      query_timeout: statementTimeoutMs,
      idle_in_transaction_session_timeout: idleTimeoutMs,
    });
    // A dropped connection fails the sweep under way, if any; the next one connects again.
    client.on("error", () => {
      if (this.#client === client) this.#drop();
    });
    this.#client = client;
    try {
      await client.connect();
    } catch (error) {
      this.#drop();
      throw error;
    }
    return client;
  }

  #drop(): void {
    const client = this.#client;
    this.#client = undefined;
    client?.end().catch(() => undefined);
  }
}
