// Offstage on its PostgreSQL store (`offstage/postgres`), the fleet benchmark's system: each process
// a runtime on the same schema, sending to its share of the sessions and running the turns its
// leases give it. The turn is a no-op function agent that notes send→start from the time its input
// carries. Its own schema (offstage_bench_fleet), dropped afterwards.
import { log } from "../lib/log.mjs";
import { wallNow } from "../lib/meters.mjs";
import { loadOffstage } from "../lib/offstage.mjs";
import { ensurePostgres, PG_URL } from "../lib/postgres.mjs";

const SCHEMA = "offstage_bench_fleet";
/** The store names its connections `offstage <processId>`; the members' process ids start so. */
const PROCESS_PREFIX = "bench-fleet-";
const APP = `offstage ${PROCESS_PREFIX}%`;

export const POSTGRES_MISSING =
  "Offstage's PostgreSQL store (createPostgresStore, offstage/postgres) is not in this build yet";

/** The fleet benchmark's system: `processes` Offstage processes on one PostgreSQL schema. */
export function offstagePostgresFleet({ offstage, processes }) {
  return {
    name: `offstage-${processes}p`,
    label: `offstage, ${processes} process${processes > 1 ? "es" : ""}, PostgreSQL store`,
    processes,
    module: import.meta.url,
    applicationName: APP,
    options: {},
    async check() {
      if (typeof offstage.createPostgresStore !== "function") return POSTGRES_MISSING;
      return ensurePostgres();
    },
    prepare: (pool) => pool.query(`drop schema if exists ${SCHEMA} cascade`),
    async committed(pool, total) {
      const { rows } = await pool.query(
        `select count(*)::int as n from ${SCHEMA}.inputs where status not in ('queued', 'running')`,
      );
      return rows[0].n >= total;
    },
    cleanup: (pool) => pool.query(`drop schema if exists ${SCHEMA} cascade`),
  };
}

/**
 * The store with retention off: a run counts its ended inputs in the database (`committed`), so a
 * run past the default bound (100 000) would wait for inputs the sweep deleted. Builds from before
 * the store had retention refuse the options and keep everything anyway.
 */
function keepingEveryInput(offstage, options) {
  const all = Number.MAX_SAFE_INTEGER;
  try {
    return offstage.createPostgresStore({ ...options, endedInputsMax: all, idempotencyKeysMax: all });
  } catch (error) {
    if (error?.code !== "INVALID_OPTIONS") throw error;
    return offstage.createPostgresStore(options);
  }
}

/** One member of the fleet (lib/fleet-member.mjs): a runtime on the shared schema. */
export async function openFleetMember() {
  const offstage = await loadOffstage();
  const store = keepingEveryInput(offstage, {
    connectionString: PG_URL,
    schema: SCHEMA,
    processId: `${PROCESS_PREFIX}${process.pid}`,
  });
  const latencies = [];
  let ran = 0;
  const runtime = offstage.createRuntime({
    agents: {
      bench: {
        run(input) {
          latencies.push(wallNow() - input.t);
          ran += 1;
        },
      },
    },
    store,
    logger: { ...offstage.silentLogger, error: (_details, message) => log(`offstage: ${message}`) },
    limits: { inboxLengthMax: 1000 },
  });
  await runtime.start();
  const sessions = new Map();
  return {
    send(s) {
      let session = sessions.get(s);
      if (session === undefined) {
        session = runtime.session(`s${s}`, { agent: "bench" });
        sessions.set(s, session);
      }
      session.send({ t: wallNow() });
    },
    flush: async () => {},
    ran: () => ran,
    latencies: () => latencies,
    async close() {
      await runtime.stop();
      await store.close();
    },
  };
}
