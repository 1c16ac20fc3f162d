/**
 * The runtime driving real AI SDK provider packages (`@ai-sdk/openai-compatible`, `@ai-sdk/openai`
 * Chat Completions and Responses, `@ai-sdk/anthropic`) against the loopback server: a multi-step
 * tool loop with parallel calls, reasoning and usage, abort mid-stream, and every way a provider
 * fails — 429 with `retry-after`, 500, 401, malformed events, a reset connection, a slow first byte,
 * a stream cut short. Real HTTP, real clock: waits are on events, never fixed sleeps.
 */
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type Agent,
  createMemoryStore,
  createRuntime,
  defineTool,
  type Message,
  type Runtime,
  type RuntimeEvent,
  silentLogger,
} from "../../src/index.js";
import { type LoopbackLlm, type ReplyFn, startLoopbackLlm } from "./loopback-llm.js";
import { loopbackModel, PROVIDER_KINDS, type ProviderKind } from "./providers.js";

const lookups: string[] = [];
const lookup = defineTool({
  name: "lookup",
  description: "Looks a key up.",
  schema: z.object({ key: z.string() }),
  execute: ({ key }) => {
    lookups.push(key);
    return `value-of-${key}`;
  },
});
const weather = defineTool({
  name: "weather",
  description: "The weather in a city.",
  schema: z.object({ city: z.string() }),
  execute: ({ city }) => `sunny in ${city}`,
});

interface Harness {
  readonly llm: LoopbackLlm;
  readonly runtime: Runtime;
  readonly events: RuntimeEvent[];
  send(text: string): ReturnType<ReturnType<Runtime["session"]>["send"]>;
}

const open: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of open.splice(0)) await close();
  lookups.length = 0;
});

async function harness(kind: ProviderKind, reply: ReplyFn, extra: Partial<Agent> = {}): Promise<Harness> {
  const llm = await startLoopbackLlm(reply);
  const agent = {
    model: loopbackModel(kind, llm.baseURL),
    tools: [lookup, weather],
    retry: { backoffMs: 5, backoffMaxMs: 20 },
    ...extra,
  } as Agent;
  const runtime = createRuntime({ store: createMemoryStore(), logger: silentLogger, agents: { a: agent } });
  const events: RuntimeEvent[] = [];
  runtime.on((event) => events.push(event));
  await runtime.start();
  open.push(async () => {
    await runtime.stop({ timeoutMs: 2_000 });
    await llm.close();
  });
  const session = runtime.session("s", { agent: "a" });
  return { llm, runtime, events, send: (text) => session.send(text) };
}

/** Three steps, two tools: two calls in parallel, then one, then the answer. */
const threeSteps: ReplyFn = (request) => {
  switch (request.toolResults) {
    case 0:
      return {
        reasoning: ["I should ", "look."],
        text: ["Let me look."],
        toolCalls: [
          { id: "c1", name: "lookup", args: ['{"ke', 'y":"a"}'] },
          { id: "c2", name: "weather", args: ['{"city":', '"Paris"}'] },
        ],
        usage: { input: 100, output: 20, cached: 40, reasoning: 7 },
      };
    case 2:
      return {
        toolCalls: [{ id: "c3", name: "lookup", args: ['{"key":"b"}'] }],
        usage: { input: 150, output: 10 },
      };
    default:
      return { text: ["All ", "done."], usage: { input: 200, output: 5 } };
  }
};

function texts(messages: readonly Message[]): string[] {
  return messages.flatMap((m) =>
    m.role === "assistant" ? m.content.flatMap((p) => (p.type === "text" ? [p.text] : [])) : [],
  );
}

