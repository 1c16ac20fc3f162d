import { describe, expect, it } from "vitest";
import type * as Root from "../../src/index.js";
import { root, spin, spinUntil, start, until } from "./worker-harness.js";

const { isOffstageError, CapacityError } = root;

describe("a runtime in a worker thread", () => {
  it("poll() sees a handle go queued → running → completed while the host never yields", async () => {
    const runtime = await start();
    const session = runtime.session("s1", { agent: "slow" });
    // The second input waits in the inbox while the first runs: queued for as long as that takes.
    session.send(300);
    const handle = session.send(300);
    const statuses = spinUntil(
      () => handle.poll() !== undefined,
      () => handle.status,
    );
    expect(statuses).toEqual(["queued", "running", "completed"]);
    expect(handle.poll()?.outcome.output).toBe("slept");
  });

  it("runs a model turn with a tool call and answers result(), events and metrics", async () => {
    const runtime = await start();
    const session = runtime.session("a1", { agent: "assistant" });
    expect(session.agent).toBe("assistant");
    const handle = session.send("look k up");
    const types: string[] = [];
    for await (const event of handle) types.push(event.type);
    const result = await handle.result({ timeoutMs: 5000 });
    expect(result.output).toBe('found: {"type":"text","value":"value of k"}');
    expect(types).toContain("tool.ended");
    expect(types.at(-1)).toBe("turn.ended");
    expect(runtime.metrics().toolCalls.find((t) => t.name === "lookup")?.count).toBe(1);
    expect(runtime.sessionIds()).toContain("a1");
    expect(session.history().length).toBeGreaterThan(1);
    expect(runtime.handle(handle.id)?.poll()?.status).toBe("completed");
  });

  it("throws the runtime's typed errors on this side, with their code and class", async () => {
    const runtime = await start();
    let error: unknown;
    try {
      runtime.session("x", { agent: "nobody" });
    } catch (e) {
      error = e;
    }
    expect(isOffstageError(error, "UNKNOWN_AGENT")).toBe(true);
    const session = runtime.session("busy", { agent: "slow" });
    session.send(200);
    expect(() => session.send(1, { policy: "reject" })).toThrow(CapacityError);
    try {
      session.send(1, { policy: "reject" });
    } catch (e) {
      expect((e as Root.OffstageError).code).toBe("SESSION_BUSY");
    }
  });

  it("delegations and metrics come from the worker's runtime", async () => {
    const runtime = await start();
    const lead = runtime.session("lead", { agent: "assistant" });
    const sent = lead.delegate({ goal: "look k up" });
    expect(sent.status).toBe("dispatched");
    const id = (sent as { id: string }).id;
    expect(runtime.delegations.list().map((d) => d.id)).toContain(id);
    await until(() => runtime.delegations.get(id)?.running === false);
    expect(runtime.delegations.running).toBe(0);
    expect(runtime.delegations.interruptAll()).toBe(0);
    const metrics = runtime.metrics();
    expect(metrics.dispatcherLag.count).toBeGreaterThan(0);
    expect(metrics.dispatcherLag.maxMs).toBeGreaterThanOrEqual(metrics.dispatcherLag.p50Ms);
  });

  it("stop() reports the runtime's status (clean, drained_with_discards), is idempotent, and start() again works", async () => {
    const runtime = await start();
    expect(runtime.state).toBe("running");
    expect(spin(runtime.session("r", { agent: "echo" }).send("one"))?.status).toBe("completed");
    const first = runtime.stop();
    expect(runtime.stop()).toBe(first);
    expect(await first).toBe("clean");
    expect(runtime.state).toBe("stopped");
    expect(() => runtime.session("r")).toThrow(expect.objectContaining({ code: "NOT_RUNNING" }));
    await expect(runtime.start()).resolves.toBeUndefined();
    await expect(runtime.start()).rejects.toMatchObject({ code: "ALREADY_STARTED" });
    const slow = runtime.session("d", { agent: "slow" }).send(60_000);
    await until(() => slow.status === "running");
    expect(await runtime.stop({ drain: true, timeoutMs: 100 })).toBe("drained_with_discards");
    expect(slow.poll()?.status).toBe("interrupted");
  });
});
