// Replays simulation seeds: `npm run sim -- --seed 0x4d2` runs one seed and prints its whole trace;
// `npm run sim -- --seeds 10000 [--from 0]` runs a range. `--steps N` changes the steps per seed.
// It runs the simulation test under vitest with the matching OFFSTAGE_SIM_* variables.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const usage =
  "usage: npm run sim -- --seed <n|0xhex> [--steps N] [--quiet]\n       npm run sim -- --seeds <count> [--from N] [--steps N]";
const args = process.argv.slice(2);
const env = { ...process.env };
let single = false;
let quiet = false;
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  const value = () => {
    const next = args[++i];
    if (next === undefined) {
      console.error(`${arg} needs a value\n${usage}`);
      process.exit(2);
    }
    return next;
  };
  if (arg === "--seed") {
    env.OFFSTAGE_SIM_SEED = value();
    single = true;
  } else if (arg === "--seeds") env.OFFSTAGE_SIM_SEEDS = value();
  else if (arg === "--from") env.OFFSTAGE_SIM_FIRST = value();
  else if (arg === "--steps") env.OFFSTAGE_SIM_STEPS = value();
  else if (arg === "--quiet") quiet = true;
  else {
    console.error(`unknown argument ${JSON.stringify(arg)}\n${usage}`);
    process.exit(2);
  }
}
let traceFile;
if (single) {
  traceFile = join(mkdtempSync(join(tmpdir(), "offstage-sim-")), "trace.txt");
  env.OFFSTAGE_SIM_TRACE = quiet ? "0" : "1";
  env.OFFSTAGE_SIM_TRACE_FILE = traceFile;
}
const run = spawnSync("npx", ["vitest", "run", "test/simulation/simulation.test.ts"], {
  stdio: single ? ["inherit", "ignore", "inherit"] : "inherit",
  env,
});
if (traceFile !== undefined && existsSync(traceFile)) process.stdout.write(readFileSync(traceFile, "utf8"));
if (single) console.log(run.status === 0 ? "PASS" : "FAIL");
process.exit(run.status ?? 1);
