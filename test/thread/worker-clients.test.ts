import { MessageChannel, Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import type * as Root from "../../src/index.js";
import { MODULE, root, start, thread } from "./worker-harness.js";

const { startRuntimeWorker, connectRuntime } = thread;
const { createRuntime, createMemoryStore, isOffstageError, InvalidInputError } = root;

/** What `thrown` is, for an assertion: its class name and code. */
function caught(fn: () => unknown): { name: string; code: unknown } | undefined {
  try {
    fn();
  } catch (error) {
    return { name: (error as Error).name, code: (error as { code?: unknown }).code };
  }
  return undefined;
}

describe("clients in other threads", () => {
  it("a thread given runtime.port() holds a client: it sends, polls without yielding and gets typed errors", async () => {
    const runtime = await start();
    const reports = await Promise.all(
      ["a", "b"].map((name) => {
        const port = runtime.port();
        const worker = new Worker(new URL("./fixtures/other-thread.mjs", import.meta.url), {
          workerData: { port, session: `thread-${name}`, text: name },
          transferList: [port],
        });
        return new Promise<{ id: string; seen: string[]; output: unknown; error: unknown }>(
          (resolve, reject) => {
            worker.once("message", resolve);
            worker.once("error", reject);
          },
        );
      }),
    );
    for (const [i, name] of ["a", "b"].entries()) {
      const report = reports[i]!;
      expect(report.output).toBe(`echo: ${name}`);
      expect(report.seen.at(-1)).toBe("completed");
      expect(report.error).toEqual({ name: "InvalidInputError", code: "UNKNOWN_AGENT", typed: true });
      // The owner sees the other threads' inputs too.
      expect(runtime.handle(report.id)?.poll()?.outcome.output).toBe(`echo: ${name}`);
    }
    expect(runtime.sessionIds()).toEqual(expect.arrayContaining(["thread-a", "thread-b"]));
  });

  it("connectRuntime refuses anything but a fresh port from runtime.port()", () => {
    const { port1 } = new MessageChannel();
    expect(caught(() => connectRuntime(port1))).toEqual({
      name: "InvalidInputError",
      code: "INVALID_ARGUMENT",
    });
    port1.close();
  });
});

describe("the runtime's objects do not cross threads as plain copies", () => {
  it("posting a Session, a TurnHandle or a Runtime throws DataCloneError instead of cloning it", async () => {
    const runtime = createRuntime({
      store: createMemoryStore(),
      agents: { echo: { run: (x: unknown) => x } },
    });
    await runtime.start();
    const session = runtime.session("s", { agent: "echo" });
    const handle = session.send("x");
    const { port1, port2 } = new MessageChannel();
    for (const value of [session, handle, runtime, { nested: session }])
      expect(() => port1.postMessage(value)).toThrow(expect.objectContaining({ name: "DataCloneError" }));
    port1.close();
    port2.close();
    await runtime.stop();
  });

  it("so do a worker runtime's client, sessions and handles", async () => {
    const runtime = await start();
    const session = runtime.session("s", { agent: "echo" });
    const handle = session.send("x");
    const { port1, port2 } = new MessageChannel();
    for (const value of [session, handle, runtime])
      expect(() => port1.postMessage(value)).toThrow(expect.objectContaining({ name: "DataCloneError" }));
    port1.close();
    port2.close();
  });
});

describe("events and errors cross as typed values", () => {
  it("on() hears the runtime's events; result() throws TurnCancelled with the reason; handles settle with outputs", async () => {
    const runtime = await start();
    const types: string[] = [];
    runtime.on((event) => types.push(event.type));
    const session = runtime.session("e", { agent: "slow" });
    const running = session.send(60_000);
    const queued = session.send(5);
    queued.withdraw();
    await expect(queued.result()).rejects.toMatchObject({
      name: "TurnCancelled",
      details: { status: "withdrawn" },
    });
    expect(queued.poll()?.status).toBe("withdrawn");
    expect(caught(() => queued.withdraw())).toEqual({ name: "OffstageError", code: "NOT_WITHDRAWABLE" });
    expect(await running.cancel({ reason: "enough" })).toBe("cancelled");
    const error = await running.result().catch((e: unknown) => e);
    expect(isOffstageError(error, "TURN_CANCELLED")).toBe(true);
    expect((error as Root.TurnCancelled).details.reason).toEqual({
      code: "cancel_requested",
      message: "enough",
    });
    await expect(queued.result({ timeoutMs: 10 })).rejects.toMatchObject({ name: "TurnCancelled" });
    const failing = runtime.session("f", { agent: "fails" }).send("x");
    expect((await failing.result()).reason.code).toBe("function_error");
    expect(types).toEqual(expect.arrayContaining(["input.accepted", "turn.started", "turn.ended"]));
  });

  it("result({ timeoutMs }) throws TurnTimeout while the turn goes on", async () => {
    const runtime = await start();
    const slow = runtime.session("t", { agent: "slow" }).send(200);
    await expect(slow.result({ timeoutMs: 20 })).rejects.toMatchObject({
      name: "TurnTimeout",
      code: "TURN_TIMEOUT",
    });
    expect((await slow.result()).output).toBe("slept");
  });
});

describe("bad input to a worker runtime", () => {
  it("agents or options instead of a module: WORKER_NEEDS_MODULE, saying why", async () => {
    const agents = { echo: { run: (x: unknown) => x } };
    const error = await startRuntimeWorker({ agents } as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error).toMatchObject({ code: "WORKER_NEEDS_MODULE" });
    expect((error as Error).message).toMatch(/functions cannot cross to a worker thread/);
    await expect(startRuntimeWorker(MODULE, { data: { agents } })).rejects.toMatchObject({
      code: "WORKER_NEEDS_MODULE",
    });
  });

  it("a module that cannot be loaded or exports no options: a BootError, nothing left running", async () => {
    await expect(
      startRuntimeWorker(new URL("./fixtures/missing.mjs", import.meta.url)),
    ).rejects.toMatchObject({
      name: "BootError",
      code: "BOOT_FAILED",
    });
    await expect(startRuntimeWorker(MODULE, { exportName: "notOptions" })).rejects.toMatchObject({
      name: "BootError",
      code: "WORKER_MODULE_INVALID",
    });
    await expect(startRuntimeWorker(MODULE, { exportName: "nothing" })).rejects.toMatchObject({
      code: "WORKER_MODULE_INVALID",
    });
    await expect(startRuntimeWorker(MODULE, { callTimeoutMs: -1 })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
  });

  it("payloads that cannot cross (a function, a throwing getter, a proxy) are refused, and nothing is sent", async () => {
    const runtime = await start();
    const session = runtime.session("p", { agent: "echo" });
    const hostile = [
      () => 1,
      {
        get boom() {
          throw new Error("getter");
        },
      },
      new Proxy({}, {}),
      Symbol("s"),
    ];
    for (const payload of hostile)
      expect(caught(() => session.send(payload))).toEqual({
        name: "InvalidInputError",
        code: "INVALID_ARGUMENT",
      });
    expect(caught(() => runtime.session(42 as never, { agent: "echo" }))).toEqual({
      name: "InvalidInputError",
      code: "INVALID_ARGUMENT",
    });
    expect(caught(() => session.send("x", { policy: "sideways" as never }))).toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    expect(runtime.metrics().inputsAccepted).toBe(0);
    expect((await session.send("ok").result()).output).toBe("echo: ok");
  });
});
