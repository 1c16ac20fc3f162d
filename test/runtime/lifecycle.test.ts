import { describe, expect, it, vi } from "vitest";
import {
  BootError,
  createMemoryStore,
  createRuntime,
  isOffstageError,
  OffstageError,
  type Runtime,
  type RuntimeOptions,
  silentLogger,
  TurnCancelled,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";
import { flush, thrownBy, track, until } from "../support/async.js";
import { callTools, GatedModel, text, toolCall } from "../support/models.js";
import {
  busySession,
  gatedChat,
  gatedSession,
  spyStore,
  startSession,
  testRuntime,
} from "../support/runtime.js";
import { GatedTool } from "../support/tools.js";

const echo = { run: async (input: unknown) => `echo ${String(input)}` };
const model = { model: { id: "m", stream: () => text("hi") } };

/**
 * Each bad option with the text its message must quote. NaN and Infinity only check the type:
 * `describeValue` (src/errors.ts) renders them as `null`, a known gap reported to the lead.
 */
function badOptions(): [string, unknown, string][] {
  const tool = {
    name: "t",
    description: "d",
    inputSchema: {},
    check: () => ({ ok: true as const, value: {} }),
    execute: () => "",
  };
  return [
    ["options undefined", undefined, "undefined"],
    ["options null", null, "null (null)"],
    ["options a number", 5, "5 (number)"],
    ["agents missing", {}, "undefined"],
    ["agents null", { agents: null }, "null (null)"],
    ["agents a string", { agents: "echo" }, '"echo" (string)'],
    ["no agents", { agents: {} }, "{} (object)"],
    ["agent name with a space", { agents: { "bad name": echo } }, '"bad name" (string)'],
    ["agent name too long", { agents: { ["a".repeat(129)]: echo } }, '"aaaa'],
    ["agent null", { agents: { a: null } }, "null (null)"],
    ["agent a number", { agents: { a: 7 } }, "7 (number)"],
    ["agent with neither model nor run", { agents: { a: { system: "x" } } }, '{"system":"x"} (object)'],
    ["model without stream", { agents: { a: { model: { id: "m" } } } }, '"id":"m"'],
    ["modelCallsPerTurnMax 0", { agents: { a: { ...model, modelCallsPerTurnMax: 0 } } }, "0 (number)"],
    ["modelCallsPerTurnMax 1.5", { agents: { a: { ...model, modelCallsPerTurnMax: 1.5 } } }, "1.5 (number)"],
    [
      "toolCallsPerStepMax a string",
      { agents: { a: { ...model, toolCallsPerStepMax: "3" } } },
      '"3" (string)',
    ],
    ["maxOutputTokens NaN", { agents: { a: { ...model, maxOutputTokens: Number.NaN } } }, "(number)"],
    ["tools not an array", { agents: { a: { ...model, tools: "fs" } } }, '"fs" (string)'],
    ["a tool that is not an object", { agents: { a: { ...model, tools: [5] } } }, "5 (number)"],
    ["a tool without a name", { agents: { a: { ...model, tools: [{ ...tool, name: "" }] } } }, '"" (string)'],
    [
      "a tool without execute",
      { agents: { a: { ...model, tools: [{ ...tool, execute: undefined }] } } },
      "undefined",
    ],
    [
      "a tool without check",
      { agents: { a: { ...model, tools: [{ ...tool, check: "yes" }] } } },
      '"yes" (string)',
    ],
    [
      "a tool with a bad timeout",
      { agents: { a: { ...model, tools: [{ ...tool, timeoutMs: -1 }] } } },
      "-1 (number)",
    ],
    ["two tools with one name", { agents: { a: { ...model, tools: [tool, tool] } } }, '"t" (string)'],
    [
      "a delegating agent with a tool of its own named delegate",
      { agents: { a: { ...model, delegates: true, tools: [{ ...tool, name: "delegate" }] } } },
      '"delegate" (string)',
    ],
    ["system not a string", { agents: { a: { ...model, system: 42 } } }, "42 (number)"],
    ["onCrash unknown", { agents: { a: { ...echo, onCrash: "explode" } } }, '"explode" (string)'],
    ["maxAttempts 0", { agents: { a: { ...echo, maxAttempts: 0 } } }, "0 (number)"],
    ["limits not an object", { agents: { a: echo }, limits: 5 }, "5 (number)"],
    ["an unknown limit", { agents: { a: echo }, limits: { bogus: 1 } }, "limits.bogus is not a known key"],
    ["inboxLengthMax 0", { agents: { a: echo }, limits: { inboxLengthMax: 0 } }, "0 (number)"],
    [
      "payloadBytesMax Infinity",
      { agents: { a: echo }, limits: { payloadBytesMax: Number.POSITIVE_INFINITY } },
      "(number)",
    ],
    ["maxConcurrentTurns -2", { agents: { a: echo }, limits: { maxConcurrentTurns: -2 } }, "-2 (number)"],
    ["pollIntervalMs 0", { agents: { a: echo }, pollIntervalMs: 0 }, "0 (number)"],
    ["pollIntervalMs a string", { agents: { a: echo }, pollIntervalMs: "400" }, '"400" (string)'],
    ["slotQuantumMs -1", { agents: { a: echo }, slotQuantumMs: -1 }, "-1 (number)"],
    ["slotQuantumMs 1.5", { agents: { a: echo }, slotQuantumMs: 1.5 }, "1.5 (number)"],
    ["slotQuantumMs a string", { agents: { a: echo }, slotQuantumMs: "10" }, '"10" (string)'],
    ["hogThresholdMs NaN", { agents: { a: echo }, hogThresholdMs: Number.NaN }, "(number)"],
    ["store not a store", { agents: { a: echo }, store: { kind: "x" } }, '{"kind":"x"} (object)'],
    ["ids not a function", { agents: { a: echo }, ids: "uuid" }, '"uuid" (string)'],
    ["logger without warn/error", { agents: { a: echo }, logger: { info: 1 } }, '{"info":1} (object)'],
    ["clock without timers", { agents: { a: echo }, clock: { monotonicMs: 1 } }, '{"monotonicMs":1}'],
    ["wakes not a channel", { agents: { a: echo }, wakes: 3 }, "3 (number)"],
    ["yieldToLoop not a function", { agents: { a: echo }, yieldToLoop: true }, "true (boolean)"],
  ];
}

describe("createRuntime option validation", () => {
  it.each(badOptions())("%s → BootError INVALID_OPTIONS quoting the value", (_name, options, quoted) => {
    const thrown = thrownBy(() => createRuntime(options as RuntimeOptions));
    expect(thrown).toBeInstanceOf(BootError);
    expect((thrown as BootError).code).toBe("INVALID_OPTIONS");
    expect(isOffstageError(thrown, "INVALID_OPTIONS")).toBe(true);
    expect((thrown as Error).message).toContain(quoted);
  });

  it("starts nothing when the options are bad: no store opened, no timer set, nothing logged", () => {
    const spy = spyStore();
    const clock = new VirtualClock();
    const setTimeout = vi.spyOn(clock, "setTimeout");
    const logger = { warn: vi.fn(), error: vi.fn() };
    expect(() =>
      createRuntime({ agents: { a: echo }, store: spy.store, clock, logger, pollIntervalMs: -1 }),
    ).toThrow(BootError);
    expect(spy.opens).toBe(0);
    expect(spy.writes).toEqual([]);
    expect(setTimeout).not.toHaveBeenCalled();
    expect(logger.warn).not.toHaveBeenCalled();
    expect(logger.error).not.toHaveBeenCalled();
  });

  it("createRuntime itself starts nothing: state created, store unopened", () => {
    const spy = spyStore();
    const { runtime, clock } = testRuntime({ a: echo }, { store: spy.store });
    expect(runtime.state).toBe("created");
    expect(spy.opens).toBe(0);
    expect(clock.pending).toBe(0);
  });
});

describe("start", () => {
  it("start twice → BootError ALREADY_STARTED, while starting and while running", async () => {
    const { runtime } = testRuntime({ a: echo });
    const first = runtime.start();
    const during = runtime.start();
    await expect(during).rejects.toMatchObject({ name: "BootError", code: "ALREADY_STARTED" });
    await first;
    expect(runtime.state).toBe("running");
    await expect(runtime.start()).rejects.toBeInstanceOf(BootError);
    await expect(runtime.start()).rejects.toMatchObject({ code: "ALREADY_STARTED" });
    expect(runtime.state).toBe("running");
    await runtime.stop();
  });

  it("using a runtime before start → NOT_RUNNING", () => {
    const { runtime } = testRuntime({ a: echo });
    expect(() => runtime.session("s", { agent: "a" })).toThrow(OffstageError);
    try {
      runtime.session("s", { agent: "a" });
    } catch (error) {
      expect((error as OffstageError).code).toBe("NOT_RUNNING");
      expect((error as Error).message).toContain("created");
    }
  });

  it("send after stop → NOT_RUNNING", async () => {
    const { runtime, s } = await startSession({ a: echo });
    await runtime.stop();
    expect(() => s.send("x")).toThrow(expect.objectContaining({ code: "NOT_RUNNING" }));
    expect(runtime.metrics().inputsAccepted).toBe(0);
  });

  it("a store that fails to open → BootError BOOT_FAILED, state stopped, nothing running", async () => {
    const inner = createMemoryStore();
    const store = { ...inner, open: () => Promise.reject(new Error("disk on fire")) };
    const { runtime, clock } = testRuntime({ a: echo }, { store });
    const error = await runtime.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BootError);
    expect((error as BootError).code).toBe("BOOT_FAILED");
    expect((error as Error).message).toContain("disk on fire");
    expect((error as Error).cause).toBeInstanceOf(Error);
    expect(runtime.state).toBe("stopped");
    expect(clock.pending).toBe(0);
    expect(() => runtime.session("s", { agent: "a" })).toThrow(
      expect.objectContaining({ code: "NOT_RUNNING" }),
    );
    expect(await runtime.stop()).toBe("clean");
  });

  it("a store holding a session of an agent no longer defined → BootError UNKNOWN_AGENT", async () => {
    const store = createMemoryStore();
    const first = testRuntime({ old: echo }, { store }).runtime;
    await first.start();
    await first.session("s", { agent: "old" }).send("x").result();
    await first.stop();
    const { runtime, clock } = testRuntime({ fresh: echo }, { store });
    await expect(runtime.start()).rejects.toMatchObject({ name: "BootError", code: "UNKNOWN_AGENT" });
    await expect(runtime.start()).rejects.toThrow(/"old"/);
    expect(runtime.state).toBe("stopped");
    expect(clock.pending).toBe(0);
  });
});

