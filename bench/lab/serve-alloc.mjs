// Bytes the server allocates per accepted POST, for Offstage's `serve` and the floor (both from
// systems/serve-child.mjs), measured in the server's own process: the server runs here, and a child
// process posts --requests inputs over --connections keep-alive connections (the serve bench's body,
// token and session spread). Allocation is what drives young-generation scavenges, and unlike
// latency it does not move when other processes load the machine.
//   * B/req: V8's allocation counter (the heap's used bytes plus what each GC freed, read from
//     v8.GCProfiler), after a warm-up run, divided by the requests;
//   * scavenges per 10 000 requests, and the bytes they kept (copied in the young generation or
//     promoted): per request, and the most one scavenge kept (its pause follows that); the
//     scavenges' pauses (wall time, so a loaded machine stretches them): median, max, per request;
//   * with --sites, the sampling heap profiler's sites (collected objects included) by B/req.
//
//   npm run build && npm exec -- node bench/lab/serve-alloc.mjs [--systems offstage,floor] [--requests 20000]
//     [--connections 8] [--sessions 1000] [--rounds 2] [--sites 20]
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import { allocationSites, topSites } from "../lib/heap-sites.mjs";
import { startFloor, startOffstage, TOKEN } from "../systems/serve-child.mjs";

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : fallback;
};

if (args[0] === "--post") {
  // The loader (its own process): posts `requests` inputs to `url`, then exits.
  const [, url, requests, connections, sessions, offset] = args;
  const agent = new http.Agent({ keepAlive: true, maxSockets: Number(connections) });
  let next = Number(offset);
  const end = next + Number(requests);
  const one = () =>
    new Promise((resolve, reject) => {
      const n = next++;
      const body = JSON.stringify({ payload: { n } });
      const req = http.request(
        `${url}/v1/sessions/s${n % Number(sessions)}/inputs`,
        {
          method: "POST",
          agent,
          headers: {
            authorization: `Bearer ${TOKEN}`,
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          res.on("end", () =>
            res.statusCode === 202 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`)),
          );
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  const lane = async () => {
    while (next < end) await one();
  };
  await Promise.all(Array.from({ length: Number(connections) }, lane));
  agent.destroy();
  process.exit(0);
}

const SYSTEMS = flag("systems", "offstage,floor").split(",");
const REQUESTS = Number(flag("requests", 20_000));
const CONNECTIONS = Number(flag("connections", 8));
const SESSIONS = Number(flag("sessions", 1000));
const ROUNDS = Number(flag("rounds", 2));
const SITES = Number(flag("sites", 0));

let posted = 0;
function load(url, requests) {
  const offset = posted;
  posted += requests;
  const self = fileURLToPath(import.meta.url);
  const argv = [self, "--post", url, requests, CONNECTIONS, SESSIONS, offset].map(String);
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, argv, { stdio: ["ignore", "inherit", "inherit"] });
    proc.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`loader exited ${code}`))));
  });
}

/** Bytes allocated while `run` runs (used bytes after, minus before, plus what GCs freed) and its scavenges. */
async function allocated(run) {
  const profiler = new v8.GCProfiler();
  const before = v8.getHeapStatistics().used_heap_size;
  profiler.start();
  await run();
  const after = v8.getHeapStatistics().used_heap_size;
  const { statistics } = profiler.stop();
  let freed = 0;
  let scavenges = 0;
  let copied = 0;
  let copiedMax = 0;
  const pauses = [];
  const used = (stats, name) => stats.heapSpaceStatistics.find((s) => s.spaceName === name).spaceUsedSize;
  for (const gc of statistics) {
    freed += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize;
    if (gc.gcType !== "Scavenge" && gc.gcType !== "MinorMarkSweep") continue;
    scavenges += 1;
    pauses.push(gc.cost / 1000);
    // A scavenge's work is the objects it keeps: those copied within the young generation and those
    // promoted to the old one. Its pause grows with them, not with the young generation's size.
    const kept =
      used(gc.afterGC, "new_space") + used(gc.afterGC, "old_space") - used(gc.beforeGC, "old_space");
    copied += kept;
    copiedMax = Math.max(copiedMax, kept);
  }
  pauses.sort((a, b) => a - b);
  const pause = (q) => pauses[Math.min(pauses.length - 1, Math.floor(q * pauses.length))] ?? 0;
  const pauseMs = { median: pause(0.5), max: pause(1), perReq: pauses.reduce((a, b) => a + b, 0) };
  return { bytes: after - before + freed, scavenges, copied, copiedMax, pauseMs };
}

async function sites(url) {
  const owned = (file) => /^(dist|node_modules|bench)\//.test(file);
  const { bySite, total } = await allocationSites(() => load(url, REQUESTS), owned, 512);
  console.log(`  sampled: ${(total / REQUESTS).toFixed(0)} B/req`);
  for (const [site, bytes] of topSites(bySite, SITES))
    console.log(`  ${(bytes / REQUESTS).toFixed(0).padStart(6)}  ${site}`);
}

const heap = v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space");
console.log(
  `${REQUESTS} POSTs over ${CONNECTIONS} connections, young generation ${(heap.space_size / 2 ** 20).toFixed(1)} MiB now (${process.execArgv.join(" ") || "default flags"})`,
);
for (const system of SYSTEMS) {
  const dir = mkdtempSync(join(tmpdir(), "offstage-serve-alloc-"));
  const running = system === "floor" ? await startFloor(dir) : await startOffstage(dir);
  await load(running.url, REQUESTS); // warm-up: compiled code, sessions made, tables grown
  const rows = [];
  for (let round = 0; round < ROUNDS; round++) {
    const { bytes, scavenges, copied, copiedMax, pauseMs } = await allocated(() =>
      load(running.url, REQUESTS),
    );
    rows.push(
      `${(bytes / REQUESTS).toFixed(0)} B/req, ${((scavenges * 10_000) / REQUESTS).toFixed(1)} scavenges/10k ` +
        `keeping ${(copied / REQUESTS).toFixed(0)} B/req, at most ${(copiedMax / 1024).toFixed(0)} KiB; ` +
        `pause median ${pauseMs.median.toFixed(2)} max ${pauseMs.max.toFixed(1)} ms, ` +
        `${((1000 * pauseMs.perReq) / REQUESTS).toFixed(1)} µs/req`,
    );
  }
  console.log(`${system.padEnd(9)} ${rows.join(" | ")}`);
  if (SITES > 0) await sites(running.url);
  await running.stop();
  rmSync(dir, { recursive: true, force: true });
}
