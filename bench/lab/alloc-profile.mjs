// Where Offstage's per-turn allocation comes from: runs the core burst (no-op model, memory store)
// under V8's sampling heap profiler with collected objects kept in the samples, then prints the
// allocation sites by bytes per turn. Allocation drives the GC share that the CPU profile shows, and
// unlike time it does not change when other processes load the machine.
//
//   npm exec -- node bench/lab/alloc-profile.mjs [--sessions 10000] [--inputs 5] [--top 25]
//   npm run bench -- profile            (runs this after the CPU profile)
import { count } from "../lib/args.mjs";
import { allocationSites, topSites } from "../lib/heap-sites.mjs";
import { log } from "../lib/log.mjs";
import { loadOffstage } from "../lib/offstage.mjs";
import { memoryBurst } from "../systems/offstage-memory.mjs";

const offstage = await loadOffstage();
const SESSIONS = count("sessions", 10_000);
const INPUTS = count("inputs", 5);
const TOP = count("top", 25);

const burst = () => memoryBurst(offstage, SESSIONS, INPUTS);

await burst(); // warm-up: compile first, so code objects do not count
const { bySite, total } = await allocationSites(burst, (url) => url.startsWith("dist/"));
const turns = SESSIONS * INPUTS;
log(
  `allocation sampled over ${turns} no-op turns (${SESSIONS} sessions x ${INPUTS}): ${(total / turns).toFixed(0)} B/turn`,
);
console.log("\nB/turn   share  site (innermost Offstage function  → the built-in that allocated, if any)");
for (const [site, bytes] of topSites(bySite, TOP)) {
  console.log(
    `${(bytes / turns).toFixed(0).padStart(6)}  ${((100 * bytes) / total).toFixed(1).padStart(5)}%  ${site}`,
  );
}
