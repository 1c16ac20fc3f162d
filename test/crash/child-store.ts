/**
 * The store a crash child runs on: the campaign's SQLite file, or — for a process of the fleet test
 * (`test/fleet/`) — a PostgreSQL schema other processes share.
 *
 * `idle()` is what the final drain waits for before `stop({ drain: true })`: with one SQLite file
 * the drain process holds all work from its start; on a shared schema it takes over the sessions of
 * killed processes only as their leases lapse, so it waits until the schema holds no live input and
 * no running child.
 *
 * @packageDocumentation
 */
import type { Store } from "../../src/index.js";
import { createSqliteStore } from "../../src/store/sqlite/index.js";
import type { ChildConfig } from "./protocol.js";

export interface ChildStore {
  readonly store: Store;
  /** Resolves once nothing is left to run (at once for SQLite), or after `timeoutMs`. */
  idle(timeoutMs: number): Promise<void>;
}

/** The PostgreSQL store and `pg` load only in a fleet process, so a SQLite child starts as fast as before. */
export async function openChildStore(config: ChildConfig, database: string): Promise<ChildStore> {
  const postgres = config.postgres;
  if (postgres === undefined) {
    const store = createSqliteStore({
      path: database,
      groupCommitMs: config.groupCommitMs,
      durability: config.durability,
    });
    return { store, idle: async () => {} };
  }
  const { createPostgresStore } = await import("../../src/store/postgres/index.js");
  const { default: pg } = await import("pg");
  const store = createPostgresStore({
    connectionString: postgres.connectionString,
    schema: postgres.schema,
    processId: postgres.processId,
    leaseMs: postgres.leaseMs,
    // The checks read every accepted input back, and resends count on every key: nothing may be
    // forgotten, however long the soak runs (OFFSTAGE_FLEET_SECONDS) and however many it accepts.
    endedInputsMax: Number.MAX_SAFE_INTEGER,
    idempotencyKeysMax: Number.MAX_SAFE_INTEGER,
  });
  return {
    store,
    async idle(timeoutMs) {
      const client = new pg.Client({ connectionString: postgres.connectionString });
      await client.connect();
      const s = `"${postgres.schema}"`;
      const deadline = Date.now() + timeoutMs;
      try {
        while (Date.now() < deadline) {
          const { rows } = await client.query<{ live: number }>(
            `SELECT (SELECT count(*) FROM ${s}.inputs WHERE status IN ('queued', 'running'))
                  + (SELECT count(*) FROM ${s}.delegations WHERE completion IS NULL) AS live`,
          );
          if (Number(rows[0]!.live) === 0) return;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      } finally {
        await client.end();
      }
    },
  };
}
