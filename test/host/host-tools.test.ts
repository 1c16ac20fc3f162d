/**
 * Tools with `executor: "host"` (seed 002's main-thread marshalling): a call waits in the host queue
 * until the host's loop drains it, runs on the host's thread, and comes back to the model; a call not
 * drained in time, or whose turn is cancelled, is taken out and never runs.
 */
import { describe, expect, it } from "vitest";
import { BootError, createHostQueue, defineTool, HostThreadError, isOffstageError } from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";
import { flush, thrownBy, until } from "../support/async.js";
import { lastToolResults, toolCall, toolsThenDone } from "../support/models.js";
import { startSession, testRuntime } from "../support/runtime.js";
import { tool } from "../support/tools.js";

/** A model that asks for `calls` on a turn's first step and answers "done" once it saw their results. */
function oneStep(...calls: ReturnType<typeof toolCall>[]) {
  return toolsThenDone(() => calls);
}

describe("host tools", () => {
  it("wait for drain(), run on the draining call's stack, and reach the model", async () => {
    const host = createHostQueue();
    let ranInsideDrain = false;
    let draining = false;
    const state = defineTool({
      name: "game_state",
      description: "reads the game state",
      schema: { type: "object", properties: { npc: { type: "string" } } },
      executor: "host",
      execute: (args: { npc: string }) => {
        ranInsideDrain = draining;
        return { npc: args.npc, hp: 7 };
      },
    });
    const m = oneStep(toolCall("c1", "game_state", { npc: "ada" }));
    const { runtime, s } = await startSession({ npc: { model: m, tools: [state] } }, { host });
    const h = s.send("look");
    await until(() => host.depth === 1, "the call to wait in the host queue");
    await flush();
    expect(h.status).toBe("running");
    expect(runtime.metrics().host?.depth).toBe(1);
    draining = true;
    expect(host.drain()).toBe(1);
    draining = false;
    expect(ranInsideDrain).toBe(true);
    expect((await h.result()).output).toBe("done");
    expect(lastToolResults(m.requests[1]!)[0]!.output).toEqual({
      type: "text",
      value: '{"npc":"ada","hp":7}',
    });
    const metrics = runtime.metrics().host!;
    expect(metrics.depth).toBe(0);
    expect(metrics.ran).toBe(1);
    expect(metrics.tools).toEqual([
      expect.objectContaining({
        name: "game_state",
        ran: 1,
        removed: 0,
        wait: expect.objectContaining({ count: 1 }),
      }),
    ]);
    await runtime.stop();
  });

  it("drain({ max, budgetMs }) bounds how many run and when to stop starting more", async () => {
    const clock = new VirtualClock();
    const host = createHostQueue({ clock });
    const ran: string[] = [];
    const slow = tool(
      "slow",
      (args) => {
        ran.push((args as { id: string }).id);
        clock.advance(3); // each call holds the host thread 3 ms
        return "ok";
      },
      { executor: "host" },
    );
    const calls = ["a", "b", "c", "d", "e"].map((id) => toolCall(id, "slow", { id }));
    const m = oneStep(...calls);
    const { runtime, s } = await startSession({ npc: { model: m, tools: [slow] } }, { host, clock });
    const h = s.send("go");
    await until(() => host.depth === 5, "five calls to wait");
    expect(host.drain({ max: 2 })).toBe(2);
    expect(ran).toEqual(["a", "b"]);
    // 3 ms per call: the budget of 5 ms is spent after two calls, so a third is not started.
    expect(host.drain({ budgetMs: 5 })).toBe(2);
    expect(host.drain({ budgetMs: 0 })).toBe(0);
    expect(host.drain()).toBe(1);
    expect(ran).toEqual(["a", "b", "c", "d", "e"]);
    expect((await h.result()).output).toBe("done");
    const metrics = runtime.metrics().host!;
    expect(metrics.longest).toEqual({ name: "slow", holdMs: 3 });
    expect(metrics.tools[0]).toMatchObject({ name: "slow", ran: 5, holdMaxMs: 3 });
    // Each waited for the holds before it: a 0 ms, b 3, c 6, d 9, e 12.
    expect(metrics.tools[0]!.wait.p50Ms).toBeCloseTo(6, 1);
    expect(metrics.tools[0]!.wait.p99Ms).toBeCloseTo(12, 1);
    await runtime.stop();
  });

  it("a call not drained within its timeout becomes a tool error naming the tool, and never runs", async () => {
    const host = createHostQueue();
    let ran = 0;
    const state = tool("game_state", () => ran++, { executor: "host", timeoutMs: 500 });
    const m = oneStep(toolCall("c1", "game_state", {}));
    const { runtime, s, clock } = await startSession({ npc: { model: m, tools: [state] } }, { host });
    const h = s.send("look");
    await until(() => host.depth === 1, "the call to wait");
    clock.advance(500);
    expect((await h.result()).output).toBe("done");
    expect(lastToolResults(m.requests[1]!)[0]!.output).toEqual({
      type: "error-text",
      value: 'host tool "game_state" was not run: it waited 500 ms for the host to call drain()',
    });
    expect(host.depth).toBe(0);
    expect(host.drain()).toBe(0);
    expect(ran).toBe(0);
    expect(runtime.metrics().host!.tools[0]).toMatchObject({ name: "game_state", ran: 0, removed: 1 });
    await runtime.stop();
  });

  it("cancelling the turn removes its queued calls; other sessions' calls stay", async () => {
    const host = createHostQueue();
    const ran: string[] = [];
    const state = tool("game_state", (_args, { sessionId }) => ran.push(sessionId), { executor: "host" });
    const m = oneStep(toolCall("c1", "game_state", {}), toolCall("c2", "game_state", {}));
    const { runtime } = await startSession({ npc: { model: m, tools: [state] } }, { host });
    const a = runtime.session("a", { agent: "npc" }).send("go");
    const b = runtime.session("b", { agent: "npc" }).send("go");
    await until(() => host.depth === 4, "four calls to wait");
    expect(await a.cancel()).toBe("cancelled");
    expect(host.depth).toBe(2);
    expect(host.drain()).toBe(2);
    expect(ran).toEqual(["b", "b"]);
    expect((await b.result()).output).toBe("done");
    expect(runtime.metrics().host!.tools[0]).toMatchObject({ ran: 2, removed: 2 });
    await runtime.stop();
  });

  it("stop() takes queued host calls out: the turn settles, and a later drain runs nothing", async () => {
    const host = createHostQueue();
    let ran = 0;
    const state = tool("game_state", () => ran++, { executor: "host" });
    const { runtime, s } = await startSession(
      { npc: { model: oneStep(toolCall("c1", "game_state", {})), tools: [state] } },
      { host },
    );
    const h = s.send("look");
    await until(() => host.depth === 1, "the call to wait");
    expect(await runtime.stop()).toBe("clean");
    expect(h.status).toBe("interrupted");
    expect(host.depth).toBe(0);
    expect(host.drain()).toBe(0);
    expect(ran).toBe(0);
  });

  it("a host call that holds the (shared) thread is reported as dispatcher.hog, labelled as a host tool", async () => {
    const host = createHostQueue();
    let clockRef: { advance(ms: number): void } | undefined;
    const heavy = tool("bake_lights", () => clockRef?.advance(80), { executor: "host" });
    const { runtime, s, clock } = await startSession(
      { npc: { model: oneStep(toolCall("c1", "bake_lights", {})), tools: [heavy] } },
      { host },
    );
    clockRef = clock;
    const hogs: unknown[] = [];
    runtime.on((event) => {
      if (event.type === "dispatcher.hog") hogs.push(event);
    });
    const h = s.send("go");
    await until(() => host.depth === 1, "the call to wait");
    host.drain();
    await h.result();
    expect(hogs).toEqual([
      { type: "dispatcher.hog", label: "host tool bake_lights", durationMs: 80, source: "call" },
    ]);
    await runtime.stop();
  });

  it("a host call that throws is a tool error; the queue goes on", async () => {
    const host = createHostQueue();
    const broken = tool(
      "broken",
      () => {
        throw new Error("no scene open");
      },
      { executor: "host" },
    );
    const m = oneStep(toolCall("c1", "broken", {}));
    const { runtime, s } = await startSession({ npc: { model: m, tools: [broken] } }, { host });
    const h = s.send("go");
    await until(() => host.depth === 1, "the call to wait");
    expect(host.drain()).toBe(1);
    expect((await h.result()).output).toBe("done");
    expect(lastToolResults(m.requests[1]!)[0]!.output).toEqual({
      type: "error-text",
      value: "broken failed: Error: no scene open",
    });
    await runtime.stop();
  });
});

