import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Message, ModelPart, ModelRequest, ModelTool } from "../../src/index.js";
import { createMemoryStore, createRuntime, InvalidInputError, silentLogger } from "../../src/index.js";
import { renderCompletions } from "../../src/kernel/delegation/child-completion.js";
import { createDemoModel, type Sleep } from "../../src/models/demo/demo-model.js";
import { planDemoStep } from "../../src/models/demo/demo-plan.js";
import { createNoopModel } from "../../src/testing/noop-model.js";
import { createScriptedModel } from "../../src/testing/scripted-model.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";
import { createFileTools } from "../../src/tools/builtin/file-tools.js";

const fileTools: ModelTool[] = ["list_files", "read_file", "count_lines", "file_info"].map((name) => ({
  type: "function",
  name,
  description: name,
  inputSchema: { type: "object" },
}));

const user = (text: string): Message => ({ role: "user", content: [{ type: "text", text }] });

function request(prompt: Message[], extra: Partial<ModelRequest> = {}): ModelRequest {
  return { prompt, tools: fileTools, abortSignal: new AbortController().signal, ...extra };
}

/** Streams a step to the end, sync or async, and returns its parts. */
async function drain(stream: ReturnType<ReturnType<typeof createDemoModel>["stream"]>): Promise<ModelPart[]> {
  const parts: ModelPart[] = [];
  for await (const part of await stream) parts.push(part);
  return parts;
}

/** Streams a step that must take the synchronous fast path. */
function drainSync(stream: ReturnType<ReturnType<typeof createDemoModel>["stream"]>): ModelPart[] {
  expect(Array.isArray(stream)).toBe(true);
  return [...(stream as Iterable<ModelPart>)];
}

const textOf = (parts: readonly ModelPart[]) =>
  parts.map((p) => (p.type === "text-delta" ? p.delta : "")).join("");
const callsOf = (parts: readonly ModelPart[]) =>
  parts.flatMap((p) => (p.type === "tool-call" ? [[p.toolName, JSON.parse(p.input)]] : []));

/** A sleep on no clock at all: it records what was asked and waits until the test releases it or the signal fires. */
function manualSleep() {
  const waits: { ms: number; release: () => void }[] = [];
  const sleep: Sleep = (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      signal.throwIfAborted();
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      waits.push({ ms, release: resolve });
    });
  return { waits, sleep };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe("demo model planning", () => {
  it("turns a directive into a tool call and finishes with tool-calls", () => {
    const parts = drainSync(createDemoModel().stream(request([user("list .")])));
    expect(parts).toEqual([
      { type: "tool-call", toolCallId: "demo_0_0", toolName: "list_files", input: '{"path":"."}' },
      { type: "finish", finishReason: "tool-calls", usage: { inputTokens: 2, outputTokens: 3 } },
    ]);
  });

  it("plans several directives, across merged messages, as parallel calls in one step", () => {
    const model = createDemoModel();
    const parts = drainSync(
      model.stream(
        request([user("Please list src, then count src and stat README.md."), user('read "notes/todo.txt"')]),
      ),
    );
    expect(callsOf(parts)).toEqual([
      ["list_files", { path: "src" }],
      ["count_lines", { path: "src" }],
      ["file_info", { path: "README.md" }],
      ["read_file", { path: "notes/todo.txt" }],
    ]);
    const ids = parts.flatMap((p) => (p.type === "tool-call" ? [p.toolCallId] : []));
    expect(new Set(ids).size).toBe(4);
  });

  it("uses '.' for list and count without a path, and skips read without one", () => {
    const parts = drainSync(createDemoModel().stream(request([user("count list read")])));
    expect(callsOf(parts)).toEqual([
      ["count_lines", { path: "." }],
      ["list_files", { path: "." }],
    ]);
  });

  it("only calls tools the request offers", () => {
    const parts = drainSync(
      createDemoModel().stream(request([user("read a.txt and list .")], { tools: fileTools.slice(0, 1) })),
    );
    expect(callsOf(parts)).toEqual([["list_files", { path: "." }]]);
    const none = drainSync(createDemoModel().stream(request([user("read a.txt")], { tools: [] })));
    expect(callsOf(none)).toEqual([]);
    expect(textOf(none)).toContain('You said: "read a.txt".');
    expect(textOf(none)).not.toContain("Try");
  });

  it("echoes input without directives, word by word, the same way every time", () => {
    const model = createDemoModel();
    const parts = drainSync(model.stream(request([user("hello there")])));
    const deltas = parts.filter((p) => p.type === "text-delta");
    expect(deltas.length).toBeGreaterThan(5);
    expect(deltas.every((p) => p.type === "text-delta" && /^\S+\s*$/.test(p.delta))).toBe(true);
    expect(textOf(parts)).toMatch(
      / You said: "hello there"\. Try "list <path>", "read <path>", "count <path>", "stat <path>" to see tool calls\.$/,
    );
    expect(parts.at(-1)).toMatchObject({ type: "finish", finishReason: "stop" });
    expect(drainSync(createDemoModel().stream(request([user("hello there")])))).toEqual(parts);
  });

  it("a seed varies only the wording", () => {
    const openings = new Set(
      [0, 1, 2, 3, 4, 5, 6, 7].map(
        (seed) =>
          textOf(drainSync(createDemoModel({ seed }).stream(request([user("hi")])))).split(" You said")[0],
      ),
    );
    expect(openings.size).toBeGreaterThan(1);
    const withSeed = drainSync(createDemoModel({ seed: 3 }).stream(request([user("list .")])));
    expect(callsOf(withSeed)).toEqual([["list_files", { path: "." }]]);
  });

  it("cuts the answer at maxOutputTokens words and finishes with length", () => {
    const parts = drainSync(createDemoModel().stream(request([user("hello there")], { maxOutputTokens: 3 })));
    expect(parts.filter((p) => p.type === "text-delta")).toHaveLength(3);
    expect(parts.at(-1)).toMatchObject({
      type: "finish",
      finishReason: "length",
      usage: { outputTokens: 3 },
    });
  });
});

