/**
 * The boot gate: one live runtime per SQLite file, decided by a lock the operating system holds for
 * the runtime and drops when its process dies, never by guessing from pids.
 *
 * The lock: a sidecar file `<db>-lock` beside the store, opened as a SQLite database of its own and
 * held in an exclusive transaction (`locking_mode = EXCLUSIVE`, `BEGIN EXCLUSIVE`) for as long as
 * the store is open. SQLite takes it with POSIX `fcntl` locks on the file's inode, which the kernel
 * releases when the holding process exits however it exits (`kill -9` included), and which other
 * processes see whatever their pid namespace or host name: two containers sharing the file on one
 * kernel contend for the same inode. Within one process SQLite tracks the locks of every connection
 * per inode, so a second store in the same thread, or in a `worker_threads` worker (same SQLite
 * library), is refused too. The main file is not locked exclusively, so readers (`offstage inspect`)
 * still read a live store.
 *
 * The sidecar is never deleted (a lock file removed while held lets a second holder lock a new inode
 * under the same name), and no code of this package opens it other than through SQLite: closing any
 * descriptor of a file drops every `fcntl` lock the process holds on it.
 *
 * Who holds the file is written to the store's `store_lock` row in the boot transaction (token, pid,
 * host, since) and deleted by a clean close; it names the holder in `STORE_LOCKED` messages. A row
 * left behind by a process of this host that died is taken over (its lock is gone). A row left by
 * another host is not: on file systems whose locks do not reach across machines (some network file
 * systems), that runtime may still be alive. Boot refuses it with the command that clears it,
 * `offstage unlock <db>` ({@link unlockStore}), which itself refuses while the lock is live.
 *
 * @packageDocumentation
 */
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { DatabaseSync } from "node:sqlite";
import { pathToFileURL } from "node:url";
import { BootError } from "../../errors.js";

/** Who holds a store file open, as its `store_lock` row says. */
export interface LockHolder {
  readonly token: string;
  readonly pid: number;
  readonly host: string;
  readonly sinceMs: number;
}

/**
 * How long an open waits for the sidecar's lock: long enough to outlast another process's brief
 * look at it (`offstage inspect`, `offstage unlock`), short enough that a live holder is reported at
 * once. A live holder never lets go by itself, so waiting longer would only delay the error.
 */
const LOCK_WAIT_MS = 250;

/** The sidecar lock file of the store at `path`. */
export function lockPathOf(path: string): string {
  return `${path}-lock`;
}

/** The operating system's lock on a store's sidecar, held until {@link FileLock.release}. */
export class FileLock {
  #db: DatabaseSync | undefined;

  private constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /**
   * Takes the lock of the store at `path`, creating the sidecar if missing. Throws `BootError`
   * `STORE_LOCKED` naming the holder when another runtime (process, thread or store) has it.
   */
  static acquire(path: string): FileLock {
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(lockPathOf(path), { timeout: LOCK_WAIT_MS });
      // Exclusive locking mode only once the lock is held: set before, a connection keeps the shared
      // lock of its first try while it waits, so two opening at once each wait for the other's and
      // both give up (both refused, about one pair in fifteen).
      db.exec("BEGIN EXCLUSIVE");
      db.exec("PRAGMA locking_mode = EXCLUSIVE");
      return new FileLock(db);
    } catch (error) {
      db?.close();
      if (isBusy(error)) throw liveHolderError(path, readHolder(path), error);
      throw new BootError(
        "STORE_UNWRITABLE",
        `cannot use ${path} as the store: its lock file ${lockPathOf(path)} cannot be opened and locked (${error instanceof Error ? error.message : String(error)})`,
        { cause: error, details: { path } },
      );
    }
  }

  /** Releases the lock (closing the sidecar's connection). Idempotent. */
  release(): void {
    const db = this.#db;
    this.#db = undefined;
    db?.close();
  }
}

/**
 * Whether a runtime holds the store at `path` right now: `true`, `false`, or `undefined` when the
 * store has no sidecar (no runtime of this release opened it). Looks with a read that needs the
 * sidecar's shared lock, so it writes nothing and creates no file.
 */
export function lockIsLive(path: string): boolean | undefined {
  const sidecar = lockPathOf(path);
  if (!existsSync(sidecar)) return undefined;
  const db = new DatabaseSync(sidecar, { readOnly: true, timeout: 0 });
  try {
    db.prepare("SELECT count(*) FROM sqlite_schema").get();
    return false;
  } catch (error) {
    if (isBusy(error)) return true;
    throw error;
  } finally {
    db.close();
  }
}

