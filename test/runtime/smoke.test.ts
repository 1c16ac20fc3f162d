import { describe, expect, it } from "vitest";
import type { RuntimeEvent, Store } from "../../src/index.js";
import { createMemoryStore, createRuntime, silentLogger } from "../../src/index.js";
import { createNoopModel } from "../../src/testing/index.js";
import { eventually, until } from "../support/async.js";

describe("runtime smoke", () => {
  it("runs function and model turns", async () => {
    const runtime = createRuntime({
      logger: silentLogger,
      store: createMemoryStore(),
      agents: {
        echo: { run: async (input) => `echo ${String(input)}` },
        chat: {
          model: {
            id: "noop",
            stream: () => [
              { type: "text-delta", id: "t", delta: "hi" },
              { type: "finish", finishReason: "stop" },
            ],
          },
        },
      },
    });
    await runtime.start();
    const s = runtime.session("s1", { agent: "echo" });
    const h1 = s.send("a");
    const h2 = s.send("b");
    expect(h1.status).toBe("queued");
    expect((await h1.result()).output).toBe("echo a");
    expect((await h2.result()).output).toBe("echo b");
    const c = runtime.session("c1", { agent: "chat" });
    const r = await c.invoke("hello");
    expect(r.output).toBe("hi");
    expect(c.history()).toHaveLength(2);
    expect(await runtime.stop()).toBe("clean");
  });
});

describe("starting waiting turns", () => {
  /**
   * A runtime on `store` with two slots, sending one input to each of s1..s4: s1 and s2 take both
   * slots, s3 and s4 wait and start together when s1 and s2 finish.
   */
  async function fourSessions(store: Store, pollIntervalMs?: number) {
    const events: RuntimeEvent[] = [];
    const runtime = createRuntime({
      logger: silentLogger,
      store,
      agents: { chat: { model: createNoopModel() } },
      limits: { maxConcurrentTurns: 2 },
      ...(pollIntervalMs === undefined ? {} : { pollIntervalMs }),
    });
    runtime.on((event) => events.push(event));
    await runtime.start();
    const handles = ["s1", "s2", "s3", "s4"].map((id) => runtime.session(id, { agent: "chat" }).send("hi"));
    return { runtime, events, handles };
  }

  it("a turn end the store cannot write settles its handle store_failed; the other turns complete", async () => {
    const store = createMemoryStore();
    const endTurn = store.endTurn.bind(store);
    store.endTurn = (end) => {
      if (end.sessionId === "s3") throw new Error("disk full");
      endTurn(end);
    };
    const { runtime, events, handles } = await fourSessions(store);
    const [h1, h2, h3] = handles;
    for (const handle of [h1, h2]) expect((await handle!.result()).status).toBe("completed");
    await h3!.result().catch(() => undefined);
    expect(h3!.poll()?.outcome).toMatchObject({
      status: "interrupted",
      reason: { code: "store_failed", message: expect.stringContaining("disk full") },
    });
    expect(events.find((e) => e.type === "store.failed")).toMatchObject({ code: "STORE_FAILED" });
    // Its end fails at every try: the runtime recovers, runs it again, and fails again, until stopped.
    expect(await runtime.stop({ timeoutMs: 1_000 })).toBe("store_failed");
  });

  it("a turn whose start cannot be stored settles; once the store works, every input runs", async () => {
    const store = createMemoryStore();
    const startTurn = store.startTurn.bind(store);
    let failures = 0;
    store.startTurn = (start) => {
      if (start.sessionId === "s3" && failures++ === 0) throw new Error("disk full");
      startTurn(start);
    };
    const { runtime, events, handles } = await fourSessions(store, 5);
    await eventually(() => events.some((e) => e.type === "store.recovered"), "the store to recover");
    for (const handle of handles) {
      await handle.result({ timeoutMs: 5_000 }).catch(() => undefined);
      // A handle the failure settled (interrupted, store_failed): the input ran after the recovery.
      const settled = handle.status === "completed" ? handle : runtime.handle(handle.id)!;
      if (handle.status !== "completed") expect(handle.poll()?.outcome.reason.code).toBe("store_failed");
      await until(
        () => runtime.handle(settled.id)?.status === "completed",
        `input ${settled.id} to complete`,
      );
    }
    expect(failures).toBeGreaterThan(1);
    expect(events.filter((e) => e.type === "store.failed")).toHaveLength(1);
    // The failure is told once, as store.failed, not as an error event per failed call.
    expect(events.filter((e) => e.type === "error")).toEqual([]);
    expect(await runtime.stop()).toBe("clean");
  });
});

describe("defaults", () => {
  it("is durable by default: without a store the runtime uses the SQLite file", () => {
    // Nothing is opened before start(), so this touches no file.
    const runtime = createRuntime({ agents: { echo: { run: (input) => input } } });
    expect(runtime.receipt).toBe("durable");
  });
});
