/**
 * Model-step retries on a virtual clock: the policy (pure), how failures are read, and the runtime
 * retrying in place — backoff and `retry-after`, events, a cancel during the backoff, the idle
 * timeout, and a durable step checkpoint that a retry does not rewrite.
 */
import { describe, expect, it } from "vitest";
import { ModelCallError, type ModelPart, type RuntimeEvent } from "../../src/index.js";
import { decideRetry, type RetryPolicy } from "../../src/kernel/retry-policy.js";
import { classifyModelError, retryAfterOf } from "../../src/runtime/ports/model-failure.js";
import { flush, until } from "../support/async.js";
import { callTools, GatedModel, scriptedModel, text, toolCall } from "../support/models.js";
import { spyStore, testRuntime } from "../support/runtime.js";
import { tool } from "../support/tools.js";

const POLICY: RetryPolicy = {
  attemptsMax: 4,
  backoffMs: 1_000,
  backoffMaxMs: 5_000,
  factor: 2,
  retryAfterMaxMs: 60_000,
  idleTimeoutMs: 10_000,
};

describe("decideRetry", () => {
  it("backs off exponentially with equal jitter, capped", () => {
    expect(decideRetry(POLICY, 1, undefined, 0)).toEqual({ retry: true, delayMs: 500 });
    expect(decideRetry(POLICY, 1, undefined, 0.999999)).toEqual({ retry: true, delayMs: 1_000 });
    expect(decideRetry(POLICY, 2, undefined, 0)).toEqual({ retry: true, delayMs: 1_000 });
    expect(decideRetry(POLICY, 3, undefined, 1)).toEqual({ retry: true, delayMs: 4_000 });
    expect(decideRetry({ ...POLICY, attemptsMax: 10 }, 8, undefined, 1)).toEqual({
      retry: true,
      delayMs: 5_000,
    });
  });

  it("waits at least the provider's retry-after, and refuses one longer than retryAfterMaxMs", () => {
    expect(decideRetry(POLICY, 1, 30_000, 0.5)).toEqual({ retry: true, delayMs: 30_000 });
    expect(decideRetry(POLICY, 1, 10, 0)).toEqual({ retry: true, delayMs: 500 });
    const refused = decideRetry(POLICY, 1, 61_000, 0);
    expect(refused.retry).toBe(false);
    expect(!refused.retry && refused.why).toContain("61000 ms");
  });

  it("stops after attemptsMax tries", () => {
    expect(decideRetry(POLICY, 4, undefined, 0)).toEqual({ retry: false, why: "gave up after 4 tries" });
    expect(decideRetry({ ...POLICY, attemptsMax: 1 }, 1, undefined, 0).retry).toBe(false);
  });
});

describe("reading failures", () => {
  it("reads retry-after as seconds, milliseconds or an HTTP date; ignores garbage", () => {
    expect(retryAfterOf({ "retry-after": "2" })).toBe(2_000);
    expect(retryAfterOf({ "Retry-After": "0.5" })).toBe(500);
    expect(retryAfterOf({ "retry-after-ms": "250", "retry-after": "9" })).toBe(250);
    expect(retryAfterOf({ "retry-after": "Thu, 01 Jan 1970 00:00:05 GMT" }, 1_000)).toBe(4_000);
    expect(retryAfterOf({ "retry-after": "soon" })).toBeUndefined();
    expect(retryAfterOf(undefined)).toBeUndefined();
  });

  it("retries 408, 409, 429, 5xx, dropped connections and timeouts; not 400-404 or plain errors", () => {
    const status = (statusCode: number) => classifyModelError(Object.assign(new Error("x"), { statusCode }));
    for (const code of [408, 409, 429, 500, 503, 529])
      expect(status(code).retryable, String(code)).toBe(true);
    for (const code of [400, 401, 403, 404, 422]) expect(status(code).retryable, String(code)).toBe(false);
    const reset = new TypeError("fetch failed", {
      cause: Object.assign(new Error("socket"), { code: "ECONNRESET" }),
    });
    expect(classifyModelError(reset).retryable).toBe(true);
    expect(classifyModelError(new TypeError("terminated")).retryable).toBe(true);
    expect(classifyModelError(new DOMException("late", "TimeoutError")).retryable).toBe(true);
    expect(classifyModelError(new Error("the model is confused")).retryable).toBe(false);
    expect(classifyModelError(new ModelCallError("busy", { retryable: true, retryAfterMs: 7 }))).toEqual({
      retryable: true,
      statusCode: undefined,
      retryAfterMs: 7,
    });
  });

  it("never throws on hostile values", () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error("no");
        },
      },
    );
    expect(classifyModelError(hostile).retryable).toBe(false);
    expect(classifyModelError(Object.create(null)).retryable).toBe(false);
    expect(classifyModelError(42).retryable).toBe(false);
  });
});

