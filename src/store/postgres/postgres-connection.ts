/**
 * An open PostgreSQL store's connection and the parts that live exactly as long as it: the worker
 * thread's synchronous connection (`sync-connection.ts`), the group's held writes
 * (`held-writes.ts`), the heartbeat that keeps the process's leases alive (`heartbeat.ts`) and the
 * retention sweep (`fleet-sweep.ts`).
 * {@link connect} makes them at boot — it migrates (`migrations.ts`: one transaction, under an
 * advisory lock) and registers the process first, on a connection of its own — and wires what they
 * report (leases lost, writes fenced out, new sessions' rows answered) to the store's leases.
 *
 * @packageDocumentation
 */
import { hostname } from "node:os";
import pg from "pg";
import { BootError, OffstageError } from "../../errors.js";
import { DEFAULTS } from "../../kernel/limits.js";
import { isConnectionError } from "./connection-worker.js";
import { FleetSweep } from "./fleet-sweep.js";
import { Heartbeat } from "./heartbeat.js";
import type { HeldLeases } from "./held-leases.js";
import { HeldWrites } from "./held-writes.js";
import { migrate } from "./migrations.js";
import type { Settings } from "./postgres-store-options.js";
import { PREPARED, type Statements } from "./statements.js";
import { SyncConnection } from "./sync-connection.js";

/**
 * How long a group of writes stays open before it commits, in milliseconds: its locks (the lease
 * check's share lock on each written session's row above all) are held that long at most.
 */
const GROUP_COMMIT_MS = 2;

/** A connection's pieces, while the store is open. */
export interface PostgresConnection {
  readonly conn: SyncConnection;
  /** The group's inputs, turn starts and turn ends, written together (`held-writes.ts`). */
  readonly held: HeldWrites;
  readonly heartbeat: Heartbeat;
  /** The retention sweep, on a connection of its own (`fleet-sweep.ts`). */
  readonly sweep: FleetSweep;
}

/** What {@link connect} connects to, and for whom. */
export interface ConnectTarget {
  readonly settings: Settings;
  readonly sql: Statements;
  /** `host:port`, for messages. */
  readonly where: string;
  /** Told what the connection's parts find out about the leases. */
  readonly leases: HeldLeases;
}

/**
 * Migrates, registers the process and opens its connection. Throws `BootError`
 * (`STORE_UNREACHABLE` when the server cannot be reached), with everything it opened closed again.
 */
export async function connect({ settings, sql, where, leases }: ConnectTarget): Promise<PostgresConnection> {
  const { config, schema, leaseMs, readTimeoutMs, processId } = settings;
  const admin = new pg.Client(config);
  admin.on("error", () => undefined);
  try {
    await admin.connect();
  } catch (error) {
    throw bootErrorOf(error, where, schema);
  }
  let conn: SyncConnection | undefined;
  try {
    await migrate(admin, schema, `PostgreSQL at ${where}:`);
    await admin.query(sql.registerProcess, [processId, hostname(), process.pid, leaseMs]);
    const prepared = PREPARED.map((name) => sql[name]);
    conn = new SyncConnection(config, readTimeoutMs, GROUP_COMMIT_MS, where, prepared);
    // Turn ends of a group that failed to commit added messages the database does not have, and
    // its appends numbers it does not have.
    conn.onLost = () => {
      leases.histories.clear();
      leases.eventSeqs.clear();
    };
    conn.onReported = (rows) => leases.fencedOut(rows);
  } catch (error) {
    leases.clear();
    await conn?.abandon();
    throw bootErrorOf(error, where, schema);
  } finally {
    await admin.end().catch(() => undefined);
  }
  const heartbeat = new Heartbeat({
    config,
    processId,
    leaseMs,
    renewSql: sql.renewProcess,
    lostSql: sql.lostSessions,
    held: () => leases.entries(),
    onLost: (sessions) => leases.lost(sessions),
    onLapse: () => leases.lapse(),
    onBack: () => leases.back(),
  });
  const held = new HeldWrites(
    sql,
    processId,
    (text, params, report) => conn.write(text, params, report),
    (columns) =>
      conn.asideLater(sql.insertSessions, [...columns, processId], true, (answer) =>
        leases.created(conn, columns, answer),
      ),
  );
  conn.held = held;
  const { sweepBatchRows, sweepRowsMax, cutoffWalkRows, sweepIntervalMs } = DEFAULTS.postgresStore;
  const sweep = new FleetSweep({
    config,
    schema,
    sql,
    retention: settings.retention,
    sizes: {
      batchRows: sweepBatchRows,
      rowsMax: sweepRowsMax,
      walkRows: cutoffWalkRows,
      roundEveryMs: sweepIntervalMs,
    },
    intervalMs: sweepIntervalMs,
    statementTimeoutMs: readTimeoutMs,
    // Idle longer than a lease and than a few tries: the process is frozen (or gone).
    idleTimeoutMs: Math.max(leaseMs, 5 * sweepIntervalMs),
  });
  sweep.start();
  return { conn, held, heartbeat, sweep };
}

/** The connection of a store that is open; `CLOSED` for one that is not. */
export function liveConnection(open: PostgresConnection | undefined, where: string): PostgresConnection {
  if (open !== undefined) return open;
  throw new OffstageError("CLOSED", `the PostgreSQL store at ${where} is not open; open() it first`, {
    details: { where },
  });
}

function bootErrorOf(error: unknown, where: string, schema: string): BootError {
  if (error instanceof BootError) return error;
  if (isConnectionError(error) || (error as { code?: string }).code === "ENOTFOUND")
    return new BootError(
      "STORE_UNREACHABLE",
      `cannot reach PostgreSQL at ${where}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error, details: { where } },
    );
  return new BootError(
    "BOOT_FAILED",
    `opening the PostgreSQL store at ${where} (schema ${schema}) failed: ${error instanceof Error ? error.message : String(error)}`,
    { cause: error, details: { where } },
  );
}
