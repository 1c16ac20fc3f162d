// Core throughput (issue #2), the `core` benchmark: no-op model turns through many sessions on the
// memory store, beside the in-process peers a user would otherwise pick for per-session serialized
// work (systems/p-queue.mjs: one PQueue per session; systems/naive-chain.mjs: a Map<session,
// Promise> chained per input). Every system gets the same work in the same process: S sessions,
// I inputs each, all sent in rounds (input r of every session, then input r+1), then waited for.
// Offstage runs a full turn of the no-op model (store writes, inbox, scheduler, turn machine,
// history, handle); the peers run the same turn as a user of theirs would write it
// (systems/peer-turn.mjs), the `-bare` peers an empty task, for reference. `floor` is no peer either:
// the least a runtime of Offstage's shape can do for the same turn (systems/floor.mjs).
//
// Burst: everything is sent at once; turns/s = inputs / (first send → last completion). Latency here
// is mostly queueing behind the backlog, so it is reported but not the headline. Then the paced
// phase (scenarios/paced-latency.mjs) measures each system's own scheduling delay.
//
// `offstage-c` (Offstage with no cap on concurrent turns) is not in the default set: two
// configurations of the same code in one process disturb each other (bench/NOTES.md, "offstage-c").
// Run it on its own: `--only offstage-c,p-queue,naive`.
//
// Flags (or BENCH_<NAME> env): --sessions 10000 --inputs 20 --reps 5 --rate 10000 --paced-s 2
//   --only offstage,p-queue,naive   (e.g. to profile one system: node --cpu-prof ... --only offstage)
//   --quick                          (smoke run: 1000 sessions x 5 inputs, 1 rep)
// Saves bench/.tmp/core-throughput.json.
import { count, flag, QUICK } from "../lib/args.mjs";
import { fmtCores, fmtMs, fmtRate, fmtRatio, table } from "../lib/format.mjs";
import { coreGoal } from "../lib/goals.mjs";
import { log, ticker } from "../lib/log.mjs";
import { printMachine } from "../lib/machine.mjs";
import { cpuMeter, gcMeter, median, now, settleHeap, yieldLoop } from "../lib/meters.mjs";
import { loadOffstage } from "../lib/offstage.mjs";
import { writeResult } from "../lib/results.mjs";
import { floorSystem } from "../systems/floor.mjs";
import { naiveChainSystem } from "../systems/naive-chain.mjs";
import { offstageMemorySystem } from "../systems/offstage-memory.mjs";
import { pQueueSystem } from "../systems/p-queue.mjs";
import { pacedLatency } from "./paced-latency.mjs";

const offstage = await loadOffstage();
/** The no-op model the peers and the floor call (Offstage's runtimes each make their own). */
const peerModel = offstage.createNoopModel();

const SESSIONS = count("sessions", QUICK ? 1000 : 10_000);
const INPUTS = count("inputs", QUICK ? 5 : 20);
const REPS = count("reps", QUICK ? 1 : 5);
const RATE = count("rate", 10_000);
const PACED_S = flag("paced-s", QUICK ? 0.5 : 2);
const ONLY = flag("only", "offstage,p-queue,naive,p-queue-bare,naive-bare,floor").split(",");

const sizes = { offstage, sessions: SESSIONS, inputs: INPUTS, model: peerModel };
const SYSTEMS = [
  offstageMemorySystem({
    ...sizes,
    maxConcurrentTurns: 256,
    name: "offstage",
    label: "offstage (default maxConcurrentTurns 256)",
  }),
  offstageMemorySystem({
    ...sizes,
    maxConcurrentTurns: SESSIONS,
    name: "offstage-c",
    label: `offstage (maxConcurrentTurns ${SESSIONS})`,
  }),
  pQueueSystem({ ...sizes, work: true }),
  naiveChainSystem({ ...sizes, work: true }),
  pQueueSystem({ ...sizes, work: false }),
  naiveChainSystem({ ...sizes, work: false }),
  floorSystem(sizes),
];

/** One burst of one system: every input sent in rounds, then drained; its rates and costs. */
async function burst(system) {
  const inst = await system.open();
  const total = SESSIONS * INPUTS;
  const meter = cpuMeter();
  const gc = gcMeter();
  const started = now();
  for (let r = 0; r < INPUTS; r++) {
    for (let s = 0; s < SESSIONS; s++) inst.send(s);
  }
  const sentMs = now() - started;
  const stop = ticker(() => log(`  ${system.name}: ${inst.done()}/${total} done`));
  await inst.drained(total);
  const elapsedMs = now() - started;
  stop();
  const cpu = meter.end();
  const heap = gc.end();
  const latency = inst.latency();
  const done = inst.done();
  await inst.close();
  if (done !== total) throw new Error(`${system.name}: ${done} of ${total} inputs completed`);
  return {
    name: system.name,
    perSecond: (total * 1000) / elapsedMs,
    perCpuSecond: (total * 1000) / cpu.ownCpuMs,
    otherCores: cpu.otherCores,
    allocPerTurn: heap.allocatedBytes / total,
    gcShare: heap.gcMs / elapsedMs,
    elapsedMs,
    sentMs,
    latency,
  };
}

