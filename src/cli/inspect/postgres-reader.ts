/**
 * The inspector's reader of a PostgreSQL store (`offstage/postgres`'s tables in one schema). It never
 * writes: the connection starts with `default_transaction_read_only` on, and every query runs in one
 * `REPEATABLE READ READ ONLY` transaction, so the whole report is one consistent snapshot of a live
 * store while its processes go on writing. Besides what every store shows, it reports the leases:
 * which process holds each session and under which epoch, which processes are alive, and sessions
 * whose holder's lease lapsed (judged on the server's clock, as the store judges them).
 *
 * It refuses, with stable codes, what it cannot read: a server it cannot reach (`STORE_UNREACHABLE`,
 * naming host:port), a schema that does not exist (`STORE_SCHEMA_MISSING`), one that is not an
 * Offstage store's (`STORE_NOT_OFFSTAGE`), one a newer release migrated (`STORE_TOO_NEW`) or that a
 * runtime has not finished migrating (`STORE_UNSUPPORTED`).
 *
 * @packageDocumentation
 */
import type pg from "pg";
import { OffstageError, type OffstageErrorCode } from "../../errors.js";
import { quoteIdent, SCHEMA_VERSION } from "../../store/postgres/migrations.js";
import { delegationOf, detailOf, inputOf, type Row, sessionOf, turnOf } from "./report-rows.js";
import type {
  DelegationSummary,
  InputSummary,
  ProcessInfo,
  SessionDetail,
  SessionLease,
  SessionSummary,
  StoreOverview,
  StoreReader,
  StuckWork,
  TurnSummary,
} from "./store-reader.js";

/** Options of {@link openPostgresReader}. */
export interface PostgresReaderOptions {
  /** The store's schema (default `offstage`, the store's default). */
  readonly schema?: string | undefined;
  /** How long to wait for the server to answer a connection (default 5 000 ms). */
  readonly connectTimeoutMs?: number | undefined;
}

/** The server's clock in milliseconds, which the store's leases run on. */
const NOW_MS = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";
const TURN_COLUMNS = "id, session_id, attempt, input_ids, started_at_ms, step, outcome, usage, ended_at_ms";
const INPUT_COLUMNS =
  "id, session_id, seq, policy, status, accepted_at_ms, ended_at_ms, turn_id, delegation_id, outcome";
const DELEGATION_COLUMNS =
  "id, parent_session_id, record, completion, delivery, delivery_reason, delivery_input_id";
/** A session with its lease: `expired` when its holder's process stopped beating. */
const SESSION_COLUMNS = `x.id, x.agent, x.created_at_ms, x.owner, x.epoch,
  (x.owner IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM {s}.processes p WHERE p.id = x.owner AND p.alive_until_ms > ${NOW_MS})) AS expired`;
/** The tables the reader reads, each with the columns it needs. */
const TABLES: Readonly<Record<string, readonly string[]>> = {
  migrations: ["version", "name", "applied_at"],
  processes: ["id", "host", "pid", "alive_until_ms"],
  sessions: ["id", "agent", "created_at_ms", "owner", "epoch"],
  inputs: [...INPUT_COLUMNS.split(", "), "ord"],
  turns: TURN_COLUMNS.split(", "),
  history: ["id", "session_id", "messages"],
  delegations: [...DELEGATION_COLUMNS.split(", "), "ord"],
};

