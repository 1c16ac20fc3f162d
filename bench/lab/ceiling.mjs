// How fast the core burst could be with a cheaper store: Offstage's burst (10 000 sessions × 20 no-op
// turns) on the store chosen by --store, alternated with p-queue's in one process, per CPU-second.
// The stores other than `memory` are ceilings, not options (they break the port's promises):
// `memory-noinputs` is the memory store keeping no inputs, `history` keeps only each session's
// history (what the peers keep too), `noop` keeps nothing (every prompt is the input alone). What
// remains with `noop` is the runtime and the kernel; `memory` against `memory-noinputs` is the cost
// of the memory store's bookkeeping of inputs.
//
//   npm exec -- node --expose-gc bench/lab/ceiling.mjs --store memory|memory-noinputs|history|noop [--reps 4]
//
// One store per process: two stores in one process would make the runtime's store calls polymorphic
// and share V8's allocation-site decisions (bench/NOTES.md, "offstage-c runs alone").
import { count } from "../lib/args.mjs";
import { fmtRatio } from "../lib/format.mjs";
import { log } from "../lib/log.mjs";
import { median, now, settleHeap } from "../lib/meters.mjs";
import { loadOffstage } from "../lib/offstage.mjs";
import { pQueueSystem } from "../systems/p-queue.mjs";

const REPS = count("reps", 4);
const SESSIONS = count("sessions", 10_000);
const INPUTS = count("inputs", 20);
const at = process.argv.indexOf("--store");
const STORE = at < 0 ? "memory" : process.argv[at + 1];
const offstage = await loadOffstage();

const NONE = Object.freeze([]);

/** A store that keeps nothing but what the port requires to answer, or only histories. */
function lightStore(keepHistory) {
  const histories = new Map();
  return {
    kind: `ceiling-${STORE}`,
    receipt: "stored",
    async open() {
      return { sessions: [], queued: [], queuedCount: 0, interrupted: [], nextSeq: 1 };
    },
    createSession() {},
    accept() {},
    steer() {},
    endInput() {},
    startTurn() {},
    checkpoint() {},
    endTurn(end) {
      if (!keepHistory || end.messages.length === 0) return;
      let history = histories.get(end.sessionId);
      if (history === undefined) {
        history = [];
        histories.set(end.sessionId, history);
      }
      for (const message of end.messages) history.push(message);
    },
    commit: () => Promise.resolve(),
    history: (sessionId) => histories.get(sessionId) ?? NONE,
    findByIdempotencyKey: () => undefined,
    input: () => undefined,
    async close() {},
  };
}

/**
 * The memory store without its bookkeeping of inputs: `accept` keeps nothing, so turns start and end
 * with no inputs to mark, move or retain. Sessions, turns and history are the memory store's.
 */
function withoutInputs(store) {
  return {
    kind: "ceiling-memory-noinputs",
    receipt: "stored",
    open: (options) => store.open(options),
    createSession: (record) => store.createSession(record),
    accept() {},
    steer: (steer) => store.steer(steer),
    endInput: (end) => store.endInput(end),
    startTurn: (start) => store.startTurn(start),
    checkpoint: (checkpoint) => store.checkpoint(checkpoint),
    endTurn: (end) => store.endTurn(end),
    commit: () => store.commit(),
    history: (sessionId) => store.history(sessionId),
    findByIdempotencyKey: () => undefined,
    input: () => undefined,
    close: () => store.close(),
  };
}

function storeOf() {
  if (STORE === "memory") return offstage.createMemoryStore();
  if (STORE === "history") return lightStore(true);
  if (STORE === "memory-noinputs") return withoutInputs(offstage.createMemoryStore());
  if (STORE === "noop") return lightStore(false);
  throw new Error(`--store must be memory, memory-noinputs, history or noop; got ${STORE}`);
}

async function offstageBurst() {
  const runtime = offstage.createRuntime({
    agents: { bench: { model: offstage.createNoopModel() } },
    store: storeOf(),
    logger: offstage.silentLogger,
    limits: { inboxLengthMax: Math.max(1000, INPUTS + 1) },
  });
  await runtime.start();
  const handles = [];
  for (let s = 0; s < SESSIONS; s++) handles.push(runtime.session(`s${s}`, { agent: "bench" }));
  const last = [];
  for (let r = 0; r < INPUTS; r++) for (let s = 0; s < SESSIONS; s++) last[s] = handles[s].send("hi");
  await Promise.all(last.map((handle) => handle.result()));
  const completed = runtime.metrics().ended.completed;
  await runtime.stop();
  if (completed !== SESSIONS * INPUTS) throw new Error(`${completed} turns completed`);
}

async function pQueueBurst() {
  const run = await pQueueSystem({
    sessions: SESSIONS,
    model: offstage.createNoopModel(),
    work: true,
  }).open();
  for (let r = 0; r < INPUTS; r++) for (let s = 0; s < SESSIONS; s++) run.send(s);
  await run.drained();
  await run.close();
}

/** Turns per CPU-second of this process. */
async function measure(burst) {
  await settleHeap();
  const cpu = process.cpuUsage();
  const started = now();
  await burst();
  const used = process.cpuUsage(cpu);
  const turns = SESSIONS * INPUTS;
  return { cpu: (turns * 1e6) / (used.user + used.system), wall: (turns * 1000) / (now() - started) };
}

log(`ceiling: store ${STORE}, ${REPS} reps of ${SESSIONS} sessions × ${INPUTS} inputs against p-queue`);
await offstageBurst();
await pQueueBurst();
const ratios = [];
const wall = [];
for (let rep = 0; rep < REPS; rep++) {
  const order = rep % 2 === 0 ? [offstageBurst, pQueueBurst] : [pQueueBurst, offstageBurst];
  const result = new Map();
  for (const burst of order) result.set(burst, await measure(burst));
  const o = result.get(offstageBurst);
  const p = result.get(pQueueBurst);
  ratios.push(o.cpu / p.cpu);
  wall.push(o.wall / p.wall);
  log(
    `rep ${rep + 1}/${REPS}: offstage ${(o.cpu / 1000).toFixed(1)}k/CPU-s, p-queue ${(p.cpu / 1000).toFixed(1)}k/CPU-s, ` +
      `${fmtRatio(o.cpu / p.cpu)} per CPU-second (${fmtRatio(o.wall / p.wall)} wall)`,
  );
}
log(
  `store ${STORE}: offstage/p-queue ${fmtRatio(median(ratios))} per CPU-second, ${fmtRatio(median(wall))} wall (medians)`,
);
