/**
 * Traces through `offstage/otel`, recorded by the real SDK's in-memory exporter: the exact tree of
 * spans for a turn that calls a tool and delegates, the links between a child's turn and its parent's
 * turns, the host's trace continued from `send()`, content only on opt-in, and nothing at all (not
 * even an error) while no SDK is installed.
 */
import { cpSync, existsSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { trace } from "@opentelemetry/api";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createMemoryStore,
  createRuntime,
  type ModelRequest,
  type Runtime,
  silentLogger,
} from "../../src/index.js";
import { otelTelemetry } from "../../src/observability/otel/index.js";
import { createSqliteStore } from "../../src/store/sqlite/index.js";
import { createScriptedModel } from "../../src/testing/index.js";
import { freshDir, freshPath, removeFiles } from "../store/sqlite-files.js";
import { until } from "../support/async.js";
import { callTools, text, toolCall } from "../support/models.js";
import { type SpanRecorder, spanRecorder, useAsyncContext } from "../support/otel.js";
import { testRuntime } from "../support/runtime.js";
import { tool } from "../support/tools.js";

const GOAL = "count the files";

/** The lead asks for a tool and a worker; the worker counts; the lead reports the worker's answer. */
function leadModel() {
  return createScriptedModel(
    (request: ModelRequest) => {
      const last = request.prompt[request.prompt.length - 1]!;
      if (last.role === "tool") return text("waiting for the worker");
      const said = last.role === "user" ? last.content.map((p) => p.text).join("") : "";
      if (said.includes("42 files")) return text("the worker counted 42 files");
      if (said.includes(GOAL)) return text("42 files");
      return callTools(
        toolCall("c1", "look", {}),
        toolCall("c2", "delegate", { tasks: [{ goal: GOAL, tools: [] }] }),
      );
    },
    { id: "test:scripted" },
  );
}

let recorder: SpanRecorder;
const runtimes: Runtime[] = [];

beforeAll(() => useAsyncContext());

afterEach(async () => {
  for (const runtime of runtimes.splice(0)) {
    await runtime.stop({ timeoutMs: 50 });
    await runtime[Symbol.asyncDispose]();
  }
  await recorder?.close();
  trace.disable();
  removeFiles();
});

async function delegatingRun(options: { captureContent?: boolean } = {}) {
  recorder = spanRecorder();
  const { runtime } = testRuntime(
    { lead: { model: leadModel(), delegates: true, tools: [tool("look", () => "looked")] } },
    {
      store: createMemoryStore(),
      telemetry: otelTelemetry({ tracerProvider: recorder.provider, ...options }),
    },
  );
  runtimes.push(runtime);
  await runtime.start();
  const session = runtime.session("chat-1", { agent: "lead" });
  const host = recorder.provider.getTracer("host");
  const handle = host.startActiveSpan("POST /chat", (span) => {
    try {
      return session.send("how many are under src?");
    } finally {
      span.end();
    }
  });
  await handle.result();
  await until(() => runtime.delegations.list().every((d) => d.delivery === "delivered"), "the delivery");
  await until(() => recorder.byName("invoke_agent lead").length === 3, "three turns");
  await until(() => runtime.metrics().runningTurns === 0, "idle");
  return runtime;
}

