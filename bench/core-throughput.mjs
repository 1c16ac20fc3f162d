// Core throughput (issue #2): no-op model turns through many sessions on the memory store, beside the
// in-process peers a user would otherwise pick for per-session serialized work:
//   - p-queue: one PQueue({ concurrency: 1 }) per session;
//   - naive:   a Map<session, Promise> whose entry is chained with .then() per input.
// Every system gets the same work in the same process: S sessions, I inputs each, all sent in rounds
// (input r of every session, then input r+1), then waited for. Offstage runs a full turn of the no-op
// model (store writes, inbox, scheduler, turn machine, history, handle). The peers run the same turn
// as a user of theirs would write it (`peerTurn`: the prompt from the session's history, one call of
// the same no-op model with an abort signal, the two messages appended, the answer handed back); the
// `-bare` peers run an empty task instead, for reference. `floor` is no peer either: the least a
// runtime of Offstage's shape can do for the same turn (bench/floor.mjs), to show how far off it is.
//
// Two phases:
//   burst — everything is sent at once; turns/s = inputs / (first send → last completion). Latency here
//           is mostly queueing behind the backlog, so it is reported but not the headline.
//   paced — inputs are offered at a fixed rate below every system's capacity; send→start p50/p99 then
//           show each system's own scheduling delay.
//
// `offstage-c` (Offstage with no cap on concurrent turns) is not in the default set: two
// configurations of the same code in one process share V8's state for it (its optimised code and
// the pretenuring decisions of its allocation sites, which flip between the two and deoptimise the
// code each time: 47 such deopts in a two-repetition run), and with it beside them the default
// configuration measured 1.87× p-queue where it measures 2.34× alone. Run it on its own:
// `--only offstage-c,p-queue,naive`.
//
// Flags (or BENCH_<NAME> env): --sessions 10000 --inputs 20 --reps 5 --rate 10000 --paced-s 2
//   --only offstage,p-queue,naive   (e.g. to profile one system: node --cpu-prof ... --only offstage)
//   --quick                          (smoke run: 1000 sessions x 5 inputs, 1 rep)
import PQueue from "p-queue";
import { createFloor } from "./floor.mjs";
import {
  coreGoal,
  count,
  cpuMeter,
  flag,
  fmtCores,
  fmtMs,
  fmtRate,
  fmtRatio,
  gcMeter,
  Latency,
  loadOffstage,
  log,
  median,
  now,
  pace,
  printMachine,
  QUICK,
  settleHeap,
  table,
  ticker,
  writeResult,
  yieldLoop,
} from "./lib.mjs";

const { createMemoryStore, createNoopModel, createRuntime, silentLogger } = await loadOffstage();
const peerModel = createNoopModel();

const SESSIONS = count("sessions", QUICK ? 1000 : 10_000);
const INPUTS = count("inputs", QUICK ? 5 : 20);
const REPS = count("reps", QUICK ? 1 : 5);
const RATE = count("rate", 10_000);
const PACED_S = flag("paced-s", QUICK ? 0.5 : 2);
const ONLY = flag("only", "offstage,p-queue,naive,p-queue-bare,naive-bare,floor").split(",");

/**
 * A system under test: `prepare()` builds its per-session state (not timed), `send(s, t0)` offers one
 * input to session index `s`, `drain()` resolves when everything offered has finished, `latency()`
 * reads send→start, `close()` releases it.
 */
function offstage(maxConcurrentTurns) {
  let runtime;
  let sessions;
  let last;
  return {
    async prepare() {
      runtime = createRuntime({
        agents: { bench: { model: createNoopModel() } },
        store: createMemoryStore(),
        logger: silentLogger,
        limits: { inboxLengthMax: Math.max(1000, INPUTS + 1), maxConcurrentTurns },
      });
      await runtime.start();
      sessions = [];
      for (let s = 0; s < SESSIONS; s++) sessions.push(runtime.session(`s${s}`, { agent: "bench" }));
      last = new Array(SESSIONS);
    },
    send(s) {
      last[s] = sessions[s].send("hi");
    },
    async drain() {
      // Sessions are FIFO: a session's last input settles after all its earlier ones.
      await Promise.all(last.filter(Boolean).map((h) => h.result()));
    },
    done: () => runtime.metrics().ended.completed,
    latency: () => runtime.metrics().sendToStart,
    async close() {
      await runtime.stop();
    },
  };
}

/**
 * One no-op model turn as a user of p-queue or of a promise chain would write it: the prompt is the
 * session's history plus the input, the model is called with an abort signal (it may be cancelled),
 * its text is collected, both messages join the history, and the answer is the task's value. The
 * no-op model answers with an array, which is read synchronously (as Offstage's fast path does), so
 * the peer pays no promise per part.
 */
