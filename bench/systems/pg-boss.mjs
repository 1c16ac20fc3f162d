// pg-boss on the local PostgreSQL, the fleet benchmark's second database-queue peer: one queue whose
// policy serializes each session (`singletonKey` = the session): `singleton` (one active job per key,
// the rest queued), or another policy named with --boss-policy. `key_strict_fifo` (one at a time per
// key, in creation order) would match a session's order exactly, but here it started 2 200 of 20 000
// jobs in 300 s, so the peer is measured with `singleton`, its fastest keyed policy. Jobs are added with insert() in chunks; each process runs
// --boss-concurrency workers fetching --boss-batch jobs at a time, fetching again at once while
// batches come back full, woken by LISTEN/NOTIFY; a batch's jobs complete together. Its own schema
// (offstage_bench_boss), dropped afterwards.
//
// Flags: --boss-policy singleton --boss-concurrency 8 --boss-batch 50 --boss-pool-max 12, --pg-url.
import { PgBoss } from "pg-boss";
import { count, flag } from "../lib/args.mjs";
import { log } from "../lib/log.mjs";
import { wallNow } from "../lib/meters.mjs";
import { ensurePostgres, PG_URL } from "../lib/postgres.mjs";

export const BOSS_POLICY = flag("boss-policy", "singleton");
const BOSS_CONCURRENCY = count("boss-concurrency", 8);
const BOSS_BATCH = count("boss-batch", 50);
const BOSS_POOL_MAX = count("boss-pool-max", 12);
const BOSS_SCHEMA = "offstage_bench_boss";
const BOSS_APP = "offstage-bench-boss-fleet";
const QUEUE = "noop";
/** Jobs per insert() call. */
const INSERT_CHUNK = 2000;

/** A pg-boss instance that does only what the benchmark asks: no cron, no maintenance, no monitor. */
function makeBoss(extra) {
  const boss = new PgBoss({
    connectionString: PG_URL,
    schema: BOSS_SCHEMA,
    application_name: BOSS_APP,
    supervise: false,
    schedule: false,
    ...extra,
  });
  boss.on("error", (error) => log(`pg-boss: ${error.message}`));
  return boss;
}

/** The fleet benchmark's system: `processes` processes of pg-boss workers on one queue. */
export function pgBossFleet({ processes }) {
  return {
    name: `pg-boss-${processes}p`,
    label: `pg-boss, ${processes} process${processes > 1 ? "es" : ""}, ${BOSS_POLICY} queue keyed by session, ${BOSS_CONCURRENCY} workers × batch ${BOSS_BATCH} each`,
    processes,
    module: import.meta.url,
    applicationName: BOSS_APP,
    options: {},
    check: () => ensurePostgres(),
    async prepare(pool) {
      await pool.query(`drop schema if exists ${BOSS_SCHEMA} cascade`);
      const boss = makeBoss({ max: 2 });
      await boss.start();
      await boss.createQueue(QUEUE, { policy: BOSS_POLICY, notify: true });
      await boss.stop({ graceful: false });
    },
    async committed(pool, total) {
      const { rows } = await pool.query(
        `select count(*)::int as n from ${BOSS_SCHEMA}.job where name = $1 and state = 'completed'`,
        [QUEUE],
      );
      return rows[0].n >= total;
    },
    cleanup: (pool) => pool.query(`drop schema if exists ${BOSS_SCHEMA} cascade`),
  };
}

/** One member of the fleet (lib/fleet-member.mjs): workers on the queue, insert() for its sessions. */
export async function openFleetMember() {
  const boss = makeBoss({ max: BOSS_POOL_MAX, migrate: false, useListenNotify: true });
  await boss.start();
  const latencies = [];
  let ran = 0;
  await boss.work(
    QUEUE,
    {
      batchSize: BOSS_BATCH,
      localConcurrency: BOSS_CONCURRENCY,
      burstWhenBatchFull: true,
      pollingIntervalSeconds: 0.5,
      notifyPollingIntervalSeconds: 0.5,
    },
    async (jobs) => {
      const at = wallNow();
      for (const job of jobs) latencies.push(at - job.data.t);
      ran += jobs.length;
    },
  );
  let pending = [];
  return {
    send(s) {
      pending.push({ data: { t: wallNow() }, singletonKey: `s${s}` });
    },
    async flush() {
      const jobs = pending;
      pending = [];
      for (let i = 0; i < jobs.length; i += INSERT_CHUNK)
        await boss.insert(QUEUE, jobs.slice(i, i + INSERT_CHUNK));
    },
    ran: () => ran,
    latencies: () => latencies,
    close: () => boss.stop({ graceful: true, timeout: 10_000 }),
  };
}
