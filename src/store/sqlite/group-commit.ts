/**
 * Group commit for the SQLite store: many writes, one transaction.
 *
 * A group opens a transaction (`BEGIN IMMEDIATE`) at its first write; every write after it, from any
 * session, runs inside the same transaction, so reads on the connection see them at once. The group
 * commits when its window closes (`windowMs` after its first write; 0 means the next turn of the
 * event loop), and every `commit()` promise taken while it was open resolves then. A write made after
 * that starts the next group. One fsync thus covers every send, checkpoint and turn end of the window.
 *
 * A group of at least {@link EARLY_WRITES} writes that someone waits for commits sooner: as soon as a
 * turn of the event loop passes without adding to it. Its writers are then waiting (on this commit,
 * or on IO), and the commit is shared widely already, so the rest of the window would only add to
 * every waiter's wait: under a burst, it would leave the loop idle between groups. Without a
 * {@link WalSync} (durability `normal`: a commit costs no fsync, only its own writes) any waited-for
 * group commits that soon: the window saves little then, and a receipt waited for (a server's 202)
 * would wait out the window while the loop has nothing else to do.
 *
 * With a {@link WalSync}, a group's waiters resolve only once the WAL was fsynced after its COMMIT.
 *
 * Writes held back until the group commits (see `held-writes.ts`) join it through
 * {@link GroupCommit.beforeCommit}: they run inside the transaction, just before its COMMIT.
 *
 *
 * A write or a COMMIT that fails (a full disk, an I/O error) loses the group: it is rolled back, its
 * waiters get `STORE_FAILED`, and so does every later call, rather than pretend its writes were
 * kept. Just before each COMMIT, the file's path is checked to still name the file opened
 * (`file-identity.ts`): a file deleted or replaced meanwhile fails the group the same way, with
 * `STORE_FILE_GONE`, so no write to a file nobody can open again is ever acknowledged. The check is
 * one `stat` per group, not per write. {@link GroupCommit.retry} takes a failed store back into use
 * once a write commits again.
 *
 * After each COMMIT, outside the transaction, the {@link WalCheckpointer} hears of it: WAL
 * checkpoints run on its worker, not inside COMMIT on the event loop.
 *
 * @packageDocumentation
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { OffstageError } from "../../errors.js";
import type { FileIdentity } from "./file-identity.js";
import type { WalCheckpointer } from "./wal-checkpointer.js";
import type { WalSync } from "./wal-sync.js";

/** Counters for tests and metrics. */
export interface GroupCommitStats {
  /** Writes made (each joins a group). */
  readonly writes: number;
  /** Groups committed: one transaction and one fsync (with `durability: "full"`) each. */
  readonly commits: number;
  /** WAL fsyncs issued off the event loop after commits (durability `full`). */
  readonly walSyncs: number;
  /** The most writes one committed group held. */
  readonly groupWritesMax: number;
  /** Longest COMMIT, in milliseconds (it runs on the event loop's thread). */
  readonly commitMsMax: number;
  /** Time spent in COMMIT, in milliseconds. */
  readonly commitMsTotal: number;
}

/** The counters before the first write. */
export const NO_STATS: GroupCommitStats = {
  writes: 0,
  commits: 0,
  walSyncs: 0,
  groupWritesMax: 0,
  commitMsMax: 0,
  commitMsTotal: 0,
};

const RESOLVED = Promise.resolve();
/** The size from which a waited-for group commits once the loop goes idle, before its window closes (with fsyncs). */
const EARLY_WRITES = 64;

interface Waiting {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

export class GroupCommit {
  readonly #db: DatabaseSync;
  readonly #path: string;
  readonly #windowMs: number;
  readonly #begin: StatementSync;
  readonly #commit: StatementSync;
  readonly #walSync: WalSync | undefined;
  /** The size from which a waited-for group commits once the loop goes idle (see the top). */
  readonly #earlyWrites: number;
  #open = false;
  #groupWrites = 0;
  #timer: { cancel(): void } | undefined;
  /** The check for an idle turn of the loop, and the group's size when it was scheduled. */
  #idleCheck: NodeJS.Immediate | undefined;
  #writesAtCheck = 0;
  #waiting: Waiting | undefined;
  #beforeCommit: (() => void)[] = [];
  #whenIdle: (() => void)[] = [];
  /** Counts rollbacks: what a reader cached from uncommitted rows is stale once it changes. */
  #rollbacks = 0;
  #failure: OffstageError | undefined;
  readonly #stats: { -readonly [K in keyof GroupCommitStats]: number } = { ...NO_STATS };