/** One small pass of each, so the first measured run does not pay for JIT compilation alone. */
async function warmUp(systems) {
  for (const system of systems) {
    const inst = await system.open();
    for (let r = 0; r < 3; r++) for (let s = 0; s < Math.min(SESSIONS, 2000); s++) inst.send(s);
    await inst.drained();
    await inst.close();
  }
}

async function main() {
  printMachine();
  const systems = SYSTEMS.filter((s) => ONLY.includes(s.name));
  const names = systems.map((s) => s.name);
  log(
    `core-throughput: ${SESSIONS} sessions x ${INPUTS} inputs = ${SESSIONS * INPUTS} no-op turns per run, ` +
      `${REPS} reps, systems: ${names.join(", ")}${typeof globalThis.gc === "function" ? "" : " (no --expose-gc: heap not settled between runs)"}`,
  );
  await warmUp(systems);
  const runs = Object.fromEntries(names.map((n) => [n, []]));
  for (let rep = 0; rep < REPS; rep++) {
    // Rotate the order each repetition, so no system always runs first (or on a fuller heap).
    const order = systems.map((_, i) => systems[(i + rep) % systems.length]);
    for (const system of order) {
      await settleHeap();
      await yieldLoop();
      const r = await burst(system);
      runs[system.name].push(r);
      log(
        `rep ${rep + 1}/${REPS} ${system.name}: ${fmtRate(r.perSecond)} wall, ${fmtRate(r.perCpuSecond)} per CPU-second ` +
          `(${fmtMs(r.elapsedMs)}; sends ${fmtMs(r.sentMs)}; ${r.allocPerTurn.toFixed(0)} B allocated/turn, ` +
          `GC pauses ${(100 * r.gcShare).toFixed(0)}% of the time; other processes ${fmtCores(r.otherCores)})`,
      );
    }
  }
  const summary = summarize(systems, runs);
  printBurst(names, runs, summary);
  const paced =
    PACED_S > 0 ? await pacedLatency({ systems, ratePerS: RATE, seconds: PACED_S, sessions: SESSIONS }) : [];
  writeResult("core-throughput", {
    sessions: SESSIONS,
    inputs: INPUTS,
    reps: REPS,
    rate: RATE,
    pacedS: PACED_S,
    summary,
    runs,
    paced,
  });
}

/** Medians over the repetitions per system, and the ratios of Offstage to each other system. */
function summarize(systems, runs) {
  const summary = {};
  for (const { name, label } of systems) {
    const r = runs[name];
    summary[name] = {
      label,
      perSecond: median(r.map((x) => x.perSecond)),
      perCpuSecond: median(r.map((x) => x.perCpuSecond)),
      otherCores: median(r.map((x) => x.otherCores ?? 0)),
      allocPerTurn: median(r.map((x) => x.allocPerTurn)),
      gcShare: median(r.map((x) => x.gcShare)),
      latency: r[Math.floor(r.length / 2)].latency,
    };
  }
  // Ratios per repetition (the runs of one repetition sit next to each other in time, so they share
  // the machine's weather), then their median.
  const ratio = (a, b, key) =>
    runs[a] && runs[b] ? median(runs[a].map((x, i) => x[key] / runs[b][i][key])) : undefined;
  summary.ratios = {};
  for (const o of ["offstage", "offstage-c"]) {
    for (const peer of ["p-queue", "naive", "p-queue-bare", "naive-bare", "floor"]) {
      const wall = ratio(o, peer, "perSecond");
      if (wall === undefined) continue;
      summary.ratios[`${o}/${peer}`] = { wall, cpu: ratio(o, peer, "perCpuSecond") };
    }
  }
  return summary;
}

function printBurst(names, runs, summary) {
  log("burst results (medians over reps; send→start of the median rep, dominated by the backlog):");
  table(
    [
      "system",
      "turns/s wall",
      "min – max",
      "turns/CPU-s",
      "B alloc/turn",
      "GC pauses",
      "send→start p50",
      "p99",
      "other load",
    ],
    names.map((n) => {
      const r = runs[n];
      const s = summary[n];
      return [
        s.label,
        fmtRate(s.perSecond),
        `${fmtRate(Math.min(...r.map((x) => x.perSecond)))} – ${fmtRate(Math.max(...r.map((x) => x.perSecond)))}`,
        fmtRate(s.perCpuSecond),
        s.allocPerTurn.toFixed(0),
        `${(100 * s.gcShare).toFixed(0)}%`,
        fmtMs(s.latency.p50Ms),
        fmtMs(s.latency.p99Ms),
        fmtCores(s.otherCores),
      ];
    }),
  );
  for (const [pair, { wall, cpu }] of Object.entries(summary.ratios)) {
    const need = coreGoal(pair);
    const goal = need === undefined ? "no goal" : `goal ≥ ${need}×`;
    log(`ratio ${pair}: ${fmtRatio(wall)} wall, ${fmtRatio(cpu)} per CPU-second (${goal})`);
  }
}

await main();