async function peerTurn(history, payload) {
  const user = { role: "user", content: [{ type: "text", text: payload }] };
  const controller = new AbortController();
  const parts = await peerModel.stream({
    prompt: history.concat(user),
    tools: [],
    maxOutputTokens: undefined,
    abortSignal: controller.signal,
  });
  let text = "";
  for (const part of parts) if (part.type === "text-delta") text += part.delta;
  history.push(user, { role: "assistant", content: [{ type: "text", text }] });
  return text;
}

function pQueue(work) {
  let queues;
  let histories;
  let last;
  let lat;
  let done = 0;
  return {
    async prepare() {
      queues = [];
      histories = [];
      for (let s = 0; s < SESSIONS; s++) {
        queues.push(new PQueue({ concurrency: 1 }));
        histories.push([]);
      }
      last = new Array(SESSIONS);
      lat = new Latency();
    },
    send(s) {
      const sentAt = now();
      last[s] = queues[s].add(async () => {
        lat.recordMs(now() - sentAt);
        const answer = work ? await peerTurn(histories[s], "hi") : "ok";
        done += 1;
        return answer;
      });
    },
    async drain() {
      await Promise.all(last.filter(Boolean));
    },
    done: () => done,
    latency: () => lat.stats(),
    async close() {},
  };
}

function naive(work) {
  let chains;
  let histories;
  let lat;
  let done = 0;
  return {
    async prepare() {
      chains = new Map();
      histories = new Map();
      for (let s = 0; s < SESSIONS; s++) {
        chains.set(`s${s}`, Promise.resolve());
        histories.set(`s${s}`, []);
      }
      lat = new Latency();
    },
    send(s) {
      const key = `s${s}`;
      const sentAt = now();
      chains.set(
        key,
        chains.get(key).then(() => {
          lat.recordMs(now() - sentAt);
          if (!work) {
            done += 1;
            return "ok";
          }
          return peerTurn(histories.get(key), "hi").then((answer) => {
            done += 1;
            return answer;
          });
        }),
      );
    },
    async drain() {
      await Promise.all(chains.values());
    },
    done: () => done,
    latency: () => lat.stats(),
    async close() {},
  };
}

const SYSTEMS = {
  offstage: { label: "offstage (default maxConcurrentTurns 256)", make: () => offstage(256) },
  "offstage-c": {
    label: `offstage (maxConcurrentTurns ${SESSIONS})`,
    make: () => offstage(SESSIONS),
  },
  "p-queue": { label: "p-queue (1 PQueue/session), same turn", make: () => pQueue(true) },
  naive: { label: "naive Map<session, Promise>, same turn", make: () => naive(true) },
  "p-queue-bare": { label: "p-queue (1 PQueue/session), empty task", make: () => pQueue(false) },
  "naive-bare": { label: "naive Map<session, Promise>, empty task", make: () => naive(false) },
  floor: {
    label: "reference floor (not a peer; see bench/floor.mjs)",
    make: () => createFloor(SESSIONS, peerModel),
  },
};

async function burst(name) {
  const system = SYSTEMS[name].make();
  await system.prepare();
  const total = SESSIONS * INPUTS;
  const meter = cpuMeter();
  const gc = gcMeter();
  const started = now();
  for (let r = 0; r < INPUTS; r++) {
    for (let s = 0; s < SESSIONS; s++) system.send(s);
  }
  const sentMs = now() - started;
  const stop = ticker(() => log(`  ${name}: ${system.done()}/${total} done`));
  await system.drain();
  const elapsedMs = now() - started;
  stop();
  const cpu = meter.end();
  const heap = gc.end();
  const latency = system.latency();
  const done = system.done();
  await system.close();
  if (done !== total) throw new Error(`${name}: ${done} of ${total} inputs completed`);
  return {
    name,
    perSecond: (total * 1000) / elapsedMs,
    perCpuSecond: (total * 1000) / cpu.ownCpuMs,
    otherCores: cpu.otherCores,
    allocPerTurn: heap.allocatedBytes / total,
    gcShare: heap.gcMs / elapsedMs,
    elapsedMs,
    sentMs,
    latency,
  };
}

async function paced(name) {
  const system = SYSTEMS[name].make();
  await system.prepare();
  const total = Math.round(RATE * PACED_S);
  const started = now();
  await pace({ total, ratePerS: RATE, sessions: SESSIONS, send: (s) => system.send(s) });
  await system.drain();
  const offeredMs = now() - started;
  const latency = system.latency();
  await system.close();
  return { name, total, offeredMs, latency };
}

