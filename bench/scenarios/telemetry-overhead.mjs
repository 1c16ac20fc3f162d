// Telemetry overhead (issue #21), the `telemetry` benchmark: what tracing costs the runtime's
// throughput. The same no-op turns run in three ways, alternating within each repetition so they share
// the machine's weather (systems/otel-setups.mjs): no telemetry option; `otelTelemetry()` with no
// OpenTelemetry SDK installed; `otelTelemetry()` on a real SDK (batch span processor into the
// in-memory exporter, a meter provider, the async-hooks context manager). Each turn of the no-op
// model is two spans (invoke_agent, chat) with the SDK.
//
// Two workloads: core (the memory store, as the `core` benchmark: S sessions x I inputs sent at once)
// and durable (the SQLite store, durability "normal", as the `durable` benchmark). The cost of a case
// is 1 - (its turns/s / the turns/s of "off"), taken per repetition, then the median; wall-clock and
// per CPU-second of this process (which other processes on a shared machine disturb less), the goal
// judged on the latter. Goals: at most 2 % with no SDK, at most 20 % with one.
//
// Flags (or BENCH_<NAME>): --core-sessions 10000 --core-inputs 20 --durable-sessions 10000
//   --durable-inputs 2 --reps 5 --workloads core,durable --quick
// Saves bench/.tmp/telemetry-overhead.json.
import { count, flag, QUICK } from "../lib/args.mjs";
import { fmtCores, fmtMs, fmtRate, table } from "../lib/format.mjs";
import { log, ticker } from "../lib/log.mjs";
import { printMachine } from "../lib/machine.mjs";
import { cpuMeter, median, now, settleHeap, yieldLoop } from "../lib/meters.mjs";
import { loadOffstage } from "../lib/offstage.mjs";
import { writeResult } from "../lib/results.mjs";
import { offstageMemorySystem } from "../systems/offstage-memory.mjs";
import { offstageSqliteSystem } from "../systems/offstage-sqlite.mjs";
import { otelSetups } from "../systems/otel-setups.mjs";

const offstage = await loadOffstage();
const REPS = count("reps", QUICK ? 1 : 5);
const WORKLOADS = flag("workloads", "core,durable").split(",");
const SIZES = {
  core: {
    sessions: count("core-sessions", QUICK ? 1000 : 10_000),
    inputs: count("core-inputs", QUICK ? 5 : 20),
  },
  durable: {
    sessions: count("durable-sessions", QUICK ? 1000 : 10_000),
    inputs: count("durable-inputs", QUICK ? 1 : 2),
  },
};
const GOALS = { noop: 0.02, sdk: 0.2 };
const CASES = ["off", "noop", "sdk"];

function systemsOf(workload, setups) {
  const { sessions, inputs } = SIZES[workload];
  return CASES.map((name) => {
    const setup = setups[name];
    const system =
      workload === "core"
        ? offstageMemorySystem({
            offstage,
            sessions,
            inputs,
            maxConcurrentTurns: 256,
            name,
            label: setup.label,
            setup,
          })
        : offstageSqliteSystem({ offstage, durability: "normal", sessions, name, label: setup.label, setup });
    return { name, label: setup.label, system, setup };
  });
}

/** One burst: every input sent in rounds, then drained; turns/s from the first send to the last end. */
async function burst(workload, { system, setup }) {
  const { sessions, inputs } = SIZES[workload];
  const inst = await system.open({ inputsPerSession: inputs });
  const total = sessions * inputs;
  const spansBefore = setup.spans();
  const meter = cpuMeter();
  const started = now();
  for (let r = 0; r < inputs; r++) {
    for (let s = 0; s < sessions; s++) inst.send(s);
    await inst.flush?.();
  }
  const stop = ticker(() => log(`  ${system.name}: ${inst.done()}/${total} done`));
  await inst.drained(total);
  const elapsedMs = now() - started;
  const cpu = meter.end();
  stop();
  const done = inst.done();
  await inst.close();
  if (done !== total) throw new Error(`${system.name}: ${done} of ${total} inputs completed`);
  return {
    perSecond: (total * 1000) / elapsedMs,
    perCpuSecond: (total * 1000) / cpu.ownCpuMs,
    otherCores: cpu.otherCores,
    elapsedMs,
    spansPerTurn: (setup.spans() - spansBefore) / total,
  };
}

