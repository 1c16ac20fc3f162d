// Delegation (issue #4): background children on the SQLite store, whose completions come back to their
// parents as new turns, beside the peer a user would otherwise pick for parent/child jobs:
//
//   offstage — parents dispatch children with session.delegateAll(); each child is a no-op model
//              turn; its completion is written with the child's end and delivered as a parent turn.
//              Measured per child: dispatch → completion delivered (the parent turn that carries it
//              starts). SQLite with durability "normal" and "full".
//   bullmq   — BullMQ flows (FlowProducer) on the local Redis: a parent job with N child jobs; the
//              parent job runs once all its children completed. Measured per parent flow: add → the
//              parent job starting (BullMQ has no per-child delivery, so its latency is per parent).
//              Redis persistence as the service runs it (no appendonly: not durable), which favours
//              the peer.
//
// Shapes: fan-out 1 parent × 1,000 children, and 1,000 parents × 10 children.
// Flags (or BENCH_<NAME>): --wide 1000 --parents 1000 --children 10 --systems offstage-normal,...
//   --redis-url redis://127.0.0.1:6379 --quick
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FlowProducer, Worker } from "bullmq";
import { Redis } from "ioredis";
import {
  count,
  cpuMeter,
  flag,
  fmtCores,
  fmtMs,
  fmtRate,
  fmtRatio,
  Latency,
  loadOffstage,
  log,
  now,
  printMachine,
  QUICK,
  table,
  ticker,
  writeResult,
} from "./lib.mjs";
import { ensureRedis, REDIS } from "./lib/redis.mjs";

const WIDE = count("wide", QUICK ? 100 : 1000);
const PARENTS = count("parents", QUICK ? 100 : 1000);
const CHILDREN = count("children", 10);
const SYSTEMS = flag("systems", "offstage-normal,offstage-full,bullmq").split(",");

const offstage = await loadOffstage();

/** Runs `parents` parents × `children` children on Offstage; returns the run's numbers. */
async function offstageRun(durability, parents, children) {
  const dir = mkdtempSync(join(tmpdir(), "offstage-bench-delegation-"));
  const store = offstage.createSqliteStore({ path: join(dir, "bench.db"), durability });
  const runtime = offstage.createRuntime({
    store,
    logger: offstage.silentLogger,
    agents: {
      parent: { model: offstage.createNoopModel() },
      worker: { model: offstage.createNoopModel() },
    },
    limits: { maxConcurrentTurns: 1024 },
    delegation: {
      runningMax: parents * children,
      perParentRunningMax: children,
      keepPerParent: children,
    },
  });
  await runtime.start();
  const dispatchedAt = new Map();
  const latency = new Latency();
  let delivered = 0;
  const total = parents * children;
  let done;
  const all = new Promise((resolve) => {
    done = resolve;
  });
  runtime.on((event) => {
    if (event.type !== "delegation.delivered") return;
    latency.recordMs(now() - dispatchedAt.get(event.delegationId));
    delivered += 1;
    if (delivered === total) done();
  });
  const sessions = [];
  for (let p = 0; p < parents; p++) sessions.push(runtime.session(`p${p}`, { agent: "parent" }));
  const specs = Array.from({ length: children }, (_, c) => ({ goal: `task ${c}`, agent: "worker" }));
  const stop = ticker(() => log(`  offstage-${durability}: ${delivered}/${total} completions delivered`));
  const meter = cpuMeter();
  const t0 = now();
  for (const session of sessions) {
    const at = now();
    const sent = session.delegateAll(specs);
    if (sent.status !== "dispatched") throw new Error(`dispatch rejected: ${sent.reason}`);
    for (const id of sent.ids) dispatchedAt.set(id, at);
  }
  await all;
  const seconds = (now() - t0) / 1000;
  const cpu = meter.end();
  stop();
  const stats = store.stats();
  await runtime.stop({ drain: true });
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    system: `offstage-${durability}`,
    perSecond: total / seconds,
    latency: latency.stats(),
    latencyOf: "dispatch → completion delivered (per child)",
    otherCores: cpu.otherCores,
    commits: stats.commits,
    writes: stats.writes,
  };
}

