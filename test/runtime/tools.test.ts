import { describe, expect, it } from "vitest";
import type { ToolContext } from "../../src/index.js";
import { flush, until } from "../support/async.js";
import { callTools, GatedModel, lastToolResults, scriptedModel, text, toolCall } from "../support/models.js";
import { startSession, testRuntime } from "../support/runtime.js";
import { GatedTool, tool } from "../support/tools.js";

/** A model that asks for `calls` on its first step and answers "done" after seeing the results. */
function oneStep(...calls: ReturnType<typeof toolCall>[]) {
  return scriptedModel((_request, call) => (call === 0 ? callTools(...calls) : text("done")));
}

describe("tool calls", () => {
  it("run in parallel within a step; results reach the model in call order", async () => {
    const slow = new GatedTool("slow");
    const m = oneStep(
      toolCall("a", "slow", { n: 1 }),
      toolCall("b", "slow", { n: 2 }),
      toolCall("c", "slow", { n: 3 }),
    );
    const { runtime, s } = await startSession({ chat: { model: m, tools: [slow.tool] } });
    const h = s.send("go");
    await until(() => slow.calls.length === 3, "all three tools to start before any finished");
    expect(runtime.metrics().outstandingCalls).toBe(3);
    expect(slow.calls.map((c) => c.args)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(slow.calls.map((c) => c.context.toolCallId)).toEqual(["a", "b", "c"]);
    expect(slow.calls[0]!.context).toMatchObject({ sessionId: "s", turnId: h.turnId });
    // Finish out of order.
    slow.calls[2]!.gate.resolve("third");
    slow.calls[0]!.gate.resolve({ first: true });
    await flush();
    expect(m.requests).toHaveLength(1);
    slow.calls[1]!.gate.resolve("second");
    expect((await h.result()).output).toBe("done");
    const results = lastToolResults(m.requests[1]!);
    expect(results.map((r) => [r.toolCallId, r.output])).toEqual([
      ["a", { type: "text", value: '{"first":true}' }],
      ["b", { type: "text", value: "second" }],
      ["c", { type: "text", value: "third" }],
    ]);
    await runtime.stop();
  });

  it.each([
    {
      name: "an unknown tool name",
      call: toolCall("x", "nope", {}),
      error: 'unknown tool "nope"; available tools: ok',
    },
    {
      name: "invalid JSON input",
      call: toolCall("x", "ok", "{not json"),
      error: "tool input is not valid JSON",
    },
    {
      name: "a failed check()",
      call: toolCall("x", "strict", { n: "one" }),
      error: "invalid arguments for strict: n must be a number",
    },
    {
      name: "a check() that throws",
      call: toolCall("x", "brittle", {}),
      error: "could not validate arguments for brittle: Error: schema exploded",
    },
    {
      name: "a thrown error",
      call: toolCall("x", "throws", {}),
      error: "throws failed: TypeError: bad thing",
    },
    { name: "a rejected promise", call: toolCall("x", "rejects", {}), error: "rejects failed: boom" },
  ])(
    "$name comes back to the model as an error-text tool result and the turn goes on",
    async ({ call, error }) => {
      const tools = [
        tool("ok", () => "fine"),
        tool("strict", () => "never", {
          check: (args) =>
            typeof (args as { n?: unknown }).n === "number"
              ? { ok: true, value: args }
              : { ok: false, message: "n must be a number" },
        }),
        tool("brittle", () => "never", {
          check: async () => {
            throw new Error("schema exploded");
          },
        }),
        tool("throws", () => {
          throw new TypeError("bad thing");
        }),
        tool("rejects", () => Promise.reject("boom")),
      ];
      const m = oneStep(call, toolCall("y", "ok", {}));
      const { runtime, s } = await startSession({ chat: { model: m, tools } });
      const h = s.send("go");
      const result = await h.result();
      expect(result.status).toBe("completed");
      expect(result.output).toBe("done");
      const [bad, good] = lastToolResults(m.requests[1]!);
      expect(bad!.output.type).toBe("error-text");
      expect(bad!.output.value).toContain(error);
      expect(good!.output).toEqual({ type: "text", value: "fine" });
      expect(runtime.metrics().outstandingCalls).toBe(0);
      await runtime.stop();
    },
  );

  it("check() may transform the arguments the tool receives", async () => {
    const seen: unknown[] = [];
    const typed = tool("typed", (args) => seen.push(args), {
      check: async (args) => ({ ok: true, value: { ...(args as object), checked: true } }),
    });
    const m = oneStep(toolCall("x", "typed", { n: 1 }));
    const { runtime } = testRuntime({ chat: { model: m, tools: [typed] } });
    await runtime.start();
    await runtime.session("s", { agent: "chat" }).send("go").result();
    expect(seen).toEqual([{ n: 1, checked: true }]);
    await runtime.stop();
  });

  it("an empty input string counts as {}", async () => {
    const seen: unknown[] = [];
    const m = oneStep(toolCall("x", "t", ""));
    const { runtime } = testRuntime({ chat: { model: m, tools: [tool("t", (args) => seen.push(args))] } });
    await runtime.start();
    await runtime.session("s", { agent: "chat" }).send("go").result();
    expect(seen).toEqual([{}]);
    await runtime.stop();
  });

  it("a tool past its timeout (virtual clock) is aborted and the model sees a timeout error", async () => {
    const slow = new GatedTool("slow", { timeoutMs: 1000 });
    const m = oneStep(toolCall("x", "slow", {}));
    const { runtime, clock, s } = await startSession({ chat: { model: m, tools: [slow.tool] } });
    const h = s.send("go");
    await until(() => slow.calls.length === 1);
    clock.advance(999);
    await flush();
    expect(slow.calls[0]!.context.signal.aborted).toBe(false);
    expect(m.requests).toHaveLength(1);
    clock.advance(1);
    expect(slow.calls[0]!.context.signal.aborted).toBe(true);
    expect((await h.result()).output).toBe("done");
    const [result] = lastToolResults(m.requests[1]!);
    expect(result!.output.type).toBe("error-text");
    expect(result!.output.value).toContain("timed out after 1000 ms");
    expect(runtime.metrics().outstandingCalls).toBe(0);
    await runtime.stop();
  });

  it("without its own timeout a tool gets limits.toolTimeoutMs", async () => {
    const slow = new GatedTool("slow");
    const m = oneStep(toolCall("x", "slow", {}));
    const { runtime, clock } = testRuntime(
      { chat: { model: m, tools: [slow.tool] } },
      { limits: { toolTimeoutMs: 300 } },
    );
    await runtime.start();
    const h = runtime.session("s", { agent: "chat" }).send("go");
    await until(() => slow.calls.length === 1);
    clock.advance(300);
    await h.result();
    expect(lastToolResults(m.requests[1]!)[0]!.output.value).toContain("timed out after 300 ms");
    await runtime.stop();
  });

  it("a tool receives an AbortSignal that fires when the turn is cancelled", async () => {
    const contexts: ToolContext[] = [];
    const waits = tool("waits", (_args, context) => {
      contexts.push(context);
      return new Promise((_resolve, reject) => {
        context.signal.addEventListener("abort", () => reject(context.signal.reason), { once: true });
      });
    });
    const m = oneStep(toolCall("x", "waits", {}));
    const { runtime, s } = await startSession({ chat: { model: m, tools: [waits] } });
    const h = s.send("go");
    await until(() => contexts.length === 1);
    expect(contexts[0]!.signal.aborted).toBe(false);
    expect(await h.cancel()).toBe("cancelled");
    expect(contexts[0]!.signal.aborted).toBe(true);
    await flush();
    expect(runtime.metrics().outstandingCalls).toBe(0);
    expect(m.requests).toHaveLength(1);
    // The history stays well-formed: the cut-off call has an error result.
    const history = s.history();
    expect(history.map((message) => message.role)).toEqual(["user", "assistant", "tool"]);
    const results = history[2]!;
    expect(results.role === "tool" && results.content[0]!.output.type).toBe("error-text");
    await runtime.stop();
  });

  it("tools are not dispatched for a turn cancelled while its model call ran", async () => {
    const m = new GatedModel();
    let ran = 0;
    const counted = tool("counted", () => {
      ran += 1;
    });
    const { runtime, s } = await startSession({ chat: { model: m, tools: [counted] } });
    const h = s.send("go");
    await until(() => m.calls.length === 1);
    const cancelling = h.cancel();
    m.last.release(callTools(toolCall("x", "counted", {})));
    expect(await cancelling).toBe("cancelled");
    await flush();
    expect(ran).toBe(0);
    await runtime.stop();
  });

  it("the model-call limit ends the turn max_iterations (model_call_limit); result() resolves", async () => {
    const m = scriptedModel((_r, call) => callTools(toolCall(`c${call}`, "again", {})));
    const again = tool("again", () => "more");
    const { runtime, s } = await startSession({
      chat: { model: m, tools: [again], modelCallsPerTurnMax: 3 },
    });
    const result = await s.send("loop").result();
    expect(result.status).toBe("max_iterations");
    expect(result.reason.code).toBe("model_call_limit");
    expect(result.reason.message).toContain("3 model calls");
    expect(m.requests).toHaveLength(3);
    // Every call got its result before the turn ended.
    expect(s.history().map((message) => message.role)).toEqual([
      "user",
      "assistant",
      "tool",
      "assistant",
      "tool",
      "assistant",
      "tool",
    ]);
    expect(runtime.metrics().ended.max_iterations).toBe(1);
    await runtime.stop();
  });

  it("limits.modelCallsPerTurnMax applies when the agent sets none", async () => {
    const m = scriptedModel((_r, call) => callTools(toolCall(`c${call}`, "again", {})));
    const { runtime } = testRuntime(
      { chat: { model: m, tools: [tool("again", () => "more")] } },
      { limits: { modelCallsPerTurnMax: 2 } },
    );
    await runtime.start();
    expect((await runtime.session("s", { agent: "chat" }).send("loop").result()).status).toBe(
      "max_iterations",
    );
    expect(m.requests).toHaveLength(2);
    await runtime.stop();
  });

  it("too many tool calls in one step: the excess get error results, the rest run", async () => {
    let ran = 0;
    const m = oneStep(toolCall("a", "t", {}), toolCall("b", "t", {}), toolCall("c", "t", {}));
    const { runtime } = testRuntime({
      chat: {
        model: m,
        toolCallsPerStepMax: 2,
        tools: [
          tool("t", () => {
            ran += 1;
            return "ran";
          }),
        ],
      },
    });
    await runtime.start();
    await runtime.session("s", { agent: "chat" }).send("go").result();
    expect(ran).toBe(2);
    const results = lastToolResults(m.requests[1]!);
    expect(results.map((r) => r.output.type)).toEqual(["text", "text", "error-text"]);
    expect(results[2]!.output.value).toContain("too many tool calls");
    await runtime.stop();
  });

  it("tool.ended events flag errors", async () => {
    const m = oneStep(toolCall("a", "nope", {}), toolCall("b", "t", {}));
    const { runtime } = testRuntime({ chat: { model: m, tools: [tool("t", () => "ok")] } });
    await runtime.start();
    const ended: [string, boolean][] = [];
    runtime.on((e) => {
      if (e.type === "tool.ended") ended.push([e.toolCallId, e.isError]);
    });
    await runtime.session("s", { agent: "chat" }).send("go").result();
    expect(ended.sort()).toEqual([
      ["a", true],
      ["b", false],
    ]);
    await runtime.stop();
  });
});