/** The statements the reader runs; `{s}` is the quoted schema. Each reads only. */
const SQL = {
  sessionCount: "SELECT count(*) AS n FROM {s}.sessions",
  inputsByStatus: "SELECT status, count(*) AS n FROM {s}.inputs GROUP BY status",
  runningTurnCount: "SELECT count(*) AS n FROM {s}.turns WHERE ended_at_ms IS NULL",
  delegationStates:
    "SELECT CASE WHEN completion IS NULL THEN 'running' ELSE coalesce(delivery, 'pending') END AS state, count(*) AS n FROM {s}.delegations GROUP BY state",
  processes: `SELECT p.id, p.host, p.pid, p.alive_until_ms, p.alive_until_ms > ${NOW_MS} AS alive,
    (SELECT count(*) FROM {s}.sessions x WHERE x.owner = p.id) AS sessions
    FROM {s}.processes p ORDER BY p.id`,
  /** Params: limit. */
  sessions: `SELECT ${SESSION_COLUMNS} FROM {s}.sessions x ORDER BY x.created_at_ms, x.id LIMIT $1`,
  /** Params: session id. */
  session: `SELECT ${SESSION_COLUMNS} FROM {s}.sessions x WHERE x.id = $1`,
  /** Params: session ids. */
  queuedPerSession:
    "SELECT session_id, count(*) AS n FROM {s}.inputs WHERE status = 'queued' AND session_id = ANY($1) GROUP BY session_id",
  /** The latest turn of each session. Params: session ids. */
  lastTurns: `SELECT DISTINCT ON (session_id) ${TURN_COLUMNS} FROM {s}.turns WHERE session_id = ANY($1)
    ORDER BY session_id, started_at_ms DESC, attempt DESC`,
  /** Params: session id, limit. */
  turnsOf: `SELECT ${TURN_COLUMNS} FROM {s}.turns WHERE session_id = $1 ORDER BY started_at_ms DESC, attempt DESC LIMIT $2`,
  /** Params: session id. */
  liveInputsOf: `SELECT ${INPUT_COLUMNS} FROM {s}.inputs WHERE session_id = $1 AND status IN ('queued', 'running') ORDER BY seq, ord`,
  /** Params: session id. */
  historyOf: "SELECT messages FROM {s}.history WHERE session_id = $1 ORDER BY id",
  /** Params: status, limit. */
  inputsWith: `SELECT ${INPUT_COLUMNS} FROM {s}.inputs WHERE status = $1 ORDER BY seq, ord LIMIT $2`,
  /** Params: limit. */
  delegations: `SELECT ${DELEGATION_COLUMNS} FROM {s}.delegations ORDER BY ord DESC LIMIT $1`,
  /** Params: limit. */
  held: `SELECT ${DELEGATION_COLUMNS} FROM {s}.delegations WHERE delivery = 'held' ORDER BY ord LIMIT $1`,
  /** Params: started before (ms), limit. */
  longRunning: `SELECT ${TURN_COLUMNS} FROM {s}.turns WHERE ended_at_ms IS NULL AND started_at_ms < $1 ORDER BY started_at_ms LIMIT $2`,
  /** Params: accepted before (ms), limit. */
  queuedNoTurn: `SELECT ${INPUT_COLUMNS} FROM {s}.inputs AS i WHERE status = 'queued' AND accepted_at_ms < $1
    AND NOT EXISTS (SELECT 1 FROM {s}.turns AS t WHERE t.session_id = i.session_id AND t.ended_at_ms IS NULL)
    ORDER BY seq, ord LIMIT $2`,
  /** Params: limit. */
  expiredLeases: `SELECT * FROM (SELECT ${SESSION_COLUMNS} FROM {s}.sessions x WHERE x.owner IS NOT NULL) AS e
    WHERE expired ORDER BY created_at_ms, id LIMIT $1`,
} as const;

/**
 * Opens the store in `schema` of the database `url` names for reading only; throws `OffstageError`
 * for a server it cannot reach or a schema it cannot read.
 */
