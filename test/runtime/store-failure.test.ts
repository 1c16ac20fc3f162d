/**
 * A store that fails (issue 15, item 2), at unit level: a test double of the store port that fails
 * on demand and, like a group-commit store, loses every write since its last commit. The runtime
 * turns `degraded`, refuses sends with the store's error, settles every live handle with a reason
 * (never a hang), says so once in the log and then at a slow interval, and recovers by itself once
 * the store works again. `test/store/sqlite-full-disk.test.ts` does the same on a real full disk.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Runtime, RuntimeEvent, TurnHandle } from "../../src/index.js";
import { createMemoryStore, createRuntime } from "../../src/index.js";
import { DEFAULTS } from "../../src/kernel/limits.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";
import { flush, until } from "../support/async.js";
import { FlakyStore } from "../support/flaky-store.js";
import { type LogLine, recordingLogger } from "../support/recording-logger.js";
import { type GatedFunction, gatedFunction } from "../support/runtime.js";

const runtimes: Runtime[] = [];

afterEach(async () => {
  for (const runtime of runtimes.splice(0)) await runtime.stop({ timeoutMs: 100 });
});

interface Setup {
  readonly runtime: Runtime;
  readonly store: FlakyStore;
  readonly clock: VirtualClock;
  readonly fn: GatedFunction;
  readonly events: RuntimeEvent[];
  readonly lines: LogLine[];
}

async function setup(): Promise<Setup> {
  const store = new FlakyStore();
  const clock = new VirtualClock();
  const fn = gatedFunction();
  const logger = recordingLogger();
  const { lines } = logger;
  const runtime = createRuntime({ logger, clock, store, agents: { f: fn.agent } });
  runtimes.push(runtime);
  const events: RuntimeEvent[] = [];
  runtime.on((event) => events.push(event));
  await runtime.start();
  return { runtime, store, clock, fn, events, lines };
}

/** Sends `input` to session "s" and waits until the store committed it. */
async function sendCommitted(runtime: Runtime, input: string): Promise<TurnHandle> {
  const handle = runtime.session("s", { agent: "f" }).send(input);
  expect(await handle.stored()).toBe("durable");
  return handle;
}

/** Lets the posted cut and probe jobs run, moving the virtual clock by `ms`. */
async function advance(clock: VirtualClock, ms: number): Promise<void> {
  clock.advance(ms);
  await flush();
}

