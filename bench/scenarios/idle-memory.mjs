// Memory per idle session (issue #2), the `memory` benchmark: N sessions that sit idle, as heap
// bytes per session after a forced full GC (run with --expose-gc; bench/run.mjs passes it).
// Goal: < 2 KB per idle Offstage session.
//
// Cases, each measured as (heap with the sessions alive − heap before them) / N:
//   offstage, no turn        — runtime.session(id, { agent }) only (memory store, runtime started);
//   offstage, one turn       — each session also ran one completed no-op turn; the caller kept no handle.
//                              This includes the session's history (its two messages) and the memory
//                              store's bounded ring of ended inputs (endedInputsMax, default 10 000);
//   p-queue, one task        — one idle PQueue({ concurrency: 1 }) per session that ran one task, in a Map;
//   naive, one task          — a Map<session, Promise> whose chain ran one task.
// "Heap" is V8's heapUsed plus external memory (process.memoryUsage()).
//
// Flags: --sessions 100000 (--quick: 10000). Saves bench/.tmp/idle-memory.json.
import { count, QUICK } from "../lib/args.mjs";
import { fmtRate, table } from "../lib/format.mjs";
import { IDLE_SESSION_BYTES_MAX } from "../lib/goals.mjs";
import { log } from "../lib/log.mjs";
import { printMachine } from "../lib/machine.mjs";
import { now, settleHeap } from "../lib/meters.mjs";
import { loadOffstage } from "../lib/offstage.mjs";
import { writeResult } from "../lib/results.mjs";
import { naiveChainIdle } from "../systems/naive-chain.mjs";
import { offstageIdle } from "../systems/offstage-memory.mjs";
import { pQueueIdle } from "../systems/p-queue.mjs";

const offstage = await loadOffstage();

const N = count("sessions", QUICK ? 10_000 : 100_000);

function heapBytes() {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/** Measures `build()` (which returns what keeps its sessions alive), then lets it go. */
async function measure(name, build) {
  await settleHeap();
  const before = heapBytes();
  const started = now();
  let kept = await build();
  const buildMs = now() - started;
  await settleHeap();
  const after = heapBytes();
  const perSession = (after - before) / N;
  log(`${name}: ${perSession.toFixed(0)} bytes/session (built in ${(buildMs / 1000).toFixed(2)} s)`);
  if (typeof kept?.release === "function") await kept.release();
  kept = undefined;
  await settleHeap();
  return { name, perSession, totalMiB: (after - before) / 2 ** 20, buildMs };
}

async function main() {
  printMachine();
  if (typeof globalThis.gc !== "function") {
    log(
      "idle-memory needs --expose-gc (npm run bench -- memory passes it); without it the numbers mean nothing",
    );
    process.exitCode = 1;
    return;
  }
  log(
    `idle-memory: ${N} sessions per case; goal < ${IDLE_SESSION_BYTES_MAX} bytes per idle Offstage session`,
  );
  // Warm-up: load and compile every code path once, so the first case does not count code objects.
  await (await offstageIdle(offstage, N, true)).release();
  const results = [];
  results.push(await measure("offstage, no turn", () => offstageIdle(offstage, N, false)));
  results.push(await measure("offstage, one completed turn", () => offstageIdle(offstage, N, true)));
  results.push(await measure("p-queue, one task", () => pQueueIdle(N)));
  results.push(await measure("naive Map<session, Promise>, one task", () => naiveChainIdle(N)));
  table(
    ["case", "bytes/session", "total", "build"],
    results.map((r) => [
      r.name,
      r.perSession.toFixed(0),
      `${r.totalMiB.toFixed(1)} MiB`,
      fmtRate((N * 1000) / r.buildMs),
    ]),
  );
  const [pQueue, naive] = [results[2], results[3]];
  for (const r of results.filter((x) => x.name.startsWith("offstage"))) {
    const met = r.perSession < IDLE_SESSION_BYTES_MAX ? "MET" : "NOT MET";
    log(
      `${r.name}: ${r.perSession.toFixed(0)} B/session — goal < ${IDLE_SESSION_BYTES_MAX} B ${met}; ` +
        `vs p-queue ${(r.perSession / pQueue.perSession).toFixed(2)}×, vs naive ${(r.perSession / naive.perSession).toFixed(2)}×`,
    );
  }
  writeResult("idle-memory", { sessions: N, goalBytes: IDLE_SESSION_BYTES_MAX, results });
}

await main();
