// A/B of two builds on the core burst (no-op turns, memory store), alternating in one process: for
// telling whether a change to the turn's path helps. Run apart, two builds meet different weather on
// this VM (its speed drifts by up to 2× within minutes); alternated pair by pair, they share it. Each
// pair runs both builds back to back, in turn order A B, then B A; the result is the median of the
// pairs' B/A throughput ratios, wall-clock and per CPU-second, and the ratio of each build's best
// burst per CPU-second (its least disturbed one: steadier while other processes load the machine). A
// build against itself gives 0.97–1.03×: smaller differences are noise.
// Both builds share one heap, so it misreads a change to what stays alive (the collector's work is
// shared): measure such a change with separate `core-burst.mjs` processes (bench/NOTES.md, "Measuring
// on this machine").
//
//   npm exec -- node --expose-gc bench/lab/ab.mjs DIST_A DIST_B [--pairs 8] [--sessions 10000] [--inputs 20]
//
// DIST_A and DIST_B are build directories (each holding index.js), e.g. `dist` and a copy of it made
// before the change (`cp -r dist /tmp/dist-before`). Both load into this process at once, each through
// lib/offstage.mjs, so builds of the old and the new package layout compare; a build outside the
// repository must be able to resolve its dependencies (keep it inside the repository, or link
// node_modules beside it). A smoke run: `... dist dist --pairs 1 --sessions 1000 --inputs 2`.
import { resolve } from "node:path";
import { count } from "../lib/args.mjs";
import { fmtRatio } from "../lib/format.mjs";
import { log } from "../lib/log.mjs";
import { median, now, settleHeap } from "../lib/meters.mjs";
import { loadOffstage } from "../lib/offstage.mjs";
import { memoryBurst } from "../systems/offstage-memory.mjs";

const USAGE =
  "usage: node --expose-gc bench/lab/ab.mjs DIST_A DIST_B [--pairs 8] [--sessions 10000] [--inputs 20]";
if (process.argv.includes("--help")) {
  console.log(USAGE);
  process.exit(0);
}
const PAIRS = count("pairs", 8);
const SESSIONS = count("sessions", 10_000);
const INPUTS = count("inputs", 20);
const dirs = process.argv
  .slice(2)
  .filter((a, i, all) => !a.startsWith("--") && !all[i - 1]?.startsWith("--"));
if (dirs.length !== 2) {
  console.error(USAGE);
  process.exit(2);
}
const builds = await Promise.all(dirs.map((dir) => loadOffstage(resolve(dir, "index.js"))));

/** One burst of a build: turns per second, wall-clock and per CPU-second of this process. */
async function measure(build) {
  await settleHeap();
  const cpu = process.cpuUsage();
  const started = now();
  await memoryBurst(build, SESSIONS, INPUTS);
  const ms = now() - started;
  const used = process.cpuUsage(cpu);
  const turns = SESSIONS * INPUTS;
  return { wall: (turns * 1000) / ms, cpu: (turns * 1e6) / (used.user + used.system) };
}

log(`ab: A = ${dirs[0]}, B = ${dirs[1]}; ${PAIRS} pairs of ${SESSIONS} sessions × ${INPUTS} inputs`);
// Warm-up: a burst of each, so the first pair does not pay for JIT compilation.
for (const build of builds) await memoryBurst(build, Math.min(SESSIONS, 2000), 3);
const wall = [];
const cpu = [];
/** Each build's best burst per CPU-second: the least disturbed one, on a machine others load. */
const best = [0, 0];
for (let pair = 0; pair < PAIRS; pair++) {
  const order = pair % 2 === 0 ? [0, 1] : [1, 0];
  const result = [];
  for (const i of order) result[i] = await measure(builds[i]);
  const [a, b] = result;
  best[0] = Math.max(best[0], a.cpu);
  best[1] = Math.max(best[1], b.cpu);
  wall.push(b.wall / a.wall);
  cpu.push(b.cpu / a.cpu);
  log(
    `pair ${pair + 1}/${PAIRS}: A ${(a.wall / 1000).toFixed(1)}k/s, B ${(b.wall / 1000).toFixed(1)}k/s, ` +
      `B/A ${fmtRatio(wall.at(-1))} (per CPU-second ${fmtRatio(cpu.at(-1))})`,
  );
}
log(`B/A median: ${fmtRatio(median(wall))} wall-clock, ${fmtRatio(median(cpu))} per CPU-second`);
log(
  `best bursts per CPU-second: A ${(best[0] / 1000).toFixed(1)}k, B ${(best[1] / 1000).toFixed(1)}k, ` +
    `B/A ${fmtRatio(best[1] / best[0])}`,
);
