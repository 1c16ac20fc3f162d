// The local PostgreSQL the graphile-worker peer runs on: where it is (--pg-url), whether it
// answers, starting it if it does not, and a pool that reports errors instead of crashing on them.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import pg from "pg";
import { flag } from "./args.mjs";
import { log } from "./log.mjs";
import { ensureService, POSTGRES_START } from "./services.mjs";

export const PG_URL = flag("pg-url", "postgres://postgres@127.0.0.1:5432/test");

/** True when PostgreSQL answers a query. */
async function postgresUp() {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Starts PostgreSQL if it is down; undefined when it is up, else why it is missing. */
export function ensurePostgres() {
  return ensureService("PostgreSQL", postgresUp, POSTGRES_START);
}

/** A pg.Pool that reports (rather than crashes on) errors of idle clients. */
export function makePool(options) {
  const pool = new pg.Pool({ connectionString: PG_URL, ...options });
  pool.on("error", (error) => log(`pg pool error: ${error.message}`));
  pool.on("connect", (client) => client.on("error", (error) => log(`pg client error: ${error.message}`)));
  return pool;
}

/** Clock ticks per second of /proc/PID/stat's CPU times. */
let clockTicks;
function ticksPerSecond() {
  clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  return clockTicks;
}

/** User + system CPU of a process in ms, from /proc (0 once it is gone). */
function processCpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The fields after the command name, which may hold spaces, start after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond();
  } catch {
    return 0;
  }
}

/** The server processes of the connections whose application_name is LIKE `applicationName`. */
async function backendPids(applicationName) {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    const { rows } = await client.query("select pid from pg_stat_activity where application_name like $1", [
      applicationName,
    ]);
    return rows.map((r) => r.pid);
  } finally {
    await client.end();
  }
}

/**
 * Starts counting the CPU of the PostgreSQL backends serving the connections named `applicationName`
 * (a LIKE pattern)
 * (read from /proc, so the server must run on this machine): on a shared server it separates a
 * system's share of PostgreSQL's work from other users'. `end()` resolves to the ms used since, by
 * the backends alive at the end (a backend that closed in between is not counted).
 */
export async function postgresCpuMeter(applicationName) {
  const before = new Map((await backendPids(applicationName)).map((pid) => [pid, processCpuMs(pid)]));
  return {
    async end() {
      let ms = 0;
      for (const pid of await backendPids(applicationName)) ms += processCpuMs(pid) - (before.get(pid) ?? 0);
      return ms;
    },
  };
}
