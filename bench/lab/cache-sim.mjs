// Cache simulation of a no-op turn (issue #2): Offstage on the memory store beside the reference
// floor (systems/floor.mjs), each under `valgrind --tool=cachegrind --cache-sim=yes` with V8 made
// repeatable (`--predictable --single-threaded`). Each system runs twice, FROM and TO repetitions of
// the same burst (SESSIONS × INPUTS no-op turns, as in the core benchmark); the difference of the two
// runs per turn is the steady state: start-up, JIT compilation and the first collections cancel out.
// Short runs do not (bench/NOTES.md, "cache misses"): when the major collections fall moves their count by
// thousands of instructions per turn. Reports instructions and simulated L1i, L1d and last-level
// cache misses per turn, and their ratio.
//
//   npm run build && npm exec -- node bench/lab/cache-sim.mjs   [--sessions 10000 --inputs 5 --from 4 --to 8]
//
// Needs valgrind (Debian package `valgrind`). About 5 minutes on 2 cores: the four runs go two at a
// time. The simulated caches are valgrind's model (32 KB L1s), not the CPU's; where the machine
// exposes hardware counters, `perf stat` measures the real ones.
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { count } from "../lib/args.mjs";
import { fmtRatio, table } from "../lib/format.mjs";
import { log } from "../lib/log.mjs";
import { printMachine } from "../lib/machine.mjs";
import { loadOffstage } from "../lib/offstage.mjs";
import { floorSystem } from "../systems/floor.mjs";
import { memoryBurst } from "../systems/offstage-memory.mjs";

const SESSIONS = count("sessions", 10_000);
const INPUTS = count("inputs", 5);
const FROM = count("from", 4);
const TO = count("to", 8);
const SYSTEMS = ["offstage", "floor"];

/** In a child: `reps` bursts of one system, then exit. */
async function child(system, reps) {
  const offstage = await loadOffstage();
  const model = offstage.createNoopModel();
  const floor = floorSystem({ sessions: SESSIONS, model });
  for (let rep = 0; rep < reps; rep++) {
    if (system === "floor") await floorBurst(floor);
    else await memoryBurst(offstage, SESSIONS, INPUTS, model);
  }
}

/** One burst through the floor, as `memoryBurst` makes one through Offstage. */
async function floorBurst(floor) {
  const inst = await floor.open();
  for (let r = 0; r < INPUTS; r++) for (let s = 0; s < SESSIONS; s++) inst.send(s);
  await inst.drained();
  if (inst.done() !== SESSIONS * INPUTS) throw new Error(`floor: ${inst.done()} turns completed`);
}

const COUNTERS = {
  instructions: /I\s+refs:\s+([\d,]+)/,
  l1i: /I1\s+misses:\s+([\d,]+)/,
  l1d: /D1\s+misses:\s+([\d,]+)/,
  ll: /LL misses:\s+([\d,]+)/,
};

/** One system under cachegrind for `reps` repetitions; resolves to its counters. */
function simulate(system, reps) {
  const args = [
    "--tool=cachegrind",
    "--cache-sim=yes",
    "--cachegrind-out-file=/dev/null",
    process.execPath,
    "--predictable",
    "--single-threaded",
    fileURLToPath(import.meta.url),
    ...process.argv.slice(2),
    "--child",
    system,
    String(reps),
  ];
  return new Promise((resolve, reject) => {
    const run = spawn("valgrind", args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    run.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    run.on("error", reject);
    run.on("close", (code) => {
      if (code !== 0) return reject(new Error(`${system} × ${reps} exited ${code}:\n${stderr.slice(-2000)}`));
      const counters = {};
      for (const [name, pattern] of Object.entries(COUNTERS)) {
        const match = pattern.exec(stderr);
        if (match === null)
          return reject(new Error(`${system} × ${reps}: no "${name}" in valgrind's output`));
        counters[name] = Number(match[1].replaceAll(",", ""));
      }
      log(`${system} × ${reps} repetitions done`);
      resolve(counters);
    });
  });
}

async function main() {
  if (spawnSync("valgrind", ["--version"]).status !== 0) {
    console.error("cache-sim: valgrind is not installed (Debian: apt-get install valgrind)");
    process.exit(2);
  }
  if (!(TO > FROM)) {
    console.error(`cache-sim: --to (${TO}) must be greater than --from (${FROM})`);
    process.exit(2);
  }
  printMachine();
  log(
    `cache-sim: ${SESSIONS} sessions × ${INPUTS} inputs per repetition; ${FROM} and ${TO} repetitions ` +
      `of ${SYSTEMS.join(" and ")} under cachegrind (two runs at a time, a few minutes)`,
  );
  const perTurn = {};
  for (const system of SYSTEMS) {
    const [from, to] = await Promise.all([simulate(system, FROM), simulate(system, TO)]);
    const turns = (TO - FROM) * SESSIONS * INPUTS;
    perTurn[system] = Object.fromEntries(
      Object.keys(COUNTERS).map((name) => [name, (to[name] - from[name]) / turns]),
    );
  }
  const [a, b] = SYSTEMS;
  table(
    ["per turn (steady state)", ...SYSTEMS, `${a}/${b}`],
    Object.keys(COUNTERS).map((name) => [
      name,
      ...SYSTEMS.map((system) => perTurn[system][name].toFixed(0)),
      fmtRatio(perTurn[a][name] / perTurn[b][name]),
    ]),
  );
}

const at = process.argv.indexOf("--child");
if (at >= 0) await child(process.argv[at + 1], Number(process.argv[at + 2]));
else await main();
