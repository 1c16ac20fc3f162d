// Offstage on its SQLite store, durability "full" (fsync per commit group) or "normal" (WAL, fsync
// at checkpoints), with the no-op model: the durable benchmark's system, and its recovery case.
// Every function takes the module `loadOffstage()` returned (lib/offstage.mjs).
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProfiler } from "../lib/cpu-profiler.mjs";
import { fmtMs } from "../lib/format.mjs";
import { Latency } from "../lib/latency.mjs";
import { log } from "../lib/log.mjs";
import { now, settleHeap } from "../lib/meters.mjs";

export const SQLITE_MISSING =
  "Offstage's SQLite store (createSqliteStore, src/store/sqlite/sqlite-store.ts) is not in this build yet";

/** Why the build cannot run these systems, or undefined when it can. */
export const sqliteMissing = (offstage) =>
  typeof offstage.createSqliteStore === "function" ? undefined : SQLITE_MISSING;

export const describeDurability = (durability) =>
  durability === "full" ? "fsync per commit group" : "WAL, fsync at checkpoints";

/** A SQLite store on a fresh file in /tmp; `remove()` closes it and deletes the file. */
export function freshSqliteStore(offstage, durability, prefix = "offstage-bench-") {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const store = offstage.createSqliteStore({ path: join(dir, "bench.db"), durability });
  return {
    store,
    async remove() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The durable benchmark's system over `sessions` sessions. `setup` (optional) gives more runtime
 * options for each run (`open()`) and releases what it made for them (`close()`).
 */
export function offstageSqliteSystem({ offstage, durability, sessions, name, label, setup }) {
  return {
    name: name ?? `offstage-${durability}`,
    label: label ?? `offstage, SQLite durability "${durability}"`,
    durability: describeDurability(durability),
    check: async () => sqliteMissing(offstage),
    async open({ inputsPerSession, trackAck = false }) {
      const { store, remove } = freshSqliteStore(offstage, durability);
      const runtime = offstage.createRuntime({
        agents: { bench: { model: offstage.createNoopModel() } },
        store,
        logger: offstage.silentLogger,
        limits: { inboxLengthMax: Math.max(1000, inputsPerSession + 1) },
        ...(await setup?.open()),
      });
      await runtime.start();
      // Sessions are created on first send, inside the timed part: creating one is a store write, as
      // a named queue's row is for graphile-worker.
      const handles = new Array(sessions);
      const last = new Array(sessions);
      const ack = new Latency();
      return {
        send(s) {
          handles[s] ??= runtime.session(`s${s}`, { agent: "bench" });
          const sentAt = now();
          const handle = handles[s].send("hi");
          last[s] = handle;
          // The receipt turns "durable" once the commit holding the input is done.
          if (trackAck) handle.stored().then(() => ack.recordMs(now() - sentAt));
        },
        flush: async () => {},
        done: () => runtime.metrics().ended.completed,
        // Sessions are FIFO: a session's last input settles after its earlier ones; result()
        // resolves only after the turn's end is committed.
        drained: () => Promise.all(last.filter(Boolean).map((h) => h.result())),
        latency: () => runtime.metrics().sendToStart,
        ackLatency: () => ack.stats(),
        extra: () => store.stats?.(),
        async close() {
          await runtime.stop();
          await remove();
          await setup?.close?.();
        },
      };
    },
  };
}

/**
 * The recovery case: `inputs` inputs over `sessions` sessions left queued in a SQLite file (sent,
 * then the runtime stopped before any ran); a new runtime on a copy of the file, `reps` times,
 * measures start() → the first recovered turn starting. `profilePath` (if not "") receives a CPU
 * profile of the first restart.
 */
export function offstageSqliteRecovery({ offstage }) {
  return { key: "offstage", recover: (options) => recoverOffstage(offstage, options) };
}

async function recoverOffstage(offstage, { inputs, sessions, reps: repCount, profilePath }) {
  if (sqliteMissing(offstage) !== undefined) return { skipped: SQLITE_MISSING };
  const perSession = Math.ceil(inputs / sessions);
  const dir = mkdtempSync(join(tmpdir(), "offstage-recovery-"));
  const snapshot = mkdtempSync(join(tmpdir(), "offstage-recovery-copy-"));
  const path = join(dir, "recovery.db");
  const make = () => {
    const store = offstage.createSqliteStore({ path, durability: "normal" });
    const runtime = offstage.createRuntime({
      agents: { bench: { model: offstage.createNoopModel() } },
      store,
      logger: offstage.silentLogger,
      limits: { inboxLengthMax: Math.max(1000, perSession + 1) },
    });
    return { store, runtime };
  };
  try {
    // Fill: accept every input, then stop before any turn starts (queued inputs stay stored).
    const first = make();
    await first.runtime.start();
    const handles = [];
    for (let r = 0; r < perSession; r++) {
      for (let s = 0; s < sessions; s++) {
        const h = first.runtime.session(`s${s}`, { agent: "bench" }).send("hi");
        if (s === sessions - 1) handles.push(h);
      }
    }
    const stopping = first.runtime.stop();
    await Promise.all(handles.map((h) => h.stored?.().catch(() => undefined)));
    await stopping;
    await first.store.close?.();
    log(`  ${sessions * perSession} inputs queued in ${path}; restarting`);
    // Each repetition restarts from a copy of the filled file, so every one recovers the same backlog.
    cpSync(dir, snapshot, { recursive: true });
    const reps = [];
    for (let rep = 0; rep < repCount; rep++) {
      if (rep > 0) for (const f of readdirSync(snapshot)) cpSync(join(snapshot, f), join(dir, f));
      await settleHeap();
      // Recover: a new runtime on the file; time start() and the first recovered turn starting.
      const second = make();
      const profiler = profilePath === "" || rep > 0 ? undefined : await startProfiler();
      let firstTurnMs;
      let recovered;
      const rssBefore = process.memoryUsage.rss();
      let rssPeak = rssBefore;
      // Sampled from start() until every recovered input is read back (queued or started): the
      // memory recovery needs, while turns already run.
      const sampler = setInterval(() => {
        rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
      }, 5);
      const t0 = now();
      second.runtime.on((event) => {
        if (event.type === "runtime.started") recovered = event.recoveredInputs;
        if (event.type === "turn.started" && firstTurnMs === undefined) firstTurnMs = now() - t0;
      });
      await second.runtime.start();
      const startMs = now() - t0;
      while (firstTurnMs === undefined) await new Promise((resolve) => setImmediate(resolve));
      if (profiler !== undefined) {
        writeFileSync(profilePath, JSON.stringify(await profiler.stop()));
        log(`  CPU profile of start() → first turn written to ${profilePath}`);
      }
      const read = () => {
        const m = second.runtime.metrics();
        return m.queuedInputs + m.turnsStarted;
      };
      while (read() < recovered) await new Promise((resolve) => setTimeout(resolve, 1));
      const allReadMs = now() - t0;
      clearInterval(sampler);
      rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
      await second.runtime.stop();
      await second.store.close?.();
      const rssPeakMb = rssPeak / 2 ** 20;
      reps.push({ startMs, firstTurnMs, recovered, allReadMs, rssBeforeMb: rssBefore / 2 ** 20, rssPeakMb });
      log(
        `  rep ${rep + 1}/${repCount}: first turn ${fmtMs(firstTurnMs)} after start(), all ${recovered} read ` +
          `after ${fmtMs(allReadMs)}; RSS ${(rssBefore / 2 ** 20).toFixed(0)} MB before, peak ${rssPeakMb.toFixed(0)} MB`,
      );
    }
    const mid = [...reps].sort((x, y) => x.firstTurnMs - y.firstTurnMs)[Math.floor(reps.length / 2)];
    return { name: "offstage (SQLite)", ...mid, reps };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(snapshot, { recursive: true, force: true });
  }
}