describe.each(PROVIDER_KINDS)("%s through the runtime", (kind) => {
  it("runs a three-step, two-tool loop with parallel calls; usage is numbers, reasoning and tool calls stay in history", async () => {
    const h = await harness(kind, threeSteps);
    const result = await h.send("go").result({ timeoutMs: 10_000 });
    expect(result.status).toBe("completed");
    expect(result.output).toBe("All done.");
    expect(lookups.sort()).toEqual(["a", "b"]);
    expect(h.llm.requests.map((r) => r.toolResults)).toEqual([0, 2, 3]);
    // Anthropic counts cached input apart; the adapter's inputTokens is every input token.
    expect(result.usage!.inputTokens).toBe(kind === "anthropic" ? 490 : 450);
    expect(result.usage!.outputTokens).toBe(35);
    expect(result.usage!.cachedInputTokens).toBe(40);
    for (const value of Object.values(result.usage!)) expect(typeof value).toBe("number");
    const history = h.runtime.session("s").history();
    expect(history.map((m) => m.role)).toEqual([
      "user",
      "assistant",
      "tool",
      "assistant",
      "tool",
      "assistant",
    ]);
    const first = history[1]!;
    expect(first.role === "assistant" && first.content.filter((p) => p.type === "tool-call").length).toBe(2);
    expect(texts(history)).toEqual(["Let me look.", "All done."]);
    if (kind === "anthropic" || kind.startsWith("openai-compatible")) {
      const reasoning =
        first.role === "assistant" ? first.content.find((p) => p.type === "reasoning") : undefined;
      expect(reasoning).toMatchObject({ type: "reasoning", text: "I should look." });
    }
    const steps = h.events.filter((e) => e.type === "model.step");
    expect(steps.map((e) => e.type === "model.step" && e.finishReason)).toEqual([
      "tool-calls",
      "tool-calls",
      "stop",
    ]);
  });

  it("aborts mid-stream: the server sees the client hang up, the turn ends cancelled", async () => {
    const h = await harness(kind, () => ({ text: ["one ", "two ", "three"], hangAfter: 3 }));
    const handle = h.send("go");
    const request = await h.llm.nextRequest();
    await until(() => h.events.some((e) => e.type === "model.text"));
    expect(await handle.cancel({ mode: "immediate" })).toBe("cancelled");
    await request.ended;
    expect(request.closedByClient).toBe(true);
    expect(h.runtime.metrics().outstandingCalls).toBe(0);
  });

  it("honours a 429's retry-after, then answers; the retry is an event", async () => {
    const h = await harness(kind, (r) =>
      r.index === 0
        ? { kind: "status", status: 429, message: "slow down", headers: { "retry-after": "1" } }
        : { text: ["fine"] },
    );
    const startedAt = performance.now();
    const result = await h.send("go").result({ timeoutMs: 10_000 });
    expect(result.output).toBe("fine");
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(990);
    const retries = h.events.filter((e) => e.type === "model.retry");
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatchObject({ failedTry: 1, statusCode: 429, delayMs: 1000, discardedChars: 0 });
  });

  it("retries a 500 and gives up after attemptsMax with the provider's message", async () => {
    const h = await harness(kind, () => ({ kind: "status", status: 500, message: "the loopback is down" }), {
      retry: { attemptsMax: 3, backoffMs: 1 },
    });
    const result = await h.send("go").result({ timeoutMs: 10_000 });
    expect(result.status).toBe("failed");
    expect(result.reason.code).toBe("model_error");
    expect(result.reason.message).toContain("the loopback is down");
    expect(result.reason.message).toContain("after 3 tries");
    expect(h.llm.requests).toHaveLength(3);
  });

  it("fails a 401 at once with the provider's message", async () => {
    const h = await harness(kind, () => ({
      kind: "status",
      status: 401,
      message: "Incorrect API key provided",
    }));
    const result = await h.send("go").result({ timeoutMs: 10_000 });
    expect(result.status).toBe("failed");
    expect(result.reason.message).toMatch(/401.*Incorrect API key provided/);
    expect(h.llm.requests).toHaveLength(1);
  });

  it("fails a malformed event stream with a reason that names it", async () => {
    const h = await harness(kind, () => ({ kind: "malformed" }));
    const result = await h.send("go").result({ timeoutMs: 10_000 });
    expect(result.status).toBe("failed");
    expect(result.reason.message.length).toBeGreaterThan(10);
  });

  it("retries a connection reset before the response", async () => {
    const h = await harness(kind, (r) => (r.index === 0 ? { kind: "reset" } : { text: ["after reset"] }));
    const result = await h.send("go").result({ timeoutMs: 10_000 });
    expect(result.output).toBe("after reset");
    expect(h.events.filter((e) => e.type === "model.retry")).toHaveLength(1);
  });

  it("retries a reset in the middle of the answer from clean: no duplicated text in history, events say what to drop", async () => {
    const h = await harness(kind, (r) =>
      r.index === 0
        ? { text: ["partial ", "answer ", "lost"], resetAfter: 4 }
        : { text: ["whole ", "answer"] },
    );
    const result = await h.send("go").result({ timeoutMs: 10_000 });
    expect(result.output).toBe("whole answer");
    expect(texts(h.runtime.session("s").history())).toEqual(["whole answer"]);
    // Replaying the events as a consumer would: drop what a retry discards.
    let shown = "";
    for (const e of h.events) {
      if (e.type === "model.text") shown += e.delta;
      if (e.type === "model.retry") shown = shown.slice(0, shown.length - e.discardedChars);
    }
    expect(shown).toBe("whole answer");
    expect(h.events.find((e) => e.type === "model.retry")).toMatchObject({
      discardedChars: expect.any(Number),
    });
  });

  it("retries a stream that ends before the answer is complete", async () => {
    const h = await harness(kind, (r) =>
      r.index === 0 ? { text: ["cut ", "short"], cutAfter: 3 } : { text: ["complete"] },
    );
    const result = await h.send("go").result({ timeoutMs: 10_000 });
    expect(result.output).toBe("complete");
    expect(h.llm.requests).toHaveLength(2);
  });

  it("abandons a first byte slower than idleTimeoutMs and retries; a slow byte within it just waits", async () => {
    const h = await harness(
      kind,
      (r) =>
        r.index === 0
          ? { text: ["late"], firstByteDelayMs: 2_000 }
          : { text: ["on time"], firstByteDelayMs: 50 },
      { retry: { idleTimeoutMs: 300, backoffMs: 1 } },
    );
    const result = await h.send("go").result({ timeoutMs: 10_000 });
    expect(result.output).toBe("on time");
    await h.llm.requests[0]!.ended;
    expect(h.llm.requests[0]!.closedByClient).toBe(true);
    const retry = h.events.find((e) => e.type === "model.retry");
    expect(retry?.type === "model.retry" && retry.error).toContain("sent nothing for 300 ms");
  });
});

describe("provider metadata goes back to the provider", () => {
  it("anthropic: the reasoning signature of step 1 is sent with the history of step 2", async () => {
    const h = await harness("anthropic", threeSteps);
    await h.send("go").result({ timeoutMs: 10_000 });
    const second = h.llm.requests[1]!.body;
    const assistant = second.messages.find((m: { role: string }) => m.role === "assistant");
    expect(assistant.content[0]).toMatchObject({
      type: "thinking",
      thinking: "I should look.",
      signature: "sig-0",
    });
  });
});

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error("gave up waiting");
}