/**
 * Claims the file inside the open boot transaction (after the migrations, so the table exists), the
 * caller holding its {@link FileLock}. A row this host left behind belonged to a process that died
 * and is replaced; a row of another host throws `BootError` `STORE_LOCKED` with the unlock command.
 */
export function claimLock(db: DatabaseSync, path: string, nowMs: number): LockHolder {
  const left = holderRow(db);
  if (left !== undefined && left.host !== hostname()) throw otherHostError(path, left);
  const mine: LockHolder = { token: randomUUID(), pid: process.pid, host: hostname(), sinceMs: nowMs };
  db.prepare("INSERT OR REPLACE INTO store_lock (id, token, pid, host, since_ms) VALUES (1, ?, ?, ?, ?)").run(
    mine.token,
    mine.pid,
    mine.host,
    mine.sinceMs,
  );
  return mine;
}

/** Deletes this holder's row (inside the closing store's last group). */
export function releaseLock(db: DatabaseSync, holder: LockHolder): void {
  db.prepare("DELETE FROM store_lock WHERE token = ?").run(holder.token);
}

/**
 * Clears the holder row of the store open on `db`, whose {@link FileLock} the caller holds (so no
 * runtime anywhere that honours the lock has the file). Returns the row it cleared, if any.
 */
export function unlockStore(db: DatabaseSync): LockHolder | undefined {
  const left = holderRow(db);
  if (left !== undefined) db.prepare("DELETE FROM store_lock WHERE id = 1").run();
  return left;
}

/** The `store_lock` row on a connection to the store. */
export function holderRow(db: DatabaseSync): LockHolder | undefined {
  const row = db.prepare("SELECT token, pid, host, since_ms FROM store_lock WHERE id = 1").get() as
    | { token: string; pid: number; host: string; since_ms: number }
    | undefined;
  return row === undefined
    ? undefined
    : { token: row.token, pid: row.pid, host: row.host, sinceMs: row.since_ms };
}

/** The command that clears the lock of the store at `path`, quoted for a POSIX shell when it must be. */
export function unlockCommand(path: string): string {
  return `offstage unlock ${/^[\w./@:+-]+$/.test(path) ? path : `'${path.replaceAll("'", `'\\''`)}'`}`;
}

/** The holder row, read on a read-only connection of its own; `undefined` when it cannot be read. */
function readHolder(path: string): LockHolder | undefined {
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(pathToFileURL(path), { readOnly: true, timeout: LOCK_WAIT_MS });
    return holderRow(db);
  } catch {
    // The holder is still creating the file, or it is not a store yet: the message says so.
    return undefined;
  } finally {
    db?.close();
  }
}

function describeHolder(holder: LockHolder): string {
  return `pid ${holder.pid} on host ${holder.host}, since ${new Date(holder.sinceMs).toISOString()}`;
}

function liveHolderError(path: string, holder: LockHolder | undefined, cause: unknown): BootError {
  return new BootError(
    "STORE_LOCKED",
    `${path} is held by another runtime: ${holder === undefined ? "one that is still starting" : describeHolder(holder)}, ` +
      `whose lock on ${lockPathOf(path)} is live. Stop that runtime first, or give this one another path.`,
    {
      cause,
      details: {
        path,
        live: true,
        ...(holder === undefined ? {} : { pid: holder.pid, host: holder.host, sinceMs: holder.sinceMs }),
      },
    },
  );
}

function otherHostError(path: string, holder: LockHolder): BootError {
  const command = unlockCommand(path);
  return new BootError(
    "STORE_LOCKED",
    `${path} is held by a runtime on another host: ${describeHolder(holder)}. It did not close the file, ` +
      "and file locks may not reach across machines on this file system, so it is not taken over. " +
      `If that runtime is gone for sure, run: ${command}`,
    {
      details: {
        path,
        live: false,
        pid: holder.pid,
        host: holder.host,
        sinceMs: holder.sinceMs,
        unlock: command,
      },
    },
  );
}

/** SQLITE_BUSY or SQLITE_LOCKED: another connection holds the lock. */
function isBusy(error: unknown): boolean {
  const errcode = (error as { errcode?: unknown }).errcode;
  return typeof errcode === "number" && ((errcode & 0xff) === 5 || (errcode & 0xff) === 6);
}
