/**
 * The inspector's reader of a SQLite store file. It never writes: the connection is opened
 * `readOnly`, every query runs in one read transaction (a consistent snapshot of a live store), and
 * a file nobody has open (no `-wal` beside it) is read in SQLite's `immutable` mode, which creates no
 * `-wal`/`-shm` files. A store a runtime is using is read through its write-ahead log like any other
 * reader's, so what a live runtime has committed is what inspect shows.
 *
 * It refuses, with the store's own error codes, what it cannot read: a missing file or one that is not
 * SQLite (`STORE_NOT_SQLITE`), another application's database (`STORE_NOT_OFFSTAGE`), a schema newer
 * than this release knows (`STORE_TOO_NEW`) or older (`STORE_UNSUPPORTED`: a runtime's next start
 * migrates it), and a file another connection keeps exclusively locked (`STORE_LOCKED`).
 *
 * @packageDocumentation
 */
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { DatabaseSync } from "node:sqlite";
import { pathToFileURL } from "node:url";
import { OffstageError } from "../../errors.js";
import { APPLICATION_ID, SCHEMA_VERSION } from "../../store/sqlite/migrations.js";
import { lockIsLive } from "../../store/sqlite/store-lock.js";
import { delegationOf, detailOf, inputOf, type Row, sessionOf, turnOf } from "./report-rows.js";
import type {
  DelegationSummary,
  InputSummary,
  LockInfo,
  SessionDetail,
  SessionSummary,
  StoreOverview,
  StoreReader,
  StuckWork,
} from "./store-reader.js";

/** The statements the reader runs, one per use; each reads only. */
const SQL = {
  lock: "SELECT pid, host, since_ms FROM store_lock WHERE id = 1",
  sessionCount: "SELECT count(*) AS n FROM sessions",
  inputsByStatus: "SELECT status, count(*) AS n FROM inputs GROUP BY status",
  runningTurnCount: "SELECT count(*) AS n FROM turns WHERE ended_at_ms IS NULL",
  delegationStates:
    "SELECT CASE WHEN completion IS NULL THEN 'running' ELSE coalesce(delivery, 'pending') END AS state, count(*) AS n FROM delegations GROUP BY state",
  /** Params: limit. */
  sessions: "SELECT id, agent, created_at_ms FROM sessions ORDER BY created_at_ms, id LIMIT ?",
  session: "SELECT id, agent, created_at_ms FROM sessions WHERE id = ?",
  /** Queued inputs per session (the partial index `inputs_queued_by_session` covers the scan). */
  queuedPerSession:
    "SELECT session_id, count(*) AS n FROM inputs WHERE status = 'queued' GROUP BY session_id",
  /** The latest turn of every session: one pass over the turns. */
  lastTurns: `SELECT ${turnColumns()} FROM turns WHERE rowid IN (SELECT max(rowid) FROM turns GROUP BY session_id)`,
  /** Params: session id, limit. */
  turnsOf: `SELECT ${turnColumns()} FROM turns WHERE session_id = ? ORDER BY started_at_ms DESC, rowid DESC LIMIT ?`,
  /** Params: session id. */
  liveInputsOf: `SELECT ${inputColumns()} FROM inputs WHERE session_id = ? AND status IN ('queued', 'running') ORDER BY seq`,
  /** Params: session id. */
  historyOf: "SELECT messages FROM history WHERE session_id = ? ORDER BY id",
  /** Params: status, limit. */
  inputsWith: `SELECT ${inputColumns()} FROM inputs WHERE status = ? ORDER BY seq LIMIT ?`,
  /** Params: limit. */
  delegations:
    "SELECT id, parent_session_id, record, completion, delivery, delivery_reason, delivery_input_id FROM delegations ORDER BY rowid DESC LIMIT ?",
  /** Params: limit. */
  held: "SELECT id, parent_session_id, record, completion, delivery, delivery_reason, delivery_input_id FROM delegations WHERE delivery = 'held' ORDER BY rowid LIMIT ?",
  /** Params: started before (ms), limit. */
  longRunning: `SELECT ${turnColumns()} FROM turns WHERE ended_at_ms IS NULL AND started_at_ms < ? ORDER BY started_at_ms LIMIT ?`,
  /** Params: accepted before (ms), limit. */
  queuedNoTurn: `SELECT ${inputColumns()} FROM inputs AS i WHERE status = 'queued' AND accepted_at_ms < ?
    AND NOT EXISTS (SELECT 1 FROM turns AS t WHERE t.session_id = i.session_id AND t.ended_at_ms IS NULL)
    ORDER BY seq LIMIT ?`,
} as const;

