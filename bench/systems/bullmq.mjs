// BullMQ on the local Redis, the durable benchmark's job-queue peer, and its recovery case.
// Open-source BullMQ has no per-key serialization (groups are BullMQ Pro), so sessions are sharded
// over K queues (session s → queue s mod K), each with one Worker of concurrency 1: per-session FIFO,
// one job at a time per session, the usual open-source answer. Redis persistence is switched for the
// run with CONFIG SET (appendonly + appendfsync always ≈ Offstage's "full", everysec ≈ "normal") and
// restored afterwards; "none" (the service's own setting: nothing on disk, so not durable) is a
// system only when named.
//
// Flags: --bull-queues 16 (K), --redis-url (lib/redis.mjs).
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { count } from "../lib/args.mjs";
import { Latency } from "../lib/latency.mjs";
import { log } from "../lib/log.mjs";
import { now, sleep, wallNow } from "../lib/meters.mjs";
import { ensureRedis, REDIS } from "../lib/redis.mjs";

export const BULL_QUEUES = count("bull-queues", 16);

/** Jobs per addBulk call: BullMQ's batching, one round trip (a MULTI) per chunk. */
const ADD_CHUNK = 1000;

/** Switches Redis persistence: "none" (as the service runs), "everysec" or "always"; returns a restorer. */
async function setRedisPersistence(mode) {
  const admin = new Redis(REDIS);
  const [, appendonly] = await admin.config("GET", "appendonly");
  const [, appendfsync] = await admin.config("GET", "appendfsync");
  const restore = async () => {
    await admin.config("SET", "appendonly", appendonly);
    await admin.config("SET", "appendfsync", appendfsync);
    admin.disconnect();
  };
  try {
    if (mode === "none") await admin.config("SET", "appendonly", "no");
    else {
      await admin.config("SET", "appendfsync", mode);
      await admin.config("SET", "appendonly", "yes");
      // Turning AOF on rewrites the file in the background; wait for it before measuring.
      for (;;) {
        const info = await admin.info("persistence");
        if (/aof_enabled:1/.test(info) && /aof_rewrite_in_progress:0/.test(info)) break;
        await sleep(50);
      }
    }
  } catch (error) {
    await restore();
    throw error;
  }
  return restore;
}

/** Adds each queue's jobs in chunks of ADD_CHUNK, all at once; `then(chunk)` runs as each returns. */
function addAll(queues, jobsPerQueue, then = () => {}) {
  const adds = [];
  for (let q = 0; q < queues.length; q++) {
    for (let i = 0; i < jobsPerQueue[q].length; i += ADD_CHUNK) {
      const chunk = jobsPerQueue[q].slice(i, i + ADD_CHUNK);
      adds.push(queues[q].addBulk(chunk).then(() => then(chunk)));
    }
  }
  return Promise.all(adds);
}

/** The durable benchmark's system with Redis persistence `mode`: "always", "everysec" or "none". */
export function bullmqSystem({ mode }) {
  return {
    name: `bullmq-${mode}`,
    label: `BullMQ, ${BULL_QUEUES} queues × 1 worker, Redis AOF ${mode === "none" ? "off" : `appendfsync ${mode}`}`,
    durability: mode === "none" ? "none (Redis keeps nothing on disk)" : `AOF appendfsync ${mode}`,
    check: () => ensureRedis(),
    open: () => openBullmq(mode),
  };
}

async function openBullmq(mode) {
  const restore = await setRedisPersistence(mode);
  const prefix = `obench${process.pid}`;
  const lat = new Latency();
  let completed = 0;
  const waiters = [];
  const queues = [];
  const workers = [];
  for (let q = 0; q < BULL_QUEUES; q++) {
    const name = `q${q}`;
    const defaultJobOptions = { removeOnComplete: true, removeOnFail: true };
    queues.push(new Queue(name, { connection: REDIS, prefix, defaultJobOptions }));
    const worker = new Worker(
      name,
      async (job) => {
        lat.recordMs(wallNow() - job.data.t);
        return "ok";
      },
      { connection: REDIS, prefix, concurrency: 1 },
    );
    // "completed" fires once the job is moved to completed in Redis.
    worker.on("completed", () => {
      completed += 1;
      for (const w of waiters) if (completed >= w.n) w.resolve();
    });
    worker.on("error", (error) => log(`bullmq worker error: ${error.message}`));
    workers.push(worker);
  }
  await Promise.all([...queues.map((q) => q.waitUntilReady()), ...workers.map((w) => w.waitUntilReady())]);
  let pending = queues.map(() => []);
  const ack = new Latency();
  return {
    send(s) {
      pending[s % BULL_QUEUES].push({ name: "noop", data: { s, t: wallNow() } });
    },
    async flush() {
      const batches = pending;
      pending = queues.map(() => []);
      await addAll(queues, batches, (chunk) => {
        const at = wallNow();
        for (const job of chunk) ack.recordMs(at - job.data.t);
      });
    },
    done: () => completed,
    drained: (n) =>
      completed >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve })),
    latency: () => lat.stats(),
    ackLatency: () => ack.stats(),
    async close() {
      try {
        await Promise.all(workers.map((w) => w.close()));
        for (const q of queues) {
          await q.obliterate({ force: true });
          await q.close();
        }
      } finally {
        await restore();
      }
    },
  };
}

/** The recovery case: `inputs` jobs waiting in the K queues; workers built → the first job running. */
export function bullmqRecovery() {
  return { key: "bullmq", recover: recoverBullmq };
}

async function recoverBullmq({ inputs }) {
  if (await ensureRedis()) return { skipped: "Redis is missing" };
  const prefix = `obenchrec${process.pid}`;
  const queues = [];
  for (let q = 0; q < BULL_QUEUES; q++) queues.push(new Queue(`q${q}`, { connection: REDIS, prefix }));
  try {
    const perQueue = queues.map(() => []);
    for (let i = 0; i < inputs; i++) perQueue[i % BULL_QUEUES].push({ name: "noop", data: { i } });
    await addAll(queues, perQueue);
    log(`  ${inputs} jobs waiting in ${BULL_QUEUES} BullMQ queues; starting workers`);
    let firstMs;
    let gotFirst;
    const first = new Promise((resolve) => {
      gotFirst = resolve;
    });
    const t0 = now();
    const workers = [];
    const onJob = async () => {
      if (firstMs === undefined) {
        firstMs = now() - t0;
        gotFirst();
      }
    };
    for (let q = 0; q < BULL_QUEUES; q++)
      workers.push(new Worker(`q${q}`, onJob, { connection: REDIS, prefix, concurrency: 1 }));
    await first;
    await Promise.all(workers.map((w) => w.close()));
    // A BullMQ worker has no start() to await: it starts when constructed.
    return { name: "BullMQ (Redis)", startMs: undefined, firstTurnMs: firstMs, recovered: inputs };
  } finally {
    for (const q of queues) {
      await q.obliterate({ force: true });
      await q.close();
    }
  }
}
