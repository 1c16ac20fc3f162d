/**
 * The options of the PostgreSQL store, checked: `createPostgresStore` refuses bad ones with
 * `BootError` `INVALID_OPTIONS`, quoting the value, before anything connects.
 *
 * @packageDocumentation
 */
import { hostname } from "node:os";
import pg from "pg";
import { DEFAULTS } from "../../kernel/limits.js";
import {
  checkBoolean,
  checkDurationMs,
  checkOptions,
  checkText,
  fail,
  isInstance,
  optionsOf,
} from "../../validate.js";
import { type Retention, type RetentionOptions, retentionOf, storeOptionKeys } from "../retention.js";
import { PostgresStore } from "./postgres-store.js";

/**
 * Options of {@link createPostgresStore}. Retention ({@link RetentionOptions}) is fleet-wide and
 * applied in the background: by default the newest 100 000 ended inputs are kept (`endedInputsMax`),
 * of them at most 100 000 with an idempotency key (`idempotencyKeysMax`), with no age bound, and
 * every session's whole history. About once a second one process of the fleet — whichever gets the
 * schema's sweep lock — deletes what the bounds let go, on a connection of its own, one statement a
 * transaction; give every process the same bounds (a sweep applies its own process's). A session's history
 * is read with its bound applied (its newest `historyTurnsMax` turns) whether or not a sweep has
 * trimmed it yet.
 */
export interface PostgresStoreOptions extends RetentionOptions {
  /** `postgres://user@host:port/database`; or give `pool`. */
  readonly connectionString?: string;
  /** A `pg` pool whose settings the store connects with (its connections are the store's own). */
  readonly pool?: pg.Pool;
  /** The schema the store's tables live in (default `offstage`); created at boot if missing. */
  readonly schema?: string;
  /** How long a lease outlives its holder's last heartbeat, in milliseconds (default 10 000). */
  readonly leaseMs?: number;
  /**
   * This process's name in the lease table (default host, pid and a random suffix). A process that
   * restarts under the same name takes its sessions back at once instead of after `leaseMs`.
   */
  readonly processId?: string;
  /** How long a synchronous read waits for the server before `STORE_UNAVAILABLE` (default 5 000 ms). */
  readonly readTimeoutMs?: number;
  /** Send a `NOTIFY` wake with input for a session another process holds (default true). */
  readonly notify?: boolean;
}

const POSTGRES_STORE_KEYS = storeOptionKeys<PostgresStoreOptions>({
  connectionString: true,
  pool: true,
  schema: true,
  leaseMs: true,
  processId: true,
  readTimeoutMs: true,
  notify: true,
});

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/**
 * Creates a PostgreSQL store; nothing connects until the runtime starts (`open()`), which throws
 * `BootError` `STORE_UNREACHABLE` (naming host and port) when the server cannot be reached and
 * `STORE_TOO_NEW` for a schema a newer release migrated. Throws `BootError` `INVALID_OPTIONS` for
 * bad options (each retention bound must be a positive integer).
 *
 * It keeps an event log (`store.eventLog`), which the runtime records into with `eventLog: true`:
 * each session's events are recorded by the process holding it, and followed from any other by
 * reading the log every `pollIntervalMs` while a subscriber waits.
 *
 * @example
 * const runtime = createRuntime({
 *   agents: { assistant },
 *   store: createPostgresStore({
 *     connectionString: process.env.DATABASE_URL,
 *     schema: "offstage",
 *     endedInputsMax: 10_000, // handles and idempotency keys of the newest 10 000 ended inputs
 *     historyTurnsMax: 50, // each session remembers its newest 50 turns
 *   }),
 * });
 */
export function createPostgresStore(options: PostgresStoreOptions): PostgresStore {
  const given = checkOptions(OPTIONS, "options", options, POSTGRES_STORE_KEYS);
  const { connectionString, pool, schema = "offstage" } = given;
  if ((connectionString === undefined) === (pool === undefined))
    fail(OPTIONS, "connectionString", connectionString, "given when pool is not, and only then");
  if (connectionString !== undefined && (typeof connectionString !== "string" || connectionString === ""))
    fail(OPTIONS, "connectionString", connectionString, "a non-empty string");
  if (pool !== undefined && !isInstance(pool, pg.Pool)) fail(OPTIONS, "pool", pool, "a pg Pool");
  if (typeof schema !== "string" || !SCHEMA_NAME.test(schema))
    fail(
      OPTIONS,
      "schema",
      schema,
      "a name of letters, digits and _ (at most 63, not starting with a digit)",
    );
  const leaseMs = given.leaseMs ?? 10_000;
  checkDurationMs(OPTIONS, "leaseMs", leaseMs, { min: 100, integer: true });
  const readTimeoutMs = given.readTimeoutMs ?? 5_000;
  checkDurationMs(OPTIONS, "readTimeoutMs", readTimeoutMs, { min: 1, integer: true });
  const processId =
    given.processId ?? `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
  checkText(OPTIONS, "processId", processId, 200);
  const notify = given.notify ?? true;
  checkBoolean(OPTIONS, "notify", notify);
  const retention = retentionOf(OPTIONS, given, DEFAULTS.postgresStore);
  const base: pg.ClientConfig =
    pool === undefined ? { connectionString } : { ...(pool.options as pg.ClientConfig) };
  // Names the store's connections in pg_stat_activity: whose they are, at a glance.
  const config: pg.ClientConfig = { ...base, application_name: `offstage ${processId}`.slice(0, 63) };
  return new PostgresStore({ config, schema, leaseMs, processId, readTimeoutMs, notify, retention });
}

const OPTIONS = optionsOf("createPostgresStore()");

/** The resolved options. */
export interface Settings {
  readonly config: pg.ClientConfig;
  readonly schema: string;
  readonly leaseMs: number;
  readonly processId: string;
  readonly readTimeoutMs: number;
  readonly notify: boolean;
  readonly retention: Retention;
}
