import { describe, expect, it } from "vitest";
import {
  createMemoryStore,
  isOffstageError,
  type Model,
  type ModelPart,
  type ModelRequest,
  OffstageError,
  TurnCancelled,
  type TurnEvent,
  TurnTimeout,
} from "../../src/index.js";
import { deferred, flush, track, until } from "../support/async.js";
import { callTools, GatedModel, text, toolCall } from "../support/models.js";
import { gatedChat, gatedSession, startSession, testRuntime } from "../support/runtime.js";
import { GatedTool } from "../support/tools.js";

describe("status and poll", () => {
  it("moves queued → running → completed; poll() is undefined until settled", async () => {
    const { m, runtime, s } = await gatedChat();
    const h = s.send("hi");
    expect(h.status).toBe("queued");
    expect(h.done).toBe(false);
    expect(h.turnId).toBeUndefined();
    expect(h.poll()).toBeUndefined();
    await until(() => m.calls.length === 1);
    expect(h.status).toBe("running");
    expect(h.turnId).toBeDefined();
    expect(h.poll()).toBeUndefined();
    m.last.release(text("hello"));
    await until(() => h.done);
    expect(h.status).toBe("completed");
    expect(h.poll()).toEqual({
      status: "completed",
      outcome: { status: "completed", reason: { code: "ok", message: "model finished" }, output: "hello" },
    });
    const result = await h.result();
    expect(result).toMatchObject({
      inputId: h.id,
      sessionId: "s",
      turnId: h.turnId,
      status: "completed",
      output: "hello",
      usage: { inputTokens: 1, outputTokens: 1 },
    });
    await runtime.stop();
  });

  it("a failing model settles failed with model_error naming the cause; result() resolves", async () => {
    const { m, runtime, s } = await gatedChat();
    const h = s.send("hi");
    await until(() => m.calls.length === 1);
    m.last.fail(new Error("rate limited"));
    const result = await h.result();
    expect(result.status).toBe("failed");
    expect(result.reason.code).toBe("model_error");
    expect(result.reason.message).toContain("rate limited");
    await runtime.stop();
  });

  it("is not thenable, so `await handle` cannot mean waiting", async () => {
    const { runtime, s } = await startSession({ f: { run: async () => 1 } });
    const h = s.send("x");
    expect("then" in h).toBe(false);
    expect(await h).toBe(h);
    await h.result();
    await runtime.stop();
  });

  it("its receipt is stored with the memory store", async () => {
    const { runtime } = testRuntime({ f: { run: async () => 1 } });
    await runtime.start();
    expect(runtime.receipt).toBe("stored");
    const h = runtime.session("s", { agent: "f" }).send("x");
    expect(h.receipt).toBe("stored");
    expect(await h.stored()).toBe("stored");
    await h.result();
    await runtime.stop();
  });
});

describe("result()", () => {
  it("with a timeout → TurnTimeout on the virtual clock; the turn goes on", async () => {
    const { fn, runtime, clock, s } = await gatedSession();
    const h = s.send("x");
    await until(() => fn.calls.length === 1);
    const waiting = track(h.result({ timeoutMs: 250 }));
    clock.advance(249);
    await flush();
    expect(waiting.settled()).toBe(false);
    clock.advance(1);
    const error = await waiting.promise.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TurnTimeout);
    expect((error as TurnTimeout).code).toBe("TURN_TIMEOUT");
    expect((error as TurnTimeout).details).toMatchObject({
      inputId: h.id,
      status: "running",
      timeoutMs: 250,
    });
    expect(h.status).toBe("running");
    expect(fn.calls[0]!.signal.aborted).toBe(false);
    fn.calls[0]!.gate.resolve("late but fine");
    expect((await h.result({ timeoutMs: 1 })).output).toBe("late but fine");
    expect(clock.pending).toBe(1); // only the recovery poll: the timeout timers were cleared
    await runtime.stop();
  });

  it("a timeout of 0 on a settled handle resolves; on a running one it times out at once", async () => {
    const { fn, runtime, clock, s } = await gatedSession();
    const h = s.send("x");
    await until(() => fn.calls.length === 1);
    const waiting = h.result({ timeoutMs: 0 });
    clock.advance(0);
    await expect(waiting).rejects.toBeInstanceOf(TurnTimeout);
    fn.calls[0]!.gate.resolve("v");
    await until(() => h.done);
    expect((await h.result({ timeoutMs: 0 })).output).toBe("v");
    await runtime.stop();
  });

  it("with an AbortSignal: gives up with the signal's reason; the turn goes on", async () => {
    const { fn, runtime, s } = await gatedSession();
    const h = s.send("x");
    await until(() => fn.calls.length === 1);
    const controller = new AbortController();
    const waiting = h.result({ signal: controller.signal });
    const reason = new Error("host gave up");
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    await expect(h.result({ signal: AbortSignal.abort("already") })).rejects.toBe("already");
    expect(h.status).toBe("running");
    fn.calls[0]!.gate.resolve("ok");
    expect((await h.result({ signal: new AbortController().signal })).output).toBe("ok");
    await runtime.stop();
  });

  it("many waiters all settle", async () => {
    const { fn, runtime, s } = await gatedSession();
    const h = s.send("x");
    const waiters = Array.from({ length: 5 }, () => h.result());
    await until(() => fn.calls.length === 1);
    fn.calls[0]!.gate.resolve(42);
    for (const r of await Promise.all(waiters)) expect(r.output).toBe(42);
    await runtime.stop();
  });
});

