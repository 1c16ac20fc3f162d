// A/B of two builds on the fleet benchmark's Offstage system (durable no-op turns on the PostgreSQL
// store, `bench/scenarios/fleet-throughput.mjs`): for telling whether a change to the store helps. The
// two builds take turns, pair by pair (A B, then B A), so they share the machine's weather; the result
// is the median of the pairs' B/A ratios, wall-clock and per CPU-second (the fleet's processes and
// their PostgreSQL backends).
//
//   npm exec -- node bench/lab/fleet-ab.mjs DIST_A DIST_B [--pairs 3] [--sessions 2000] [--inputs 2] [--processes 1]
//
// DIST_A and DIST_B are build directories (each holding index.js) inside the repository, e.g. a copy
// of `dist` made before the change (`cp -r dist bench/.tmp/dist-A`) and `dist`.
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { count } from "../lib/args.mjs";
import { runFleet } from "../lib/fleet.mjs";
import { fmtMs, fmtRate, fmtRatio } from "../lib/format.mjs";
import { log } from "../lib/log.mjs";
import { median } from "../lib/meters.mjs";
import { loadOffstage } from "../lib/offstage.mjs";
import { offstagePostgresFleet } from "../systems/offstage-postgres.mjs";

const PAIRS = count("pairs", 3);
const SESSIONS = count("sessions", 2000);
const INPUTS = count("inputs", 2);
const PROCESSES = count("processes", 1);
const dirs = process.argv
  .slice(2)
  .filter((a, i, all) => !a.startsWith("--") && !all[i - 1]?.startsWith("--"));
if (dirs.length !== 2) {
  console.error(
    "usage: node bench/lab/fleet-ab.mjs DIST_A DIST_B [--pairs 3] [--sessions 2000] [--inputs 2]",
  );
  process.exit(2);
}
const indexes = dirs.map((dir) => pathToFileURL(resolve(dir, "index.js")).href);

/** One fleet run of a build: the members load it through OFFSTAGE_DIST, which they inherit. */
async function measure(index) {
  process.env.OFFSTAGE_DIST = index;
  const offstage = await loadOffstage(index);
  const system = offstagePostgresFleet({ offstage, processes: PROCESSES });
  return runFleet(system, { sessions: SESSIONS, inputs: INPUTS });
}

log(
  `fleet-ab: A = ${dirs[0]}, B = ${dirs[1]}; ${PAIRS} pairs of ${SESSIONS} sessions × ${INPUTS} inputs, ${PROCESSES} process(es)`,
);
const wall = [];
const cpu = [];
for (let pair = 0; pair < PAIRS; pair++) {
  const order = pair % 2 === 0 ? [0, 1] : [1, 0];
  const result = [];
  for (const i of order) result[i] = await measure(indexes[i]);
  const [a, b] = result;
  wall.push(b.perSecond / a.perSecond);
  cpu.push(b.perCpuSecond / a.perCpuSecond);
  log(
    `pair ${pair + 1}/${PAIRS}: A ${fmtRate(a.perSecond)} (${fmtRate(a.perCpuSecond)}/CPU-s, p50 ${fmtMs(a.latency.p50Ms)}, ran ${a.ranPerMember.join("+")}), ` +
      `B ${fmtRate(b.perSecond)} (${fmtRate(b.perCpuSecond)}/CPU-s, p50 ${fmtMs(b.latency.p50Ms)}, ran ${b.ranPerMember.join("+")}), ` +
      `B/A ${fmtRatio(wall.at(-1))} (per CPU-second ${fmtRatio(cpu.at(-1))})`,
  );
}
log(`B/A median: ${fmtRatio(median(wall))} wall-clock, ${fmtRatio(median(cpu))} per CPU-second`);
process.exit(0);
