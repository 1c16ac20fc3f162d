/**
 * What a real agent needs around its model: a system prompt that depends on the session, settings
 * per agent, a `prepareStep` hook that windows the prompt without changing what is stored (with
 * `lastMessages` and `fitTokenBudget`), a function agent's output kept in history, and the checks
 * of all of it.
 */
import { describe, expect, it } from "vitest";
import {
  type Agent,
  type BootError,
  estimateTokens,
  fitTokenBudget,
  lastMessages,
  type Message,
  userMessage,
} from "../../src/index.js";
import { assistantMessage } from "../../src/kernel/messages.js";
import { flush, until } from "../support/async.js";
import { callTools, scriptedModel, text, toolCall } from "../support/models.js";
import { testRuntime } from "../support/runtime.js";
import { tool } from "../support/tools.js";

const u = (t: string): Message => userMessage(t);
const a = (t: string): Message => assistantMessage(t);
const call = (id: string): Message => ({
  role: "assistant",
  content: [{ type: "tool-call", toolCallId: id, toolName: "t", input: "{}" }],
});
const result = (id: string): Message => ({
  role: "tool",
  content: [{ type: "tool-result", toolCallId: id, toolName: "t", output: { type: "text", value: "r" } }],
});

describe("lastMessages and fitTokenBudget", () => {
  const history = [u("u1"), a("a1"), u("u2"), call("c1"), result("c1"), call("c2"), result("c2")];

  it("lastMessages begins the window at a user message, reaching back when the tail holds none", () => {
    expect(lastMessages(history, 6)).toEqual(history.slice(2));
    expect(lastMessages(history, 4)).toEqual(history.slice(2));
    expect(lastMessages(history, 7)).toEqual(history);
    expect(lastMessages([u("x"), a("y")], 1)).toEqual([u("x"), a("y")]);
    expect(lastMessages(history, 0)).toEqual(history.slice(2));
    expect(() => lastMessages(history, -1)).toThrow(RangeError);
  });

  it("fitTokenBudget keeps the longest tail of whole exchanges under the budget, and always the last", () => {
    const long = [u("a".repeat(400)), a("b".repeat(400)), u("c".repeat(40)), a("d".repeat(40))];
    expect(fitTokenBudget(long, 1_000)).toEqual(long);
    expect(fitTokenBudget(long, 100)).toEqual(long.slice(2));
    expect(fitTokenBudget(long, 1)).toEqual(long.slice(2));
    expect(estimateTokens(u("abcdefgh"))).toBe(2);
    expect(
      estimateTokens({ role: "user", content: [{ type: "file", mediaType: "image/png", data: "AAAA" }] }),
    ).toBe(1_000);
  });
});

describe("system prompt, settings and prepareStep", () => {
  it("a system function is called once per turn with the session; its answer opens every step", async () => {
    const seen: { sessionId: string; history: number }[] = [];
    const model = scriptedModel((_, i) =>
      i % 2 === 0 ? callTools(toolCall(`c${i}`, "echo", {})) : text("ok"),
    );
    const { runtime } = testRuntime({
      a: {
        model,
        tools: [tool("echo", () => "echoed")],
        system: async ({ sessionId, history }) => {
          seen.push({ sessionId, history: history.length });
          return `You help ${sessionId}.`;
        },
      },
    });
    await runtime.start();
    const session = runtime.session("ada", { agent: "a" });
    await session.send("one").result({ timeoutMs: 1_000 });
    await session.send("two").result({ timeoutMs: 1_000 });
    expect(seen).toEqual([
      { sessionId: "ada", history: 0 },
      { sessionId: "ada", history: 4 },
    ]);
    for (const request of model.requests)
      expect(request.prompt[0]).toEqual({ role: "system", content: "You help ada." });
    expect(session.history().some((m) => m.role === "system")).toBe(false);
    await runtime.stop();
  });

  it("a system function that throws or returns no string fails the turn with context_error", async () => {
    const model = scriptedModel(() => text("never"));
    const { runtime } = testRuntime({
      throws: {
        model,
        system: () => {
          throw new Error("profile service down");
        },
      },
      bad: { model, system: (() => 42) as unknown as () => string },
    });
    await runtime.start();
    const one = await runtime.session("x", { agent: "throws" }).send("go").result({ timeoutMs: 1_000 });
    expect(one.reason).toEqual({ code: "context_error", message: "Error: profile service down" });
    const two = await runtime.session("y", { agent: "bad" }).send("go").result({ timeoutMs: 1_000 });
    expect(two.reason.code).toBe("context_error");
    expect(two.reason.message).toContain("must return a string");
    expect(model.requests).toHaveLength(0);
    await runtime.stop();
  });

  it("prepareStep windows the prompt and changes one call's settings; the stored history stays whole", async () => {
    const model = scriptedModel(() => text("fine"));
    const agent: Agent = {
      model,
      system: "base",
      temperature: 0.2,
      providerOptions: { p: { a: 1, b: 1 } },
      tools: [tool("one", () => 1), tool("two", () => 2)],
      prepareStep: ({ messages, step, system }) => ({
        messages: lastMessages(messages, 1),
        system: `${system} (step ${step})`,
        activeTools: ["two"],
        providerOptions: { p: { b: 2 } },
      }),
    };
    const { runtime } = testRuntime({ a: agent });
    await runtime.start();
    const session = runtime.session("s", { agent: "a" });
    for (const t of ["first", "second", "third"]) await session.send(t).result({ timeoutMs: 1_000 });
    const last = model.requests.at(-1)!;
    expect(last.prompt).toEqual([{ role: "system", content: "base (step 1)" }, userMessage("third")]);
    expect(last.tools.map((t) => t.name)).toEqual(["two"]);
    expect(last.temperature).toBe(0.2);
    expect(last.providerOptions).toEqual({ p: { a: 1, b: 2 } });
    expect(session.history()).toHaveLength(6);
    await runtime.stop();
  });

  it("prepareStep returning something malformed fails the turn with context_error, naming it", async () => {
    const model = scriptedModel(() => text("never"));
    const { runtime } = testRuntime({
      a: { model, prepareStep: () => ({ messages: [{ role: "robot" }] }) as never },
      b: { model, prepareStep: () => ({ temperature: Number.NaN }) },
      c: { model, prepareStep: () => "trim please" as never },
    });
    await runtime.start();
    for (const [agent, needle] of [
      ["a", "messages[0]"],
      ["b", "temperature"],
      ["c", "the returned value"],
    ] as const) {
      const r = await runtime.session(agent, { agent }).send("go").result({ timeoutMs: 1_000 });
      expect(r.reason.code).toBe("context_error");
      expect(r.reason.message).toContain(needle);
    }
    await runtime.stop();
  });

  it("a turn cancelled while prepareStep runs never calls the model, and settles at once", async () => {
    const model = scriptedModel(() => text("never"));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { runtime } = testRuntime({ a: { model, prepareStep: () => gate.then(() => undefined) } });
    await runtime.start();
    const handle = runtime.session("s", { agent: "a" }).send("go");
    await until(() => handle.status === "running");
    expect(await handle.cancel({ mode: "immediate" })).toBe("cancelled");
    release();
    await flush();
    expect(model.requests).toHaveLength(0);
    expect(runtime.metrics().outstandingCalls).toBe(0);
    expect(await runtime.stop({ timeoutMs: 100 })).toBe("clean");
  });

  it("agent settings reach the request; an agent without any sends none", async () => {
    const model = scriptedModel(() => text("ok"));
    const { runtime } = testRuntime({
      set: {
        model,
        maxOutputTokens: 64,
        topP: 0.9,
        seed: 7,
        stopSequences: ["END"],
        toolChoice: "none",
        headers: { "x-a": "1" },
      },
      bare: { model },
    });
    await runtime.start();
    await runtime.session("x", { agent: "set" }).send("go").result({ timeoutMs: 1_000 });
    await runtime.session("y", { agent: "bare" }).send("go").result({ timeoutMs: 1_000 });
    expect(model.requests[0]).toMatchObject({
      maxOutputTokens: 64,
      topP: 0.9,
      seed: 7,
      stopSequences: ["END"],
      toolChoice: "none",
      headers: { "x-a": "1" },
    });
    expect(Object.keys(model.requests[1]!).sort()).toEqual(["abortSignal", "prompt", "tools"]);
    await runtime.stop();
  });
});

