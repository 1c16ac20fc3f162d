// Fleet throughput (issue #18), the `fleet` benchmark: durable no-op turns through many sessions on
// one PostgreSQL database, run by 1 and by 2 processes, beside the PostgreSQL job queues a user would
// otherwise pick for per-session serialized work. Systems (one module each in systems/):
//   offstage-1p, offstage-2p        Offstage on its PostgreSQL store (offstage-postgres.mjs)
//   graphile-1p, graphile-2p        graphile-worker, one named queue per session (graphile-worker.mjs)
//   pg-boss-1p, pg-boss-2p          pg-boss, one queue keyed by session (pg-boss.mjs)
// Every system commits with synchronous_commit on (the server's default).
//
// A run (lib/fleet.mjs): P processes start and connect, untimed; then each sends the inputs of every
// P-th session, S sessions × I inputs in all, in rounds, and runs whatever turns (jobs) come its way;
// done when the database holds every completion. turns/s from "go" to the last commit; per
// CPU-second counts the fleet's processes and the PostgreSQL backends serving them (read from /proc),
// so a shared machine's other work stays out of it; send→start over every turn of every process.
//
// Flags (or BENCH_<NAME>): --sessions 10000 --inputs 2 --reps 3 --systems <comma list> --quick,
//   and the peers' (systems/graphile-worker.mjs, systems/pg-boss.mjs), --pg-url.
// Saves bench/.tmp/fleet-throughput.json.
import { count, flag, QUICK } from "../lib/args.mjs";
import { runFleet } from "../lib/fleet.mjs";
import { fmtCores, fmtMs, fmtRate, fmtRatio, table } from "../lib/format.mjs";
import { fleetGoal } from "../lib/goals.mjs";
import { log } from "../lib/log.mjs";
import { printMachine } from "../lib/machine.mjs";
import { median } from "../lib/meters.mjs";
import { loadOffstage } from "../lib/offstage.mjs";
import { writeResult } from "../lib/results.mjs";
import { usableSystems } from "../lib/services.mjs";
import { graphileWorkerFleet } from "../systems/graphile-worker.mjs";
import { offstagePostgresFleet } from "../systems/offstage-postgres.mjs";
import { pgBossFleet } from "../systems/pg-boss.mjs";

const offstage = await loadOffstage();

const SESSIONS = count("sessions", QUICK ? 1000 : 10_000);
const INPUTS = count("inputs", QUICK ? 1 : 2);
const REPS = count("reps", QUICK ? 1 : 3);
const TOTAL = SESSIONS * INPUTS;
const PROCESSES = [1, 2];

const ALL = PROCESSES.flatMap((processes) => [
  offstagePostgresFleet({ offstage, processes }),
  graphileWorkerFleet({ processes }),
  pgBossFleet({ processes }),
]);

/** Offstage at each process count to each peer at the same count, then 2 processes to 1. */
const PAIRS = [
  ...PROCESSES.flatMap((p) => [`offstage-${p}p/graphile-${p}p`, `offstage-${p}p/pg-boss-${p}p`]),
  "offstage-2p/offstage-1p",
  "graphile-2p/graphile-1p",
  "pg-boss-2p/pg-boss-1p",
];

async function main() {
  printMachine();
  const wanted = flag("systems", ALL.map((s) => s.name).join(",")).split(",");
  log(
    `fleet-throughput: ${SESSIONS} sessions x ${INPUTS} inputs = ${TOTAL} durable no-op turns per run, ${REPS} rep(s)`,
  );
  const { usable, skipped } = await usableSystems(ALL.filter((s) => wanted.includes(s.name)));
  const runs = Object.fromEntries(usable.map((s) => [s.name, []]));
  for (let rep = 0; rep < REPS; rep++) {
    const order = usable.map((_, i) => usable[(i + rep) % usable.length]);
    for (const system of order) {
      log(`rep ${rep + 1}/${REPS} ${system.name}: running`);
      const r = await runFleet(system, { sessions: SESSIONS, inputs: INPUTS });
      runs[system.name].push(r);
      log(
        `rep ${rep + 1}/${REPS} ${system.name}: ${fmtRate(r.perSecond)} (${fmtMs(r.elapsedMs)}), ` +
          `${fmtRate(r.perCpuSecond)} per CPU-second (processes ${fmtMs(r.membersCpuMs)}, PostgreSQL ${fmtMs(r.backendCpuMs)}); ` +
          `send→start p50 ${fmtMs(r.latency.p50Ms)} p99 ${fmtMs(r.latency.p99Ms)}; turns per process ${r.ranPerMember.join(", ")}; ` +
          `other load ${fmtCores(r.otherCores)}`,
      );
    }
  }
  const summary = {};
  for (const s of usable) {
    const r = runs[s.name];
    summary[s.name] = {
      label: s.label,
      processes: s.processes,
      perSecond: median(r.map((x) => x.perSecond)),
      perCpuSecond: median(r.map((x) => x.perCpuSecond)),
      otherCores: median(r.map((x) => x.otherCores)),
      latency: [...r].sort((a, b) => a.perSecond - b.perSecond)[r.length >> 1].latency,
    };
  }
  log("fleet results (medians over reps):");
  table(
    ["system", "turns/s", "per CPU-second", "send→start p50", "p99", "other load"],
    Object.values(summary).map((x) => [
      x.label,
      fmtRate(x.perSecond),
      fmtRate(x.perCpuSecond),
      fmtMs(x.latency.p50Ms),
      fmtMs(x.latency.p99Ms),
      fmtCores(x.otherCores),
    ]),
  );
  const ratios = {};
  for (const pair of PAIRS) {
    const [a, b] = pair.split("/");
    if (runs[a] === undefined || runs[b] === undefined) continue;
    // Per repetition: the runs of one repetition sit next to each other in time and share the
    // machine's weather.
    const wall = runs[a].map((x, i) => x.perSecond / runs[b][i].perSecond);
    const cpu = runs[a].map((x, i) => x.perCpuSecond / runs[b][i].perCpuSecond);
    ratios[pair] = { wall: median(wall), cpu: median(cpu), perRep: wall };
    const need = fleetGoal(pair);
    log(
      `ratio ${pair}: ${fmtRatio(median(wall))} wall-clock (per repetition ${wall.map(fmtRatio).join(", ")}), ` +
        `${fmtRatio(median(cpu))} per CPU-second${need === undefined ? "" : `; goal ≥ ${need}×: ${median(wall) >= need ? "met" : "NOT met"}`}`,
    );
  }
  writeResult("fleet-throughput", {
    sessions: SESSIONS,
    inputs: INPUTS,
    reps: REPS,
    skipped,
    summary,
    ratios,
    runs,
  });
}

await main();
process.exit(0);