async function run(workload, setups) {
  const cases = systemsOf(workload, setups);
  const { sessions, inputs } = SIZES[workload];
  log(
    `${workload}: ${sessions} sessions x ${inputs} inputs = ${sessions * inputs} no-op turns per run, ${REPS} reps`,
  );
  // Warm-up: one small pass of each, so the first measured run does not pay for JIT compilation alone.
  for (const c of cases) {
    const inst = await c.system.open({ inputsPerSession: inputs });
    for (let s = 0; s < Math.min(sessions, 2000); s++) inst.send(s);
    await inst.flush?.();
    await inst.drained();
    await inst.close();
  }
  const runs = Object.fromEntries(CASES.map((n) => [n, []]));
  for (let rep = 0; rep < REPS; rep++) {
    const order = cases.map((_, i) => cases[(i + rep) % cases.length]);
    for (const c of order) {
      await settleHeap();
      await yieldLoop();
      const r = await burst(workload, c);
      runs[c.name].push(r);
      log(
        `rep ${rep + 1}/${REPS} ${workload} ${c.name}: ${fmtRate(r.perSecond)} wall, ${fmtRate(r.perCpuSecond)} per CPU-second ` +
          `(${fmtMs(r.elapsedMs)}; ${r.spansPerTurn.toFixed(2)} spans/turn; other processes ${fmtCores(r.otherCores)})`,
      );
    }
  }
  const summary = {};
  for (const c of cases) {
    const r = runs[c.name];
    const costOf = (key) => (c.name === "off" ? 0 : median(r.map((x, i) => 1 - x[key] / runs.off[i][key])));
    const cost = costOf("perSecond");
    const cpuCost = costOf("perCpuSecond");
    summary[c.name] = {
      label: c.label,
      perSecond: median(r.map((x) => x.perSecond)),
      perCpuSecond: median(r.map((x) => x.perCpuSecond)),
      min: Math.min(...r.map((x) => x.perSecond)),
      max: Math.max(...r.map((x) => x.perSecond)),
      cost,
      cpuCost,
      otherCores: median(r.map((x) => x.otherCores ?? 0)),
      goal: GOALS[c.name],
      spansPerTurn: median(r.map((x) => x.spansPerTurn)),
    };
  }
  table(
    [
      "case",
      "turns/s (median)",
      "min – max",
      "turns/CPU-s",
      "cost vs off: wall",
      "per CPU-s",
      "goal",
      "spans/turn",
      "other load",
    ],
    cases.map(({ name }) => {
      const s = summary[name];
      return [
        s.label,
        fmtRate(s.perSecond),
        `${fmtRate(s.min)} – ${fmtRate(s.max)}`,
        fmtRate(s.perCpuSecond),
        name === "off" ? "—" : `${(100 * s.cost).toFixed(1)} %`,
        name === "off" ? "—" : `${(100 * s.cpuCost).toFixed(1)} %`,
        s.goal === undefined ? "—" : `≤ ${100 * s.goal} % ${s.cpuCost <= s.goal ? "met" : "NOT met"} (CPU)`,
        s.spansPerTurn.toFixed(2),
        fmtCores(s.otherCores),
      ];
    }),
  );
  return { sessions, inputs, summary, runs };
}

printMachine();
const setups = await otelSetups(offstage);
const results = {};
for (const workload of WORKLOADS) results[workload] = await run(workload, setups);
writeResult("telemetry-overhead", { reps: REPS, results });
