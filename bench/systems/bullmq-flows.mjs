// BullMQ flows on the local Redis, the delegation benchmark's peer: a FlowProducer adds a parent job
// with N child jobs; the parent job runs once all its children completed. BullMQ has no per-child
// delivery, so its latency is per parent flow: added → the parent job starting. Redis persistence as
// the service runs it (no appendonly: not durable), which favours the peer.
import { FlowProducer, Worker } from "bullmq";
import { Redis } from "ioredis";
import { Latency } from "../lib/latency.mjs";
import { log, ticker } from "../lib/log.mjs";
import { cpuMeter, now } from "../lib/meters.mjs";
import { ensureRedis, REDIS } from "../lib/redis.mjs";

/** Flows added per addBulk call. */
const FLOWS_PER_ADD = 100;

/** The delegation benchmark's peer. */
export function bullmqFlowsSystem() {
  return { name: "bullmq", run: ({ parents, children }) => runFlows(parents, children) };
}

/** `parents` flows of `children` child jobs each; returns the run's numbers, or why it was skipped. */
async function runFlows(parents, children) {
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
  for (let p = 0; p < parents; p += FLOWS_PER_ADD) {
    const batch = [];
    for (let q = p; q < Math.min(parents, p + FLOWS_PER_ADD); q++) {
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
  await deleteKeys(prefix);
  return {
    system: "bullmq",
    perSecond: total / seconds,
    latency: latency.stats(),
    latencyOf: "flow added → parent job starts (per parent)",
    otherCores: cpu.otherCores,
  };
}

/** Deletes every Redis key of the run (flows leave their completed jobs behind). */
async function deleteKeys(prefix) {
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