describe("cancel()", () => {
  it("a model adapter that spreads its request still gets the abort signal", async () => {
    // An adapter that maps the request 1:1 onto a provider call, e.g. `doStream({ ...request })`.
    const seen: (AbortSignal | undefined)[] = [];
    const gate = deferred<ModelPart[]>();
    const model: Model = {
      id: "spreading",
      stream(request: ModelRequest) {
        const options = { ...request, providerOptions: {} };
        seen.push(options.abortSignal);
        return (async function* () {
          yield* await gate.promise;
        })();
      },
    };
    const { runtime, s } = await startSession({ chat: { model } });
    const h = s.send("hi");
    await until(() => seen.length === 1);
    expect(seen[0]).toBeInstanceOf(AbortSignal);
    expect(await h.cancel()).toBe("cancelled");
    expect(seen[0]?.aborted).toBe(true);
    gate.resolve(text("late"));
    await runtime.stop();
  });

  it("a model that answered synchronously, then streams in the background: a cancel still ends its call", async () => {
    // The synchronous answers were drained inline; the background one must still end on a cancel.
    let calls = 0;
    const gate = deferred<ModelPart[]>();
    const model: Model = {
      id: "switching",
      stream(request: ModelRequest) {
        calls += 1;
        if (calls <= 2) return text("at once");
        request.abortSignal.addEventListener("abort", () => gate.reject(request.abortSignal.reason));
        return (async function* () {
          yield* await gate.promise;
        })();
      },
    };
    const { runtime, s } = await startSession({ chat: { model } });
    expect((await s.send("one").result()).status).toBe("completed");
    expect((await s.send("two").result()).status).toBe("completed");
    const h = s.send("three");
    await until(() => calls === 3);
    expect(await h.cancel()).toBe("cancelled");
    await until(() => runtime.metrics().outstandingCalls === 0, "the call to end");
    expect(await runtime.stop({ timeoutMs: 2000 })).toBe("clean");
  });

  it("a function agent that spreads its context still gets the abort signal", async () => {
    const signals: AbortSignal[] = [];
    const { runtime } = testRuntime({
      f: {
        run: (_input, context) => {
          const { signal } = { ...context };
          signals.push(signal);
          return new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
        },
      },
    });
    await runtime.start();
    const h = runtime.session("s", { agent: "f" }).send("hi");
    await until(() => signals.length === 1);
    expect(await h.cancel()).toBe("cancelled");
    expect(signals[0]?.aborted).toBe(true);
    await runtime.stop();
  });

  it("immediate: aborts the model call at once and settles cancelled", async () => {
    const { m, runtime, s } = await gatedChat();
    const h = s.send("hi");
    await until(() => m.calls.length === 1);
    const status = await h.cancel({ reason: "user pressed stop" });
    expect(status).toBe("cancelled");
    expect(m.last.signal.aborted).toBe(true);
    expect(h.poll()!.outcome.reason).toEqual({ code: "cancel_requested", message: "user pressed stop" });
    const error = await h.result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TurnCancelled);
    expect(isOffstageError(error, "TURN_CANCELLED")).toBe(true);
    // Cancelling again is a no-op that reports the same status.
    expect(await h.cancel()).toBe("cancelled");
    // The session goes on.
    const next = s.send("again");
    await until(() => m.calls.length === 2);
    m.last.release(text("fine"));
    expect((await next.result()).output).toBe("fine");
    await runtime.stop();
  });

  it("after_step: lets the step's tools finish, then ends cancelled without another model call", async () => {
    const work = new GatedTool("work");
    const { m, runtime, s } = await gatedChat({ tools: [work.tool] });
    const h = s.send("go");
    await until(() => m.calls.length === 1);
    m.last.release(callTools(toolCall("c1", "work", {}), toolCall("c2", "work", {})));
    await until(() => work.calls.length === 2);
    const cancelling = track(h.cancel({ mode: "after_step" }));
    await flush();
    expect(cancelling.settled()).toBe(false);
    expect(h.status).toBe("running");
    expect(work.calls.every((c) => !c.context.signal.aborted)).toBe(true);
    work.calls[0]!.gate.resolve("one");
    await flush();
    expect(cancelling.settled()).toBe(false);
    work.calls[1]!.gate.resolve("two");
    expect(await cancelling.promise).toBe("cancelled");
    expect(m.calls).toHaveLength(1);
    expect(work.calls.every((c) => !c.context.signal.aborted)).toBe(true);
    // The finished step is in the history, results and all.
    const history = s.history();
    expect(history.map((message) => message.role)).toEqual(["user", "assistant", "tool"]);
    const results = history[2]!;
    expect(results.role === "tool" && results.content.map((r) => r.output.value)).toEqual(["one", "two"]);
    await runtime.stop();
  });

  it("a queued input is cancelled at once and never runs", async () => {
    const { fn, runtime, s } = await gatedSession();
    const a = s.send("a");
    const b = s.send("b");
    await until(() => fn.calls.length === 1);
    expect(await b.cancel({ reason: "changed my mind" })).toBe("cancelled");
    expect(b.poll()!.outcome.reason).toEqual({ code: "cancel_requested", message: "changed my mind" });
    await expect(b.result()).rejects.toBeInstanceOf(TurnCancelled);
    expect(a.status).toBe("running");
    fn.calls[0]!.gate.resolve("A");
    await a.result();
    await flush();
    expect(fn.calls).toHaveLength(1);
    expect(runtime.metrics().ended).toMatchObject({ cancelled: 1, completed: 1 });
    await runtime.stop();
  });

  it("a settled input is left as it is", async () => {
    const { runtime, s } = await startSession({ f: { run: async () => "v" } });
    const h = s.send("x");
    await h.result();
    expect(await h.cancel()).toBe("completed");
    expect(h.status).toBe("completed");
    await runtime.stop();
  });
});

