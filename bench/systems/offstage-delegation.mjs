// Offstage's background children on its SQLite store, the delegation benchmark's system: parents
// dispatch children with session.delegateAll(); each child is a no-op model turn; its completion is
// written with the child's end and delivered to the parent as a new turn. Measured per child:
// dispatch → completion delivered (the parent turn that carries it starts).
import { Latency } from "../lib/latency.mjs";
import { log, ticker } from "../lib/log.mjs";
import { cpuMeter, now } from "../lib/meters.mjs";
import { freshSqliteStore } from "./offstage-sqlite.mjs";

/** The delegation system with SQLite `durability` ("normal" or "full"). */
export function offstageDelegationSystem({ offstage, durability }) {
  return {
    name: `offstage-${durability}`,
    run: ({ parents, children }) => runOffstage(offstage, durability, parents, children),
  };
}

/** `parents` parents × `children` children; returns the run's numbers. */
async function runOffstage(offstage, durability, parents, children) {
  const { store, remove } = freshSqliteStore(offstage, durability, "offstage-bench-delegation-");
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
  await remove();
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
