/**
 * When and where the PostgreSQL store's retention sweep runs (`retention-sweep.ts` is what it
 * deletes). Many processes share the database, so the fleet sweeps one process at a time:
 *
 * - Every process tries about once a second (`sweepIntervalMs`, an `unref`'d timer stopped at
 *   `close()`). A sweep first takes the fleet's sweep lock, `pg_try_advisory_lock` named after the
 *   schema, and lets it go when done: a process that does not get it does nothing until its next
 *   try, and the lock goes with the connection of a process that dies. A process frozen in its
 *   sweep (`SIGSTOP`) is cut off by the server once its connection has sat idle for `leaseMs` (and
 *   at least five intervals; PostgreSQL 14 and later), so the fleet's sweeps go on without it.
 *   Rounds of sweeps (`retention-sweep.ts`) start about once a `sweepIntervalMs` for the whole
 *   fleet, not once per process: a try finds out under the lock whether another's round just ended.
 * - It runs on a connection of its own, made at the first sweep, with plain asynchronous queries:
 *   never in the transaction that commits a turn (which is the store's worker's), never on the
 *   event loop's thread for more than the moment it takes to send a statement and read its answer.
 * - Each statement is a transaction of its own (the lock is the connection's, not a
 *   transaction's), so the sweep never holds a row lock while it waits for this thread. A send
 *   with the idempotency key of an input the sweep is deleting waits for the delete — its one effect
 *   on the turn path — and blocks this thread while it waits (the store's reads are synchronous): a
 *   sweep transaction that spanned several statements could then never send its commit, and both
 *   would wait for the read's timeout. A delete statement runs to its end on the server by itself.
 * - Its work is bounded: batches of `sweepBatchRows` rows, `sweepRowsMax` rows a sweep. When a round
 *   has more to do, the next sweep follows at once, so retention keeps up with a busy fleet. Its
 *   row locks are on rows no turn writes: ended inputs, ended turns, old history.
 *
 * A sweep that fails (the server restarted, a timeout) leaves what its statements committed,
 * drops its connection (and with it the lock), and starts its round again at the next try, on a new
 * connection; nothing else hears of it, and nothing the turns need depends on it.
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
  /** How long the sweep's connection may sit idle before the server ends it (it tries every interval). */
  readonly idleTimeoutMs: number;
}

export class FleetSweep {
  readonly #options: FleetSweepOptions;
  readonly #sweep: RetentionSweep;
  readonly #lockName: string;
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
    return this.#sweep.counts();
  }

  /**
   * Sweeps until nothing is beyond the bounds, waiting for the fleet's sweep lock if another process
   * holds it; resolves with {@link counts}.
   */
  async sweepNow(): Promise<SweepCounts> {
    while (await this.#serial(() => this.#once(true)));
    return this.counts();
  }

  /**
   * Stops the sweeps and disconnects at once: a sweep under way stops after the statement it runs
   * (each commits on its own), and the lock goes with the connection; a connection still starting
   * is ended once it is up (or has failed, within `statementTimeoutMs`). Idempotent.
   */
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
   * One sweep under the fleet's sweep lock. Resolves whether its round goes on, or `undefined` when
   * another process holds the lock (only when not `wait`ing for it, as `sweepNow` does).
   */
  async #once(wait: boolean): Promise<boolean | undefined> {
    if (this.#closed) return false;
    const client = await this.#connected();
    const query = async (text: string, params: readonly unknown[]) =>
      (await client.query(text, params as unknown[])).rows;
    const sql = this.#options.sql;
    try {
      const [lock] = await query(wait ? sql.lock : sql.tryLock, [this.#lockName]);
      if (lock?.locked !== true) return undefined;
      // Asked for now (`sweepNow`): the whole round in this sweep, whenever the last was.
      const more = await this.#sweep.sweep(
        query,
        wait ? { rowsMax: Number.POSITIVE_INFINITY, now: true } : {},
      );
      await query(sql.unlock, [this.#lockName]);
      return more;
    } catch (error) {
      this.#sweep.abort();
      // The lock may be held, the connection gone: a fresh one at the next sweep.
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
      connectionTimeoutMillis: statementTimeoutMs,
    });
    // A dropped connection fails the sweep under way, if any; the next one connects again.
    client.on("error", () => {
      if (this.#client === client) this.#drop();
    });
    // Not ended while it starts: `pg` never settles a `connect()` its `end()` cut short, and
    // `close()` waits for the sweep that awaits it. A close meanwhile ends it once it is up.
    try {
      await client.connect();
    } catch (error) {
      client.end().catch(() => undefined);
      throw error;
    }
    if (this.#closed) {
      client.end().catch(() => undefined);
      throw new Error("the sweep was closed while it connected");
    }
    this.#client = client;
    // A frozen process's lock is let go with its connection (PostgreSQL 14 and later know the
    // setting; an older server keeps the connection, and its sweeps wait for the process).
    await client
      .query("SELECT set_config('idle_session_timeout', $1, false)", [String(idleTimeoutMs)])
      .catch(() => undefined);
    return client;
  }

  #drop(): void {
    const client = this.#client;
    this.#client = undefined;
    client?.end().catch(() => undefined);
  }
}
