/**
 * The telemetry port as the runtime drives it, with a recording adapter: the facts each call hands
 * over, nothing built while the adapter is disabled, an adapter that throws contained (logged once
 * per method, the turn unharmed), and a bad `telemetry` option refused.
 */
import { describe, expect, it, vi } from "vitest";
import {
  BootError,
  createMemoryStore,
  createRuntime,
  type Logger,
  type Telemetry,
  type TurnInfo,
} from "../../src/index.js";
import { createScriptedModel } from "../../src/testing/index.js";
import { callTools, text, toolCall } from "../support/models.js";
import { testRuntime } from "../support/runtime.js";
import { tool } from "../support/tools.js";

/** An adapter that records what it is told, as `[method, facts]`. */
function recordingTelemetry(enabled = true) {
  const calls: [string, unknown][] = [];
  const telemetry: Telemetry = {
    enabled,
    captureContext: () => ({ captured: true }),
    startTurn(turn: TurnInfo) {
      calls.push(["startTurn", turn]);
      return {
        run: (fn) => fn(),
        modelCall(call) {
          calls.push(["modelCall", call]);
          return { run: (fn) => fn(), end: (end) => calls.push(["modelCall.end", end]) };
        },
        toolCall(call) {
          calls.push(["toolCall", call]);
          return { run: (fn) => fn(), end: (end) => calls.push(["toolCall.end", end]) };
        },
        event: (name, attributes) => calls.push([`event ${name}`, attributes]),
        end: (end) => calls.push(["end", end]),
      };
    },
    attach: () => () => calls.push(["detach", undefined]),
    toCarrier: () => ({}),
    fromCarrier: () => undefined,
  };
  return { telemetry, calls };
}

const model = () =>
  createScriptedModel((request) =>
    request.prompt.at(-1)!.role === "tool" ? text("done") : callTools(toolCall("c1", "look", { q: 1 })),
  );

describe("the telemetry port", () => {
  it("hands each call its facts: the turn's inputs and context, model and tool calls, the end", async () => {
    const { telemetry, calls } = recordingTelemetry();
    const { runtime } = testRuntime(
      { a: { model: model(), tools: [tool("look", () => "seen")] } },
      { telemetry },
    );
    await runtime.start();
    const handle = runtime.session("s", { agent: "a" }).send("hello");
    await handle.result();
    await runtime.stop();
    expect(calls.map(([method]) => method)).toEqual([
      "startTurn",
      "modelCall",
      "modelCall.end",
      "toolCall",
      "toolCall.end",
      "modelCall",
      "modelCall.end",
      "end",
      "detach",
    ]);
    expect(calls[0]![1]).toMatchObject({
      sessionId: "s",
      turnId: handle.turnId,
      agentName: "a",
      kind: "model",
      modelId: "scripted",
      attempt: 1,
      resumedFromStep: 0,
      inputs: [
        {
          inputId: handle.id,
          origin: "host",
          policy: "enqueue",
          context: { captured: true },
          payload: "hello",
        },
      ],
    });
    expect(calls[1]![1]).toMatchObject({ step: 1, modelId: "scripted", prompt: [{ role: "user" }] });
    expect(calls[2]![1]).toMatchObject({
      toolCalls: [{ toolCallId: "c1", toolName: "look", input: '{"q":1}' }],
      finishReason: "tool-calls",
      error: undefined,
    });
    expect(calls[3]![1]).toEqual({ toolCallId: "c1", toolName: "look", input: '{"q":1}' });
    expect(calls[4]![1]).toMatchObject({ isError: false, output: "seen" });
    expect(calls[7]![1]).toMatchObject({ outcome: { status: "completed" }, usage: { inputTokens: 1 } });
  });

  it("builds nothing for a disabled adapter", async () => {
    const { telemetry, calls } = recordingTelemetry(false);
    const capture = vi.spyOn(telemetry, "captureContext");
    const { runtime } = testRuntime(
      { a: { model: model(), tools: [tool("look", () => "seen")] } },
      { telemetry },
    );
    await runtime.start();
    await runtime.session("s", { agent: "a" }).send("hello").result();
    await runtime.stop();
    expect(capture).not.toHaveBeenCalled();
    expect(calls.map(([method]) => method)).toEqual(["detach"]);
  });

  it("contains an adapter that throws: the turn completes, each failing method is logged once", async () => {
    const boom = () => {
      throw new Error("adapter bug");
    };
    const telemetry: Telemetry = {
      enabled: true,
      captureContext: boom,
      startTurn: boom,
      attach: boom,
      toCarrier: boom,
      fromCarrier: boom,
    };
    const logger: Logger = { warn: vi.fn(), error: vi.fn() };
    const { runtime } = testRuntime({ f: { run: async (input) => input } }, { telemetry, logger });
    await runtime.start();
    const session = runtime.session("s", { agent: "f" });
    expect((await session.send("one").result()).output).toBe("one");
    expect((await session.send("two").result()).output).toBe("two");
    await runtime.stop();
    const wheres = vi.mocked(logger.error).mock.calls.map(([fields]) => (fields as { where: string }).where);
    expect(wheres.sort()).toEqual(["telemetry attach", "telemetry captureContext", "telemetry startTurn"]);
  });

  it("refuses a telemetry option that is not an adapter", () => {
    expect(() =>
      createRuntime({ agents: { f: { run: () => 1 } }, store: createMemoryStore(), telemetry: {} as never }),
    ).toThrow(BootError);
    expect(() =>
      createRuntime({
        agents: { f: { run: () => 1 } },
        store: createMemoryStore(),
        telemetry: "otel" as never,
      }),
    ).toThrow(/telemetry must be a Telemetry adapter .*; got "otel" \(string\)/);
  });
});