/** The same shape as BullMQ flows: a parent job per parent, N child jobs each. */
async function bullmqRun(parents, children) {
  const missing = await ensureRedis();
  if (missing !== undefined) return { system: "bullmq", skipped: missing };
  const prefix = `bench-deleg-${process.pid}-${Date.now()}`;
  const connection = REDIS;
  const flows = new FlowProducer({ connection, prefix });
  const addedAt = new Map();
  const latency = new Latency();
  const total = parents * children;
  let childDone = 0;
  let parentsStarted = 0;
  let done;
  const all = new Promise((resolve) => {
    done = resolve;
  });
  const childWorker = new Worker(
    "children",
    async () => {
      childDone += 1;
    },
    { connection, prefix, concurrency: 256 },
  );
  const parentWorker = new Worker(
    "parents",
    async (job) => {
      latency.recordMs(now() - addedAt.get(job.data.p));
      parentsStarted += 1;
      if (parentsStarted === parents) done();
    },
    { connection, prefix, concurrency: 256 },
  );
  const stop = ticker(() =>
    log(`  bullmq: ${childDone}/${total} children done, ${parentsStarted}/${parents} parents`),
  );
  const meter = cpuMeter();
  const t0 = now();
  for (let p = 0; p < parents; p += 100) {
    const batch = [];
    for (let q = p; q < Math.min(parents, p + 100); q++) {
      addedAt.set(q, now());
      batch.push({
        name: "parent",
        queueName: "parents",
        data: { p: q },
        children: Array.from({ length: children }, (_, c) => ({
          name: "child",
          queueName: "children",
          data: { c },
        })),
      });
    }
    await flows.addBulk(batch);
  }
  await all;
  const seconds = (now() - t0) / 1000;
  const cpu = meter.end();
  stop();
  await Promise.all([childWorker.close(), parentWorker.close(), flows.close()]);
  await cleanRedis(prefix);
  return {
    system: "bullmq",
    perSecond: total / seconds,
    latency: latency.stats(),
    latencyOf: "flow added → parent job starts (per parent)",
    otherCores: cpu.otherCores,
  };
}

async function cleanRedis(prefix) {
  const client = new Redis(REDIS);
  try {
    let cursor = "0";
    do {
      const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await client.del(...keys);
    } while (cursor !== "0");
  } finally {
    client.disconnect();
  }
}

async function shape(name, parents, children) {
  log(`${name}: ${parents} parent(s) × ${children} children`);
  const rows = [];
  for (const system of SYSTEMS) {
    const run =
      system === "bullmq"
        ? await bullmqRun(parents, children)
        : await offstageRun(system.replace("offstage-", ""), parents, children);
    rows.push(run);
    if (run.skipped) log(`  ${system}: skipped (${run.skipped})`);
    else
      log(
        `  ${system}: ${fmtRate(run.perSecond)} children, p50 ${fmtMs(run.latency.p50Ms)}, p99 ${fmtMs(run.latency.p99Ms)}`,
      );
  }
  const peer = rows.find((r) => r.system === "bullmq" && !r.skipped);
  table(
    ["system", "children/s", "vs bullmq", "p50", "p99", "latency of", "other load"],
    rows
      .filter((r) => !r.skipped)
      .map((r) => [
        r.system,
        fmtRate(r.perSecond),
        peer === undefined ? "n/a" : fmtRatio(r.perSecond / peer.perSecond),
        fmtMs(r.latency.p50Ms),
        fmtMs(r.latency.p99Ms),
        r.latencyOf,
        fmtCores(r.otherCores),
      ]),
  );
  return { name, parents, children, rows };
}

printMachine();
// Warm-up, unrecorded: the first system measured would otherwise pay for the JIT of all of them.
log("warm-up (not recorded)");
await offstageRun("normal", 20, 10);
const results = [await shape("fan-out", 1, WIDE), await shape("many parents", PARENTS, CHILDREN)];
writeResult("delegation", { results });
process.exit(0);
