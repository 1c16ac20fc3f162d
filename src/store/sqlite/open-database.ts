/**
 * Opening the SQLite file safely: every check that can refuse a file runs before anything is written
 * to it, so a refused file is left byte for byte as it was.
 *
 * 0. The `node:sqlite` of this Node.js must have what the store uses (Node.js ≥ 22.16 or ≥ 24: the
 *    busy timeout, `isTransaction`, rows as arrays), or `STORE_UNSUPPORTED`; checked once a process.
 * 1. The folder is created if missing; a path that cannot be created or written is `STORE_UNWRITABLE`.
 * 2. An existing, non-empty file must start with SQLite's 100-byte header (`STORE_NOT_SQLITE`).
 * 3. A read-only look at the header and schema: another application's database is
 *    `STORE_NOT_OFFSTAGE`, a newer schema `STORE_TOO_NEW`, a damaged file `STORE_CORRUPT` (the whole
 *    file is scanned only with `checkIntegrity`; otherwise damage is found where boot reads). Without
 *    a `-wal` file beside it nobody has the file open, so the look uses SQLite's `immutable` mode,
 *    which creates no `-wal`/`-shm` files next to a file it may refuse.
 * 4. The lock of the file (`store-lock.ts`): a live runtime elsewhere is `STORE_LOCKED`.
 * 5. Only then the read-write connection: WAL journal, `synchronous = NORMAL`; with durability
 *    `full` the store fsyncs the WAL after each commit itself (see `wal-sync.ts`). Should the file
 *    system refuse WAL, SQLite's own `synchronous = FULL` does it instead. The WAL's size is bounded
 *    by {@link WAL_SIZE_LIMIT_BYTES} (below). Checkpoints run on a worker thread, and on this
 *    connection only past a backstop length (`wal-checkpointer.ts`).
 *
 * @packageDocumentation
 */
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readSync,
  statSync,
} from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { pathToFileURL } from "node:url";
import { BootError, OffstageError } from "../../errors.js";
import { APPLICATION_ID, assertNotNewer } from "./migrations.js";
import { FileLock } from "./store-lock.js";
import { WAL_BACKSTOP_PAGES, WAL_RESTART_PAGES } from "./wal-checkpointer.js";

/**
 * The size the WAL file is cut back to once it may be: `PRAGMA journal_size_limit`.
 *
 * The store checkpoints the WAL into the database (`wal-checkpointer.ts`) once it passes
 * {@link WAL_RESTART_PAGES} pages (about 8 MB), and then writes it again from its start, so the file
 * stays near that size. A reader that keeps a read transaction open (an outside connection, a
 * backup, `offstage inspect` paused mid-read) pins its snapshot: no checkpoint may pass it, so the
 * WAL grows with every commit for as long as the reader stays, and nothing bounds that growth but
 * the reader leaving. Once it has left, the next checkpoint copies the whole WAL back, the following
 * write restarts the WAL from its start, and that write's commit truncates the file to this limit — without the limit, SQLite keeps the grown
 * file at its largest size until the last connection closes. It sits above the usual size, so
 * ordinary checkpoints never cut the file only for it to grow again.
 */
export const WAL_SIZE_LIMIT_BYTES = 16 * 1024 * 1024;

const HEADER = Buffer.from("SQLite format 3\u0000", "latin1");
const HEADER_BYTES = 100;

export interface ConnectionOptions {
  readonly durability: "full" | "normal";
  readonly busyTimeoutMs: number;
  /** Run `PRAGMA quick_check` over the whole file before writing to it. */
  readonly checkIntegrity: boolean;
}

export interface OpenedDatabase {
  readonly db: DatabaseSync;
  /** The WAL file the store must fsync after each commit, when it does (durability `full`, WAL mode). */
  readonly syncWal: string | undefined;
  /** The file's lock, held for this connection: release it after closing `db`. */
  readonly lock: FileLock;
  /** The file is in WAL mode: its checkpoints are the store's to run (`wal-checkpointer.ts`). */
  readonly wal: boolean;
}

