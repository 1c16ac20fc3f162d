/**
 * Tools with `executor: "worker"`, in real worker threads (`createWorkerPool`, on piscina): they run
 * off the runtime's thread, a timeout or a cancel terminates the thread of a stuck synchronous tool
 * and the pool replaces it, and a tool that blocks its thread for 2 s delays no other session.
 */
import { threadId } from "node:worker_threads";
import { afterEach, describe, expect, it } from "vitest";
import { BootError, systemClock, type Tool, type ToolResultPart } from "../../src/index.js";
import { createWorkerPool, type WorkerPool } from "../../src/tools/worker/index.js";
import { thrownBy, until } from "../support/async.js";
import { lastToolResults, toolCall, toolsThenDone } from "../support/models.js";
import { startSession, testRuntime } from "../support/runtime.js";
import { block, broken, stuck, whereAmI } from "./fixtures/worker-tools.js";

/** A model that calls `toolName` with `input` on a turn's first step and answers "done" after. */
function calls(toolName: string, input: unknown = {}) {
  return toolsThenDone(() => [toolCall("c1", toolName, input)]);
}

/** A model that calls `stuck` for an input that says "spin", else `where_am_i`. */
function whereOrSpin() {
  return toolsThenDone((last) => [toolCall("c1", last.includes("spin") ? "stuck" : "where_am_i", {})]);
}

/** The tool result the model saw for the latest turn. */
function seen(model: ReturnType<typeof calls>): ToolResultPart["output"] {
  return lastToolResults(model.requests.at(-1)!)[0]!.output;
}

