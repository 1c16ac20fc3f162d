// Durable throughput (issue #3): no-op turns through many sessions whose inputs survive a crash,
// beside the durable job queues a user would otherwise pick for per-session serialized work:
//
//   offstage   — the SQLite store (createSqliteStore), durability "full" and "normal";
//   store      — that store alone, driven without a runtime with the writes the runtime makes for the
//                same turns: not a system anyone runs, the ceiling of a runtime on it (burst only);
//   bullmq     — BullMQ on the local Redis. Open-source BullMQ has no per-key serialization (groups are
//                BullMQ Pro), so sessions are sharded over K queues (session s → queue s mod K), each
//                with one Worker of concurrency 1: per-session FIFO, one job at a time per session, the
//                usual open-source answer. Redis persistence is switched for the run with CONFIG SET
//                (appendonly + appendfsync always ≈ "full", everysec ≈ "normal") and restored
//                afterwards. "none" (the service's own setting: nothing on disk, so not durable) runs only
//                when --systems names bullmq-none;
//   graphile   — graphile-worker on the local PostgreSQL, one named queue per session (queue_name =
//                session id: graphile-worker runs one job of a named queue at a time), jobs added with
//                addJobs in batches, a local queue (batch fetch) and batched completions.
//                synchronous_commit on ≈ "full", off ≈ "normal".
//
// Each system gets S sessions × I inputs, sent in rounds, and is done when every input has completed
// and its completion is committed. send→start is measured from the send (or the add) to the turn (or
// job) starting. The paced phase also measures send→durable: until Offstage's receipt says "durable"
// (handle.stored()), or until BullMQ's addBulk / graphile-worker's addJobs call returns. Offstage may
// start a turn before its input's commit (it never reports the turn's end before it), the peers only
// after: send→start and send→durable together tell the whole story.
//
// Recovery: 100 000 inputs are left queued in a SQLite file (sent, then the runtime stopped before any
// ran); a new runtime on the file measures start() → the first recovered turn starting (goal < 1 s).
// BullMQ and graphile-worker do the same with 100 000 waiting jobs: worker start → first job.
//
// Flags (or BENCH_<NAME>): --sessions 10000 --inputs 2 --reps 3 --systems <comma list>
//   --paced-rate 1000 --paced-s 2
//   --bull-queues 16 --gw-concurrency 256 --gw-pool-max 24 --recovery-inputs 100000 --recovery 1 --quick
//   --recovery-reps 3   --recovery-profile bench/.tmp/recovery.cpuprofile   (CPU profile of the first
//   restart: start() → first recovered turn)
//   --pg-url postgres://postgres@127.0.0.1:5432/test --redis-url redis://127.0.0.1:6379
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue, Worker } from "bullmq";
import { Logger, makeWorkerUtils, run as runGraphile, runMigrations } from "graphile-worker";
import { Redis } from "ioredis";
import pg from "pg";
import {
  count,
  cpuMeter,
  ensureService,
  flag,
  fmtCores,
  fmtMs,
  fmtRate,
  fmtRatio,
  Latency,
  loadOffstage,
  log,
  median,
  now,
  POSTGRES_START,
  pace,
  printMachine,
  QUICK,
  settleHeap,
  table,
  ticker,
  writeResult,
} from "./lib.mjs";
import { ensureRedis, REDIS } from "./lib/redis.mjs";

const offstage = await loadOffstage();

