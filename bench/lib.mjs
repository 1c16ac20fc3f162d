// Shared helpers of the benchmarks: flags, machine facts, histograms, progress lines, statistics.
// Every benchmark imports the built package from ../dist (run `npm run build` first; `npm run bench`
// does), so it measures what users get.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import v8 from "node:v8";
import * as hdr from "hdr-histogram-js";

/**
 * Reads `--name value` / `--name=value` flags, falling back to the environment variable
 * `BENCH_<NAME>` (dashes become underscores), then to the default. Numbers accept `_` separators.
 */
export function flag(name, fallback, argv = process.argv.slice(2)) {
  let raw;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === `--${name}`) raw = argv[i + 1];
    else if (arg.startsWith(`--${name}=`)) raw = arg.slice(name.length + 3);
  }
  raw ??= process.env[`BENCH_${name.toUpperCase().replaceAll("-", "_")}`];
  if (raw === undefined) return fallback;
  if (typeof fallback === "number") {
    const n = Number(String(raw).replaceAll("_", ""));
    if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got ${JSON.stringify(raw)}`);
    return n;
  }
  if (typeof fallback === "boolean") return raw !== "0" && raw !== "false" && raw !== "no";
  return raw;
}

/** A flag that counts something (sessions, repetitions, …): a whole number of at least 1. */
export function count(name, fallback, argv = process.argv.slice(2)) {
  const n = flag(name, fallback, argv);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`--${name} must be a whole number of at least 1, got ${n}`);
  return n;
}

/** True when `--quick` (or BENCH_QUICK=1) asks for a smoke-sized run. */
export const QUICK =
  process.argv.includes("--quick") || ["1", "true"].includes(process.env.BENCH_QUICK ?? "");

/** The machine, as RESULTS.md records it. */
export function machine() {
  let cpu = os.cpus()[0]?.model ?? "unknown";
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("model name"));
    if (line !== undefined) cpu = line.split(":")[1].trim();
  } catch {
    // Not Linux: os.cpus() is the next best source.
  }
  return {
    cores: os.availableParallelism(),
    cpu,
    ramGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    date: new Date().toISOString(),
    loadAvg: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

export function printMachine() {
  const m = machine();
  log(
    `machine: ${m.cores} cores, ${m.cpu}, ${m.ramGiB} GiB RAM, Node ${m.node}, ${m.platform}; ${m.date}; load average ${m.loadAvg.join(" ")}`,
  );
  const code = codeUnderTest();
  log(
    `code: commit ${code.commit}${code.dirty.length > 0 ? `, with uncommitted changes in ${code.dirty.join(", ")}` : ""}; build ${code.dist}`,
  );
}

/** Which commit the measured build comes from, and whether src/ differed from it (git, if present). */
export function codeUnderTest() {
  const dist = process.env.OFFSTAGE_DIST;
  if (dist !== undefined) {
    // A build of a clean checkout (e.g. `git archive HEAD`) may sit beside its dist/ with a COMMIT file.
    let commit = "unknown";
    try {
      commit = readFileSync(new URL("../COMMIT", `file://${dist}`), "utf8").trim();
    } catch {
      // No COMMIT file: say so.
    }
    return { commit, dirty: [], dist };
  }
  const root = new URL("..", import.meta.url).pathname;
  const commit = sh("git", ["-C", root, "rev-parse", "--short", "HEAD"])?.trim() ?? "unknown";
  const dirty = (sh("git", ["-C", root, "status", "--porcelain", "--", "src"]) ?? "")
    .split("\n")
    .filter(Boolean)
    .map((l) => l.slice(3));
  return { commit, dirty, dist: "dist/ (npm run build of the work tree)" };
}

const t0 = performance.now();

/** A progress line with the seconds since the script started, so long runs show they are alive. */
export function log(message) {
  const s = ((performance.now() - t0) / 1000).toFixed(1).padStart(6);
  process.stdout.write(`[${s}s] ${message}\n`);
}

/**
 * Calls `report()` every `everyMs` while a phase runs; returns a function that stops it. The ticker is
 * unref'ed, so it never keeps the process alive, and it needs the event loop to turn: a phase that
 * blocks the thread (a burst of synchronous sends) prints when it yields.
 */