describe("host tools: bad input", () => {
  it("an agent with a host tool and no host queue is refused at createRuntime, naming the tool", () => {
    const state = tool("game_state", () => 1, { executor: "host" });
    const error = thrownBy(() => testRuntime({ npc: { model: oneStep(), tools: [state] } }));
    expect(error).toBeInstanceOf(BootError);
    expect((error as BootError).code).toBe("INVALID_OPTIONS");
    expect((error as Error).message).toContain(
      'agents.npc.tools[0] ("game_state") runs on the host\'s thread',
    );
  });

  it("an unknown executor is refused by defineTool and by the runtime", () => {
    const byDefine = thrownBy(() =>
      defineTool({
        name: "x",
        description: "x",
        schema: { type: "object" },
        executor: "gpu" as never,
        execute: () => 1,
      }),
    );
    expect(isOffstageError(byDefine, "INVALID_ARGUMENT")).toBe(true);
    expect((byDefine as Error).message).toContain('executor must be one of inline, host, worker; got "gpu"');
    const byRuntime = thrownBy(() =>
      testRuntime({ npc: { model: oneStep(), tools: [tool("x", () => 1, { executor: "gpu" as never })] } }),
    );
    expect(isOffstageError(byRuntime, "INVALID_OPTIONS")).toBe(true);
    expect((byRuntime as Error).message).toContain('executor must be one of inline, host, worker; got "gpu"');
  });

  it("createHostQueue() with malformed options is refused", () => {
    for (const options of [null, 3, { clock: {} }, { clock: Date }, { clok: new VirtualClock() }]) {
      const error = thrownBy(() => createHostQueue(options as never));
      expect(isOffstageError(error, "INVALID_ARGUMENT"), String(options)).toBe(true);
    }
  });

  it("drain() with malformed options is refused and runs nothing", async () => {
    const host = createHostQueue();
    for (const options of [{ budgetMs: -1 }, { max: 0 }, { max: 1.5 }, { budget: 2 }, null]) {
      const error = thrownBy(() => host.drain(options as never));
      expect(isOffstageError(error, "INVALID_ARGUMENT"), JSON.stringify(options)).toBe(true);
    }
  });

  it("drain() from inside a turn, or from inside a host call, is WRONG_THREAD and runs nothing", async () => {
    const host = createHostQueue();
    let inner: unknown;
    const reentrant = tool(
      "reentrant",
      () => {
        inner = thrownBy(() => host.drain());
        return "ok";
      },
      { executor: "host" },
    );
    const drainer = tool("drainer", () => thrownBy(() => host.drain()) instanceof HostThreadError);
    const m = oneStep(toolCall("c1", "reentrant", {}), toolCall("c2", "drainer", {}));
    const { runtime, s } = await startSession({ npc: { model: m, tools: [reentrant, drainer] } }, { host });
    const h = s.send("go");
    await until(() => host.depth === 1, "the host call to wait");
    expect(host.drain()).toBe(1);
    expect(inner).toBeInstanceOf(HostThreadError);
    expect((inner as HostThreadError).code).toBe("WRONG_THREAD");
    expect((await h.result()).output).toBe("done");
    // The inline tool that tried to drain from inside its turn was refused.
    expect(lastToolResults(m.requests[1]!)[1]!.output).toEqual({ type: "text", value: "true" });
    await runtime.stop();
  });
});
