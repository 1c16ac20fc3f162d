// The local PostgreSQL the graphile-worker peer runs on: where it is (--pg-url), whether it
// answers, starting it if it does not, and a pool that reports errors instead of crashing on them.
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