const SESSIONS = count("sessions", QUICK ? 1000 : 10_000);
const INPUTS = count("inputs", QUICK ? 1 : 2);
const REPS = count("reps", QUICK ? 1 : 3);
const BULL_QUEUES = count("bull-queues", 16);
const GW_CONCURRENCY = count("gw-concurrency", 256);
const GW_POOL_MAX = count("gw-pool-max", 24);
const RECOVERY_INPUTS = count("recovery-inputs", QUICK ? 10_000 : 100_000);
const RECOVERY = flag("recovery", true);
/** Where to write a CPU profile of Offstage's start() → first recovered turn ("" = none). */
const RECOVERY_PROFILE = flag("recovery-profile", "");
/** Offstage restarts from the same filled file this many times; the median is reported. */
const RECOVERY_REPS = count("recovery-reps", QUICK ? 1 : 3);
const PACED_RATE = count("paced-rate", 1000);
const PACED_S = flag("paced-s", QUICK ? 0.5 : 2);
const PG_URL = flag("pg-url", "postgres://postgres@127.0.0.1:5432/test");
const GW_SCHEMA = "offstage_bench_gw";
const TOTAL = SESSIONS * INPUTS;

/** Wall-clock milliseconds with a fraction, comparable across the producer and the workers (one process). */
const wallNow = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Every system opens an instance (untimed: connections, workers, runtime start), then takes inputs:
// `send(s)` queues one input for session index s (synchronous, timestamped), `flush()` submits what was
// queued (BullMQ's addBulk, graphile-worker's addJobs; nothing for Offstage, whose send is the write),
// `drained(n)` resolves once n inputs completed and their completion is committed.

// ---- Offstage -----------------------------------------------------------------------------------

const SQLITE_MISSING =
  "Offstage's SQLite store (createSqliteStore, src/store/sqlite/sqlite-store.ts) is not in this build yet";

function offstageSystem(durability) {
  return {
    name: `offstage-${durability}`,
    label: `offstage, SQLite durability "${durability}"`,
    durability: durability === "full" ? "fsync per commit group" : "WAL, fsync at checkpoints",
    async check() {
      return typeof offstage.createSqliteStore === "function" ? undefined : SQLITE_MISSING;
    },
    open: (inputsPerSession, trackAck) => openOffstage(durability, inputsPerSession, trackAck),
  };
}