describe("stop", () => {
  it("before start → clean, and the runtime can still start", async () => {
    const { runtime } = testRuntime({ a: echo });
    expect(await runtime.stop()).toBe("clean");
    expect(await runtime.stop({ drain: true })).toBe("clean");
    await runtime.start();
    expect((await runtime.session("s", { agent: "a" }).invoke("x")).output).toBe("echo x");
    expect(await runtime.stop()).toBe("clean");
  });

  it("is idempotent: a second call returns the first call's promise", async () => {
    const { runtime } = testRuntime({ a: echo });
    await runtime.start();
    const first = runtime.stop();
    const second = runtime.stop({ drain: true });
    expect(second).toBe(first);
    expect(await first).toBe("clean");
    expect(runtime.state).toBe("stopped");
    expect(runtime.stop()).toBe(first);
    expect(await runtime.stop()).toBe("clean");
  });

  it("start, stop, start works and queued inputs from before the stop run after the restart", async () => {
    const { fn, runtime, s } = await gatedSession();
    const a = s.send("a");
    const b = s.send("b");
    await until(() => a.status === "running");
    expect(b.status).toBe("queued");
    expect(await runtime.stop()).toBe("clean");
    expect(runtime.state).toBe("stopped");
    expect(a.poll()?.outcome.reason.code).toBe("runtime_stopped");
    expect(a.status).toBe("interrupted");
    expect(b.status).toBe("interrupted");
    expect(b.poll()?.outcome.reason.code).toBe("runtime_stopped");
    await expect(b.result()).rejects.toBeInstanceOf(TurnCancelled);
    // b never started: the function ran once, for a.
    expect(fn.calls.map((c) => c.input)).toEqual(["a"]);

    await runtime.start();
    expect(runtime.state).toBe("running");
    await until(() => fn.calls.length === 2);
    expect(fn.calls[1]!.input).toBe("b");
    const again = runtime.handle(b.id);
    expect(again).toBeDefined();
    expect(again).not.toBe(b);
    expect(again!.status).toBe("running");
    fn.calls[1]!.gate.resolve("done b");
    expect((await again!.result()).output).toBe("done b");
    // a was interrupted for good: it does not run again.
    expect(runtime.handle(a.id)!.status).toBe("interrupted");
    expect(fn.calls).toHaveLength(2);
    await runtime.stop();
  }, 10_000);

  it("start/stop cycles repeat", async () => {
    const { runtime } = testRuntime({ a: echo });
    for (let i = 0; i < 3; i++) {
      await runtime.start();
      expect((await runtime.session("s", { agent: "a" }).invoke(i)).output).toBe(`echo ${i}`);
      expect(await runtime.stop()).toBe("clean");
    }
    expect(runtime.state).toBe("stopped");
  });

  it("await using stops the runtime at scope exit, interrupting running work", async () => {
    const m = new GatedModel();
    let outer: Runtime | undefined;
    let handle: ReturnType<ReturnType<Runtime["session"]>["send"]> | undefined;
    {
      await using runtime = createRuntime({
        logger: silentLogger,
        store: createMemoryStore(),
        clock: new VirtualClock(),
        agents: { chat: { model: m } },
      });
      outer = runtime;
      await runtime.start();
      handle = runtime.session("s", { agent: "chat" }).send("hello");
      await until(() => m.calls.length === 1);
    }
    expect(outer.state).toBe("stopped");
    expect(handle.status).toBe("interrupted");
    expect(m.last.signal.aborted).toBe(true);
  });

  it("without drain: running turns end interrupted (runtime_stopped), their calls are aborted, queued handles settle", async () => {
    const { m, runtime, s } = await gatedChat();
    const other = runtime.session("t", { agent: "chat" });
    const a = s.send("a");
    const b = s.send("b");
    const c = other.send("c");
    await until(() => m.calls.length === 2);
    const status = await runtime.stop();
    expect(status).toBe("clean");
    for (const h of [a, c]) {
      expect(h.status).toBe("interrupted");
      expect(h.poll()!.outcome.reason.code).toBe("runtime_stopped");
    }
    expect(m.calls.every((call) => call.signal.aborted)).toBe(true);
    expect(m.calls).toHaveLength(2);
    expect(b.status).toBe("interrupted");
    expect(b.poll()!.outcome.reason.message).toContain("next start");
    const metrics = runtime.metrics();
    expect(metrics.runningTurns).toBe(0);
    expect(metrics.outstandingCalls).toBe(0);
    expect(metrics.queuedInputs).toBe(0);
  });

  it("with drain: finishes running and queued work, then reports clean", async () => {
    const { fn, runtime, s } = await gatedSession();
    const a = s.send("a");
    const b = s.send("b");
    await until(() => fn.calls.length === 1);
    const stopping = track(runtime.stop({ drain: true }));
    expect(runtime.state).toBe("stopping");
    fn.calls[0]!.gate.resolve("A");
    await until(() => fn.calls.length === 2, "b to start while draining");
    expect(stopping.settled()).toBe(false);
    fn.calls[1]!.gate.resolve("B");
    expect(await stopping.promise).toBe("clean");
    expect((await a.result()).output).toBe("A");
    expect((await b.result()).output).toBe("B");
    expect(runtime.metrics().ended.completed).toBe(2);
  });

  it("with drain and a deadline that passes: drained_with_discards; leftovers interrupted and kept queued", async () => {
    const { fn, runtime, clock, s } = await gatedSession();
    const a = s.send("a");
    const b = s.send("b");
    await until(() => fn.calls.length === 1);
    const stopping = track(runtime.stop({ drain: true, timeoutMs: 1000 }));
    clock.advance(999);
    await flush();
    expect(stopping.settled()).toBe(false);
    clock.advance(1);
    await until(stopping.settled, "stop to settle");
    expect(await stopping.promise).toBe("drained_with_discards");
    expect(fn.calls[0]!.signal.aborted).toBe(true);
    expect(fn.calls).toHaveLength(1);
    expect(a.poll()!.outcome).toMatchObject({ status: "interrupted", reason: { code: "runtime_stopped" } });
    expect(b.status).toBe("interrupted");
    // b was kept: it runs after the next start.
    await runtime.start();
    await until(() => fn.calls.length === 2);
    expect(fn.calls[1]!.input).toBe("b");
    fn.calls[1]!.gate.resolve("B");
    expect((await runtime.handle(b.id)!.result()).output).toBe("B");
    await runtime.stop();
  });

  it("a tool that ignores its abort past the deadline → timeout; with force → force_killed", async () => {
    for (const force of [false, true]) {
      const stuck = new GatedTool("stuck", { ignoreAbort: true });
      const m = { id: "m", stream: () => callTools(toolCall("c1", "stuck", {})) };
      const { runtime, clock, s } = await startSession({ chat: { model: m, tools: [stuck.tool] } });
      const h = s.send("go");
      await until(() => stuck.calls.length === 1);
      const stopping = track(runtime.stop({ timeoutMs: 500, force }));
      await flush();
      expect(h.status).toBe("interrupted");
      expect(stuck.calls[0]!.context.signal.aborted).toBe(true);
      expect(stopping.settled()).toBe(false);
      expect(runtime.metrics().outstandingCalls).toBe(1);
      clock.advance(500);
      expect(await stopping.promise).toBe(force ? "force_killed" : "timeout");
      expect(runtime.state).toBe("stopped");
      stuck.calls[0]!.gate.resolve("late");
      await flush();
      expect(runtime.metrics().outstandingCalls).toBe(0);
      expect(h.status).toBe("interrupted");
    }
  });

  it("a model that ignores its abort past the deadline → timeout", async () => {
    const m = new GatedModel({ ignoreAbort: true });
    const { runtime, clock, s } = await startSession({ chat: { model: m } });
    const h = s.send("go");
    await until(() => m.calls.length === 1);
    const stopping = track(runtime.stop({ timeoutMs: 200 }));
    await flush();
    expect(h.status).toBe("interrupted");
    expect(stopping.settled()).toBe(false);
    clock.advance(200);
    expect(await stopping.promise).toBe("timeout");
    m.last.release(text("too late"));
    await flush();
    expect(h.poll()!.outcome.status).toBe("interrupted");
    expect(runtime.metrics().outstandingCalls).toBe(0);
    // The interrupted turn left its user message; the late answer was dropped, never applied.
    expect(s.history().map((message) => message.role)).toEqual(["user"]);
    // And the runtime starts again after a timeout.
    await runtime.start();
    const next = s.send("again");
    await until(() => m.calls.length === 2);
    m.last.release(text("fresh"));
    expect((await next.result()).output).toBe("fresh");
    expect(await runtime.stop()).toBe("clean");
  });

  it("send, session and start during stopping → STOPPING", async () => {
    const { fn, runtime, s } = await busySession();
    const stopping = runtime.stop({ drain: true });
    expect(runtime.state).toBe("stopping");
    expect(() => s.send("late")).toThrow(expect.objectContaining({ code: "STOPPING" }));
    expect(() => runtime.session("t", { agent: "f" })).toThrow(expect.objectContaining({ code: "STOPPING" }));
    await expect(runtime.start()).rejects.toMatchObject({ name: "BootError", code: "STOPPING" });
    expect(runtime.metrics().inputsAccepted).toBe(1);
    fn.calls[0]!.gate.resolve("ok");
    expect(await stopping).toBe("clean");
  });

  it("emits runtime.started and runtime.stopped with the status", async () => {
    const { runtime } = testRuntime({ a: echo });
    const events: string[] = [];
    runtime.on((e) => {
      if (e.type === "runtime.started" || e.type === "runtime.stopped") events.push(JSON.stringify(e));
    });
    await runtime.start();
    await runtime.stop();
    expect(events).toEqual([
      JSON.stringify({ type: "runtime.started", recoveredInputs: 0, resumedTurns: 0 }),
      JSON.stringify({ type: "runtime.stopped", status: "clean" }),
    ]);
  });
});