function turnColumns(): string {
  return "id, session_id, attempt, input_ids, started_at_ms, step, outcome, usage, ended_at_ms";
}

function inputColumns(): string {
  return "id, session_id, seq, policy, status, accepted_at_ms, ended_at_ms, turn_id, delegation_id, outcome";
}

/** Options of {@link openSqliteReader}. */
export interface SqliteReaderOptions {
  /** How long to wait for a connection that holds the file exclusively (default 2 000 ms). */
  readonly busyTimeoutMs?: number | undefined;
}

/** Opens the store file at `path` for reading only; throws `OffstageError` for a file it cannot read. */
export function openSqliteReader(path: string, options: SqliteReaderOptions = {}): StoreReader {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (stat === undefined) throw refused("STORE_NOT_SQLITE", path, "there is no such file");
  if (stat.isDirectory()) throw refused("STORE_NOT_SQLITE", path, "it is a directory");
  if (!hasSqliteHeader(path))
    throw refused("STORE_NOT_SQLITE", path, "it does not start with the SQLite header");
  const url = pathToFileURL(path);
  if (!existsSync(`${path}-wal`)) url.searchParams.set("immutable", "1");
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(url, { readOnly: true, timeout: options.busyTimeoutMs ?? 2_000 });
    db.exec("BEGIN");
    const applicationId = pragma(db, "application_id");
    const version = pragma(db, "user_version");
    if (applicationId !== APPLICATION_ID)
      throw refused(
        "STORE_NOT_OFFSTAGE",
        path,
        `it is not an Offstage store (application_id ${applicationId})`,
      );
    if (version > SCHEMA_VERSION)
      throw refused(
        "STORE_TOO_NEW",
        path,
        `a newer release of Offstage wrote it (schema ${version}; this one reads up to ${SCHEMA_VERSION}); inspect it with that release`,
      );
    if (version < SCHEMA_VERSION)
      throw refused(
        "STORE_UNSUPPORTED",
        path,
        `an older release of Offstage wrote it (schema ${version}; this one reads ${SCHEMA_VERSION}); the next runtime start on it migrates it (inspect never writes)`,
      );
    return new SqliteReader(db, path);
  } catch (error) {
    try {
      db?.close();
    } catch {
      // Closing a connection that failed to open: nothing more to do.
    }
    throw readError(error, path);
  }
}

class SqliteReader implements StoreReader {
  readonly #db: DatabaseSync;
  readonly #path: string;

  constructor(db: DatabaseSync, path: string) {
    this.#db = db;
    this.#path = path;
  }

