import { describe, expect, it } from "vitest";
import { createMemoryStore, createRuntime, silentLogger } from "../../src/index.js";

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

describe("defaults", () => {
  it("is durable by default: without a store the runtime uses the SQLite file", () => {
    // Nothing is opened before start(), so this touches no file.
    const runtime = createRuntime({ agents: { echo: { run: (input) => input } } });
    expect(runtime.receipt).toBe("durable");
  });
});