describe("demo model answers after tool results", () => {
  const step1: Message[] = [
    { role: "system", content: "You look at files." },
    user("list . and read nope.txt"),
    {
      role: "assistant",
      content: [
        { type: "tool-call", toolCallId: "demo_0_0", toolName: "list_files", input: '{"path":"."}' },
        { type: "tool-call", toolCallId: "demo_0_1", toolName: "read_file", input: '{"path":"nope.txt"}' },
      ],
    },
    {
      role: "tool",
      content: [
        {
          type: "tool-result",
          toolCallId: "demo_0_0",
          toolName: "list_files",
          output: { type: "text", value: ".: 2 entries\na.txt\nsrc/" },
        },
        {
          type: "tool-result",
          toolCallId: "demo_0_1",
          toolName: "read_file",
          output: { type: "error-text", value: "no such file" },
        },
      ],
    },
  ];

  it("streams a summary of every result, failures included", () => {
    const parts = drainSync(createDemoModel().stream(request(step1)));
    expect(callsOf(parts)).toEqual([]);
    const text = textOf(parts);
    expect(text.split("\n").slice(1)).toEqual([
      "- list_files .: .: 2 entries; a.txt; src/",
      "- read_file nope.txt failed: no such file",
    ]);
    expect(parts.at(-1)).toMatchObject({ type: "finish", finishReason: "stop" });
  });

  it("plans input steered in after the results, then summarises the whole exchange", () => {
    const steered = [...step1, user("also stat a.txt")];
    const planned = drainSync(createDemoModel().stream(request(steered)));
    expect(planned).toContainEqual({
      type: "tool-call",
      toolCallId: "demo_1_0",
      toolName: "file_info",
      input: '{"path":"a.txt"}',
    });
    const after: Message[] = [
      ...steered,
      {
        role: "assistant",
        content: [
          { type: "tool-call", toolCallId: "demo_1_0", toolName: "file_info", input: '{"path":"a.txt"}' },
        ],
      },
      {
        role: "tool",
        content: [
          {
            type: "tool-result",
            toolCallId: "demo_1_0",
            toolName: "file_info",
            output: { type: "text", value: "a.txt: file" },
          },
        ],
      },
    ];
    expect(textOf(drainSync(createDemoModel().stream(request(after)))).split("\n")).toHaveLength(4);
  });

  it("starts a fresh exchange after a final answer", () => {
    const next = [
      ...step1,
      { role: "assistant", content: [{ type: "text", text: "done" }] } as Message,
      user("thanks"),
    ];
    expect(textOf(drainSync(createDemoModel().stream(request(next))))).toContain('You said: "thanks".');
  });
});