describe("a function agent's output is kept in history", () => {
  it("each turn records its input and its output, so history counts exchanges", async () => {
    const { runtime } = testRuntime({
      counter: {
        run: async (input, { history }) => `seen ${history.length / 2 + 1} inputs; last: ${String(input)}`,
      },
      object: { run: () => ({ total: 3 }) },
    });
    await runtime.start();
    const s = runtime.session("c", { agent: "counter" });
    await s.send("a").result({ timeoutMs: 1_000 });
    const second = await s.send("b").result({ timeoutMs: 1_000 });
    expect(second.output).toBe("seen 2 inputs; last: b");
    expect(s.history()).toEqual([
      userMessage("a"),
      assistantMessage("seen 1 inputs; last: a"),
      userMessage("b"),
      assistantMessage("seen 2 inputs; last: b"),
    ]);
    const o = runtime.session("o", { agent: "object" });
    await o.send("x").result({ timeoutMs: 1_000 });
    expect(o.history()[1]).toEqual(assistantMessage('{"total":3}'));
    await runtime.stop();
  });
});

describe("options are checked when the runtime is created", () => {
  const model = scriptedModel(() => text("ok"));
  const cases: [string, Agent][] = [
    ["agents.a.model", { model: "gpt-5" }],
    ["agents.a.system", { model, system: 5 as never }],
    ["agents.a.temperature", { model, temperature: Number.POSITIVE_INFINITY }],
    ["agents.a.toolChoice", { model, toolChoice: "always" as never }],
    ["agents.a.providerOptions.openai", { model, providerOptions: { openai: 1 as never } }],
    ["agents.a.retry.attemptsMax", { model, retry: { attemptsMax: 0 } }],
    ["agents.a.retry.backoffMs", { model, retry: { backoffMs: 3e9 } }],
    ["agents.a.retry.factor", { model, retry: { factor: 0.5 } }],
    ["agents.a.prepareStep", { model, prepareStep: "trim" as never }],
    ["agents.a.headers.authorization", { model, headers: { authorization: 5 as never } }],
  ];
  for (const [name, agent] of cases) {
    it(`refuses a bad ${name}`, () => {
      let thrown: BootError | undefined;
      try {
        testRuntime({ a: agent });
      } catch (error) {
        thrown = error as BootError;
      }
      expect(thrown?.code).toBe("INVALID_OPTIONS");
      expect(thrown?.message).toContain(name);
    });
  }

  it("never quotes a provider key or a header value", () => {
    for (const options of [
      { providers: { openai: { apiKey: 12345 as never } } },
      { providers: { openai: { headers: { authorization: ["sk-secret-value"] as never } } } },
    ]) {
      let message = "";
      try {
        testRuntime({ a: { model } }, options);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toContain("providers.openai");
      expect(message).not.toContain("12345");
      expect(message).not.toContain("sk-secret-value");
    }
  });
});