/**
 * What the store needs of `node:sqlite` and this one lacks, judged on a connection and a statement
 * of it (all came with Node.js 22.16 and 24.0; so did the busy timeout option, which cannot be
 * detected: an older Node ignores it).
 */
export function missingSqliteFeatures(db: object, statement: object): string[] {
  const missing: string[] = [];
  if (!("isTransaction" in db)) missing.push("DatabaseSync#isTransaction");
  if (!("setReturnArrays" in statement)) missing.push("StatementSync#setReturnArrays");
  return missing;
}

/** What this process's `node:sqlite` lacks; found once, on a connection to an in-memory database. */
let missingHere: readonly string[] | undefined;

/** Throws `STORE_UNSUPPORTED` when this Node's `node:sqlite` lacks what the store needs. */
function assertSqliteSupported(path: string): void {
  if (missingHere === undefined) {
    const probe = new DatabaseSync(":memory:");
    try {
      missingHere = missingSqliteFeatures(probe, probe.prepare("SELECT 1"));
    } finally {
      probe.close();
    }
  }
  const missing = missingHere;
  if (missing.length === 0) return;
  throw new BootError(
    "STORE_UNSUPPORTED",
    `the SQLite store needs Node.js 22.16 or later (this is ${process.version}, whose node:sqlite lacks ${missing.join(", ")}); ` +
      "run a newer Node.js, or pass createMemoryStore() for work that need not survive the process",
    { details: { path, nodeVersion: process.version, missing: [...missing] } },
  );
}

