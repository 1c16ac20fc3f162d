// Runs the benchmarks: `npm run bench` (all), or one or more by name: `npm run bench -- core memory`.
// Other arguments pass through to every benchmark (`--quick` for a smoke run; `--reps 3`, ...), but
// `--wait-quiet S`, which waits up to S seconds before each benchmark for other processes to go quiet,
// `--priority P`, `--clean-build` and `--write` (see below).
//
//   core       scenarios/core-burst.mjs          issue #2: no-op turns/s vs p-queue and a naive promise
//                                                chain, then their paced latency
//   memory     scenarios/idle-memory.mjs         bytes per idle session vs p-queue and a naive promise chain
//   durable    scenarios/durable-throughput.mjs  issue #3: durable turns/s vs BullMQ and graphile-worker,
//                                                then their paced latency and recovery
//   fleet      scenarios/fleet-throughput.mjs    issue #18: durable turns/s on PostgreSQL with 1 and 2
//                                                processes vs graphile-worker and pg-boss
//   delegation scenarios/delegation.mjs          issue #4: children dispatch → completion delivered vs
//                                                BullMQ flows
//   models     scenarios/model-loop.mjs          issue #16: a 3-step, 2-tool conversation through a real
//                                                provider package on loopback vs the AI SDK's streamText
//   telemetry  scenarios/telemetry-overhead.mjs  issue #21: throughput with tracing off, with the OTel API
//                                                and no SDK, and with a real SDK (core and durable)
//   cancel     scenarios/cancel-latency.mjs      issue #21 (P7): cancel → settled of a cooperative tool
//   serve      scenarios/serve-load.mjs          issue #20: accepted inputs/s and POST latency over HTTP vs a
//                                                bare Hono + SQLite handler; 1 000 SSE streams' memory
//   frame      scenarios/frame-loop.mjs          issue #17: a 60 Hz frame loop's overrun while 1 000 turns
//                                                run: runtime in a worker, in the loop's thread, naive awaits
//   profile    the core burst (Offstage only) under --cpu-prof, then the top functions by self time
//              (lab/profile-summary.mjs), then lab/alloc-profile.mjs: allocation per turn by site
//
// Each benchmark runs in its own process (with --expose-gc, on the Node that runs this script: the
// pinned Node 24 under npm), so one cannot tax the next with its heap.
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { newestProfile, printSummary } from "./lab/profile-summary.mjs";
import { log } from "./lib/log.mjs";
import { printMachine } from "./lib/machine.mjs";
import { waitQuiet } from "./lib/meters.mjs";
import { writeResults } from "./lib/report.mjs";

const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const BENCHES = {
  core: "scenarios/core-burst.mjs",
  memory: "scenarios/idle-memory.mjs",
  durable: "scenarios/durable-throughput.mjs",
  fleet: "scenarios/fleet-throughput.mjs",
  delegation: "scenarios/delegation.mjs",
  models: "scenarios/model-loop.mjs",
  telemetry: "scenarios/telemetry-overhead.mjs",
  cancel: "scenarios/cancel-latency.mjs",
  serve: "scenarios/serve-load.mjs",
  frame: "scenarios/frame-loop.mjs",
};
const raw = process.argv.slice(2);
// --wait-quiet S: before each benchmark, wait up to S seconds for other processes to go quiet.
// --priority P: run core, memory and profile at nice P (e.g. -10, as root), so other processes on a
// shared machine disturb them less. Not durable: its peers' servers (Redis, PostgreSQL) would keep
// the normal priority while Offstage got more, which would be unfair to them.
const own = {};
let args = raw;
for (const name of ["--wait-quiet", "--priority"]) {
  const at = args.indexOf(name);
  if (at < 0) continue;
  own[name] = Number(args[at + 1]);
  args = args.filter((_, i) => i !== at && i !== at + 1);
}
// --clean-build: measure a build of the last commit (git archive HEAD into bench/.tmp/head), not the
// work tree, whose src/ may hold someone's unfinished changes.
const cleanBuild = args.includes("--clean-build");
// --write: put the fresh numbers into bench/RESULTS.md (lib/report.mjs), each benchmark's block only.
const write = args.includes("--write");
args = args.filter((a) => a !== "--clean-build" && a !== "--write");
const waitS = own["--wait-quiet"] ?? 0;
const priority = own["--priority"];
const names = args.filter((a) => a in BENCHES || a === "profile");
const passthrough = args.filter((a) => !names.includes(a));
const unknown = passthrough.filter((a, i) => !a.startsWith("--") && !passthrough[i - 1]?.startsWith("--"));
if (unknown.length > 0) {
  console.error(
    `unknown benchmark(s) ${unknown.join(", ")}; known: ${[...Object.keys(BENCHES), "profile"].join(", ")}`,
  );
  process.exit(2);
}
// The default set; telemetry, cancel, serve, frame and fleet run when named.
const selected = names.length > 0 ? names : ["core", "memory", "durable", "delegation", "models"];