  readonly #file: FileIdentity;
  readonly #checkpointer: WalCheckpointer | undefined;

  constructor(
    db: DatabaseSync,
    path: string,
    windowMs: number,
    walSync: WalSync | undefined,
    file: FileIdentity,
    checkpointer: WalCheckpointer | undefined,
  ) {
    this.#db = db;
    this.#path = path;
    this.#file = file;
    this.#checkpointer = checkpointer;
    this.#windowMs = windowMs;
    this.#walSync = walSync;
    this.#earlyWrites = walSync === undefined ? 1 : EARLY_WRITES;
    this.#begin = db.prepare("BEGIN IMMEDIATE");
    this.#commit = db.prepare("COMMIT");
  }

  /** Joins the current group, opening its transaction at the group's first write. Call before each write. */
  write(): void {
    if (this.#failure !== undefined) throw this.#failure;
    if (!this.#open) {
      this.#begin.run();
      this.#checkpointer?.began();
      this.#open = true;
      this.#schedule(this.#windowMs);
    }
    this.#groupWrites += 1;
    this.#stats.writes += 1;
  }

  /** Resolves once every write made so far is committed (and synced, with a {@link WalSync}). */
  commit(): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (!this.#open) return this.#walSync?.settled() ?? RESOLVED;
    this.#schedule(this.#windowMs);
    this.#watchIdle();
    if (this.#waiting === undefined) {
      let resolve!: () => void;
      let reject!: (error: unknown) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.#waiting = { promise, resolve, reject };
    }
    return this.#waiting.promise;
  }

  /**
   * Runs `task` once, inside the open group's transaction, just before it commits; a group that rolls
   * back drops it. A task that throws fails the group as a failed write does.
   */
  beforeCommit(task: () => void): void {
    this.#beforeCommit.push(task);
  }

  /** Whether a group is open (its transaction begun, not yet committed). */
  get isOpen(): boolean {
    return this.#open;
  }

  /** How many groups were rolled back (see `#rollbacks`). */
  get rollbacks(): number {
    return this.#rollbacks;
  }

  /**
   * Runs `task` once, just after the open group commits, outside any transaction: background work
   * that must not join a group. A group that fails drops it.
   */
  whenIdle(task: () => void): void {
    this.#whenIdle.push(task);
  }

  /** The store failed and has not worked since (see {@link GroupCommit.retry}). */
  get failed(): boolean {
    return this.#failure !== undefined;
  }

  /**
   * Commits the open group now; throws `STORE_FAILED` when the commit fails, `STORE_FILE_GONE` when
   * the file was deleted or replaced (the group is lost either way).
   */
  flush(): void {
    this.#unschedule();
    if (!this.#open) return;
    const tasks = this.#beforeCommit;
    this.#beforeCommit = [];
    try {
      for (const task of tasks) task();
    } catch (error) {
      throw this.fail(error);
    }
    const gone = this.#file.check();
    if (gone !== undefined) throw this.#lose(gone);
    const startedMs = performance.now();
    try {
      this.#commit.run();
    } catch (error) {
      throw this.#lose(
        new OffstageError(
          "STORE_FAILED",
          `committing ${this.#groupWrites} writes to ${this.#path} failed, so they were dropped: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error, details: { path: this.#path } },
        ),
      );
    }
    const waiting = this.#waiting;
    this.#waiting = undefined;
    const ms = performance.now() - startedMs;
    this.#open = false;
    this.#stats.commits += 1;
    this.#stats.groupWritesMax = Math.max(this.#stats.groupWritesMax, this.#groupWrites);
    this.#stats.commitMsMax = Math.max(this.#stats.commitMsMax, ms);
    this.#stats.commitMsTotal += ms;
    this.#groupWrites = 0;
    this.#checkpointer?.committed();
    this.#runIdle();
    if (this.#walSync === undefined) {
      waiting?.resolve();
      return;
    }
    let synced: Promise<void>;
    try {
      synced = this.#walSync.sync();
      this.#stats.walSyncs += 1;
    } catch (error) {
      synced = Promise.reject(error);
    }
    synced.then(
      () => waiting?.resolve(),
      (error: unknown) => {
        // The disk may have dropped what it was given: nothing since the last good fsync is safe.
        this.#failure ??= new OffstageError(
          "STORE_FAILED",
          `fsync of ${this.#path}-wal failed, so recent commits may not survive a power loss: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error, details: { path: this.#path } },
        );
        waiting?.reject(this.#failure);
      },
    );
  }

  /**
   * A write failed halfway (an I/O error, a full disk): the group is rolled back, its waiters and every
   * later call get the returned `STORE_FAILED`, since writes nobody was told about are now lost.
   */
  fail(error: unknown): OffstageError {
    return this.#lose(
      new OffstageError(
        "STORE_FAILED",
        `a write to ${this.#path} failed, so the ${this.#groupWrites} uncommitted writes were dropped: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error, details: { path: this.#path } },
      ),
    );
  }

  /**
   * Takes a failed store back into use: checks the file, then commits `probe`'s writes (a write that
   * needs the disk to work) in a group of their own. Resolves once they are committed; throws, and
   * the store stays failed, while the store still fails.
   */
  retry(probe: () => void): Promise<void> {
    const failure = this.#failure;
    if (failure === undefined) return this.commit();
    this.#failure = undefined;
    try {
      this.write();
      probe();
    } catch (error) {
      throw this.fail(error);
    }
    this.flush();
    return this.commit();
  }

  /** The group is lost: rolled back, and its waiters and every later call get `failure`. */
  #lose(failure: OffstageError): OffstageError {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    this.rollback();
    this.#failure = failure;
    waiting?.reject(failure);
    return failure;
  }

  /** Drops the open group's writes (a failed boot, or a store dropped as by a crash). */
  rollback(): void {
    this.#unschedule();
    if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
    this.#rollbacks += 1;
    this.#beforeCommit = [];
    this.#whenIdle = [];
    this.#open = false;
    this.#groupWrites = 0;
  }

  #runIdle(): void {
    if (this.#whenIdle.length === 0) return;
    const tasks = this.#whenIdle;
    this.#whenIdle = [];
    for (const task of tasks) task();
  }

  stats(): GroupCommitStats {
    return { ...this.#stats };
  }

  #schedule(delayMs: number): void {
    if (this.#timer !== undefined) return;
    if (delayMs === 0) {
      const immediate = setImmediate(this.#scheduledFlush);
      this.#timer = { cancel: () => clearImmediate(immediate) };
    } else {
      const timeout = setTimeout(this.#scheduledFlush, delayMs);
      this.#timer = { cancel: () => clearTimeout(timeout) };
    }
  }

  readonly #scheduledFlush = (): void => {
    this.#timer = undefined;
    try {
      this.flush();
    } catch {
      // The group is lost, and its waiters got the failure.
    }
  };

  /** Checks, at the end of this turn of the loop, whether the group stopped growing (see the top). */
  #watchIdle(): void {
    if (this.#idleCheck !== undefined || this.#windowMs === 0) return;
    this.#writesAtCheck = this.#groupWrites;
    this.#idleCheck = setImmediate(this.#checkIdle);
  }

  readonly #checkIdle = (): void => {
    this.#idleCheck = undefined;
    if (!this.#open || this.#waiting === undefined) return;
    // Grown meanwhile: its writers are busy, look again after their turn. Small: the window decides.
    if (this.#groupWrites > this.#writesAtCheck) this.#watchIdle();
    else if (this.#groupWrites >= this.#earlyWrites) this.#scheduledFlush();
  };

  #unschedule(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    if (this.#idleCheck !== undefined) clearImmediate(this.#idleCheck);
    this.#idleCheck = undefined;
  }
}
