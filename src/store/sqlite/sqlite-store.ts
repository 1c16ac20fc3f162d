/**
 * The SQLite store: the embedded default, one file, on Node's built-in `node:sqlite` (no native
 * addon). Its receipt is `durable`: a committed write survives `kill -9` of the process, and with
 * `durability: "full"` (the default) a power loss too.
 *
 * How it works: the file is checked before anything is written to it (`open-database.ts`), migrated
 * and claimed (`store-lock.ts`) in one boot transaction, and from then on every write of the port
 * runs inside the current group's transaction, so reads see it; the group commits when its short
 * window closes (`group-commit.ts`). Turn writes are fenced by attempt in SQL. New sessions, inputs
 * without an idempotency key, turn starts and history are held back until the group commits or
 * something needs them (`held-writes.ts`), then written in multi-row statements; a turn that ends in
 * the group it started in is written once.
 *
 * Its options and their checks are in `sqlite-store-options.ts`.
 *
 * @packageDocumentation
 */

import { InvalidInputError, OffstageError } from "../../errors.js";
import { DEFAULTS } from "../../kernel/limits.js";
import type { Message } from "../../kernel/messages.js";
import type {
  InputEnd,
  InputRecord,
  InputSnapshot,
  OpenOptions,
  QueuedSession,
  RecoveredState,
  SessionRecord,
  Steer,
  StepCheckpoint,
  Store,
  TurnEnd,
  TurnStart,
} from "../../runtime/ports/store.js";
import type { Retention, SweepCounts } from "../retention.js";
import { type GroupCommit, type GroupCommitStats, NO_STATS } from "./group-commit.js";
import type { HeldWrites } from "./held-writes.js";
import { HistoryCache, type HistoryRow } from "./history-cache.js";
import { userVersion } from "./migrations.js";
import { isConstraintError } from "./multi-row-statement.js";
import type { ConnectionOptions } from "./open-database.js";
import { recoverState } from "./recover.js";
import { RetentionSweep } from "./retention-sweep.js";
import { type InputRow, type RecordColumns, recordOf, snapshotOf } from "./rows.js";
import { abandonConnection, type Connection, closeConnection, connect } from "./sqlite-connection.js";
import { SqliteDelegationLog } from "./sqlite-delegation-log.js";
import { SqliteEventLog } from "./sqlite-event-log.js";
import type { Statements } from "./statements.js";
import { releaseLock } from "./store-lock.js";
import { endRecordOf, endStoredTurn } from "./turn-end.js";
import { NO_CHECKPOINTS, type WalCheckpointer, type WalCheckpointStats } from "./wal-checkpointer.js";

/** Counters of the SQLite store (see {@link SqliteStore.stats}). */
export interface SqliteStoreStats extends GroupCommitStats, WalCheckpointStats {
  /** Rows retention deleted, since the store was created. */
  readonly swept: SweepCounts;
}

const NOTHING_SWEPT: SweepCounts = { inputs: 0, turns: 0, historyRows: 0 };

const NO_MESSAGES: readonly Message[] = Object.freeze([]);

/** See `createSqliteStore`. */
export class SqliteStore implements Store, AsyncDisposable {
  readonly kind = "sqlite";
  readonly receipt = "durable" as const;
  /** The database file, as an absolute path. */
  readonly path: string;
  /** Background children and their completions, in the same file and transactions. */
  readonly delegations: SqliteDelegationLog = new SqliteDelegationLog({
    write: (apply) => this.#write(apply),
    read: (query) => this.#read(query),
  });
  /** The sessions' recorded events, in the same file and transactions. */
  readonly eventLog: SqliteEventLog = new SqliteEventLog({
    write: (apply) => this.#write(apply),
    read: (query) => this.#read(query),
  });
  readonly #connection: ConnectionOptions;
  readonly #groupCommitMs: number;
  readonly #retention: Retention;
  readonly #histories = new HistoryCache(DEFAULTS.sqliteStore.historyCacheMessagesMax);
  #conn: Connection | undefined;
  /** The last connection's group, checkpointer and sweep, for `stats()` after close. */
  #group: GroupCommit | undefined;
  #checkpointer: WalCheckpointer | undefined;
  #sweep: RetentionSweep | undefined;
  #closing: Promise<void> | undefined;

  /** @internal Use {@link createSqliteStore}. */
  constructor(path: string, connection: ConnectionOptions, groupCommitMs: number, retention: Retention) {
    this.path = path;
    this.#connection = connection;
    this.#groupCommitMs = groupCommitMs;
    this.#retention = retention;
  }