/** Builds the last commit's src/ into bench/.tmp/head/dist; returns its index.js. */
function buildHead() {
  const root = here("..");
  const dir = here(".tmp/head");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const files = ["src", "tsconfig.json", "tsconfig.build.json", "package.json"];
  const step = (command, argv, cwd) => {
    const r = spawnSync(command, argv, { cwd, stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${command} ${argv.join(" ")} failed (exit ${r.status})`);
    return r.stdout;
  };
  const tar = spawnSync("sh", ["-c", `git archive HEAD ${files.join(" ")} | tar -x -C '${dir}'`], {
    cwd: root,
    stdio: "inherit",
  });
  if (tar.status !== 0) throw new Error("git archive HEAD failed");
  writeFileSync(`${dir}/COMMIT`, step("git", ["rev-parse", "--short", "HEAD"], root));
  // The TypeScript compiler of the repository, run on the Node that runs this script.
  step(process.execPath, [`${root}/node_modules/typescript/bin/tsc`, "-p", "tsconfig.build.json"], dir);
  return `${dir}/dist/index.js`;
}

function node(nodeArgs, { nice = false } = {}) {
  const argv = [process.execPath, "--expose-gc", ...nodeArgs];
  if (nice && priority !== undefined) argv.unshift("nice", "-n", String(priority));
  const run = spawnSync(argv[0], argv.slice(1), { stdio: "inherit" });
  return run.status ?? 1;
}

if (cleanBuild) process.env.OFFSTAGE_DIST = buildHead();
printMachine();
log(`running: ${selected.join(", ")}${passthrough.length > 0 ? ` with ${passthrough.join(" ")}` : ""}`);
let failed = 0;
for (const name of selected) {
  log(`==== ${name} ====`);
  if (waitS > 0) await waitQuiet(waitS);
  let status;
  if (name === "profile") {
    const dir = here(".tmp/prof");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    status = node(
      [
        "--cpu-prof",
        "--cpu-prof-dir",
        dir,
        here(BENCHES.core),
        "--only",
        "offstage",
        "--reps",
        "3",
        "--paced-s",
        "0",
        "--out",
        "core-throughput-profile",
        ...passthrough,
      ],
      { nice: true },
    );
    if (status === 0) printSummary(newestProfile(dir), 30);
    if (status === 0) status = node([here("lab/alloc-profile.mjs"), ...passthrough], { nice: true });
  } else
    status = node([here(BENCHES[name]), ...passthrough], { nice: name !== "durable" && name !== "fleet" });
  if (status !== 0) {
    failed += 1;
    log(`${name} FAILED (exit ${status})`);
  }
}
log(failed === 0 ? "all benchmarks finished" : `${failed} benchmark(s) failed`);
if (write && failed === 0) {
  const command =
    process.env.npm_lifecycle_event === "bench"
      ? `npm run bench -- ${raw.join(" ")}`
      : `npm exec -- node bench/run.mjs ${raw.join(" ")}`;
  const written = writeResults(selected, command.trim());
  log(`bench/RESULTS.md: rewrote the blocks of ${written.join(", ") || "nothing"}`);
}
process.exit(failed === 0 ? 0 : 1);
