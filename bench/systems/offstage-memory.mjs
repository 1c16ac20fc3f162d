// Offstage on its memory store with the no-op model: the system the core benchmark, the idle-memory
// benchmark and the lab tools (ab, alloc-profile, cache-sim) measure. Every function takes the
// module `loadOffstage()` returned (lib/offstage.mjs), so a lab tool can pass two builds.
import { log } from "../lib/log.mjs";

/**
 * A started runtime with one agent, `bench`, on a fresh memory store; `extra` adds runtime options
 * (the telemetry benchmark passes `telemetry`).
 */
async function startRuntime(offstage, { model = offstage.createNoopModel(), limits, extra } = {}) {
  const runtime = offstage.createRuntime({
    agents: { bench: { model } },
    store: offstage.createMemoryStore(),
    logger: offstage.silentLogger,
    ...(limits === undefined ? {} : { limits }),
    ...extra,
  });
  await runtime.start();
  return runtime;
}

/**
 * The core benchmark's system: `sessions` sessions, each sent up to `inputs` inputs (its inbox is
 * sized for them), at most `maxConcurrentTurns` turns at once. `setup` (optional) gives more runtime
 * options for each run (`open()`) and releases what it made for them (`close()`).
 */
export function offstageMemorySystem({ offstage, sessions, inputs, maxConcurrentTurns, name, label, setup }) {
  return {
    name,
    label,
    async open() {
      const runtime = await startRuntime(offstage, {
        limits: { inboxLengthMax: Math.max(1000, inputs + 1), maxConcurrentTurns },
        extra: await setup?.open(),
      });
      const handles = [];
      for (let s = 0; s < sessions; s++) handles.push(runtime.session(`s${s}`, { agent: "bench" }));
      const last = new Array(sessions);
      return {
        send(s) {
          last[s] = handles[s].send("hi");
        },
        async drained() {
          // Sessions are FIFO: a session's last input settles after all its earlier ones.
          await Promise.all(last.filter(Boolean).map((h) => h.result()));
        },
        done: () => runtime.metrics().ended.completed,
        latency: () => runtime.metrics().sendToStart,
        async close() {
          await runtime.stop();
          await setup?.close?.();
        },
      };
    },
  };
}

/**
 * One burst of no-op turns through a fresh runtime: `inputs` rounds of one send to each of
 * `sessions` sessions, then every handle awaited. Throws unless every turn completed. The lab
 * tools' unit of work (`model` defaults to the build's no-op model).
 */
export async function memoryBurst(offstage, sessions, inputs, model = offstage.createNoopModel()) {
  const runtime = await startRuntime(offstage, {
    model,
    limits: { inboxLengthMax: Math.max(1000, inputs + 1) },
  });
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

/**
 * Idle memory: `n` sessions of a started runtime with default limits; with `withTurn`, each ran one
 * completed no-op turn and the caller kept no handle. Returns what keeps them alive and `release()`.
 */
export async function offstageIdle(offstage, n, withTurn) {
  const runtime = await startRuntime(offstage);
  let last;
  for (let s = 0; s < n; s++) {
    const session = runtime.session(`session-${s}`, { agent: "bench" });
    if (withTurn) last = session.send("hi");
    if (s % 20_000 === 19_999) {
      log(`  ${s + 1}/${n} sessions`);
      // Let turns run as we go, so the inboxes never hold more than a slice of the inputs.
      if (withTurn) await last.result();
    }
  }
  if (withTurn) {
    await last?.result();
    // Every turn must have ended before the heap is read: the sessions are idle.
    for (;;) {
      const m = runtime.metrics();
      if (m.ended.completed === n && m.runningTurns === 0 && m.queuedInputs === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  return { runtime, release: () => runtime.stop() };
}