describe("a store that fails", () => {
  it("degrades the runtime, settles every live handle with a reason, and recovers by itself", async () => {
    const { runtime, store, clock, fn, events, lines } = await setup();
    const a = await sendCommitted(runtime, "a");
    await until(() => fn.calls.length === 1, "the turn of a to start");
    const b = await sendCommitted(runtime, "b");
    // c is accepted, then the commit that holds it fails: c's write is lost.
    store.failures = 1;
    store.commitsOnly = true;
    const c = runtime.session("s").send("c");
    const cStored = c.stored().catch((error: unknown) => error);
    await until(() => runtime.state === "degraded", "the runtime to degrade");
    await flush();

    // Every handle settled: the committed ones interrupted (they run again), the lost one failed.
    for (const kept of [a, b]) {
      expect(kept.poll()?.outcome).toMatchObject({
        status: "interrupted",
        reason: { code: "store_failed", message: expect.stringContaining("runs again once the store works") },
      });
    }
    expect(c.poll()?.outcome).toMatchObject({
      status: "failed",
      reason: { code: "store_failed", message: expect.stringContaining("it was not kept") },
    });
    expect(await cStored).toMatchObject({ code: "STORE_FAILED" });
    expect(c.receipt).toBe("stored");
    // a's running call was aborted.
    expect(fn.calls[0]!.signal.aborted).toBe(true);

    // Degraded: sends are refused with the store's error; state and metrics say so.
    expect(() => runtime.session("s").send("d")).toThrow(expect.objectContaining({ code: "STORE_FAILED" }));
    expect(runtime.metrics()).toMatchObject({
      state: "degraded",
      runningTurns: 0,
      queuedInputs: 0,
      store: { degraded: true, failures: 1, recoveries: 0, lostInputs: 1, interruptedInputs: 2 },
    });
    expect(events.filter((e) => e.type === "store.failed")).toEqual([
      expect.objectContaining({ code: "STORE_FAILED", message: expect.stringContaining("disk full") }),
    ]);
    expect(lines.filter((l) => l.level === "error")).toHaveLength(1);
    // Looked up meanwhile, a kept input says the same.
    expect(runtime.handle(b.id)?.poll()?.outcome.reason.code).toBe("store_failed");

    // The first probe finds the store working: what it kept runs again, without a restart.
    await advance(clock, DEFAULTS.storeProbe.firstMs);
    expect(runtime.state).toBe("running");
    expect(events.find((e) => e.type === "store.recovered")).toMatchObject({
      recoveredInputs: 1,
      resumedTurns: 1,
    });
    await until(() => fn.calls.length === 2, "a's turn to resume");
    expect(fn.calls[1]!.input).toBe("a");
    fn.calls[1]!.gate.resolve("A");
    await until(() => fn.calls.length === 3, "b's turn to start");
    fn.calls[2]!.gate.resolve("B");
    await until(() => runtime.handle(b.id)?.status === "completed", "b to complete");
    expect(runtime.handle(a.id)?.poll()?.outcome).toMatchObject({ status: "completed", output: "A" });
    // The lost input never runs: the store does not know it.
    expect(runtime.handle(c.id)).toBeUndefined();

    const e = runtime.session("s").send("e");
    await until(() => fn.calls.length === 4, "e's turn to start");
    fn.calls[3]!.gate.resolve("E");
    expect((await e.result()).output).toBe("E");
    expect(runtime.metrics().store).toMatchObject({ degraded: false, failures: 1, recoveries: 1 });
    expect(lines.filter((l) => l.level === "error")).toHaveLength(1);
    expect(await runtime.stop()).toBe("clean");
  });

  it("a write that fails refuses that send; probes back off until the store works", async () => {
    const { runtime, store, clock, events, lines } = await setup();
    await sendCommitted(runtime, "a");
    // The send's write fails, then the probes fail for well over a minute.
    store.failures = 12;
    expect(() => runtime.session("s").send("b")).toThrow(
      expect.objectContaining({ code: "STORE_FAILED", message: expect.stringContaining("disk full") }),
    );
    expect(runtime.state).toBe("degraded");
    await flush();
    const probeTimes: number[] = [];
    let failed = store.failed;
    while (store.failures > 0) {
      await advance(clock, 50);
      if (store.failed > failed) probeTimes.push(clock.monotonicMs());
      failed = store.failed;
    }
    // Back-off: 100 ms, doubled each time, up to 2 s.
    const gaps = probeTimes.slice(1).map((t, i) => t - probeTimes[i]!);
    expect(gaps.slice(0, 4)).toEqual([200, 400, 800, 1_600]);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(DEFAULTS.storeProbe.maxMs + 50);
    expect(runtime.state).toBe("degraded");
    // Logged once at the failure, not once per probe (11 probes failed, in less than a minute).
    const errors = lines.filter((l) => l.level === "error");
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/the store failed: the runtime is degraded/);

    await advance(clock, DEFAULTS.storeProbe.maxMs);
    expect(runtime.state).toBe("running");
    expect(events.filter((e) => e.type === "store.recovered")).toHaveLength(1);
    expect(lines.filter((l) => l.level === "warn").at(-1)?.message).toMatch(/the store works again/);
    expect(runtime.session("s").send("c").status).toBe("queued");
  });

  it("while it keeps failing, the log repeats once per minute", async () => {
    const { runtime, store, clock, lines } = await setup();
    const s = runtime.session("s", { agent: "f" });
    store.failures = 1_000;
    expect(() => s.send("a")).toThrow(expect.objectContaining({ code: "STORE_FAILED" }));
    await flush();
    // Just short of three minutes: the failure, then once after one minute and once after two.
    for (let t = 1_000; t < 3 * DEFAULTS.storeProbe.logEveryMs; t += 1_000) await advance(clock, 1_000);
    const errors = lines.filter((l) => l.level === "error");
    expect(errors).toHaveLength(3);
    expect(errors[1]!.message).toMatch(/the store still fails after \d+ ms \(\d+ probes\)/);
    expect(store.failed).toBeGreaterThan(80);
  });

  it("an input whose commit was still syncing when a later write failed is kept, not reported lost", async () => {
    const { runtime, store, clock } = await setup();
    const s = runtime.session("s", { agent: "f" });
    await sendCommitted(runtime, "first");
    let synced!: () => void;
    store.commitGate = new Promise((resolve) => {
      synced = resolve;
    });
    const a = s.send("a");
    await flush();
    expect(a.receipt).toBe("stored");
    // A later write fails while a's group is committed but not yet synced.
    store.commitGate = undefined;
    store.failures = 1;
    expect(() => s.send("b")).toThrow(expect.objectContaining({ code: "STORE_FAILED" }));
    await flush();
    expect(a.poll()).toBeUndefined();
    synced();
    await until(() => a.poll() !== undefined, "a to settle");
    expect(a.receipt).toBe("durable");
    expect(a.poll()?.outcome).toMatchObject({ status: "interrupted", reason: { code: "store_failed" } });
    await advance(clock, DEFAULTS.storeProbe.firstMs);
    expect(runtime.state).toBe("running");
    expect(runtime.handle(a.id)).toBeDefined();
  });

  it("a turn end that can never be written: retried as a crash is, then degraded; the log stays once a minute", async () => {
    const store = createMemoryStore();
    const endTurn = store.endTurn.bind(store);
    store.endTurn = (end) => {
      if (end.sessionId === "bad") throw new Error("disk full for this row");
      endTurn(end);
    };
    const clock = new VirtualClock();
    const logger = recordingLogger();
    const { lines } = logger;
    const runtime = createRuntime({
      logger,
      clock,
      store,
      agents: { f: { run: (input) => input } },
    });
    runtimes.push(runtime);
    const events: RuntimeEvent[] = [];
    runtime.on((event) => events.push(event));
    await runtime.start();
    runtime.session("bad", { agent: "f" }).send("x");
    await flush();
    for (let t = 1_000; t < 3 * DEFAULTS.storeProbe.logEveryMs; t += 1_000) await advance(clock, 1_000);
    // Each recovery runs the turn again, as after a crash, until its attempts are spent; then
    // ending it failed cannot be written either, so the store stays failed and is probed on.
    expect(events.filter((e) => e.type === "store.recovered").length).toBe(DEFAULTS.crashAttemptsMax - 1);
    expect(runtime.state).toBe("degraded");
    expect(runtime.metrics().retries.commits).toBeGreaterThan(50);
    // However often it failed and recovered, the log said so once a minute.
    const errors = lines.filter((l) => l.level === "error");
    expect(errors).toHaveLength(3);
    expect(errors[2]!.message).toMatch(/the store still fails/);
    expect(lines.filter((l) => l.level === "warn").length).toBeLessThanOrEqual(1);
  });

  it("stop() while degraded returns store_failed at once, naming what was never written", async () => {
    const { runtime, store, events } = await setup();
    await sendCommitted(runtime, "a");
    store.failures = 1_000;
    store.commitsOnly = true;
    runtime.session("s").send("b");
    await until(() => runtime.state === "degraded", "the runtime to degrade");
    expect(await runtime.stop({ timeoutMs: 60_000 })).toBe("store_failed");
    expect(runtime.state).toBe("stopped");
    expect(events.at(-1)).toMatchObject({
      type: "runtime.stopped",
      status: "store_failed",
      lostInputs: 1,
      storeError: expect.stringContaining("disk full"),
    });
  });

  it("a stop whose commit fails settles its handles and reports store_failed, not clean", async () => {
    const { runtime, store, fn } = await setup();
    const a = await sendCommitted(runtime, "a");
    await until(() => fn.calls.length === 1, "the turn of a to start");
    const b = runtime.session("s").send("b");
    store.failures = 1_000;
    store.commitsOnly = true;
    expect(await runtime.stop({ timeoutMs: 60_000 })).toBe("store_failed");
    expect(a.poll()?.outcome).toMatchObject({ status: "interrupted", reason: { code: "store_failed" } });
    expect(b.poll()?.outcome).toMatchObject({ status: "failed", reason: { code: "store_failed" } });
  });
});
