import { describe, expect, it, vi } from "vitest";
import type { Logger, RuntimeEvent } from "../../src/index.js";
import type { DispatcherOptions, HogReport, Stamp } from "../../src/runtime/dispatcher.js";
import { Dispatcher } from "../../src/runtime/dispatcher.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";
import { flush, until } from "../support/async.js";
import { text } from "../support/models.js";
import { gatedFunction, testRuntime } from "../support/runtime.js";

/** Matches a lag report: `exact` as given, the times in `near` to `digits` decimals (as `toBeCloseTo`). */
function lagReport(exact: { count: number; lastMs: number }, near: Record<string, number>, digits: number) {
  const close = Object.entries(near).map(([key, ms]) => [key, expect.closeTo(ms, digits)]);
  return { ...exact, ...Object.fromEntries(close), buckets: expect.any(Array) };
}

function dispatcher(overrides: Partial<DispatcherOptions> = {}) {
  const clock = new VirtualClock();
  const hogs: HogReport[] = [];
  const errors: [string, unknown][] = [];
  const d = new Dispatcher({
    clock,
    hogThresholdMs: 50,
    sliceMs: 1_000_000,
    onHog: (report) => hogs.push(report),
    onJobError: (label, error) => errors.push([label, error]),
    ...overrides,
  });
  return { d, clock, hogs, errors };
}

describe("Dispatcher", () => {
  it("runs jobs in post order, including jobs posted by jobs", async () => {
    const { d } = dispatcher();
    const order: string[] = [];
    d.post("a", () => {
      order.push("a");
      d.post("c", () => order.push("c"));
    });
    d.post("b", () => order.push("b"));
    expect(d.depth).toBe(2);
    expect(order).toEqual([]);
    await flush(1);
    expect(order).toEqual(["a", "b", "c"]);
    expect(d.depth).toBe(0);
    expect(d.ran).toBe(3);
  });

  it("stamps: one per 32 calls of a synchronous run outside a job, the job's own inside one", async () => {
    const { d, clock } = dispatcher();
    clock.advance(5);
    const first = d.stamp();
    expect(first).toEqual({ epochMs: clock.epochMs(), monotonicMs: 5 });
    clock.advance(1);
    const run = Array.from({ length: 31 }, () => d.stamp());
    expect(run.every((stamp) => stamp === first)).toBe(true);
    // The 33rd call reads the clock again; so does the first call after the run (a microtask later).
    expect(d.stamp()).toEqual({ epochMs: clock.epochMs(), monotonicMs: 6 });
    const later = d.stamp();
    await Promise.resolve();
    clock.advance(1);
    expect(d.stamp()).not.toBe(later);
    expect(d.stamp().monotonicMs).toBe(7);
    const inJob: Stamp[] = [];
    d.post("a", () => {
      inJob.push(d.stamp(), d.stamp());
      clock.advance(2);
      d.refreshTime();
      inJob.push(d.stamp());
    });
    await flush(1);
    expect(inJob[0]).toBe(inJob[1]);
    expect(inJob[0]!.monotonicMs).toBe(7);
    expect(inJob[2]!.monotonicMs).toBe(9);
  });

  it("records post→run lag: count, last, max, mean, p50, p99, power-of-two buckets", async () => {
    const { d, clock } = dispatcher();
    expect(d.lag()).toEqual({ count: 0, lastMs: 0, maxMs: 0, meanMs: 0, p50Ms: 0, p99Ms: 0, buckets: [] });
    d.post("a", () => {});
    clock.advance(4);
    d.post("b", () => {});
    clock.advance(6);
    await flush(1);
    const near = { maxMs: 10, meanMs: 8, p50Ms: 6, p99Ms: 10 };
    expect(d.lag()).toEqual(lagReport({ count: 2, lastMs: 6 }, near, 1));
    // 6 ms is at most 2^13 µs, 10 ms at most 2^14 µs: cumulative counts from the lowest bucket used.
    expect(d.lag().buckets).toEqual([
      { leMs: 8.192, count: 1 },
      { leMs: 16.384, count: 2 },
    ]);
  });

  it("percentiles over many jobs: each job holds the thread 1 ms, so job k waited k ms", async () => {
    const { d, clock, hogs } = dispatcher();
    for (let k = 0; k <= 100; k++) d.post(`job ${k}`, () => clock.advance(1));
    await flush(1);
    const near = { maxMs: 100, meanMs: 50, p50Ms: 50, p99Ms: 99 };
    expect(d.lag()).toEqual(lagReport({ count: 101, lastMs: 100 }, near, 0));
    expect(hogs).toEqual([]);
  });

  it("names a job that holds the thread past the threshold, with its duration", async () => {
    const { d, clock, hogs } = dispatcher();
    d.post("quick", () => clock.advance(50));
    d.post("render frame", () => clock.advance(80));
    d.post("also quick", () => {});
    await flush(1);
    expect(hogs).toEqual([{ label: "render frame", durationMs: 80, source: "job" }]);
  });

  it("contains a throwing job, reports it with its label, and runs the rest", async () => {
    const { d, errors } = dispatcher();
    const ran: string[] = [];
    const boom = new Error("boom");
    d.post("bad job", () => {
      throw boom;
    });
    d.post("good job", () => ran.push("good"));
    await flush(1);
    expect(errors).toEqual([["bad job", boom]]);
    expect(ran).toEqual(["good"]);
    d.post("later", () => ran.push("later"));
    await flush(1);
    expect(ran).toEqual(["good", "later"]);
  });

  it("keeps going when its own report hooks throw", async () => {
    const { d, clock } = dispatcher({
      onHog: () => {
        throw new Error("logger down");
      },
      onJobError: () => {
        throw new Error("logger down");
      },
    });
    const ran: string[] = [];
    d.post("hog", () => clock.advance(100));
    d.post("throws", () => {
      throw new Error("x");
    });
    d.post("after", () => ran.push("after"));
    await flush(1);
    expect(ran).toEqual(["after"]);
    d.post("next drain", () => ran.push("next"));
    await flush(1);
    expect(ran).toEqual(["after", "next"]);
  });

  it("yields to the loop once a slice's budget is used", async () => {
    const yields: (() => void)[] = [];
    const { d, clock } = dispatcher({ sliceMs: 10, yieldToLoop: (next) => yields.push(next) });
    const ran: number[] = [];
    for (let i = 0; i < 4; i++)
      d.post(`j${i}`, () => {
        ran.push(i);
        clock.advance(6);
      });
    await flush(1);
    expect(ran).toEqual([0, 1]);
    expect(d.depth).toBe(2);
    expect(yields).toHaveLength(1);
    yields.shift()!();
    expect(ran).toEqual([0, 1, 2, 3]);
    expect(d.depth).toBe(0);
  });
});