describe("events", () => {
  it("yields turn.started, model.text, model.step, tool.started/ended, turn.ended in order, then ends", async () => {
    const echo = new GatedTool("echo");
    const { m, runtime, s } = await gatedChat({ tools: [echo.tool] });
    const h = s.send("go");
    const seen: TurnEvent[] = [];
    const consuming = (async () => {
      for await (const event of h) seen.push(event);
    })();
    await until(() => m.calls.length === 1);
    m.last.release([
      { type: "text-delta", id: "t", delta: "let me " },
      { type: "text-delta", id: "t", delta: "check" },
      ...callTools(toolCall("c1", "echo", { x: 1 })),
    ]);
    await until(() => echo.calls.length === 1);
    echo.calls[0]!.gate.resolve("echoed");
    await until(() => m.calls.length === 2);
    m.last.release(text("done"));
    await consuming;
    expect(seen.map((e) => e.type)).toEqual([
      "turn.started",
      "model.text",
      "model.text",
      "model.step",
      "tool.started",
      "tool.ended",
      "model.text",
      "model.step",
      "turn.ended",
    ]);
    expect(seen.filter((e) => e.type === "model.text").map((e) => e.delta)).toEqual([
      "let me ",
      "check",
      "done",
    ]);
    const started = seen.find((e) => e.type === "tool.started")!;
    const ended = seen.find((e) => e.type === "tool.ended")!;
    expect(started).toMatchObject({ toolName: "echo", toolCallId: "c1", turnId: h.turnId });
    expect(ended).toMatchObject({ toolName: "echo", toolCallId: "c1", isError: false });
    const last = seen.at(-1)!;
    expect(last.type === "turn.ended" && last.outcome.status).toBe("completed");
    expect(last.type === "turn.ended" && last.inputIds).toEqual([h.id]);
    // A settled handle's iterator ends at once.
    for await (const _ of h) throw new Error("a settled handle yielded an event");
    await runtime.stop();
  });

  it("a consumer that falls behind gets EVENT_BUFFER_OVERFLOW; the turn is unaffected", async () => {
    const chatty = {
      id: "chatty",
      stream: () => [
        ...Array.from({ length: 20 }, (_, i) => ({ type: "text-delta" as const, id: "t", delta: `${i}` })),
        { type: "finish" as const, finishReason: "stop" as const },
      ],
    };
    const { runtime, s } = await startSession(
      { chat: { model: chatty } },
      { limits: { handleEventBufferMax: 3 } },
    );
    const h = s.send("go");
    const iterator = h[Symbol.asyncIterator]();
    const first = iterator.next();
    const seen: unknown[] = [];
    let failure: unknown;
    try {
      seen.push(await first);
      for (;;) {
        const next = await iterator.next();
        if (next.done === true) break;
        seen.push(next.value);
      }
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(OffstageError);
    expect((failure as OffstageError).code).toBe("EVENT_BUFFER_OVERFLOW");
    expect((failure as Error).message).toContain("3 events");
    expect(seen.length).toBeLessThanOrEqual(4);
    const result = await h.result();
    expect(result.output).toBe(Array.from({ length: 20 }, (_, i) => `${i}`).join(""));
    await runtime.stop();
  });

  it("a withdrawn input's iterator ends", async () => {
    const { fn, runtime, s } = await gatedSession();
    s.send("a");
    const b = s.send("b");
    const seen: TurnEvent[] = [];
    const consuming = (async () => {
      for await (const event of b) seen.push(event);
    })();
    await until(() => fn.calls.length === 1);
    b.withdraw();
    await consuming;
    expect(seen).toEqual([]);
    fn.calls[0]!.gate.resolve(1);
    await runtime.stop({ drain: true });
  });
});

describe("runtime.handle()", () => {
  it("handle(id) returns the live handle of an input whose end waits for its commit", async () => {
    const m = new GatedModel();
    const { runtime } = testRuntime(
      { chat: { model: m } },
      { store: createMemoryStore({ endedInputsMax: 1 }) },
    );
    await runtime.start();
    const session = runtime.session("s", { agent: "chat" });
    session.send("running");
    await until(() => m.calls.length === 1);
    const b = session.send("b");
    const c = session.send("c");
    b.withdraw();
    c.withdraw();
    // Both ends wait for the commit (a microtask away): b's handle is still the live one.
    expect(runtime.handle(b.id)).toBe(b);
    m.last.release(text("done"));
    await runtime.stop();
  });
  it("finds live inputs (the same object) and ended ones (a settled handle from the store)", async () => {
    const { fn, runtime, s } = await gatedSession();
    const a = s.send("a");
    const b = s.send("b");
    const c = s.send("c");
    expect(runtime.handle(a.id)).toBe(a);
    expect(runtime.handle(b.id)).toBe(b);
    await until(() => fn.calls.length === 1);
    expect(runtime.handle(a.id)).toBe(a);
    fn.calls[0]!.gate.resolve("A");
    await a.result();
    await until(() => b.status === "running");
    expect(runtime.handle(b.id)).toBe(b);
    const ended = runtime.handle(a.id)!;
    expect(ended).toBeDefined();
    expect(ended.id).toBe(a.id);
    expect(ended.sessionId).toBe("s");
    expect(ended.status).toBe("completed");
    expect(ended.turnId).toBe(a.turnId);
    expect(ended.poll()!.status).toBe("completed");
    expect((await ended.result()).output).toBe("A");
    c.withdraw();
    await flush();
    expect(runtime.handle(c.id)!.status).toBe("withdrawn");
    await expect(runtime.handle(c.id)!.result()).rejects.toBeInstanceOf(TurnCancelled);
    fn.calls[1]!.gate.resolve("B");
    expect(runtime.handle("no-such-input")).toBeUndefined();
    await runtime.stop();
  });

  it("a queued input looked up while the runtime is stopped settles like the stop settled it, never hangs", async () => {
    const { fn, runtime, s } = await gatedSession();
    s.send("a");
    const b = s.send("b");
    await until(() => fn.calls.length === 1);
    await runtime.stop();
    const looked = runtime.handle(b.id)!;
    expect(looked.done).toBe(true);
    expect(looked.poll()!.outcome.reason.code).toBe("runtime_stopped");
    await expect(looked.result()).rejects.toBeInstanceOf(TurnCancelled);
    expect(await looked.cancel()).toBe("interrupted");
    await runtime.start();
    await until(() => fn.calls.length === 2);
    fn.calls[1]!.gate.resolve("B");
    expect((await runtime.handle(b.id)!.result()).output).toBe("B");
    await runtime.stop();
  });
});