/** A step that fails with a retryable provider error. */
function busy(retryAfterMs?: number): Error {
  return new ModelCallError("loopback: HTTP 429: slow down", {
    statusCode: 429,
    retryable: true,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}

describe("retries in the runtime", () => {
  it("retries in place after the backoff; each retry is an event; the answer completes the turn", async () => {
    const model = scriptedModel((_, i) => (i < 2 ? busy() : text("finally")));
    const { runtime, clock } = testRuntime(
      { a: { model, retry: { backoffMs: 100, attemptsMax: 3 } } },
      { random: () => 0 },
    );
    const events: RuntimeEvent[] = [];
    runtime.on((e) => events.push(e));
    await runtime.start();
    const handle = runtime.session("s", { agent: "a" }).send("go");
    await until(() => model.requests.length === 1);
    await flush();
    expect(events.filter((e) => e.type === "model.retry")).toMatchObject([
      { failedTry: 1, delayMs: 50, statusCode: 429 },
    ]);
    clock.advance(50);
    await until(() => model.requests.length === 2);
    await flush();
    expect(events.filter((e) => e.type === "model.retry")).toHaveLength(2);
    clock.advance(100);
    const result = await handle.result({ timeoutMs: 1_000 });
    expect(result.output).toBe("finally");
    expect(model.requests).toHaveLength(3);
    // Every try sees the same prompt: a retry starts the step clean.
    expect(model.requests[2]!.prompt).toEqual(model.requests[0]!.prompt);
    await runtime.stop();
  });

  it("fails with the provider's message after attemptsMax tries", async () => {
    const model = scriptedModel(() => busy());
    const { runtime, clock } = testRuntime({ a: { model, retry: { backoffMs: 10, attemptsMax: 2 } } });
    await runtime.start();
    const handle = runtime.session("s", { agent: "a" }).send("go");
    await until(() => model.requests.length === 1);
    await flush();
    clock.advance(10);
    const result = await handle.result({ timeoutMs: 1_000 });
    expect(result.status).toBe("failed");
    expect(result.reason).toEqual({
      code: "model_error",
      message: "loopback: HTTP 429: slow down (gave up after 2 tries)",
    });
    await runtime.stop();
  });

  it("does not retry a plain error, nor wait for a retry-after longer than retryAfterMaxMs", async () => {
    const plain = scriptedModel(() => new Error("bad request body"));
    const long = scriptedModel(() => busy(120_000));
    const { runtime } = testRuntime({ plain: { model: plain }, long: { model: long } });
    await runtime.start();
    const a = await runtime.session("p", { agent: "plain" }).send("go").result({ timeoutMs: 1_000 });
    expect(a.reason.message).toBe("Error: bad request body");
    const b = await runtime.session("l", { agent: "long" }).send("go").result({ timeoutMs: 1_000 });
    expect(b.reason.message).toContain("asked to wait 120000 ms, longer than retry.retryAfterMaxMs");
    expect(plain.requests).toHaveLength(1);
    expect(long.requests).toHaveLength(1);
    await runtime.stop();
  });

  it("a cancel during the backoff settles at once, without the clock moving", async () => {
    const model = scriptedModel(() => busy(50_000));
    const { runtime } = testRuntime({ a: { model } });
    await runtime.start();
    const handle = runtime.session("s", { agent: "a" }).send("go");
    await until(() => model.requests.length === 1);
    await flush();
    expect(await handle.cancel({ mode: "immediate" })).toBe("cancelled");
    await flush();
    expect(runtime.metrics().outstandingCalls).toBe(0);
    expect(model.requests).toHaveLength(1);
    expect(await runtime.stop({ timeoutMs: 100 })).toBe("clean");
  });

  it("abandons a try that streams nothing for idleTimeoutMs, and retries it", async () => {
    const model = new GatedModel();
    const { runtime, clock } = testRuntime(
      { a: { model, retry: { idleTimeoutMs: 1_000, backoffMs: 1 } } },
      { random: () => 0 },
    );
    const events: RuntimeEvent[] = [];
    runtime.on((e) => events.push(e));
    await runtime.start();
    const handle = runtime.session("s", { agent: "a" }).send("go");
    await until(() => model.calls.length === 1);
    clock.advance(999);
    await flush();
    expect(model.calls).toHaveLength(1);
    clock.advance(1);
    await until(() => events.some((e) => e.type === "model.retry"));
    expect(model.calls[0]!.signal.aborted).toBe(true);
    clock.advance(1);
    await until(() => model.calls.length === 2);
    model.last.release(text("second try"));
    expect((await handle.result({ timeoutMs: 1_000 })).output).toBe("second try");
    await runtime.stop();
  });

  it("a retry of step 2 does not rewrite the step-1 checkpoint", async () => {
    const spy = spyStore();
    const model = scriptedModel((_, i) =>
      i === 0 ? callTools(toolCall("c1", "echo", {})) : i === 1 ? busy() : text("done"),
    );
    const { runtime, clock } = testRuntime(
      { a: { model, tools: [tool("echo", () => "echoed")], retry: { backoffMs: 10 } } },
      { store: spy.store },
    );
    await runtime.start();
    const handle = runtime.session("s", { agent: "a" }).send("go");
    await until(() => model.requests.length === 2);
    await flush();
    clock.advance(10);
    expect((await handle.result({ timeoutMs: 1_000 })).output).toBe("done");
    const checkpoints = spy.writes.filter((w) => w.method === "checkpoint");
    expect(checkpoints).toHaveLength(1);
    expect(checkpoints[0]!.arg).toMatchObject({ step: 1 });
    await runtime.stop();
  });

  it("a part streamed after a failure of the same try is ignored", async () => {
    const parts: ModelPart[] = [
      { type: "text-delta", id: "t", delta: "half" },
      { type: "error", error: busy() },
      { type: "text-delta", id: "t", delta: "ignored" },
    ];
    const model = scriptedModel((_, i) => (i === 0 ? parts : text("clean")));
    const { runtime, clock } = testRuntime({ a: { model, retry: { backoffMs: 4 } } }, { random: () => 0 });
    await runtime.start();
    const handle = runtime.session("s", { agent: "a" }).send("go");
    await until(() => model.requests.length === 1);
    await flush();
    clock.advance(2);
    expect((await handle.result({ timeoutMs: 1_000 })).output).toBe("clean");
    await runtime.stop();
  });
});

describe("what a model streams is checked", () => {
  it("token counts that are not numbers are left out of usage, never summed as text", async () => {
    const model = scriptedModel(() => [
      { type: "text-delta", id: "t", delta: "ok" },
      { type: "finish", finishReason: "stop", usage: { inputTokens: "12", outputTokens: {} } as never },
    ]);
    const { runtime } = testRuntime({ a: { model } });
    await runtime.start();
    const result = await runtime.session("s", { agent: "a" }).send("go").result({ timeoutMs: 1_000 });
    expect(result.usage).toEqual({ inputTokens: 0, outputTokens: 0 });
    await runtime.stop();
  });

  it("a malformed part fails the step with a reason naming it", async () => {
    const model = scriptedModel(() => [
      { type: "tool-call", toolCallId: 1, toolName: "x", input: "{}" } as never,
    ]);
    const { runtime } = testRuntime({ a: { model } });
    await runtime.start();
    const result = await runtime.session("s", { agent: "a" }).send("go").result({ timeoutMs: 1_000 });
    expect(result.reason.message).toContain("malformed tool-call part");
    await runtime.stop();
  });
});