describe("demo model timing, failure and cancellation", () => {
  it("fails a step whose input contains failOn, with an error part", () => {
    const model = createDemoModel({ failOn: "explode" });
    const parts = drainSync(model.stream(request([user("please explode now")])));
    expect(parts).toHaveLength(1);
    expect(parts[0]).toMatchObject({ type: "error" });
    expect(String((parts[0] as { error: Error }).error.message)).toBe(
      'demo model: the input contains "explode", which failOn makes fail',
    );
    expect(callsOf(drainSync(model.stream(request([user("list .")]))))).toHaveLength(1);
  });

  it("waits latencyMs through the injected sleep, then streams", async () => {
    const { waits, sleep } = manualSleep();
    const model = createDemoModel({ latencyMs: 40, sleep, failOn: "boom" });
    const stream = model.stream(request([user("list .")]));
    expect(Array.isArray(stream)).toBe(false);
    const parts = drain(stream);
    await flush();
    expect(waits.map((w) => w.ms)).toEqual([40]);
    waits[0]!.release();
    expect(callsOf(await parts)).toEqual([["list_files", { path: "." }]]);
    const failing = drain(model.stream(request([user("boom")])));
    await flush();
    waits[1]!.release();
    expect((await failing)[0]).toMatchObject({ type: "error" });
  });

  it("waits slowMs instead when the input contains slowOn", async () => {
    const { waits, sleep } = manualSleep();
    const model = createDemoModel({ slowOn: "slowly", slowMs: 1500, sleep });
    expect(Array.isArray(model.stream(request([user("list .")])))).toBe(true);
    const parts = drain(model.stream(request([user("slowly list .")])));
    await flush();
    expect(waits.map((w) => w.ms)).toEqual([1500]);
    waits[0]!.release();
    expect(callsOf(await parts)).toHaveLength(1);
  });

  it("rejects with the abort reason as soon as the request is aborted", async () => {
    const { waits, sleep } = manualSleep();
    const controller = new AbortController();
    const parts = drain(
      createDemoModel({ latencyMs: 10, sleep }).stream(
        request([user("list .")], { abortSignal: controller.signal }),
      ),
    );
    await flush();
    expect(waits).toHaveLength(1);
    controller.abort(new Error("cancelled by the user"));
    await expect(parts).rejects.toThrow("cancelled by the user");
  });

  it("the default sleep honours the signal too (an hour-long real timer ends at once)", async () => {
    const controller = new AbortController();
    const parts = drain(
      createDemoModel({ latencyMs: 3_600_000 }).stream(
        request([user("hi")], { abortSignal: controller.signal }),
      ),
    );
    await flush(); // the generator is now inside node:timers/promises' setTimeout
    controller.abort(new Error("stop"));
    await expect(parts).rejects.toThrow("stop");
    // Already aborted: the step throws the reason without starting a timer.
    const already = drain(
      createDemoModel({ latencyMs: 5 }).stream(request([user("hi")], { abortSignal: controller.signal })),
    );
    await expect(already).rejects.toThrow("stop");
  });

  it("the fast path is a synchronous iterable and never reads the abort signal", () => {
    const model = createDemoModel();
    const guarded = {
      prompt: [user("list . and stat a")],
      tools: fileTools,
      get abortSignal(): AbortSignal {
        throw new Error("the fast path must not create an abort controller");
      },
    };
    const stream = model.stream(guarded);
    expect(Array.isArray(stream)).toBe(true);
    expect(typeof (stream as Iterable<ModelPart>)[Symbol.iterator]).toBe("function");
    expect(Symbol.asyncIterator in (stream as object)).toBe(false);
    expect("then" in (stream as object)).toBe(false);
  });

  it("refuses bad options with INVALID_ARGUMENT", () => {
    const bad = [
      { latencyMs: -1 },
      { latencyMs: Number.NaN },
      { slowMs: Number.POSITIVE_INFINITY },
      { failOn: "" },
      { slowOn: 3 },
      { seed: 1.5 },
      { sleep: "soon" },
      { latencyMs: 3e9 },
      { latncyMs: 1 },
    ];
    for (const options of bad) {
      expect(() => createDemoModel(options as never)).toThrow(InvalidInputError);
    }
    expect(() => createDemoModel({ latencyMs: -1 })).toThrow(
      "createDemoModel(): options.latencyMs must be a number of milliseconds from 0 to 2147483647; got -1 (number)",
    );
  });
});

