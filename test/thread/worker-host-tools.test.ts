import { afterEach, describe, expect, it } from "vitest";
import { root, start, until } from "./worker-harness.js";

const { createHostQueue } = root;
const state = globalThis as { gameState?: string };

afterEach(() => {
  delete state.gameState;
});

/** Waits, yielding, until `predicate()` holds. */

describe("host tools of a worker runtime", () => {
  it("run on the thread that started the worker, inside its drain(), while that thread never yields", async () => {
    const host = createHostQueue();
    const runtime = await start({ host });
    state.gameState = "gold 42";
    const handle = runtime.session("h", { agent: "hosted" }).send("look");
    // The loop reads no handle until the call ran: receive() brings the worker's host call to the queue.
    let ran = 0;
    const deadline = performance.now() + 10_000;
    while (ran === 0 && performance.now() < deadline) {
      runtime.receive();
      ran += host.drain({ budgetMs: 2 });
    }
    while (handle.poll() === undefined && performance.now() < deadline) host.drain();
    expect(ran).toBe(1);
    expect(handle.poll()?.outcome.output).toBe('found: {"type":"text","value":"thread 0: gold 42"}');
    const forwarded = runtime.metrics().host;
    expect(forwarded?.ran).toBe(1);
    expect(forwarded?.tools.map((t) => [t.name, t.ran, t.removed])).toEqual([["read_state", 1, 0]]);
    expect(host.metrics().longest?.name).toBe("read_state");
  });

  it("a call the host does not drain within the tool's timeout becomes a tool error naming the tool, and leaves the queue", async () => {
    const host = createHostQueue();
    const runtime = await start({ host, data: { hostTimeoutMs: 100 } });
    const handle = runtime.session("t", { agent: "hosted" }).send("look");
    await until(() => host.depth === 1);
    const result = await handle.result({ timeoutMs: 5000 });
    expect(result.output).toMatch(/read_state/);
    expect(result.output).toMatch(/error-text/);
    await until(() => host.depth === 0);
    expect(runtime.metrics().host?.tools[0]?.removed).toBe(1);
  });

  it("cancelling the turn removes its queued host call", async () => {
    const host = createHostQueue();
    const runtime = await start({ host });
    const handle = runtime.session("c", { agent: "hosted" }).send("look");
    await until(() => host.depth === 1);
    expect(await handle.cancel()).toBe("cancelled");
    await until(() => host.depth === 0);
    expect(host.drain()).toBe(0);
  });

  it("without a host queue, the call fails as a tool error that says what to pass", async () => {
    const runtime = await start();
    const result = await runtime.session("n", { agent: "hosted" }).send("look").result({ timeoutMs: 5000 });
    expect(result.output).toMatch(/no host queue: pass \{ host: createHostQueue\(\) \}/);
  });

  it("a worker that dies takes its queued host calls out of the host's queue", async () => {
    const host = createHostQueue();
    const runtime = await start({ host });
    runtime.session("d", { agent: "hosted" }).send("look");
    await until(() => host.depth === 1);
    runtime.session("x", { agent: "exit" }).send("go");
    await until(() => runtime.state === "stopped");
    await until(() => host.depth === 0);
  });
});
