// Memory per idle session: N sessions that sit idle, as heap bytes per session after a forced full GC
// (run with --expose-gc; bench/run.mjs passes it). Goal (issue #2): < 2 KB per idle session.
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
// Flags: --sessions 100000 (--quick: 10000)
import PQueue from "p-queue";
import {
  count,
  fmtRate,
  loadOffstage,
  log,
  now,
  printMachine,
  QUICK,
  settleHeap,
  table,
  writeResult,
} from "./lib.mjs";

const { createMemoryStore, createNoopModel, createRuntime, silentLogger } = await loadOffstage();

const N = count("sessions", QUICK ? 10_000 : 100_000);
const GOAL_BYTES = 2048;

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

async function offstageSessions(withTurn) {
  const runtime = createRuntime({
    agents: { bench: { model: createNoopModel() } },
    store: createMemoryStore(),
    logger: silentLogger,
  });
  await runtime.start();
  let last;
  for (let s = 0; s < N; s++) {
    const session = runtime.session(`session-${s}`, { agent: "bench" });
    if (withTurn) last = session.send("hi");
    if (s % 20_000 === 19_999) {
      log(`  ${s + 1}/${N} sessions`);
      // Let turns run as we go, so the inboxes never hold more than a slice of the inputs.
      if (withTurn) await last.result();
    }
  }
  if (withTurn) {
    await last?.result();
    // Every turn must have ended before the heap is read: the sessions are idle.
    for (;;) {
      const m = runtime.metrics();
      if (m.ended.completed === N && m.runningTurns === 0 && m.queuedInputs === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  return { runtime, release: () => runtime.stop() };
}

async function pQueueSessions() {
  const queues = new Map();
  const pending = [];
  for (let s = 0; s < N; s++) {
    const queue = new PQueue({ concurrency: 1 });
    queues.set(`session-${s}`, queue);
    pending.push(queue.add(async () => "ok"));
  }
  await Promise.all(pending);
  pending.length = 0;
  return { queues };
}

async function naiveSessions() {
  const chains = new Map();
  for (let s = 0; s < N; s++)
    chains.set(
      `session-${s}`,
      Promise.resolve().then(() => "ok"),
    );
  await Promise.all(chains.values());
  return { chains };
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
  log(`idle-memory: ${N} sessions per case; goal < ${GOAL_BYTES} bytes per idle Offstage session`);
  // Warm-up: load and compile every code path once, so the first case does not count code objects.
  await (await offstageSessions(true).then((k) => k)).release();
  const results = [];
  results.push(await measure("offstage, no turn", () => offstageSessions(false)));
  results.push(await measure("offstage, one completed turn", () => offstageSessions(true)));
  results.push(await measure("p-queue, one task", pQueueSessions));
  results.push(await measure("naive Map<session, Promise>, one task", naiveSessions));
  table(
    ["case", "bytes/session", "total", "build"],
    results.map((r) => [
      r.name,
      r.perSession.toFixed(0),
      `${r.totalMiB.toFixed(1)} MiB`,
      fmtRate((N * 1000) / r.buildMs),
    ]),
  );
  for (const r of results.filter((x) => x.name.startsWith("offstage"))) {
    log(
      `${r.name}: ${r.perSession.toFixed(0)} B/session — goal < ${GOAL_BYTES} B ${r.perSession < GOAL_BYTES ? "MET" : "NOT MET"}; ` +
        `vs p-queue ${(r.perSession / results[2].perSession).toFixed(2)}×, vs naive ${(r.perSession / results[3].perSession).toFixed(2)}×`,
    );
  }
  writeResult("idle-memory", { sessions: N, goalBytes: GOAL_BYTES, results });
}

await main();
