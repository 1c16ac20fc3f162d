// Durable throughput (issue #3), the `durable` benchmark: no-op turns through many sessions whose
// inputs survive a crash, beside the durable job queues a user would otherwise pick for per-session
// serialized work. Systems (one module each in systems/):
//   offstage-full, offstage-normal    Offstage on SQLite (offstage-sqlite.mjs)
//   store-full, store-normal          that store alone, the ceiling of a runtime on it (burst only)
//   bullmq-always, bullmq-everysec    BullMQ on Redis with AOF (bullmq.mjs); bullmq-none only when named
//   graphile-full, graphile-normal    graphile-worker on PostgreSQL (graphile-worker.mjs)
//
// Burst: each system gets S sessions × I inputs, sent in rounds (each round submitted with the
// system's `flush()`), and is done when every input has completed and its completion is committed;
// turns/s from the first send to the last commit, send→start from the send (or add) to the turn (or
// job) starting. Then paced latency (scenarios/paced-latency.mjs, with send→durable) and recovery
// (scenarios/recovery.mjs).
//
// Flags (or BENCH_<NAME>): --sessions 10000 --inputs 2 --reps 3 --systems <comma list>
//   --paced-rate 1000 --paced-s 2 --recovery-inputs 100000 --recovery 1 --recovery-reps 3
//   --recovery-profile bench/.tmp/recovery.cpuprofile   (CPU profile of the first restart)
//   --bull-queues 16 --gw-concurrency 256 --gw-pool-max 24 --quick
//   --pg-url postgres://postgres@127.0.0.1:5432/test --redis-url redis://127.0.0.1:6379
// Saves bench/.tmp/durable-throughput.json.
import { count, flag, QUICK } from "../lib/args.mjs";
import { fmtCores, fmtMs, fmtRate, fmtRatio, table } from "../lib/format.mjs";
import { log, ticker } from "../lib/log.mjs";
import { printMachine } from "../lib/machine.mjs";
import { cpuMeter, median, now, settleHeap } from "../lib/meters.mjs";
import { loadOffstage } from "../lib/offstage.mjs";
import { writeResult } from "../lib/results.mjs";
import { usableSystems } from "../lib/services.mjs";
import { BULL_QUEUES, bullmqRecovery, bullmqSystem } from "../systems/bullmq.mjs";
import { GW_CONCURRENCY, graphileWorkerRecovery, graphileWorkerSystem } from "../systems/graphile-worker.mjs";
import { offstageSqliteRecovery, offstageSqliteSystem, SQLITE_MISSING } from "../systems/offstage-sqlite.mjs";
import { sqliteStoreAloneSystem } from "../systems/sqlite-store-alone.mjs";
import { pacedLatency } from "./paced-latency.mjs";
import { recovery } from "./recovery.mjs";

const offstage = await loadOffstage();

const SESSIONS = count("sessions", QUICK ? 1000 : 10_000);
const INPUTS = count("inputs", QUICK ? 1 : 2);
const REPS = count("reps", QUICK ? 1 : 3);
const RECOVERY_INPUTS = count("recovery-inputs", QUICK ? 10_000 : 100_000);
const RECOVERY = flag("recovery", true);
/** Where to write a CPU profile of Offstage's start() → first recovered turn ("" = none). */
const RECOVERY_PROFILE = flag("recovery-profile", "");
/** Offstage restarts from the same filled file this many times; the median is reported. */
const RECOVERY_REPS = count("recovery-reps", QUICK ? 1 : 3);
const PACED_RATE = count("paced-rate", 1000);
const PACED_S = flag("paced-s", QUICK ? 0.5 : 2);
const TOTAL = SESSIONS * INPUTS;

const ALL = [
  offstageSqliteSystem({ offstage, durability: "full", sessions: SESSIONS }),
  offstageSqliteSystem({ offstage, durability: "normal", sessions: SESSIONS }),
  sqliteStoreAloneSystem({ offstage, durability: "full", sessions: SESSIONS }),
  sqliteStoreAloneSystem({ offstage, durability: "normal", sessions: SESSIONS }),
  bullmqSystem({ mode: "always" }),
  bullmqSystem({ mode: "everysec" }),
  bullmqSystem({ mode: "none" }),
  graphileWorkerSystem({ syncCommit: true }),
  graphileWorkerSystem({ syncCommit: false }),
];
const RECOVERIES = [offstageSqliteRecovery({ offstage }), bullmqRecovery(), graphileWorkerRecovery()];

/** Which ratios the burst reports: each Offstage system (and ceiling) to the peers of its durability. */
const PEERS_OF = {
  full: ["bullmq-always", "graphile-full", "bullmq-none"],
  normal: ["bullmq-everysec", "graphile-normal", "bullmq-none"],
};

/** Burst: every input sent at once, in rounds; turns/s from the first send to the last commit. */
async function burst(system) {
  const inst = await system.open({ inputsPerSession: INPUTS });
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

/** REPS repetitions of every usable system's burst, the order rotated each time. */
async function burstReps(usable) {
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
  return runs;
}

/** Medians per system, printed as a table. */
function summarize(usable, runs) {
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
  return summary;
}

/** Offstage (and its ceiling) to each peer of the same durability, logged. */
function ratiosOf(summary, runs) {
  const ratios = {};
  for (const o of ["offstage-full", "offstage-normal", "store-full", "store-normal"]) {
    if (summary[o] === undefined) continue;
    for (const p of PEERS_OF[o.endsWith("full") ? "full" : "normal"]) {
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
  return ratios;
}

async function main() {
  printMachine();
  // BullMQ on Redis without persistence is not durable: measured only when asked (--systems ...,bullmq-none).
  const defaults = ALL.filter((s) => s.name !== "bullmq-none").map((s) => s.name);
  const wanted = flag("systems", defaults.join(",")).split(",");
  log(
    `durable-throughput: ${SESSIONS} sessions x ${INPUTS} inputs = ${TOTAL} durable no-op turns per run, ${REPS} rep(s)`,
  );
  const { usable, skipped } = await usableSystems(ALL.filter((s) => wanted.includes(s.name)));
  const runs = await burstReps(usable);
  const summary = summarize(usable, runs);
  const ratios = ratiosOf(summary, runs);
  if (skipped["offstage-full"] !== undefined && skipped["offstage-normal"] !== undefined)
    log(`Offstage durable side NOT MEASURED: ${SQLITE_MISSING}. Peers above are measured.`);
  const paced =
    PACED_S > 0
      ? await pacedLatency({
          systems: usable.filter((s) => !s.burstOnly),
          ratePerS: PACED_RATE,
          seconds: PACED_S,
          sessions: SESSIONS,
          measureDurable: true,
        })
      : [];
  const recovered = RECOVERY
    ? await recovery({
        systems: RECOVERIES.filter(({ key }) => wanted.some((w) => w.startsWith(key))),
        inputs: RECOVERY_INPUTS,
        sessions: Math.min(SESSIONS, RECOVERY_INPUTS),
        reps: RECOVERY_REPS,
        profilePath: RECOVERY_PROFILE,
      })
    : [];
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
    paced,
    recovery: recovered,
  });
}

await main();