  async overview(): Promise<StoreOverview> {
    return {
      kind: "sqlite",
      location: this.#path,
      schemaVersion: pragma(this.#db, "user_version"),
      lock: this.#lock(),
      sessions: this.#count(SQL.sessionCount),
      inputs: this.#tally(SQL.inputsByStatus, "status"),
      runningTurns: this.#count(SQL.runningTurnCount),
      delegations: this.#tally(SQL.delegationStates, "state"),
    };
  }

  async sessions(limit: number): Promise<SessionSummary[]> {
    const queued = new Map(this.#all(SQL.queuedPerSession).map((r) => [String(r.session_id), Number(r.n)]));
    const last = new Map(this.#all(SQL.lastTurns).map((r) => [String(r.session_id), turnOf(r)]));
    return this.#all(SQL.sessions, limit).map((r) => sessionOf(r, queued, last));
  }

  async session(id: string, limit: number): Promise<SessionDetail | undefined> {
    const row = this.#db.prepare(SQL.session).get(id) as Row | undefined;
    if (row === undefined) return undefined;
    return detailOf(
      row,
      this.#all(SQL.turnsOf, id, limit).map(turnOf),
      this.#all(SQL.liveInputsOf, id).map(inputOf),
      this.#all(SQL.historyOf, id),
      limit,
    );
  }

  async inputs(status: string, limit: number): Promise<InputSummary[]> {
    return this.#all(SQL.inputsWith, status, limit).map(inputOf);
  }

  async delegations(limit: number): Promise<DelegationSummary[]> {
    return this.#all(SQL.delegations, limit).map(delegationOf);
  }

  async held(limit: number): Promise<DelegationSummary[]> {
    return this.#all(SQL.held, limit).map(delegationOf);
  }

  async stuck(nowMs: number, olderThanMs: number, limit: number): Promise<StuckWork> {
    const before = nowMs - olderThanMs;
    return {
      longRunning: this.#all(SQL.longRunning, before, limit).map(turnOf),
      queuedNoTurn: this.#all(SQL.queuedNoTurn, before, limit).map(inputOf),
    };
  }

  async close(): Promise<void> {
    if (!this.#db.isOpen) return;
    try {
      this.#db.exec("COMMIT");
    } finally {
      this.#db.close();
    }
  }

  #lock(): LockInfo | undefined {
    const row = this.#db.prepare(SQL.lock).get() as Row | undefined;
    if (row === undefined) return undefined;
    const pid = Number(row.pid);
    const host = String(row.host);
    return { pid, host, sinceMs: Number(row.since_ms), holder: liveness(this.#path, host) };
  }

  #all(sql: string, ...params: (string | number)[]): Row[] {
    return this.#db.prepare(sql).all(...params) as Row[];
  }

  #count(sql: string): number {
    return Number((this.#db.prepare(sql).get() as Row).n);
  }

  #tally(sql: string, key: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.#all(sql)) out[String(r[key])] = Number(r.n);
    return out;
  }
}

/**
 * Whether the row's runtime is alive, as the store's lock says: a held lock is `live`; a free one
 * means the holder died on this host (`dead`), while another host's may be alive where locks do not
 * reach across machines (`unknown`).
 */
function liveness(path: string, host: string): LockInfo["holder"] {
  if (lockIsLive(path) === true) return "live";
  return host === hostname() ? "dead" : "unknown";
}

function pragma(db: DatabaseSync, name: "application_id" | "user_version"): number {
  return Number((db.prepare(`PRAGMA ${name}`).get() as Row)[name]);
}

function hasSqliteHeader(path: string): boolean {
  const header = Buffer.alloc(16);
  const fd = openSync(path, "r");
  try {
    return readSync(fd, header, 0, 16, 0) === 16 && header.toString("latin1") === "SQLite format 3\u0000";
  } finally {
    closeSync(fd);
  }
}

function refused(
  code: "STORE_NOT_SQLITE" | "STORE_NOT_OFFSTAGE" | "STORE_TOO_NEW" | "STORE_UNSUPPORTED",
  path: string,
  why: string,
): OffstageError {
  return new OffstageError(code, `cannot inspect ${path}: ${why}`, { details: { path } });
}

/** A SQLite error while reading, as an `OffstageError` whose code says what is wrong. */
function readError(error: unknown, path: string): OffstageError {
  if (error instanceof OffstageError) return error;
  const errcode = (error as { errcode?: unknown }).errcode;
  const primary = typeof errcode === "number" ? errcode & 0xff : undefined;
  const cause = error instanceof Error ? error.message : String(error);
  if (primary === 5 || primary === 6)
    return new OffstageError(
      "STORE_LOCKED",
      `cannot inspect ${path}: another connection holds it locked (${cause}); try again in a moment`,
      { cause: error, details: { path } },
    );
  if (primary === 26) return refused("STORE_NOT_SQLITE", path, cause);
  if (primary === 11)
    return new OffstageError("STORE_CORRUPT", `cannot inspect ${path}: it is damaged (${cause})`, {
      cause: error,
      details: { path },
    });
  return new OffstageError("STORE_FAILED", `cannot inspect ${path}: ${cause}`, {
    cause: error,
    details: { path },
  });
}
