// graphile-worker on the local PostgreSQL, the durable benchmark's database-queue peer, and its
// recovery case. One named queue per session (queue_name = session id: graphile-worker runs one job
// of a named queue at a time), jobs added with addJobs in batches, a local queue (batch fetch) and
// batched completions: the tuning that made it fastest here. synchronous_commit on ≈ Offstage's
// "full", off ≈ "normal". It works in its own schema (offstage_bench_gw), dropped afterwards.
//
// Flags: --gw-concurrency 256 --gw-pool-max 24, --pg-url (lib/postgres.mjs).
import { Logger, makeWorkerUtils, run as runGraphile, runMigrations } from "graphile-worker";
import { count } from "../lib/args.mjs";
import { Latency } from "../lib/latency.mjs";
import { log } from "../lib/log.mjs";
import { now, sleep, wallNow } from "../lib/meters.mjs";
import { ensurePostgres, makePool } from "../lib/postgres.mjs";

export const GW_CONCURRENCY = count("gw-concurrency", 256);
const GW_POOL_MAX = count("gw-pool-max", 24);
const GW_SCHEMA = "offstage_bench_gw";
/** Jobs per addJobs call. */
const ADD_CHUNK = 2000;

const quietLogger = new Logger(() => (level, message) => {
  if (level === "error") log(`graphile-worker: ${message}`);
});

// graphile-worker's batching: fetch (and lock) jobs in batches, complete them in batches.
const GW_PRESET = { worker: { localQueue: { size: GW_CONCURRENCY * 4 }, completeJobBatchDelay: 0 } };

const poolMax = () => Math.min(GW_CONCURRENCY + 6, GW_POOL_MAX);

async function freshGraphileSchema(pool) {
  await pool.query(`drop schema if exists ${GW_SCHEMA} cascade`);
  await runMigrations({ pgPool: pool, schema: GW_SCHEMA, logger: quietLogger });
}

/** A started runner whose only task, `noop`, calls `onJob(payload)`. */
function startRunner(pool, onJob, extra = {}) {
  return runGraphile({
    pgPool: pool,
    schema: GW_SCHEMA,
    concurrency: GW_CONCURRENCY,
    noHandleSignals: true,
    ...extra,
    logger: quietLogger,
    taskList: { noop: onJob },
    preset: GW_PRESET,
  });
}

/** The durable benchmark's system with `synchronous_commit` on (`syncCommit`) or off. */
export function graphileWorkerSystem({ syncCommit }) {
  return {
    name: `graphile-${syncCommit ? "full" : "normal"}`,
    label: `graphile-worker, 1 named queue/session, concurrency ${GW_CONCURRENCY}, synchronous_commit ${syncCommit ? "on" : "off"}`,
    durability: syncCommit ? "WAL fsync per commit" : "WAL, commit not waiting for fsync",
    check: () => ensurePostgres(),
    open: () => openGraphile(syncCommit),
  };
}

async function openGraphile(syncCommit) {
  const pool = makePool({
    max: poolMax(),
    ...(syncCommit ? {} : { options: "-c synchronous_commit=off" }),
  });
  await freshGraphileSchema(pool);
  const lat = new Latency();
  let ran = 0;
  const utils = await makeWorkerUtils({ pgPool: pool, schema: GW_SCHEMA, logger: quietLogger });
  const onJob = async (payload) => {
    lat.recordMs(wallNow() - payload.t);
    ran += 1;
  };
  const runner = await startRunner(pool, onJob, { pollInterval: 1000 });
  let pending = [];
  const ack = new Latency();
  return {
    send(s) {
      pending.push({ identifier: "noop", payload: { t: wallNow() }, queueName: `s${s}` });
    },
    async flush() {
      const specs = pending;
      pending = [];
      for (let i = 0; i < specs.length; i += ADD_CHUNK) {
        const chunk = specs.slice(i, i + ADD_CHUNK);
        await utils.addJobs(chunk);
        const at = wallNow();
        for (const spec of chunk) ack.recordMs(at - spec.payload.t);
      }
    },
    done: () => ran,
    // Done when every job ran and its completion is committed (its row deleted).
    async drained(n) {
      for (;;) {
        if (ran >= n) {
          const { rows } = await pool.query(`select count(*)::int as n from ${GW_SCHEMA}._private_jobs`);
          if (rows[0].n === 0) return;
        }
        await sleep(5);
      }
    },
    latency: () => lat.stats(),
    ackLatency: () => ack.stats(),
    async close() {
      await runner.stop();
      await utils.release();
      await pool.query(`drop schema if exists ${GW_SCHEMA} cascade`);
      await pool.end();
    },
  };
}