/** Waits, on the wall clock, for what other threads do (a thread's exit is not an event of this loop). */
async function threads(condition: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 5_000;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const pools: WorkerPool[] = [];
function pool(options: Parameters<typeof createWorkerPool>[0] = {}): WorkerPool {
  const created = createWorkerPool(options);
  pools.push(created);
  return created;
}
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

describe("worker tools", () => {
  it("run in a worker thread and their result reaches the model", async () => {
    const workers = pool({ maxThreads: 1 });
    const m = calls("where_am_i");
    const { runtime, s } = await startSession({ a: { model: m, tools: [whereAmI] } }, { workers });
    expect((await s.send("go").result()).output).toBe("done");
    const result = JSON.parse(String(seen(m).value)) as { threadId: number };
    expect(result.threadId).not.toBe(threadId);
    expect(workers.threadIds).toContain(result.threadId);
    await runtime.stop();
  });

  it("a tool that throws in its worker is a tool error with its message", async () => {
    const workers = pool({ maxThreads: 1 });
    const m = calls("broken");
    const { runtime, s } = await startSession({ a: { model: m, tools: [broken] } }, { workers });
    expect((await s.send("go").result()).output).toBe("done");
    expect(seen(m)).toEqual({ type: "error-text", value: expect.stringContaining("the mesh has no faces") });
    await runtime.stop();
  });

  it("a timeout terminates the thread of a stuck synchronous tool; the pool replaces it", async () => {
    const workers = pool({ minThreads: 1, maxThreads: 1 });
    const m = whereOrSpin();
    const stuckSoon: Tool = { ...stuck, timeoutMs: 300 };
    const { runtime, s, clock } = await startSession(
      { a: { model: m, tools: [stuckSoon, whereAmI] } },
      { workers },
    );
    await s.send("where").result();
    const before = (JSON.parse(String(seen(m).value)) as { threadId: number }).threadId;
    const spinning = s.send("spin");
    await until(() => runtime.metrics().outstandingCalls === 1 && m.requests.length === 3, "the stuck call");
    clock.advance(300);
    expect((await spinning.result()).output).toBe("done");
    expect(seen(m)).toEqual({
      type: "error-text",
      value: "the tool call was aborted: Error: stuck timed out after 300 ms",
    });
    // The only thread was stuck: a call runs again only because the pool replaced it.
    await s.send("where").result();
    const after = (JSON.parse(String(seen(m).value)) as { threadId: number }).threadId;
    expect(after).not.toBe(before);
    expect(workers.threadIds).not.toContain(before);
    await runtime.stop();
  });

  it("cancelling the turn terminates its stuck worker tool; the pool replaces the thread", async () => {
    const workers = pool({ minThreads: 1, maxThreads: 1 });
    const m = whereOrSpin();
    const { runtime, s } = await startSession({ a: { model: m, tools: [stuck, whereAmI] } }, { workers });
    await s.send("where").result();
    const before = (JSON.parse(String(seen(m).value)) as { threadId: number }).threadId;
    const h = s.send("spin");
    await until(
      () => runtime.metrics().outstandingCalls === 1 && workers.queued === 0,
      "the stuck call to run",
    );
    expect(await h.cancel()).toBe("cancelled");
    await threads(() => !workers.threadIds.includes(before), "the stuck thread to be terminated");
    await s.send("where").result();
    expect((JSON.parse(String(seen(m).value)) as { threadId: number }).threadId).not.toBe(before);
    await runtime.stop();
  });

  it("a tool that blocks its thread for 2 s delays no other session's turns", async () => {
    const workers = pool({ maxThreads: 2 });
    const m = calls("block", { ms: 2_000 });
    const { runtime } = testRuntime(
      { blocker: { model: m, tools: [block] }, echo: { run: async (input: unknown) => input } },
      { workers, clock: systemClock },
    );
    await runtime.start();
    const startedAt = performance.now();
    const blocked = runtime.session("b", { agent: "blocker" }).send("go");
    await until(
      () => runtime.metrics().outstandingCalls === 1 && m.requests.length === 1,
      "the blocking call",
    );
    const others = Array.from({ length: 20 }, (_, i) => runtime.session(`o${i}`, { agent: "echo" }));
    const latencies: number[] = [];
    for (let round = 0; round < 5; round++) {
      for (const session of others) {
        const sentAt = performance.now();
        await session.send(round).result();
        latencies.push(performance.now() - sentAt);
      }
    }
    const othersDoneAt = performance.now() - startedAt;
    expect(blocked.status).toBe("running");
    expect((await blocked.result()).output).toBe("done");
    const blockedDoneAt = performance.now() - startedAt;
    expect(latencies).toHaveLength(100);
    // 100 turns of other sessions all ended while the worker was still blocked, none waiting on it.
    expect(othersDoneAt).toBeLessThan(blockedDoneAt);
    expect(blockedDoneAt).toBeGreaterThanOrEqual(2_000);
    expect(Math.max(...latencies)).toBeLessThan(500);
    await runtime.stop();
  });
});

describe("worker tools: bad input", () => {
  it("an agent with a worker tool and no pool is refused at createRuntime (WORKER_POOL_MISSING)", () => {
    const error = thrownBy(() => testRuntime({ a: { model: calls("block"), tools: [block] } }));
    expect(error).toBeInstanceOf(BootError);
    expect((error as BootError).code).toBe("WORKER_POOL_MISSING");
    expect((error as Error).message).toContain('agents.a.tools[0] ("block") runs in a worker thread');
  });

  it("a worker tool whose module does not export it is a tool error naming the module and tool", async () => {
    const workers = pool({ maxThreads: 1 });
    const orphan: Tool = { ...block, name: "orphan" };
    const m = calls("orphan");
    const { runtime, s } = await startSession({ a: { model: m, tools: [orphan] } }, { workers });
    await s.send("go").result();
    expect(seen(m)).toEqual({
      type: "error-text",
      value: expect.stringContaining('worker-tools.ts exports no tool named "orphan"'),
    });
    await runtime.stop();
  });

  it("a worker tool without a module URL, and bad pool options, are typed errors", () => {
    const noModule = thrownBy(() =>
      testRuntime(
        { a: { model: calls("x"), tools: [{ ...block, module: undefined } as never] } },
        {
          workers: pool(),
        },
      ),
    );
    expect((noModule as BootError).code).toBe("INVALID_OPTIONS");
    expect((noModule as Error).message).toContain(
      "agents.a.tools[0].module must be the URL of a module that exports the tool",
    );
    for (const options of [
      { maxThreads: 0 },
      { minThreads: 3, maxThreads: 2 },
      { idleTimeoutMs: -1 },
      { threads: 2 },
    ]) {
      const error = thrownBy(() => createWorkerPool(options as never));
      expect((error as { code?: string }).code, JSON.stringify(options)).toBe("INVALID_ARGUMENT");
    }
  });
});