/** Runs the checks above and returns a read-write connection. Throws `BootError`. */
export function openDatabase(path: string, options: ConnectionOptions): OpenedDatabase {
  assertSqliteSupported(path);
  preparePath(path);
  if (statSync(path, { throwIfNoEntry: false })?.size) probe(path, options.checkIntegrity);
  let lock: FileLock | undefined;
  let db: DatabaseSync | undefined;
  try {
    lock = FileLock.acquire(path);
    db = new DatabaseSync(path, { timeout: options.busyTimeoutMs });
    const { journal_mode } = db.prepare("PRAGMA journal_mode = WAL").get() as { journal_mode: string };
    const ownSync = journal_mode === "wal" && options.durability === "full";
    db.exec(`PRAGMA synchronous = ${ownSync || options.durability === "normal" ? "NORMAL" : "FULL"}`);
    db.exec(`PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    const wal = journal_mode === "wal";
    if (wal) db.exec(`PRAGMA wal_autocheckpoint = ${WAL_BACKSTOP_PAGES}`);
    return { db, syncWal: ownSync ? `${path}-wal` : undefined, lock, wal };
  } catch (error) {
    db?.close();
    lock?.release();
    throw bootErrorOf(error, path, "opening");
  }
}

/**
 * Turns a SQLite error met at boot into a `BootError` whose code says what is wrong with the file
 * (primary result codes: 5 BUSY, 6 LOCKED, 8 READONLY, 10 IOERR, 11 CORRUPT, 13 FULL, 14 CANTOPEN,
 * 23 AUTH, 26 NOTADB).
 */
export function bootErrorOf(error: unknown, path: string, doing: string): OffstageError {
  if (error instanceof OffstageError) return error;
  const errcode = (error as { errcode?: unknown }).errcode;
  const primary = typeof errcode === "number" ? errcode & 0xff : undefined;
  const cause = error instanceof Error ? error.message : String(error);
  const details = { path, sqliteCode: errcode };
  switch (primary) {
    case 11:
      return new BootError(
        "STORE_CORRUPT",
        `${path} is damaged (${cause}); it was left untouched: restore it from a backup, or move it aside to start empty`,
        { cause: error, details },
      );
    case 26:
      return notSqlite(path, cause);
    case 5:
    case 6:
      return new BootError(
        "STORE_LOCKED",
        `${path} stayed locked by another connection while ${doing} it (${cause})`,
        { cause: error, details },
      );
    case 8:
    case 10:
    case 13:
    case 14:
    case 23:
      return unwritable(path, `${doing} it failed: ${cause}`, error);
    default:
      return new BootError("BOOT_FAILED", `${doing} ${path} failed: ${cause}`, { cause: error, details });
  }
}

function preparePath(path: string): void {
  const folder = dirname(path);
  try {
    mkdirSync(folder, { recursive: true });
  } catch (error) {
    throw unwritable(path, `its folder cannot be created: ${(error as Error).message}`, error);
  }
  const stat = statSync(path, { throwIfNoEntry: false });
  if (stat?.isDirectory()) throw unwritable(path, "it is a directory");
  try {
    accessSync(folder, constants.W_OK);
    if (stat !== undefined) accessSync(path, constants.R_OK | constants.W_OK);
  } catch (error) {
    throw unwritable(path, `no permission to read and write it: ${(error as Error).message}`, error);
  }
}

function probe(path: string, checkIntegrity: boolean): void {
  const header = Buffer.alloc(HEADER_BYTES);
  const fd = openSync(path, "r");
  let read: number;
  try {
    read = readSync(fd, header, 0, HEADER_BYTES, 0);
  } finally {
    closeSync(fd);
  }
  if (read < HEADER_BYTES || !header.subarray(0, HEADER.length).equals(HEADER)) {
    throw notSqlite(path, "it does not start with the SQLite header");
  }
  const inUse = existsSync(`${path}-wal`);
  const url = pathToFileURL(path);
  if (!inUse) url.searchParams.set("immutable", "1");
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(url, { readOnly: true });
    // One read transaction, so the three reads see one snapshot. Each on its own, they could fall on
    // either side of another runtime's first commit to a file it is creating: all its tables, and
    // the application id of before (two runtimes booting at once, about once in a hundred).
    db.exec("BEGIN");
    const applicationId = pragma(db, "application_id");
    const version = pragma(db, "user_version");
    const objects = (db.prepare("SELECT count(*) AS n FROM sqlite_schema").get() as { n: number }).n;
    db.exec("COMMIT");
    if (applicationId !== APPLICATION_ID && (version !== 0 || objects > 0)) {
      throw new BootError(
        "STORE_NOT_OFFSTAGE",
        `${path} is a SQLite database of another application (application_id ${applicationId}, ${objects} schema objects); ` +
          "it was left untouched: give Offstage a path of its own",
        { details: { path, applicationId } },
      );
    }
    assertNotNewer(version, path);
    if (checkIntegrity) {
      const problems = db.prepare("PRAGMA quick_check(5)").all() as { quick_check: string }[];
      if (problems[0]?.quick_check !== "ok") {
        throw new BootError(
          "STORE_CORRUPT",
          `${path} is damaged (quick_check: ${problems.map((p) => p.quick_check).join("; ")}); it was left untouched: restore it from a backup, or move it aside to start empty`,
          { details: { path } },
        );
      }
    }
  } catch (error) {
    throw bootErrorOf(error, path, "reading");
  } finally {
    db?.close();
  }
}

function pragma(db: DatabaseSync, name: "application_id" | "user_version"): number {
  return Number((db.prepare(`PRAGMA ${name}`).get() as Record<string, number>)[name]);
}

function notSqlite(path: string, why: string): BootError {
  return new BootError(
    "STORE_NOT_SQLITE",
    `${path} is not a SQLite database (${why}); it was left untouched: give Offstage another path, or move the file aside`,
    { details: { path } },
  );
}

function unwritable(path: string, why: string, cause?: unknown): BootError {
  return new BootError("STORE_UNWRITABLE", `cannot use ${path} as the store: ${why}`, {
    cause,
    details: { path },
  });
}