/** A runtime (hog threshold 50 ms) whose model step holds the thread for `heldMs` of virtual time. */
function hogRuntime(heldMs: number, logger: Logger) {
  let clockRef: VirtualClock | undefined;
  const hog = {
    id: "hog",
    stream: () => {
      clockRef!.advance(heldMs);
      return text("slow");
    },
  };
  const started = testRuntime({ chat: { model: hog } }, { logger, hogThresholdMs: 50 });
  clockRef = started.clock;
  return started;
}

describe("runtime: dispatcher health", () => {
  it("a synchronous model step that holds the thread is reported: dispatcher.hog event and logger.warn", async () => {
    const logger = { warn: vi.fn(), error: vi.fn() };
    const { runtime } = hogRuntime(120, logger);
    const events: RuntimeEvent[] = [];
    runtime.on((e) => events.push(e));
    await runtime.start();
    await runtime.session("s", { agent: "chat" }).send("go").result();
    const hogs = events.filter((e) => e.type === "dispatcher.hog");
    expect(hogs).toEqual([{ type: "dispatcher.hog", label: "wake", durationMs: 120, source: "job" }]);
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn).toHaveBeenCalledWith(
      { label: "wake", durationMs: 120, source: "job" },
      expect.stringMatching(/"wake" held the thread for 120\.0 ms/),
    );
    await runtime.stop();
  });

  it("a listener that hogs the thread is named by the job that called it", async () => {
    const { runtime, clock } = testRuntime({ f: { run: async () => "ok" } }, { hogThresholdMs: 50 });
    const hogs: RuntimeEvent[] = [];
    runtime.on((e) => {
      if (e.type === "turn.ended") clock.advance(75);
      if (e.type === "dispatcher.hog") hogs.push(e);
    });
    await runtime.start();
    await runtime.session("s", { agent: "f" }).send("go").result();
    await flush();
    expect(hogs).toEqual([{ type: "dispatcher.hog", label: "turn ends", durationMs: 75, source: "job" }]);
    await runtime.stop();
  });

  it("a throwing listener is contained and logged once; the turn goes on", async () => {
    const logger = { warn: vi.fn(), error: vi.fn() };
    const { runtime } = testRuntime({ f: { run: async () => "ok" } }, { logger });
    let calls = 0;
    runtime.on((e) => {
      if (e.type === "turn.started") {
        calls += 1;
        throw new Error("listener bug");
      }
    });
    await runtime.start();
    const result = await runtime.session("s", { agent: "f" }).send("go").result();
    expect(result.output).toBe("ok");
    expect(calls).toBe(1);
    expect(logger.error).toHaveBeenCalledTimes(1);
    expect(logger.error).toHaveBeenCalledWith(
      expect.objectContaining({
        event: "turn.started",
        error: expect.objectContaining({ name: "Error", message: "listener bug" }),
      }),
      expect.any(String),
    );
    await runtime.stop();
  });

  it("a logger that throws while reporting a hog does not stop the runtime", { timeout: 5_000 }, async () => {
    const logger = {
      warn: () => {
        throw new Error("logger down");
      },
      error: () => {
        throw new Error("logger down");
      },
    };
    const { runtime } = hogRuntime(100, logger);
    await runtime.start();
    const s = runtime.session("s", { agent: "chat" });
    expect((await s.send("one").result({ timeoutMs: 10_000 })).output).toBe("slow");
    expect((await s.send("two").result({ timeoutMs: 10_000 })).output).toBe("slow");
    await runtime.stop();
  });

  it("metrics(): queue depths, in-flight counts, lag, send→start latency and throughput", async () => {
    const fn = gatedFunction();
    const { runtime, clock } = testRuntime({ f: fn.agent }, { limits: { maxConcurrentTurns: 1 } });
    await runtime.start();
    const idle = runtime.metrics();
    expect(idle).toMatchObject({ state: "running", sessions: 0, queuedInputs: 0, readySessions: 0 });
    expect(idle).toMatchObject({ runningTurns: 0, outstandingCalls: 0, inputsAccepted: 0, turnsStarted: 0 });
    expect(idle.throughputPerSecond).toBe(0);
    const s1 = runtime.session("s1", { agent: "f" });
    const s2 = runtime.session("s2", { agent: "f" });
    const a = s1.send("a");
    expect(runtime.metrics().dispatcherDepth).toBe(1);
    await until(() => fn.calls.length === 1);
    const b = s2.send("b");
    const c = s1.send("c");
    await flush();
    const busy = runtime.metrics();
    expect(busy).toMatchObject({ sessions: 2, queuedInputs: 2, readySessions: 1 });
    expect(busy).toMatchObject({ runningTurns: 1, outstandingCalls: 1, dispatcherDepth: 0 });
    expect(busy).toMatchObject({ inputsAccepted: 3, turnsStarted: 1 });
    expect(busy.dispatcherLag.count).toBeGreaterThan(0);
    clock.advance(30);
    fn.calls[0]!.gate.resolve("A");
    await until(() => fn.calls.length === 2);
    // No head-of-line blocking: the slot goes to the session that waited, not back to s1.
    expect(fn.calls[1]!.input).toBe("b");
    fn.calls[1]!.gate.resolve("B");
    await until(() => fn.calls.length === 3);
    fn.calls[2]!.gate.resolve("C");
    await Promise.all([a.result(), b.result(), c.result()]);
    clock.advance(970);
    const done = runtime.metrics();
    expect(done).toMatchObject({ queuedInputs: 0, readySessions: 0, runningTurns: 0, outstandingCalls: 0 });
    expect(done).toMatchObject({ inputsAccepted: 3, turnsStarted: 3 });
    expect(done).toMatchObject({ uptimeMs: 1000, throughputPerSecond: 3 });
    expect(done.ended).toEqual({
      completed: 3,
      failed: 0,
      cancelled: 0,
      interrupted: 0,
      max_iterations: 0,
      withdrawn: 0,
    });
    // a started at once; b and c waited 30 ms for the one slot.
    const near = { maxMs: 30, p50Ms: 30, meanMs: 20 };
    expect(done.sendToStart).toMatchObject(lagReport({ count: 3, lastMs: 30 }, near, 1));
    for (const key of ["count", "lastMs", "maxMs", "meanMs", "p50Ms", "p99Ms"] as const) {
      expect(typeof done.dispatcherLag[key]).toBe("number");
    }
    await runtime.stop();
    expect(runtime.metrics().state).toBe("stopped");
  });
});