/**
 * The recovery case: `inputs` jobs over `sessions` named queues waiting in the database; run() →
 * the first job running.
 */
export function graphileWorkerRecovery() {
  return { key: "graphile", recover: recoverGraphile };
}

async function recoverGraphile({ inputs, sessions }) {
  if (await ensurePostgres()) return { skipped: "PostgreSQL is missing" };
  const pool = makePool({ max: poolMax() });
  try {
    await freshGraphileSchema(pool);
    const utils = await makeWorkerUtils({ pgPool: pool, schema: GW_SCHEMA, logger: quietLogger });
    for (let i = 0; i < inputs; i += ADD_CHUNK) {
      const specs = [];
      for (let j = i; j < Math.min(inputs, i + ADD_CHUNK); j++)
        specs.push({ identifier: "noop", payload: {}, queueName: `s${j % sessions}` });
      await utils.addJobs(specs);
    }
    await utils.release();
    log(`  ${inputs} jobs waiting in graphile-worker; starting the worker`);
    let firstMs;
    let gotFirst;
    const first = new Promise((resolve) => {
      gotFirst = resolve;
    });
    const t0 = now();
    const runner = await startRunner(pool, async () => {
      if (firstMs === undefined) {
        firstMs = now() - t0;
        gotFirst();
      }
    });
    const startMs = now() - t0;
    await first;
    // Stopping while the local queue is still filling trips graphile-worker's shutdown; let it settle.
    await sleep(500);
    await runner.stop();
    return { name: "graphile-worker (PostgreSQL)", startMs, firstTurnMs: firstMs, recovered: inputs };
  } finally {
    await pool.query(`drop schema if exists ${GW_SCHEMA} cascade`).catch(() => undefined);
    await pool.end();
  }
}

/** The connections of the fleet benchmark's members say this, so their backends' CPU can be found. */
const GW_FLEET_APP = "offstage-bench-gw-fleet";

/**
 * The fleet benchmark's system (scenarios/fleet-throughput.mjs): `processes` processes, each with the
 * runner and tuning above (its own pool of up to --gw-pool-max connections) and adding the jobs of
 * its share of the sessions. synchronous_commit on, as Offstage's PostgreSQL store commits.
 */
export function graphileWorkerFleet({ processes }) {
  return {
    name: `graphile-${processes}p`,
    label: `graphile-worker, ${processes} process${processes > 1 ? "es" : ""}, 1 named queue/session, concurrency ${GW_CONCURRENCY} each`,
    processes,
    module: import.meta.url,
    applicationName: GW_FLEET_APP,
    options: {},
    check: () => ensurePostgres(),
    prepare: (pool) => freshGraphileSchema(pool),
    async committed(pool) {
      const { rows } = await pool.query(`select count(*)::int as n from ${GW_SCHEMA}._private_jobs`);
      return rows[0].n === 0;
    },
    cleanup: (pool) => pool.query(`drop schema if exists ${GW_SCHEMA} cascade`),
  };
}

/** One member of the fleet (lib/fleet-member.mjs): a runner, and addJobs for the sessions it sends to. */
export async function openFleetMember() {
  const pool = makePool({ max: poolMax(), application_name: GW_FLEET_APP });
  const latencies = [];
  let ran = 0;
  const utils = await makeWorkerUtils({ pgPool: pool, schema: GW_SCHEMA, logger: quietLogger });
  const runner = await startRunner(
    pool,
    async (payload) => {
      latencies.push(wallNow() - payload.t);
      ran += 1;
    },
    { pollInterval: 1000 },
  );
  let pending = [];
  return {
    send(s) {
      pending.push({ identifier: "noop", payload: { t: wallNow() }, queueName: `s${s}` });
    },
    async flush() {
      const specs = pending;
      pending = [];
      for (let i = 0; i < specs.length; i += ADD_CHUNK) await utils.addJobs(specs.slice(i, i + ADD_CHUNK));
    },
    ran: () => ran,
    latencies: () => latencies,
    async close() {
      await runner.stop();
      await utils.release();
      await pool.end();
    },
  };
}