/** A SQLite store on a fresh file in /tmp; `remove()` closes it and deletes the file. */
function freshStore(durability) {
  const dir = mkdtempSync(join(tmpdir(), "offstage-bench-"));
  const store = offstage.createSqliteStore({ path: join(dir, "bench.db"), durability });
  return {
    store,
    async remove() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function openOffstage(durability, inputsPerSession, trackAck) {
  const { store, remove } = freshStore(durability);
  const runtime = offstage.createRuntime({
    agents: { bench: { model: offstage.createNoopModel() } },
    store,
    logger: offstage.silentLogger,
    limits: { inboxLengthMax: Math.max(1000, inputsPerSession + 1) },
  });
  await runtime.start();
  // Sessions are created on first send, inside the timed part: creating one is a store write, as a
  // named queue's row is for graphile-worker.
  const sessions = new Array(SESSIONS);
  const last = new Array(SESSIONS);
  const ack = new Latency();
  return {
    send(s) {
      sessions[s] ??= runtime.session(`s${s}`, { agent: "bench" });
      const sentAt = now();
      const handle = sessions[s].send("hi");
      last[s] = handle;
      // The receipt turns "durable" once the commit holding the input is done.
      if (trackAck) handle.stored().then(() => ack.recordMs(now() - sentAt));
    },
    flush: async () => {},
    done: () => runtime.metrics().ended.completed,
    // Sessions are FIFO: a session's last input settles after its earlier ones; result() resolves
    // only after the turn's end is committed.
    drained: () => Promise.all(last.filter(Boolean).map((h) => h.result())),
    latency: () => runtime.metrics().sendToStart,
    ackLatency: () => ack.stats(),
    extra: () => store.stats?.(),
    async close() {
      await runtime.stop();
      await remove();
    },
  };
}

/**
 * Offstage's SQLite store alone, without a runtime: the same writes the runtime makes for these
 * turns (a session on first send, each input's accept, then each turn's history read, start and end
 * with its two messages), committed every 256 turns, as many as the runtime runs at once. Not a
 * system a user would run: it is the ceiling of any runtime on this store on one thread, and is
 * measured only in the burst.
 */
function storeAloneSystem(durability) {
  return {
    name: `store-${durability}`,
    label: `Offstage's SQLite store alone (no runtime), "${durability}": the ceiling`,
    durability: durability === "full" ? "fsync per commit group" : "WAL, fsync at checkpoints",
    burstOnly: true,
    async check() {
      return typeof offstage.createSqliteStore === "function" ? undefined : SQLITE_MISSING;
    },
    open: () => openStoreAlone(durability),
  };
}

const STORE_ALONE_TURNS_PER_COMMIT = 256;

async function openStoreAlone(durability) {
  const { store, remove } = freshStore(durability);
  await store.open();
  const created = new Array(SESSIONS).fill(false);
  const queued = [];
  const lat = new Latency();
  const outcome = { status: "completed", output: "ok", reason: { code: "completed", message: "completed" } };
  const usage = { modelCalls: 1, inputTokens: 0, outputTokens: 0 };
  let seq = 0;
  let ended = 0;
  return {
    send(s) {
      const sessionId = `s${s}`;
      if (!created[s]) {
        store.createSession({ id: sessionId, agent: "bench", createdAtMs: Date.now() });
        created[s] = true;
      }
      seq += 1;
      const id = `i${seq}`;
      store.accept({ id, sessionId, seq, payload: "hi", policy: "enqueue", acceptedAtMs: Date.now() });
      queued.push({ id, sessionId, sentAt: now() });
    },
    flush: async () => {},
    done: () => ended,
    async drained() {
      const started = new Set();
      for (const { id, sessionId, sentAt } of queued) {
        if (!started.has(sessionId)) {
          started.add(sessionId);
          store.history(sessionId);
        }
        lat.recordMs(now() - sentAt);
        const turnId = `t${id}`;
        const inputIds = [id];
        store.startTurn({ turnId, sessionId, inputIds, attempt: 1, startedAtMs: Date.now() });
        const messages = [
          { role: "user", content: "hi" },
          { role: "assistant", content: "ok" },
        ];
        store.endTurn({
          turnId,
          sessionId,
          attempt: 1,
          outcome,
          messages,
          inputIds,
          requeued: [],
          usage,
          endedAtMs: Date.now(),
        });
        ended += 1;
        if (ended % STORE_ALONE_TURNS_PER_COMMIT === 0) await store.commit();
      }
      await store.commit();
    },
    latency: () => lat.stats(),
    extra: () => store.stats?.(),
    close: remove,
  };
}

// ---- BullMQ -------------------------------------------------------------------------------------

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

function bullmqSystem(mode) {
  return {
    name: `bullmq-${mode}`,
    label: `BullMQ, ${BULL_QUEUES} queues × 1 worker, Redis AOF ${mode === "none" ? "off" : `appendfsync ${mode}`}`,
    durability: mode === "none" ? "none (Redis keeps nothing on disk)" : `AOF appendfsync ${mode}`,
    async check() {
      return ensureRedis();
    },
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
    queues.push(
      new Queue(name, {
        connection: REDIS,
        prefix,
        defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
      }),
    );
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
  const ackAll = (jobs) => {
    const at = wallNow();
    for (const job of jobs) ack.recordMs(at - job.data.t);
  };
  return {
    send(s) {
      pending[s % BULL_QUEUES].push({ name: "noop", data: { s, t: wallNow() } });
    },
    async flush() {
      const batches = pending;
      pending = queues.map(() => []);
      const adds = [];
      // addBulk is BullMQ's batching: one round trip (a MULTI) per chunk.
      for (let q = 0; q < BULL_QUEUES; q++) {
        for (let i = 0; i < batches[q].length; i += 1000) {
          const chunk = batches[q].slice(i, i + 1000);
          adds.push(queues[q].addBulk(chunk).then(() => ackAll(chunk)));
        }
      }
      await Promise.all(adds);
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

// ---- graphile-worker ----------------------------------------------------------------------------

const quietLogger = new Logger(() => (level, message) => {
  if (level === "error") log(`graphile-worker: ${message}`);
});

const postgresUp = async () => {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } finally {
    await client.end().catch(() => undefined);
  }
};

function graphileSystem(syncCommit) {
  return {
    name: `graphile-${syncCommit ? "full" : "normal"}`,
    label: `graphile-worker, 1 named queue/session, concurrency ${GW_CONCURRENCY}, synchronous_commit ${syncCommit ? "on" : "off"}`,
    durability: syncCommit ? "WAL fsync per commit" : "WAL, commit not waiting for fsync",
    async check() {
      return ensureService("PostgreSQL", postgresUp, POSTGRES_START);
    },
    open: () => openGraphile(syncCommit),
  };
}

/** A pg.Pool that reports (rather than crashes on) errors of idle clients. */
function makePool(options) {
  const pool = new pg.Pool({ connectionString: PG_URL, ...options });
  pool.on("error", (error) => log(`pg pool error: ${error.message}`));
  pool.on("connect", (client) => client.on("error", (error) => log(`pg client error: ${error.message}`)));
  return pool;
}

async function freshGraphileSchema(pool) {
  await pool.query(`drop schema if exists ${GW_SCHEMA} cascade`);
  await runMigrations({ pgPool: pool, schema: GW_SCHEMA, logger: quietLogger });
}

// graphile-worker's batching: fetch (and lock) jobs in batches, complete them in batches.
const GW_PRESET = { worker: { localQueue: { size: GW_CONCURRENCY * 4 }, completeJobBatchDelay: 0 } };

async function openGraphile(syncCommit) {
  const pool = makePool({
    max: Math.min(GW_CONCURRENCY + 6, GW_POOL_MAX),
    ...(syncCommit ? {} : { options: "-c synchronous_commit=off" }),
  });
  await freshGraphileSchema(pool);
  const lat = new Latency();
  let ran = 0;
  const utils = await makeWorkerUtils({ pgPool: pool, schema: GW_SCHEMA, logger: quietLogger });
  const runner = await runGraphile({
    pgPool: pool,
    schema: GW_SCHEMA,
    concurrency: GW_CONCURRENCY,
    noHandleSignals: true,
    pollInterval: 1000,
    logger: quietLogger,
    taskList: {
      noop: async (payload) => {
        lat.recordMs(wallNow() - payload.t);
        ran += 1;
      },
    },
    preset: GW_PRESET,
  });
  let pending = [];
  const ack = new Latency();
  return {
    send(s) {
      pending.push({ identifier: "noop", payload: { t: wallNow() }, queueName: `s${s}` });
    },
    async flush() {
      const specs = pending;
      pending = [];
      for (let i = 0; i < specs.length; i += 2000) {
        const chunk = specs.slice(i, i + 2000);
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

// ---- the two phases -----------------------------------------------------------------------------

/** Burst: every input sent at once, in rounds; turns/s from the first send to the last commit. */
async function burst(system) {
  const inst = await system.open(INPUTS);
  try {
    const meter = cpuMeter();
    const started = now();
    for (let r = 0; r < INPUTS; r++) {
      for (let s = 0; s < SESSIONS; s++) inst.send(s);
      await inst.flush();
    }
    const stop = ticker(() => log(`  ${inst.done()}/${TOTAL} done`));
    await inst.drained(TOTAL);
    stop();
    const elapsedMs = now() - started;
    return { elapsedMs, cpu: meter.end(), latency: inst.latency(), extra: inst.extra?.() };
  } finally {
    await inst.close();
  }
}

/** Paced: inputs offered at a fixed rate well below every system's capacity; send→start percentiles. */
async function paced(system) {
  const total = Math.round(PACED_RATE * PACED_S);
  const inst = await system.open(Math.ceil(total / SESSIONS) + 1, true);
  try {
    await pace({
      total,
      ratePerS: PACED_RATE,
      sessions: SESSIONS,
      send: (s) => inst.send(s),
      afterTick: () => inst.flush(),
    });
    await inst.drained(total);
    return { total, latency: inst.latency(), ack: inst.ackLatency() };
  } finally {
    await inst.close();
  }
}

// ---- recovery -----------------------------------------------------------------------------------

/** Starts V8's CPU profiler in this process; `stop()` resolves with the profile. */
async function startProfiler() {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 100 });
  await session.post("Profiler.start");
  return {
    async stop() {
      const { profile } = await session.post("Profiler.stop");
      session.disconnect();
      return profile;
    },
  };
}

const RECOVERY_SESSIONS = Math.min(SESSIONS, RECOVERY_INPUTS);
const RECOVERY_PER_SESSION = Math.ceil(RECOVERY_INPUTS / RECOVERY_SESSIONS);

async function offstageRecovery() {
  if (typeof offstage.createSqliteStore !== "function") return { skipped: SQLITE_MISSING };
  const dir = mkdtempSync(join(tmpdir(), "offstage-recovery-"));
  const snapshot = mkdtempSync(join(tmpdir(), "offstage-recovery-copy-"));
  const path = join(dir, "recovery.db");
  const make = () => {
    const store = offstage.createSqliteStore({ path, durability: "normal" });
    const runtime = offstage.createRuntime({
      agents: { bench: { model: offstage.createNoopModel() } },
      store,
      logger: offstage.silentLogger,
      limits: { inboxLengthMax: Math.max(1000, RECOVERY_PER_SESSION + 1) },
    });
    return { store, runtime };
  };
  try {
    // Fill: accept every input, then stop before any turn starts (queued inputs stay stored).
    const first = make();
    await first.runtime.start();
    const handles = [];
    for (let r = 0; r < RECOVERY_PER_SESSION; r++) {
      for (let s = 0; s < RECOVERY_SESSIONS; s++) {
        const h = first.runtime.session(`s${s}`, { agent: "bench" }).send("hi");
        if (s === RECOVERY_SESSIONS - 1) handles.push(h);
      }
    }
    const stopping = first.runtime.stop();
    await Promise.all(handles.map((h) => h.stored?.().catch(() => undefined)));
    await stopping;
    await first.store.close?.();
    log(`  ${RECOVERY_SESSIONS * RECOVERY_PER_SESSION} inputs queued in ${path}; restarting`);
    // Each repetition restarts from a copy of the filled file, so every one recovers the same backlog.
    cpSync(dir, snapshot, { recursive: true });
    const reps = [];
    for (let rep = 0; rep < RECOVERY_REPS; rep++) {
      if (rep > 0) for (const f of readdirSync(snapshot)) cpSync(join(snapshot, f), join(dir, f));
      await settleHeap();
      // Recover: a new runtime on the file; time start() and the first recovered turn starting.
      const second = make();
      const profiler = RECOVERY_PROFILE === "" || rep > 0 ? undefined : await startProfiler();
      let firstTurnMs;
      const t0 = now();
      second.runtime.on((event) => {
        if (event.type === "turn.started" && firstTurnMs === undefined) firstTurnMs = now() - t0;
      });
      await second.runtime.start();
      const startMs = now() - t0;
      while (firstTurnMs === undefined) await new Promise((resolve) => setImmediate(resolve));
      if (profiler !== undefined) {
        writeFileSync(RECOVERY_PROFILE, JSON.stringify(await profiler.stop()));
        log(`  CPU profile of start() → first turn written to ${RECOVERY_PROFILE}`);
      }
      const m = second.runtime.metrics();
      await second.runtime.stop();
      await second.store.close?.();
      reps.push({ startMs, firstTurnMs, recovered: m.queuedInputs + m.turnsStarted });
      log(`  rep ${rep + 1}/${RECOVERY_REPS}: first turn ${fmtMs(firstTurnMs)} after start()`);
    }
    const mid = [...reps].sort((x, y) => x.firstTurnMs - y.firstTurnMs)[Math.floor(reps.length / 2)];
    return { name: "offstage (SQLite)", ...mid, reps };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(snapshot, { recursive: true, force: true });
  }
}

async function bullmqRecovery() {
  if (await ensureRedis()) return { skipped: "Redis is missing" };
  const prefix = `obenchrec${process.pid}`;
  const queues = [];
  for (let q = 0; q < BULL_QUEUES; q++) queues.push(new Queue(`q${q}`, { connection: REDIS, prefix }));
  try {
    const perQueue = queues.map(() => []);
    for (let i = 0; i < RECOVERY_INPUTS; i++) perQueue[i % BULL_QUEUES].push({ name: "noop", data: { i } });
    const adds = [];
    for (let q = 0; q < BULL_QUEUES; q++)
      for (let i = 0; i < perQueue[q].length; i += 1000)
        adds.push(queues[q].addBulk(perQueue[q].slice(i, i + 1000)));
    await Promise.all(adds);
    log(`  ${RECOVERY_INPUTS} jobs waiting in ${BULL_QUEUES} BullMQ queues; starting workers`);
    let firstMs;
    const t0 = now();
    const workers = [];
    let gotFirst;
    const first = new Promise((resolve) => {
      gotFirst = resolve;
    });
    for (let q = 0; q < BULL_QUEUES; q++) {
      workers.push(
        new Worker(
          `q${q}`,
          async () => {
            if (firstMs === undefined) {
              firstMs = now() - t0;
              gotFirst();
            }
          },
          { connection: REDIS, prefix, concurrency: 1 },
        ),
      );
    }
    await first;
    await Promise.all(workers.map((w) => w.close()));
    // A BullMQ worker has no start() to await: it starts when constructed.
    return { name: "BullMQ (Redis)", startMs: undefined, firstTurnMs: firstMs, recovered: RECOVERY_INPUTS };
  } finally {
    for (const q of queues) {
      await q.obliterate({ force: true });
      await q.close();
    }
  }
}

async function graphileRecovery() {
  if (await ensureService("PostgreSQL", postgresUp, POSTGRES_START))
    return { skipped: "PostgreSQL is missing" };
  const pool = makePool({ max: Math.min(GW_CONCURRENCY + 6, GW_POOL_MAX) });
  try {
    await freshGraphileSchema(pool);
    const utils = await makeWorkerUtils({ pgPool: pool, schema: GW_SCHEMA, logger: quietLogger });
    for (let i = 0; i < RECOVERY_INPUTS; i += 2000) {
      const specs = [];
      for (let j = i; j < Math.min(RECOVERY_INPUTS, i + 2000); j++)
        specs.push({ identifier: "noop", payload: {}, queueName: `s${j % RECOVERY_SESSIONS}` });
      await utils.addJobs(specs);
    }
    await utils.release();
    log(`  ${RECOVERY_INPUTS} jobs waiting in graphile-worker; starting the worker`);
    let firstMs;
    let gotFirst;
    const first = new Promise((resolve) => {
      gotFirst = resolve;
    });
    const t0 = now();
    const runner = await runGraphile({
      pgPool: pool,
      schema: GW_SCHEMA,
      concurrency: GW_CONCURRENCY,
      noHandleSignals: true,
      logger: quietLogger,
      taskList: {
        noop: async () => {
          if (firstMs === undefined) {
            firstMs = now() - t0;
            gotFirst();
          }
        },
      },
      preset: { worker: { localQueue: { size: GW_CONCURRENCY * 4 }, completeJobBatchDelay: 0 } },
    });
    const startMs = now() - t0;
    await first;
    // Stopping while the local queue is still filling trips graphile-worker's shutdown; let it settle.
    await sleep(500);
    await runner.stop();
    return {
      name: "graphile-worker (PostgreSQL)",
      startMs,
      firstTurnMs: firstMs,
      recovered: RECOVERY_INPUTS,
    };
  } finally {
    await pool.query(`drop schema if exists ${GW_SCHEMA} cascade`).catch(() => undefined);
    await pool.end();
  }
}

// ---- main ---------------------------------------------------------------------------------------

const ALL = [
  offstageSystem("full"),
  offstageSystem("normal"),
  storeAloneSystem("full"),
  storeAloneSystem("normal"),
  bullmqSystem("always"),
  bullmqSystem("everysec"),
  bullmqSystem("none"),
  graphileSystem(true),
  graphileSystem(false),
];

async function main() {
  printMachine();
  // BullMQ on Redis without persistence is not durable: measured only when asked (--systems ...,bullmq-none).
  const wanted = flag(
    "systems",
    ALL.filter((s) => s.name !== "bullmq-none")
      .map((s) => s.name)
      .join(","),
  ).split(",");
  const systems = ALL.filter((s) => wanted.includes(s.name));
  log(
    `durable-throughput: ${SESSIONS} sessions x ${INPUTS} inputs = ${TOTAL} durable no-op turns per run, ${REPS} rep(s)`,
  );
  const skipped = {};
  const usable = [];
  for (const system of systems) {
    const reason = await system.check();
    if (reason === undefined) usable.push(system);
    else {
      skipped[system.name] = reason;
      log(`SKIPPED ${system.name}: ${reason}`);
    }
  }
  const runs = Object.fromEntries(usable.map((s) => [s.name, []]));
  for (let rep = 0; rep < REPS; rep++) {
    const order = usable.map((_, i) => usable[(i + rep) % usable.length]);
    for (const system of order) {
      await settleHeap();
      log(`rep ${rep + 1}/${REPS} ${system.name}: running`);
      const r = await burst(system);
      const result = {
        perSecond: (TOTAL * 1000) / r.elapsedMs,
        perCpuSecond: (TOTAL * 1000) / r.cpu.ownCpuMs,
        otherCores: r.cpu.otherCores,
        elapsedMs: r.elapsedMs,
        latency: r.latency,
        store: r.extra,
      };
      if (r.extra !== undefined) {
        const x = r.extra;
        log(
          `  store: ${x.writes} writes in ${x.commits} commits (largest ${x.groupWritesMax} writes); ` +
            `COMMIT ${fmtMs(x.commitMsTotal)} in all, longest ${fmtMs(x.commitMsMax)} (on the event loop)`,
        );
      }
      runs[system.name].push(result);
      log(
        `rep ${rep + 1}/${REPS} ${system.name}: ${fmtRate(result.perSecond)} (${fmtMs(r.elapsedMs)}); ` +
          `send→start p50 ${fmtMs(r.latency.p50Ms)} p99 ${fmtMs(r.latency.p99Ms)}; other processes ${fmtCores(r.cpu.otherCores)}`,
      );
    }
  }
  const summary = {};
  for (const s of usable) {
    const r = runs[s.name];
    if (r.length === 0) continue;
    summary[s.name] = {
      label: s.label,
      durability: s.durability,
      perSecond: median(r.map((x) => x.perSecond)),
      perCpuSecond: median(r.map((x) => x.perCpuSecond)),
      otherCores: median(r.map((x) => x.otherCores ?? 0)),
      latency: r[Math.floor(r.length / 2)].latency,
    };
  }
  if (REPS > 0)
    log(
      "durable results (median over reps; this process's CPU only: Redis and PostgreSQL run in their own):",
    );
  table(
    ["system", "durability", "turns/s", "send→start p50", "p99", "other load"],
    usable
      .filter((s) => summary[s.name] !== undefined)
      .map((s) => {
        const x = summary[s.name];
        return [
          x.label,
          x.durability,
          fmtRate(x.perSecond),
          fmtMs(x.latency.p50Ms),
          fmtMs(x.latency.p99Ms),
          fmtCores(x.otherCores),
        ];
      }),
  );
  const ratios = {};
  for (const o of ["offstage-full", "offstage-normal", "store-full", "store-normal"]) {
    if (summary[o] === undefined) continue;
    const peers = o.endsWith("full")
      ? ["bullmq-always", "graphile-full"]
      : ["bullmq-everysec", "graphile-normal"];
    for (const p of [...peers, "bullmq-none"]) {
      if (summary[p] === undefined) continue;
      // The median of per-repetition ratios: the runs of one repetition sit next to each other in
      // time, so they share the machine's weather.
      const perRep = runs[o].map((x, i) => x.perSecond / runs[p][i].perSecond);
      ratios[`${o}/${p}`] = median(perRep);
      log(
        `ratio ${o}/${p}: ${fmtRatio(ratios[`${o}/${p}`])} (per repetition: ${perRep.map(fmtRatio).join(", ")})`,
      );
    }
  }
  if (skipped["offstage-full"] !== undefined && skipped["offstage-normal"] !== undefined)
    log(`Offstage durable side NOT MEASURED: ${SQLITE_MISSING}. Peers above are measured.`);

  const pacedResults = [];
  if (PACED_S > 0) {
    log(`paced: ${PACED_RATE} inputs/s offered for ${PACED_S} s, round-robin over ${SESSIONS} sessions`);
    for (const system of usable) {
      if (system.burstOnly) continue;
      await settleHeap();
      const r = await paced(system);
      log(
        `paced ${system.name}: send→start p50 ${fmtMs(r.latency.p50Ms)}, p99 ${fmtMs(r.latency.p99Ms)}; ` +
          `send→durable p50 ${fmtMs(r.ack.p50Ms)}, p99 ${fmtMs(r.ack.p99Ms)}`,
      );
      pacedResults.push({ name: system.name, ...r });
    }
    table(
      ["system", "inputs", "send→start p50", "p99", "max", "send→durable p50", "p99"],
      pacedResults.map((r) => [
        usable.find((s) => s.name === r.name).label,
        r.total,
        fmtMs(r.latency.p50Ms),
        fmtMs(r.latency.p99Ms),
        fmtMs(r.latency.maxMs),
        fmtMs(r.ack.p50Ms),
        fmtMs(r.ack.p99Ms),
      ]),
    );
  }

  const recovery = [];
  if (RECOVERY) {
    log(
      `recovery: ${RECOVERY_INPUTS} queued inputs over ${RECOVERY_SESSIONS} sessions; start → first turn (goal < 1 s)`,
    );
    for (const [name, fn] of [
      ["offstage", offstageRecovery],
      ["bullmq", bullmqRecovery],
      ["graphile", graphileRecovery],
    ]) {
      if (!wanted.some((w) => w.startsWith(name))) continue;
      const r = await fn();
      if (r.skipped) {
        log(`recovery ${name} SKIPPED: ${r.skipped}`);
        recovery.push({ name, skipped: r.skipped });
        continue;
      }
      log(
        `recovery ${r.name}: ${r.startMs === undefined ? "" : `start() took ${fmtMs(r.startMs)}, `}` +
          `first turn started ${fmtMs(r.firstTurnMs)} after start, ${r.recovered} inputs recovered${r.name.startsWith("offstage") ? ` (goal < 1 s: ${r.firstTurnMs < 1000 ? "met" : "NOT met"})` : ""}`,
      );
      recovery.push(r);
    }
  }
  writeResult("durable-throughput", {
    sessions: SESSIONS,
    inputs: INPUTS,
    reps: REPS,
    bullQueues: BULL_QUEUES,
    gwConcurrency: GW_CONCURRENCY,
    pacedRate: PACED_RATE,
    pacedS: PACED_S,
    skipped,
    summary,
    ratios,
    runs,
    paced: pacedResults,
    recovery,
  });
}

await main();