export function ticker(report, everyMs = 2000) {
  const timer = setInterval(report, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** A latency histogram in microseconds (HDR, 3 significant digits), read back in milliseconds. */
export class Latency {
  #h = hdr.build({ lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 3 });

  recordMs(ms) {
    this.#h.recordValue(Math.max(0, Math.round(ms * 1000)));
  }

  get count() {
    return this.#h.totalCount;
  }

  stats() {
    const h = this.#h;
    if (h.totalCount === 0) return { count: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 };
    return {
      count: h.totalCount,
      p50Ms: h.getValueAtPercentile(50) / 1000,
      p99Ms: h.getValueAtPercentile(99) / 1000,
      maxMs: h.maxValue / 1000,
    };
  }
}

export const now = () => performance.now();

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Forces a full collection when the script runs with --expose-gc (bench/run.mjs passes it). */
export async function settleHeap() {
  if (typeof globalThis.gc !== "function") return false;
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return true;
}

export function fmtRate(perSecond) {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)}M/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)}k/s`;
  return `${perSecond.toFixed(0)}/s`;
}

export function fmtMs(ms) {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(3)} ms`;
}

export function fmtRatio(x) {
  return `${x.toFixed(x >= 10 ? 1 : 2)}×`;
}

/** Prints rows as an aligned plain-text table (also pastes well into Markdown code blocks). */
export function table(header, rows) {
  const all = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => c.padEnd(widths[i])).join("  ");
  process.stdout.write(`${line(all[0])}\n${widths.map((w) => "-".repeat(w)).join("  ")}\n`);
  for (const r of all.slice(1)) process.stdout.write(`${line(r)}\n`);
}

/** Runs a shell command; returns its stdout, or undefined when it fails. */
export function sh(command, args) {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch {
    return undefined;
  }
}

/**
 * Offers `total` inputs at `ratePerS`, round-robin over `sessions`: every ~1 ms timer tick, `send(s)`
 * whatever the rate owes by now (a few inputs per tick), then `afterTick()`. Resolves with the time
 * the offering took.
 */