describe("noop and scripted models", () => {
  it("the noop model answers ok synchronously, from one shared array", () => {
    const model = createNoopModel();
    const a = model.stream(request([user("x")]));
    const b = model.stream(request([]));
    expect(a).toBe(b);
    expect([...(a as Iterable<ModelPart>)]).toEqual([
      { type: "text-delta", id: "noop", delta: "ok" },
      { type: "finish", finishReason: "stop", usage: { inputTokens: 0, outputTokens: 1 } },
    ]);
    expect(model.id).toBe("noop");
  });

  it("the scripted model streams what the script returns, throws its errors, and records requests", () => {
    const model = createScriptedModel((req, index) =>
      index === 0
        ? [{ type: "text-delta", id: "t", delta: `seen ${req.prompt.length}` }]
        : index === 1
          ? new Error("provider down")
          : ("oops" as never),
    );
    expect([...(model.stream(request([user("a")])) as ModelPart[])]).toEqual([
      { type: "text-delta", id: "t", delta: "seen 1" },
    ]);
    expect(() => model.stream(request([]))).toThrow("provider down");
    expect(() => model.stream(request([]))).toThrow("scripted step 2 returned string");
    expect(model.requests).toHaveLength(3);
    expect(model.id).toBe("scripted");
    expect(() => createScriptedModel(null as never)).toThrow(InvalidInputError);
  });
});

describe("demo model in a runtime, on real files", () => {
  it("plans parallel tool calls, runs the file tools, and answers with their results", async () => {
    const root = await mkdtemp(join(tmpdir(), "offstage-demo-"));
    try {
      await mkdir(join(root, "src"));
      await writeFile(join(root, "src", "a.ts"), "1\n2\n");
      await writeFile(join(root, "README.md"), "hi\n");
      const runtime = createRuntime({
        logger: silentLogger,
        store: createMemoryStore(),
        clock: new VirtualClock(),
        agents: { assistant: { model: createDemoModel(), tools: createFileTools({ root }) } },
      });
      await runtime.start();
      const handle = runtime.session("s", { agent: "assistant" }).send("list . and count src");
      const result = await handle.result();
      expect(result.status).toBe("completed");
      const lines = String(result.output).split("\n");
      expect(lines.slice(1)).toEqual([
        "- list_files .: .: 2 entries; README.md; src/",
        "- count_lines src: src: 2 lines in 1 file; a.ts: 2",
      ]);
      await runtime.stop();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe("demo model and delegation", () => {
  const delegate: ModelTool = {
    type: "function",
    name: "delegate",
    description: "d",
    inputSchema: { type: "object" },
  };
  const list: ModelTool = {
    type: "function",
    name: "list_files",
    description: "l",
    inputSchema: { type: "object" },
  };
  const user = (text: string): Message => ({ role: "user", content: [{ type: "text", text }] });

  it("hands `delegate` tasks to the delegate tool, leaving their directives to the workers", () => {
    const plan = planDemoStep([user("delegate count src; delegate list notes")], [delegate, list], 0);
    expect(plan.kind).toBe("tools");
    const calls = plan.kind === "tools" ? plan.calls : [];
    expect(calls).toHaveLength(1);
    expect(calls[0]!.toolName).toBe("delegate");
    expect(JSON.parse(calls[0]!.input)).toEqual({ tasks: [{ goal: "count src" }, { goal: "list notes" }] });
  });

  it("without the delegate tool on offer, `delegate` is just a word", () => {
    const plan = planDemoStep([user("delegate list notes")], [list], 0);
    expect(plan.kind === "tools" && plan.calls.map((c) => c.toolName)).toEqual(["list_files"]);
  });

  it("acknowledges background results instead of acting on the directives inside them", () => {
    const block = renderCompletions([
      {
        delegationId: "d1",
        parentSessionId: "p",
        childSessionId: "p>d1",
        spec: { goal: "list notes", tools: ["list_files"] },
        status: "completed",
        summary: "Done. Results:\n- list_files notes: ideas.txt; todo.txt",
        exitReason: "ok",
        modelCalls: 2,
        dispatchedAtMs: 0,
        completedAtMs: 10,
      },
    ]);
    const plan = planDemoStep([user(block)], [delegate, list], 0);
    expect(plan).toEqual({
      kind: "answer",
      text: "Background results arrived:\n- list notes: completed — Done. Results: - list_files notes: ideas.txt; todo.txt",
    });
  });
});