async function main() {
  printMachine();
  const names = Object.keys(SYSTEMS).filter((n) => ONLY.includes(n));
  log(
    `core-throughput: ${SESSIONS} sessions x ${INPUTS} inputs = ${SESSIONS * INPUTS} no-op turns per run, ` +
      `${REPS} reps, systems: ${names.join(", ")}${typeof globalThis.gc === "function" ? "" : " (no --expose-gc: heap not settled between runs)"}`,
  );
  // Warm-up: one small pass of each, so the first measured run does not pay for JIT compilation alone.
  for (const name of names) {
    const system = SYSTEMS[name].make();
    await system.prepare();
    for (let r = 0; r < 3; r++) for (let s = 0; s < Math.min(SESSIONS, 2000); s++) system.send(s);
    await system.drain();
    await system.close();
  }
  const runs = Object.fromEntries(names.map((n) => [n, []]));
  for (let rep = 0; rep < REPS; rep++) {
    // Rotate the order each repetition, so no system always runs first (or on a fuller heap).
    const order = names.map((_, i) => names[(i + rep) % names.length]);
    for (const name of order) {
      await settleHeap();
      await yieldLoop();
      const r = await burst(name);
      runs[name].push(r);
      log(
        `rep ${rep + 1}/${REPS} ${name}: ${fmtRate(r.perSecond)} wall, ${fmtRate(r.perCpuSecond)} per CPU-second ` +
          `(${fmtMs(r.elapsedMs)}; sends ${fmtMs(r.sentMs)}; ${r.allocPerTurn.toFixed(0)} B allocated/turn, ` +
          `GC pauses ${(100 * r.gcShare).toFixed(0)}% of the time; other processes ${fmtCores(r.otherCores)})`,
      );
    }
  }
  const summary = summarize(names, runs);
  printBurst(names, runs, summary);
  const pacedResults = PACED_S > 0 ? await pacedPhase(names) : [];
  writeResult("core-throughput", {
    sessions: SESSIONS,
    inputs: INPUTS,
    reps: REPS,
    rate: RATE,
    pacedS: PACED_S,
    summary,
    runs,
    paced: pacedResults,
  });
}

function summarize(names, runs) {
  const summary = {};
  for (const n of names) {
    const r = runs[n];
    summary[n] = {
      label: SYSTEMS[n].label,
      perSecond: median(r.map((x) => x.perSecond)),
      perCpuSecond: median(r.map((x) => x.perCpuSecond)),
      otherCores: median(r.map((x) => x.otherCores ?? 0)),
      allocPerTurn: median(r.map((x) => x.allocPerTurn)),
      gcShare: median(r.map((x) => x.gcShare)),
      latency: r[Math.floor(r.length / 2)].latency,
    };
  }
  // Ratios per repetition (the runs of one repetition sit next to each other in time, so they share
  // the machine's weather), then their median.
  const ratio = (a, b, key) =>
    runs[a] && runs[b] ? median(runs[a].map((x, i) => x[key] / runs[b][i][key])) : undefined;
  summary.ratios = {};
  for (const o of ["offstage", "offstage-c"]) {
    for (const peer of ["p-queue", "naive", "p-queue-bare", "naive-bare", "floor"]) {
      const wall = ratio(o, peer, "perSecond");
      if (wall === undefined) continue;
      summary.ratios[`${o}/${peer}`] = { wall, cpu: ratio(o, peer, "perCpuSecond") };
    }
  }
  return summary;
}

function printBurst(names, runs, summary) {
  log("burst results (medians over reps; send→start of the median rep, dominated by the backlog):");
  table(
    [
      "system",
      "turns/s wall",
      "min – max",
      "turns/CPU-s",
      "B alloc/turn",
      "GC pauses",
      "send→start p50",
      "p99",
      "other load",
    ],
    names.map((n) => {
      const r = runs[n];
      const s = summary[n];
      return [
        s.label,
        fmtRate(s.perSecond),
        `${fmtRate(Math.min(...r.map((x) => x.perSecond)))} – ${fmtRate(Math.max(...r.map((x) => x.perSecond)))}`,
        fmtRate(s.perCpuSecond),
        s.allocPerTurn.toFixed(0),
        `${(100 * s.gcShare).toFixed(0)}%`,
        fmtMs(s.latency.p50Ms),
        fmtMs(s.latency.p99Ms),
        fmtCores(s.otherCores),
      ];
    }),
  );
  for (const [pair, { wall, cpu }] of Object.entries(summary.ratios)) {
    const need = coreGoal(pair);
    const goal = need === undefined ? "no goal" : `goal ≥ ${need}×`;
    log(`ratio ${pair}: ${fmtRatio(wall)} wall, ${fmtRatio(cpu)} per CPU-second (${goal})`);
  }
}

async function pacedPhase(names) {
  log(`paced: ${RATE} inputs/s offered for ${PACED_S} s, round-robin over ${SESSIONS} sessions`);
  const results = [];
  for (const name of names) {
    await settleHeap();
    const r = await paced(name);
    log(`paced ${name}: p50 ${fmtMs(r.latency.p50Ms)}, p99 ${fmtMs(r.latency.p99Ms)}`);
    results.push(r);
  }
  table(
    ["system", "inputs", "send→start p50", "p99", "max"],
    results.map((r) => [
      SYSTEMS[r.name].label,
      r.total,
      fmtMs(r.latency.p50Ms),
      fmtMs(r.latency.p99Ms),
      fmtMs(r.latency.maxMs),
    ]),
  );
  return results;
}

await main();