export async function openPostgresReader(
  url: string,
  options: PostgresReaderOptions = {},
): Promise<StoreReader> {
  const schema = options.schema ?? "offstage";
  let driver: typeof pg;
  try {
    driver = (await import("pg")).default;
  } catch (error) {
    throw new OffstageError(
      "STORE_UNSUPPORTED",
      "inspecting a PostgreSQL store needs the pg package (npm i pg@8)",
      { cause: error },
    );
  }
  let client: pg.Client;
  try {
    client = new driver.Client({
      connectionString: url,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      application_name: "offstage inspect",
      // Read-only from the first statement: nothing this connection runs can write.
      options: "-c default_transaction_read_only=on",
    });
  } catch (error) {
    // The URL is not echoed: it may carry a password.
    throw new OffstageError(
      "INVALID_ARGUMENT",
      `cannot inspect: not a valid PostgreSQL URL (${describe(error)})`,
      {
        cause: error,
      },
    );
  }
  client.on("error", () => undefined);
  const where = `${client.host}:${client.port}`;
  const location = `${where}/${client.database ?? ""} schema ${schema}`;
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw connectError(error, where);
  }
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    await checkSchema(client, schema, where);
    return new PostgresReader(client, schema, location);
  } catch (error) {
    await client.end().catch(() => undefined);
    if (error instanceof OffstageError) throw error;
    throw refused("STORE_FAILED", where, schema, describe(error), error);
  }
}

/** Refuses a schema that is missing, foreign, newer or older than this release reads. */
async function checkSchema(client: pg.Client, schema: string, where: string): Promise<void> {
  const exists = await client.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema]);
  if (exists.rowCount === 0)
    throw refused(
      "STORE_SCHEMA_MISSING",
      where,
      schema,
      "there is no such schema in this database (a runtime on createPostgresStore({ schema }) creates it at start; give --schema for another)",
    );
  const { rows } = await client.query(
    "SELECT table_name, array_agg(column_name::text) AS columns FROM information_schema.columns WHERE table_schema = $1 GROUP BY table_name",
    [schema],
  );
  const columns = new Map(rows.map((r: Row) => [String(r.table_name), r.columns as string[]]));
  const lacks = (table: string) => TABLES[table]!.some((c) => !columns.get(table)?.includes(c));
  if (lacks("migrations"))
    throw refused("STORE_NOT_OFFSTAGE", where, schema, "it is not an Offstage store's (no migrations table)");
  const s = quoteIdent(schema);
  const version = Number(
    (await client.query(`SELECT coalesce(max(version), 0) AS v FROM ${s}.migrations`)).rows[0].v,
  );
  if (version > SCHEMA_VERSION)
    throw refused(
      "STORE_TOO_NEW",
      where,
      schema,
      `a newer release of Offstage migrated it (version ${version}; this one reads up to ${SCHEMA_VERSION}); inspect it with that release`,
    );
  if (version < SCHEMA_VERSION)
    throw refused(
      "STORE_UNSUPPORTED",
      where,
      schema,
      `it is at version ${version} (this release reads ${SCHEMA_VERSION}); the next runtime start on it migrates it (inspect never writes)`,
    );
  const missing = Object.keys(TABLES).filter(lacks);
  if (missing.length > 0)
    throw refused(
      "STORE_NOT_OFFSTAGE",
      where,
      schema,
      `it is not an Offstage store's (${missing.join(", ")} missing or not as Offstage makes them)`,
    );
}

class PostgresReader implements StoreReader {
  readonly #client: pg.Client;
  readonly #schema: string;
  readonly #location: string;
  #closed = false;

  constructor(client: pg.Client, schema: string, location: string) {
    this.#client = client;
    this.#schema = quoteIdent(schema);
    this.#location = location;
  }