  /**
   * Opens the file (see {@link Store.open}). Called again while open, after the store failed (a full
   * disk, an I/O error, its file deleted or replaced), it first commits a small write to prove the
   * store works again; it throws `STORE_FAILED` or `STORE_FILE_GONE` while it does not.
   */
  async open(options?: OpenOptions): Promise<RecoveredState> {
    const paged = options?.paged === true;
    const conn = this.#conn;
    if (conn === undefined) return this.#boot(paged);
    if (conn.group.failed) {
      conn.held.drop();
      // Page 1 is written again as it is: a write of the header that needs the disk, and nothing else.
      await conn.group.retry(() => conn.db.exec(`PRAGMA user_version = ${userVersion(conn.db)}`));
      // A sweep the failure stopped goes on.
      clearTimeout(conn.sweepTimer);
      this.#scheduleSweep(conn, DEFAULTS.sqliteStore.sweepIntervalMs);
    }
    this.#writeHeld();
    return this.#read(() => recoverState(conn.sql, conn.group, paged));
  }

  queuedSessions(afterSessionId: string | undefined, sessionsMax: number): readonly QueuedSession[] {
    this.#writeHeld();
    return this.#read((sql) => {
      const page: QueuedSession[] = [];
      // Ids are non-empty: "" sorts before every one of them.
      let after = afterSessionId ?? "";
      while (page.length < sessionsMax) {
        const next = sql.nextQueuedSession.get(after) as { session_id: string } | undefined;
        if (next === undefined) break;
        after = next.session_id;
        page.push({ sessionId: after, inputs: queuedOf(sql, after) });
      }
      return page;
    });
  }

  queuedOf(sessionId: string): readonly InputRecord[] {
    this.#writeHeld();
    return this.#read((sql) => queuedOf(sql, sessionId));
  }

  createSession(session: SessionRecord): void {
    this.#write((_, held) => held.holdSession(session));
  }

  accept(input: InputRecord): void {
    this.#write((sql, held) => {
      if (held.holdsInput(input.id)) held.writeAll();
      const payload = JSON.stringify(input.payload);
      // With a key, SQL checks it at once: a second input with the same key is refused at its call.
      if (input.idempotencyKey === undefined && payload !== undefined) {
        held.holdAccept(input, payload);
        return;
      }
      held.writeAccepts();
      sql.insertInput.run(
        input.id,
        input.sessionId,
        input.seq,
        payload,
        input.policy,
        input.idempotencyKey ?? null,
        input.acceptedAtMs,
        input.delegationId ?? null,
      );
    });
  }

  steer(steer: Steer): void {
    this.#write((sql, held) => {
      held.writeAll();
      sql.steerInput.run({ turn: steer.turnId, input: steer.inputId, attempt: steer.attempt });
    });
  }

  endInput(end: InputEnd): void {
    const outcome = JSON.stringify({ status: end.status, reason: end.reason });
    this.#conn?.sweep.ended(1);
    this.#write((sql, held) => {
      held.writeAll();
      sql.endQueuedInput.run(end.status, outcome, end.endedAtMs, end.inputId);
    });
  }

  startTurn(turn: TurnStart): void {
    this.#write((_, held) => held.holdStart(turn));
  }

  checkpoint(checkpoint: StepCheckpoint): void {
    const messages = JSON.stringify(checkpoint.messages);
    this.#write((sql, held) => {
      held.write(checkpoint.turnId);
      sql.checkpointTurn.run(checkpoint.step, messages, checkpoint.turnId, checkpoint.attempt);
    });
  }

  endTurn(end: TurnEnd): void {
    const record = endRecordOf(end);
    const sweep = this.#conn?.sweep;
    if (record.messages !== undefined) sweep?.historyGrew(end.sessionId);
    sweep?.ended(end.inputIds.length - end.requeued.length);
    this.#write((sql, held) => {
      if (held.holdEnd(end, record)) return;
      if (endStoredTurn(sql, record, end.inputIds, end.requeued)) held.holdHistory(record);
    });
  }

  commit(): Promise<void> {
    return this.#conn === undefined ? Promise.resolve() : this.#conn.group.commit();
  }

  history(sessionId: string): readonly Message[] {
    const known = this.#conn?.held;
    if (known?.holdsHistoryOf(sessionId) === true) this.#write((_, held) => held.writeAll());
    else if (known !== undefined) {
      // A session created in this group: writing the held sessions tells whether it is new.
      if (!known.hasNoHistory(sessionId) && known.holdsSessions)
        this.#write((_, held) => held.writeSessions());
      if (known.hasNoHistory(sessionId)) return NO_MESSAGES;
    }
    return this.#read((sql, group) =>
      this.#histories.read(
        sessionId,
        group.rollbacks,
        (lastId) => sql.historyAfter.all(sessionId, lastId) as unknown as HistoryRow[],
      ),
    );
  }

  findByIdempotencyKey(sessionId: string, key: string): InputSnapshot | undefined {
    this.#writeHeld();
    return this.#read((sql) => {
      const row = sql.inputByKey.get(sessionId, key) as InputRow | undefined;
      return row === undefined ? undefined : snapshotOf(row);
    });
  }

  input(inputId: string): InputSnapshot | undefined {
    this.#writeHeld();
    return this.#read((sql) => {
      const row = sql.inputById.get(inputId) as InputRow | undefined;
      return row === undefined ? undefined : snapshotOf(row);
    });
  }

  /** Commits what is pending, releases the file's lock and closes it. Idempotent; `open()` reopens. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Writes and commits so far (how well group commit batches), and what retention deleted. */
  stats(): SqliteStoreStats {
    return {
      ...(this.#group?.stats() ?? NO_STATS),
      ...(this.#checkpointer?.stats() ?? NO_CHECKPOINTS),
      swept: this.#sweep?.counts() ?? NOTHING_SWEPT,
    };
  }

  /**
   * @internal Commits, then sweeps until nothing is beyond the retention bounds, as the background
   * sweep does a batch at a time. For tests.
   */
  async sweepNow(): Promise<SweepCounts> {
    await this.commit();
    const { sweep } = this.#live();
    while (sweep.sweep(Number.POSITIVE_INFINITY));
    return sweep.counts();
  }

  /**
   * @internal Drops the store as `kill -9` drops its process: the open group is lost, the file's lock
   * is released as the OS releases a dead process's, and the lock row stays behind for the next open
   * to take over. For crash tests that run in one process.
   */
  crash(): void {
    const conn = this.#conn;
    if (conn === undefined) return;
    this.#conn = undefined;
    this.#closing = Promise.resolve();
    clearTimeout(conn.sweepTimer);
    this.#histories.clear();
    abandonConnection(conn);
  }

  #boot(paged: boolean): RecoveredState {
    const { conn, state } = connect(
      this.path,
      this.#connection,
      this.#groupCommitMs,
      paged,
      (db, group) =>
        new RetentionSweep(db, group, this.#retention, DEFAULTS.sqliteStore.sweepBatchRows, (sessionId) =>
          this.#histories.forget(sessionId),
        ),
    );
    this.#conn = conn;
    this.#group = conn.group;
    this.#checkpointer = conn.checkpointer;
    this.#sweep = conn.sweep;
    this.#closing = undefined;
    this.#scheduleSweep(conn, DEFAULTS.sqliteStore.sweepIntervalMs);
    return state;
  }

  async #shutdown(): Promise<void> {
    const conn = this.#conn;
    if (conn === undefined) return;
    this.#conn = undefined;
    clearTimeout(conn.sweepTimer);
    this.#histories.clear();
    try {
      conn.group.write();
      releaseLock(conn.db, conn.lock);
      conn.group.flush();
      await conn.group.commit();
    } finally {
      await closeConnection(conn);
    }
  }

  #scheduleSweep(conn: Connection, delayMs: number): void {
    conn.sweepTimer = setTimeout(() => this.#sweepWhenIdle(conn), delayMs);
    // Background housekeeping: it never keeps the process alive.
    conn.sweepTimer.unref();
  }

  /** One background sweep, once no group is open (never inside a turn's transaction). */
  #sweepWhenIdle(conn: Connection): void {
    if (this.#conn !== conn) return;
    if (conn.group.isOpen) {
      conn.group.whenIdle(() => this.#sweepWhenIdle(conn));
      return;
    }
    let more: boolean;
    try {
      more = conn.sweep.sweep();
    } catch {
      // The store failed (the sweep's writes are a group like any other): its next write says so.
      return;
    }
    this.#scheduleSweep(conn, more ? 0 : DEFAULTS.sqliteStore.sweepIntervalMs);
  }

  #live(): Connection {
    if (this.#conn !== undefined) return this.#conn;
    throw new OffstageError("CLOSED", `the SQLite store ${this.path} is not open; open() it first`, {
      details: { path: this.path },
    });
  }

  /** Runs a write in the current group. A failed write fails the store (see `GroupCommit.fail`). */
  #write<T>(apply: (sql: Statements, held: HeldWrites) => T): T {
    const { sql, group, held } = this.#live();
    group.write();
    try {
      return apply(sql, held);
    } catch (error) {
      // SQLITE_CONSTRAINT: the caller's mistake (a duplicate id or key); the group itself is intact.
      if (isConstraintError(error)) {
        throw new InvalidInputError(
          "INVALID_ARGUMENT",
          `the SQLite store refused a write: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
      held.drop();
      throw group.fail(error);
    }
  }

  /** Before a read of inputs or turns: it must see every write made so far. */
  #writeHeld(): void {
    if (this.#conn?.held.empty === false) this.#write((_, held) => held.writeAll());
  }

  #read<T>(query: (sql: Statements, group: GroupCommit) => T): T {
    const { sql, group } = this.#live();
    try {
      return query(sql, group);
    } catch (error) {
      throw new OffstageError(
        "STORE_FAILED",
        `reading ${this.path} failed: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error, details: { path: this.path } },
      );
    }
  }
}

function queuedOf(sql: Statements, sessionId: string): InputRecord[] {
  return (sql.queuedOf.all(sessionId) as unknown as RecordColumns[]).map(recordOf);
}
