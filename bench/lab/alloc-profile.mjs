// Where Offstage's per-turn allocation comes from: runs the core burst (no-op model, memory store)
// under V8's sampling heap profiler with collected objects kept in the samples, then prints the
// allocation sites by bytes per turn. Allocation drives the GC share that the CPU profile shows, and
// unlike time it does not change when other processes load the machine.
//
//   npm exec -- node bench/lab/alloc-profile.mjs [--sessions 10000] [--inputs 5] [--top 25]
//   npm run bench -- profile            (runs this after the CPU profile)
import { Session } from "node:inspector/promises";
import { count } from "../lib/args.mjs";
import { log } from "../lib/log.mjs";
import { loadOffstage } from "../lib/offstage.mjs";
import { memoryBurst } from "../systems/offstage-memory.mjs";

const offstage = await loadOffstage();
const SESSIONS = count("sessions", 10_000);
const INPUTS = count("inputs", 5);
const TOP = count("top", 25);

const burst = () => memoryBurst(offstage, SESSIONS, INPUTS);

await burst(); // warm-up: compile first, so code objects do not count
const inspector = new Session();
inspector.connect();
await inspector.post("HeapProfiler.enable");
await inspector.post("HeapProfiler.startSampling", {
  samplingInterval: 256,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
await burst();
const { profile } = await inspector.post("HeapProfiler.stopSampling");
inspector.disconnect();

const turns = SESSIONS * INPUTS;
const bySite = new Map();
let total = 0;
const walk = (node, stack) => {
  const frame = node.callFrame;
  const url = frame.url.replace(/^file:\/\//, "").replace(/^.*\/(dist|node_modules|bench)\//, "$1/");
  const here = `${frame.functionName || "(anonymous)"}  ${url}${url ? `:${frame.lineNumber + 1}` : ""}`;
  if (node.selfSize > 0) {
    // Name the site by the innermost Offstage frame, so built-ins (Array.map, Map.set) count for their caller.
    const own = url.startsWith("dist/") ? here : (stack.findLast((s) => s.includes(" dist/")) ?? here);
    const site = own === here ? here : `${own}  → ${frame.functionName || "(native)"}`;
    bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
    total += node.selfSize;
  }
  for (const child of node.children ?? []) walk(child, [...stack, here]);
};
walk(profile.head, []);
log(
  `allocation sampled over ${turns} no-op turns (${SESSIONS} sessions x ${INPUTS}): ${(total / turns).toFixed(0)} B/turn`,
);
console.log("\nB/turn   share  site (innermost Offstage function  → the built-in that allocated, if any)");
for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
  console.log(
    `${(bytes / turns).toFixed(0).padStart(6)}  ${((100 * bytes) / total).toFixed(1).padStart(5)}%  ${site}`,
  );
}