describe("otelTelemetry traces", () => {
  it("a delegating turn: the exact tree of spans, the host's trace continued, the child linked both ways", async () => {
    await delegatingRun();
    expect(recorder.tree()).toEqual([
      {
        name: "POST /chat",
        children: [
          {
            name: "invoke_agent lead",
            children: [
              { name: "chat scripted", children: [] },
              { name: "execute_tool look", children: [] },
              { name: "execute_tool delegate", children: [] },
              { name: "chat scripted", children: [] },
            ],
          },
        ],
      },
      // The child's turn starts a trace of its own, linked to the call that dispatched it.
      { name: "invoke_agent lead", children: [{ name: "chat scripted", children: [] }] },
      // The completion's turn in the parent session, linked back to the child's turn.
      { name: "invoke_agent lead", children: [{ name: "chat scripted", children: [] }] },
    ]);
    const [first, child, completion] = recorder.byName("invoke_agent lead");
    const dispatch = recorder.byName("execute_tool delegate")[0]!;
    expect(child!.links).toEqual([
      expect.objectContaining({
        context: expect.objectContaining({ spanId: dispatch.spanContext().spanId }),
        attributes: expect.objectContaining({ "offstage.link": "dispatched_by" }),
      }),
    ]);
    expect(completion!.links).toEqual([
      expect.objectContaining({
        context: expect.objectContaining({ spanId: child!.spanContext().spanId }),
        attributes: expect.objectContaining({
          "offstage.link": "completed_by",
          "offstage.delegation.id": expect.any(String),
        }),
      }),
    ]);
    expect(first!.attributes).toMatchObject({
      "gen_ai.operation.name": "invoke_agent",
      "gen_ai.agent.name": "lead",
      "gen_ai.conversation.id": "chat-1",
      "gen_ai.request.model": "scripted",
      "gen_ai.provider.name": "test",
      "offstage.turn.attempt": 1,
      "offstage.input.policies": ["enqueue"],
      "offstage.turn.status": "completed",
      // The tool-calling step reported no usage; the answering step reported 1 and 1.
      "gen_ai.usage.input_tokens": 1,
      "gen_ai.usage.output_tokens": 1,
    });
    expect(first!.attributes["offstage.queue.wait_ms"]).toBeGreaterThanOrEqual(0);
    expect(child!.attributes["gen_ai.conversation.id"]).toMatch(/^chat-1>/);
    expect(completion!.attributes["offstage.delegation.ids"]).toHaveLength(1);
    const chat = recorder
      .byName("chat scripted")
      .filter((s) => s.parentSpanContext?.spanId === first!.spanContext().spanId)[1]!;
    expect(chat.kind).toBe(2); // CLIENT
    expect(chat.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.request.model": "scripted",
      "gen_ai.response.finish_reasons": ["stop"],
      "gen_ai.usage.input_tokens": 1,
      "gen_ai.usage.output_tokens": 1,
      "offstage.step": 2,
    });
    expect(recorder.byName("execute_tool look")[0]!.attributes).toMatchObject({
      "gen_ai.operation.name": "execute_tool",
      "gen_ai.tool.name": "look",
      "gen_ai.tool.call.id": "c1",
      "gen_ai.tool.type": "function",
    });
    // The host's span is the parent; the whole first turn is in the host's trace.
    const hostSpan = recorder.byName("POST /chat")[0]!;
    expect(first!.parentSpanContext?.spanId).toBe(hostSpan.spanContext().spanId);
    expect(first!.spanContext().traceId).toBe(hostSpan.spanContext().traceId);
  });

  it("records no content unless asked; with captureContent the messages are on the spans", async () => {
    await delegatingRun();
    const everything = JSON.stringify(recorder.spans().map((s) => s.attributes));
    expect(everything).not.toContain("how many are");
    expect(everything).not.toContain("looked");
    await runtimes.pop()!.stop();
    await recorder.close();
    await delegatingRun({ captureContent: true });
    const chat = recorder.byName("chat scripted")[0]!;
    expect(JSON.parse(chat.attributes["gen_ai.input.messages"] as string)).toEqual([
      { role: "user", parts: [{ type: "text", content: "how many are under src?" }] },
    ]);
    expect(recorder.byName("execute_tool look")[0]!.attributes["gen_ai.tool.call.result"]).toBe("looked");
    expect(recorder.byName("invoke_agent lead")[0]!.attributes["gen_ai.output.messages"]).toContain(
      "waiting for the worker",
    );
  });

  it("a failed model call: the chat span and the turn carry the error, secrets redacted", async () => {
    recorder = spanRecorder();
    const model = createScriptedModel(
      () => new Error("401: bad key sk-proj-abcdefghijklmnopqrstuvwxyz0123"),
      {
        id: "openai:gpt-test",
      },
    );
    const { runtime } = testRuntime(
      { a: { model } },
      { telemetry: otelTelemetry({ tracerProvider: recorder.provider }) },
    );
    runtimes.push(runtime);
    await runtime.start();
    const result = await runtime.session("s", { agent: "a" }).send("hi").result();
    expect(result.status).toBe("failed");
    await until(() => recorder.byName("invoke_agent a").length === 1, "the turn span");
    const chat = recorder.byName("chat gpt-test")[0]!;
    expect(chat.status.code).toBe(2); // ERROR
    expect(chat.attributes["gen_ai.provider.name"]).toBe("openai");
    expect(chat.events[0]!.name).toBe("exception");
    expect(JSON.stringify(recorder.spans().map((s) => [s.attributes, s.events, s.status]))).not.toContain(
      "sk-proj-abcdefghijklmnopqrstuvwxyz0123",
    );
    const turn = recorder.byName("invoke_agent a")[0]!;
    expect(turn.attributes).toMatchObject({ "error.type": "model_error", "offstage.turn.status": "failed" });
  });

  it("with no SDK installed the adapter records nothing and fails nothing; a later SDK is seen per turn", async () => {
    const { runtime } = testRuntime(
      { f: { run: async (input) => `echo ${input}` } },
      { telemetry: otelTelemetry() },
    );
    runtimes.push(runtime);
    await runtime.start();
    const session = runtime.session("s", { agent: "f" });
    expect((await session.send("one").result()).output).toBe("echo one");
    recorder = spanRecorder();
    trace.setGlobalTracerProvider(recorder.provider);
    expect((await session.send("two").result()).output).toBe("echo two");
    await until(() => recorder.spans().length === 1, "the span of the second turn");
    expect(recorder.spans()[0]!.attributes).toMatchObject({ "offstage.turn.kind": "function" });
  });

  it("steered input and cancel requests are events on the turn's span", async () => {
    recorder = spanRecorder();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const model = createScriptedModel((_request, index) =>
      index === 0 ? callTools(toolCall("c1", "wait", {})) : text("done"),
    );
    const { runtime } = testRuntime(
      { a: { model, tools: [tool("wait", () => gate.then(() => "waited"))] } },
      { telemetry: otelTelemetry({ tracerProvider: recorder.provider }) },
    );
    runtimes.push(runtime);
    await runtime.start();
    const session = runtime.session("s", { agent: "a" });
    const first = session.send("go");
    await until(() => first.status === "running", "the turn");
    session.send("also this", { policy: "steer" });
    const cancelled = first.cancel({ mode: "after_step" });
    release();
    expect(await cancelled).toBe("cancelled");
    await until(() => recorder.byName("invoke_agent a").length === 1, "the span");
    const span = recorder.byName("invoke_agent a")[0]!;
    expect(span.events.map((e) => e.name)).toEqual(["offstage.steered", "offstage.cancel_requested"]);
    expect(span.events[1]!.attributes).toEqual({
      "offstage.cancel.mode": "after_step",
      "offstage.cancel.status": "cancelled",
      "offstage.cancel.reason": "cancel_requested",
    });
    expect(runtime.metrics().cancelToSettled.after_step.count).toBe(1);
  });
});