export async function pace({ total, ratePerS, sessions, send, afterTick = async () => {} }) {
  let sent = 0;
  let s = 0;
  const started = performance.now();
  while (sent < total) {
    const owed = Math.min(total, Math.floor(((performance.now() - started) * ratePerS) / 1000));
    for (; sent < owed; sent++) {
      send(s);
      s = s + 1 === sessions ? 0 : s + 1;
    }
    await afterTick();
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return performance.now() - started;
}

/** The event loop turns once: lets timers, IO and progress tickers run inside long loops. */
export const yieldLoop = () => new Promise((resolve) => setImmediate(resolve));

/** Busy and total CPU jiffies of the whole machine, from /proc/stat (undefined off Linux). */
function machineJiffies() {
  try {
    const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = cpu[3] + (cpu[4] ?? 0);
    const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/**
 * Starts measuring CPU: this process's own (user + system, GC threads included) and the machine's.
 * `end()` returns `{ wallMs, ownCpuMs, otherCores }`: `otherCores` is how many cores' worth of CPU
 * other processes used meanwhile (0 on a quiet machine, up to the core count on a saturated one), so
 * a reader can tell a slow run from a contended one.
 */
export function cpuMeter() {
  const wall0 = performance.now();
  const own0 = process.cpuUsage();
  const m0 = machineJiffies();
  return {
    end() {
      const wallMs = performance.now() - wall0;
      const own = process.cpuUsage(own0);
      const ownCpuMs = (own.user + own.system) / 1000;
      const m1 = machineJiffies();
      let otherCores;
      if (m0 !== undefined && m1 !== undefined && m1.total > m0.total) {
        const cores = os.availableParallelism();
        const busyCores = ((m1.busy - m0.busy) / (m1.total - m0.total)) * cores;
        otherCores = Math.max(0, busyCores - ownCpuMs / wallMs);
      }
      return { wallMs, ownCpuMs, otherCores };
    },
  };
}

/**
 * Issue #2's goal for a core ratio named `system/peer`: at least 2× p-queue, at least 0.5× the naive
 * chain; `undefined` for the reference floor, which is no peer and has none.
 */
export function coreGoal(pair) {
  if (pair.includes("/floor")) return undefined;
  return pair.includes("/p-queue") ? 2 : 0.5;
}

/**
 * One burst of no-op turns through a fresh runtime on the memory store: `inputs` rounds of one send
 * to each of `sessions` sessions, then every handle awaited. Throws unless every turn completed.
 * `offstage` is the module `loadOffstage()` returned; `model` defaults to its no-op model.
 */
export async function memoryBurst(offstage, sessions, inputs, model = offstage.createNoopModel()) {
  const runtime = offstage.createRuntime({
    agents: { bench: { model } },
    store: offstage.createMemoryStore(),
    logger: offstage.silentLogger,
    limits: { inboxLengthMax: Math.max(1000, inputs + 1) },
  });
  await runtime.start();
  const handles = [];
  for (let s = 0; s < sessions; s++) handles.push(runtime.session(`s${s}`, { agent: "bench" }));
  const last = [];
  for (let r = 0; r < inputs; r++) for (let s = 0; s < sessions; s++) last[s] = handles[s].send("hi");
  await Promise.all(last.map((handle) => handle.result()));
  const completed = runtime.metrics().ended.completed;
  await runtime.stop();
  if (completed !== sessions * inputs)
    throw new Error(`${completed} of ${sessions * inputs} turns completed`);
}

/** The built package under test: ../dist, or OFFSTAGE_DIST (a path to another build's index.js). */
export async function loadOffstage() {
  const given = process.env.OFFSTAGE_DIST ?? new URL("../dist/index.js", import.meta.url).href;
  const where = given.startsWith("file:") ? fileURLToPath(given) : resolve(given);
  if (!existsSync(where)) {
    console.error(
      `bench: no build at ${where}; run \`npm run build\` first (or \`npm run bench\`, which builds), ` +
        "or pass --clean-build to bench/run.mjs",
    );
    process.exit(2);
  }
  return import(pathToFileURL(where).href);
}

export function fmtCores(cores) {
  return cores === undefined ? "n/a" : `${cores.toFixed(2)} cores`;
}

/** Saves a benchmark's numbers as JSON in bench/.tmp/ (gitignored), for RESULTS.md and comparisons. */
export function writeResult(name, data) {
  const dir = new URL(".tmp/", import.meta.url);
  mkdirSync(dir, { recursive: true });
  // --out NAME saves under another name (the profile run does, so it keeps the full run's numbers).
  const file = new URL(`${flag("out", name)}.json`, dir);
  writeFileSync(
    file,
    `${JSON.stringify({ machine: machine(), code: codeUnderTest(), argv: process.argv.slice(2), ...data }, null, 2)}\n`,
  );
  log(`numbers saved to ${file.pathname}`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Makes sure a local service answers, starting it with `startCommand` (a shell command) if it does
 * not. `probe()` resolves truthy when the service is up. Returns undefined when it is up, or a
 * sentence saying why it is missing.
 */
export async function ensureService(name, probe, startCommand) {
  if (await probe().catch(() => false)) return undefined;
  log(`${name} is not answering; starting it: ${startCommand}`);
  try {
    execFileSync("sh", ["-c", startCommand], { stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
  } catch (error) {
    return `${name} is down and could not be started (${
      String(error.stderr ?? error.message)
        .trim()
        .split("\n")[0]
    })`;
  }
  for (let i = 0; i < 50; i++) {
    if (await probe().catch(() => false)) return undefined;
    await sleep(200);
  }
  return `${name} was started but does not answer`;
}

export const REDIS_START =
  'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log';
export const POSTGRES_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start";

/**
 * Starts counting what the heap allocates and what GC costs, with V8's GC profiler. `end()` returns
 * `{ allocatedBytes, gcMs, gcs }`. Allocation is the sum of used-heap growth between collections (V8
 * reports the used size before and after each GC), so short-lived objects count too. Contention from
 * other processes does not change it, which makes it a steadier signal than time on a shared machine.
 */
export function gcMeter() {
  const profiler = new v8.GCProfiler();
  const used0 = v8.getHeapStatistics().used_heap_size;
  profiler.start();
  return {
    end() {
      const used1 = v8.getHeapStatistics().used_heap_size;
      const data = profiler.stop();
      let allocated = 0;
      let prev = used0;
      let gcUs = 0;
      for (const s of data?.statistics ?? []) {
        allocated += Math.max(0, s.beforeGC.heapStatistics.usedHeapSize - prev);
        prev = s.afterGC.heapStatistics.usedHeapSize;
        gcUs += s.cost;
      }
      allocated += Math.max(0, used1 - prev);
      return { allocatedBytes: allocated, gcMs: gcUs / 1000, gcs: data?.statistics?.length ?? 0 };
    },
  };
}

/**
 * Waits (up to `maxS` seconds) until the machine has been quiet for a second: other processes using
 * less than `thresholdCores`. Returns the busy cores last seen. On a shared machine this keeps a
 * benchmark from starting in the middle of someone's test run; it cannot stop one starting later.
 */
export async function waitQuiet(maxS, thresholdCores = 0.3) {
  const deadline = performance.now() + maxS * 1000;
  let said = false;
  for (;;) {
    const meter = cpuMeter();
    await sleep(1000);
    const { otherCores } = meter.end();
    if (otherCores === undefined || otherCores < thresholdCores) return otherCores;
    if (performance.now() > deadline) {
      log(`machine still busy (${fmtCores(otherCores)} used by other processes); going ahead`);
      return otherCores;
    }
    if (!said) log(`waiting for a quiet machine (${fmtCores(otherCores)} used by other processes)...`);
    said = true;
  }
}
