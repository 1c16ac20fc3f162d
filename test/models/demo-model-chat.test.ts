/**
 * What `offstage chat` asks of the demo model beyond the demo: answers that stream word by word
 * (`wordDelayMs`) and `use <tool> {json}`, which calls any tool on offer (an MCP server's).
 */
import { describe, expect, it } from "vitest";
import type { Message, ModelPart, ModelRequest, ModelTool } from "../../src/index.js";
import { createDemoModel, type Sleep } from "../../src/models/demo/demo-model.js";
import { planDemoStep } from "../../src/models/demo/demo-plan.js";
import { flush } from "../support/async.js";

const tools: ModelTool[] = ["echo", "list_files", "files_read"].map((name) => ({
  type: "function",
  name,
  description: name,
  inputSchema: { type: "object" },
}));
const user = (text: string): Message => ({ role: "user", content: [{ type: "text", text }] });
const request = (text: string): ModelRequest => ({
  prompt: [user(text)],
  tools,
  abortSignal: new AbortController().signal,
});

describe("the demo model in a chat", () => {
  it("calls any offered tool with `use <tool> {json}`, one a line, arguments as written", () => {
    const plan = planDemoStep([user('use echo {"text": "a } b"}\nuse files_read {"path": "x"}')], tools, 0);
    expect(plan).toEqual({
      kind: "tools",
      calls: [
        { type: "tool-call", toolCallId: "demo_0_0", toolName: "echo", input: '{"text": "a } b"}' },
        { type: "tool-call", toolCallId: "demo_0_1", toolName: "files_read", input: '{"path": "x"}' },
      ],
    });
    // No arguments mean an empty object; tools not on offer and broken JSON are the runtime's to judge.
    expect(planDemoStep([user("use echo")], tools, 0)).toMatchObject({ calls: [{ input: "{}" }] });
    expect(planDemoStep([user("use nothing {}")], tools, 0)).toMatchObject({ kind: "answer" });
    expect(planDemoStep([user("use echo {oops}")], tools, 0)).toMatchObject({ calls: [{ input: "{oops}" }] });
  });

  it("waits wordDelayMs between the words of an answer, through the injected sleep", async () => {
    const waits: { ms: number; release: () => void }[] = [];
    const sleep: Sleep = (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
        waits.push({ ms, release: resolve });
      });
    const model = createDemoModel({ wordDelayMs: 25, sleep });
    const stream = model.stream(request("hello there"));
    expect(Array.isArray(stream)).toBe(false);
    const seen: ModelPart[] = [];
    const done = (async () => {
      for await (const part of await stream) seen.push(part);
    })();
    await flush();
    // The first word at once, then one wait before each further word.
    expect(seen.map((p) => p.type)).toEqual(["text-delta"]);
    for (let i = 0; waits[i] !== undefined; i++) {
      expect(waits[i]!.ms).toBe(25);
      waits[i]!.release();
      await flush();
    }
    await done;
    const words = seen.filter((p) => p.type === "text-delta").length;
    expect(words).toBeGreaterThan(3);
    expect(waits).toHaveLength(words - 1);
    expect(seen.at(-1)).toMatchObject({ type: "finish" });
  });

  it("refuses a bad wordDelayMs", () => {
    expect(() => createDemoModel({ wordDelayMs: -5 })).toThrow(
      /options.wordDelayMs must be a number of milliseconds from 0 to \d+; got -5 \(number\)/,
    );
  });
});