describe("crash resume", () => {
  it("a turn resumed after a crash is a new invoke_agent span with its attempt and the step it goes on from", async () => {
    const path = freshPath();
    const first = createRuntime({
      store: createSqliteStore({ path, durability: "normal" }),
      logger: silentLogger,
      // A model that never answers: the turn is running when the process "dies".
      agents: { a: { model: { id: "hang", stream: () => new Promise<never>(() => {}) } } },
    });
    runtimes.push(first);
    await first.start();
    await first.session("s", { agent: "a" }).send("hello").stored();
    const reader = () => {
      if (!existsSync(path)) return 0;
      const db = new DatabaseSync(path, { readOnly: true });
      try {
        return Number(
          (db.prepare("SELECT count(*) AS n FROM turns WHERE ended_at_ms IS NULL").get() as { n: number }).n,
        );
      } finally {
        db.close();
      }
    };
    for (let i = 0; i < 1_000 && reader() === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(reader()).toBe(1);
    // The crash: a copy of the file as it is now, with the running turn and the holder's lock row.
    const copy = join(freshDir(), "store.db");
    cpSync(path, copy);
    if (existsSync(`${path}-wal`)) cpSync(`${path}-wal`, `${copy}-wal`);
    // The holder's lock row names this live process: the dead holder's row is cleared by hand.
    const unlock = new DatabaseSync(copy);
    unlock.exec("DELETE FROM store_lock");
    unlock.close();
    recorder = spanRecorder();
    const second = createRuntime({
      store: createSqliteStore({ path: copy, durability: "normal" }),
      logger: silentLogger,
      agents: { a: { model: createScriptedModel(() => text("resumed")) } },
      telemetry: otelTelemetry({ tracerProvider: recorder.provider }),
    });
    runtimes.push(second);
    await second.start();
    await until(() => recorder.byName("invoke_agent a").length === 1, "the resumed turn's span");
    expect(recorder.byName("invoke_agent a")[0]!.attributes).toMatchObject({
      "offstage.turn.attempt": 2,
      "offstage.turn.resumed": true,
      "offstage.turn.resumed_from_step": 0,
      "offstage.turn.status": "completed",
    });
    expect(second.metrics().retries.resumedTurns).toBe(1);
  });
});

describe("trace carrier (the seam for other processes)", () => {
  it("a captured context round-trips through W3C traceparent", () => {
    recorder = spanRecorder();
    const telemetry = otelTelemetry({ tracerProvider: recorder.provider });
    const carrier = recorder.provider.getTracer("host").startActiveSpan("outer", (span) => {
      const captured = telemetry.captureContext()!;
      span.end();
      return telemetry.toCarrier(captured);
    });
    const outer = recorder.byName("outer")[0]!.spanContext();
    expect(carrier.traceparent).toBe(`00-${outer.traceId}-${outer.spanId}-01`);
    const back = telemetry.fromCarrier(carrier)!;
    expect(trace.getSpanContext(back as never)).toMatchObject({ traceId: outer.traceId, isRemote: true });
    expect(telemetry.fromCarrier({ traceparent: "00-zz-not-a-header" })).toBeUndefined();
    expect(telemetry.fromCarrier({})).toBeUndefined();
  });

  it("refuses bad options with the offending value quoted", () => {
    expect(() => otelTelemetry({ captureContent: "yes" as never })).toThrow(
      /captureContent must be a boolean; got "yes"/,
    );
    expect(() => otelTelemetry({ tracerProvider: {} as never })).toThrow(
      /tracerProvider must be a TracerProvider/,
    );
  });
});