  async overview(): Promise<StoreOverview> {
    const processes: ProcessInfo[] = (await this.#all(SQL.processes)).map((r) => ({
      id: String(r.id),
      host: String(r.host),
      pid: Number(r.pid),
      aliveUntilMs: Number(r.alive_until_ms),
      alive: r.alive === true,
      sessions: Number(r.sessions),
    }));
    return {
      kind: "postgres",
      location: this.#location,
      schemaVersion: SCHEMA_VERSION,
      lock: undefined,
      processes,
      sessions: await this.#count(SQL.sessionCount),
      inputs: await this.#tally(SQL.inputsByStatus, "status"),
      runningTurns: await this.#count(SQL.runningTurnCount),
      delegations: await this.#tally(SQL.delegationStates, "state"),
    };
  }

  async sessions(limit: number): Promise<SessionSummary[]> {
    return this.#summaries(await this.#all(SQL.sessions, limit));
  }

  async session(id: string, limit: number): Promise<SessionDetail | undefined> {
    const [row] = await this.#all(SQL.session, id);
    if (row === undefined) return undefined;
    return detailOf(
      row,
      (await this.#all(SQL.turnsOf, id, limit)).map(turnOf),
      (await this.#all(SQL.liveInputsOf, id)).map(inputOf),
      await this.#all(SQL.historyOf, id),
      limit,
      withLease,
    );
  }

  async inputs(status: string, limit: number): Promise<InputSummary[]> {
    return (await this.#all(SQL.inputsWith, status, limit)).map(inputOf);
  }

  async delegations(limit: number): Promise<DelegationSummary[]> {
    return (await this.#all(SQL.delegations, limit)).map(delegationOf);
  }

  async held(limit: number): Promise<DelegationSummary[]> {
    return (await this.#all(SQL.held, limit)).map(delegationOf);
  }

  async stuck(nowMs: number, olderThanMs: number, limit: number): Promise<StuckWork> {
    const before = nowMs - olderThanMs;
    return {
      longRunning: (await this.#all(SQL.longRunning, before, limit)).map(turnOf),
      queuedNoTurn: (await this.#all(SQL.queuedNoTurn, before, limit)).map(inputOf),
      expiredLeases: await this.#summaries(await this.#all(SQL.expiredLeases, limit)),
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#client.query("ROLLBACK");
    } finally {
      await this.#client.end();
    }
  }

  /** Sessions with their inbox depth, last turn and lease. */
  async #summaries(rows: Row[]): Promise<SessionSummary[]> {
    const ids = rows.map((r) => String(r.id));
    const queued = new Map(
      (await this.#all(SQL.queuedPerSession, ids)).map((r) => [String(r.session_id), Number(r.n)]),
    );
    const last = new Map<string, TurnSummary>(
      (await this.#all(SQL.lastTurns, ids)).map((r) => [String(r.session_id), turnOf(r)]),
    );
    return rows.map((r) => withLease(r, queued, last));
  }

  async #all(sql: string, ...params: unknown[]): Promise<Row[]> {
    return (await this.#client.query(sql.replaceAll("{s}", this.#schema), params)).rows as Row[];
  }

  async #count(sql: string): Promise<number> {
    return Number((await this.#all(sql))[0]!.n);
  }

  async #tally(sql: string, key: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const r of await this.#all(sql)) out[String(r[key])] = Number(r.n);
    return out;
  }
}

function withLease(row: Row, queued: Map<string, number>, last: Map<string, TurnSummary>): SessionSummary {
  const lease: SessionLease = {
    owner: row.owner === null ? undefined : String(row.owner),
    epoch: Number(row.epoch),
    expired: row.expired === true,
  };
  return { ...sessionOf(row, queued, last), lease };
}

/** A failed connection: unreachable (refused, unknown host, timed out) or refused by the server. */
function connectError(error: unknown, where: string): OffstageError {
  const code = (error as { code?: unknown }).code;
  const unreachable =
    (typeof code === "string" && (/^E[A-Z]+$/.test(code) || code.startsWith("08") || code === "57P03")) ||
    /timeout|terminated/i.test(describe(error));
  if (unreachable)
    return new OffstageError("STORE_UNREACHABLE", `cannot reach PostgreSQL at ${where}: ${describe(error)}`, {
      cause: error,
      details: { where },
    });
  return new OffstageError(
    "STORE_FAILED",
    `cannot inspect PostgreSQL at ${where}: the server refused the connection (${describe(error)})`,
    { cause: error, details: { where } },
  );
}

function refused(
  code: OffstageErrorCode,
  where: string,
  schema: string,
  why: string,
  cause?: unknown,
): OffstageError {
  return new OffstageError(
    code,
    `cannot inspect schema ${JSON.stringify(schema)} of PostgreSQL at ${where}: ${why}`,
    {
      cause,
      details: { where, schema },
    },
  );
}

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message === "" ? String((error as { code?: unknown }).code ?? "connection failed") : message;
}
