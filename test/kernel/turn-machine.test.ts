/**
 * The turn machine's rules, driven directly: events in, effects and state out. No runtime, no timers.
 * Longer than the usual file: one module, one file, and the machine has many rules (steps, limits,
 * stale events, two cancel modes, steering) plus a seeded random drive that checks them together.
 */
import { describe, expect, it } from "vitest";
import type { Message, ToolCallPart, ToolResultPart } from "../../src/kernel/messages.js";
import { userMessage } from "../../src/kernel/messages.js";
import type { Reason, TerminalStatus, Usage } from "../../src/kernel/outcome.js";
import {
  type CancelRequest,
  createTurn,
  type NewTurn,
  stepTurn,
  type TurnEffect,
  type TurnMachineEvent,
  type TurnState,
} from "../../src/kernel/turn/turn-machine.js";
import { SeededRandom } from "../../src/testing/seeded-random.js";

// ---- helpers -----------------------------------------------------------------------------------

function call(id: string, toolName = "lookup"): ToolCallPart {
  return { type: "tool-call", toolCallId: id, toolName, input: `{"q":"${id}"}` };
}

function ok(c: ToolCallPart, value = `result of ${c.toolCallId}`): ToolResultPart {
  return {
    type: "tool-result",
    toolCallId: c.toolCallId,
    toolName: c.toolName,
    output: { type: "text", value },
  };
}

function newTurn(overrides: Partial<NewTurn> = {}): TurnState {
  return createTurn({
    turnId: "t1",
    attempt: 1,
    kind: "model",
    modelCallsMax: 8,
    toolCallsPerStepMax: 8,
    inputs: [userMessage("hello")],
    ...overrides,
  });
}

function started(overrides: Partial<NewTurn> = {}): TurnState {
  const turn = newTurn(overrides);
  stepTurn(turn, { type: "start" });
  return turn;
}

/** A started turn whose model asked for one tool call, `a`, which runs: the turn and the call. */
function inToolStep(overrides: Partial<NewTurn> = {}): [TurnState, ToolCallPart] {
  const turn = started(overrides);
  const a = call("a");
  modelDone(turn, "", [a]);
  return [turn, a];
}

/** The model answers the call in flight (right attempt, right step). */
function modelDone(
  turn: TurnState,
  text: string,
  toolCalls: readonly ToolCallPart[] = [],
  usage?: Usage,
): readonly TurnEffect[] {
  return stepTurn(turn, {
    type: "model.done",
    attempt: turn.attempt,
    step: turn.step,
    text,
    toolCalls,
    usage,
  });
}

function toolDone(turn: TurnState, result: ToolResultPart): readonly TurnEffect[] {
  return stepTurn(turn, { type: "tool.done", attempt: turn.attempt, step: turn.step, result });
}

const CANCEL: Reason = { code: "cancel_requested", message: "the caller cancelled" };
const INTERRUPT: Reason = { code: "interrupted_by_input", message: "interrupted by input i9" };

function cancel(mode: CancelRequest["mode"], extra: Partial<CancelRequest> = {}): TurnMachineEvent {
  return { type: "cancel", request: { mode, status: "cancelled", reason: CANCEL, ...extra } };
}

function interrupt(mode: CancelRequest["mode"]): TurnMachineEvent {
  return { type: "cancel", request: { mode, status: "interrupted", reason: INTERRUPT } };
}

function steer(inputId: string): TurnMachineEvent {
  return { type: "steer", inputId, message: userMessage(`steered ${inputId}`) };
}

function endOf(effects: readonly TurnEffect[]): Extract<TurnEffect, { type: "end" }> {
  const end = effects.find((e) => e.type === "end");
  if (end === undefined || end.type !== "end") throw new Error(`no end effect in ${JSON.stringify(effects)}`);
  return end;
}

function roles(messages: readonly Message[]): string[] {
  return messages.map((m) => m.role);
}

/** One snapshot of everything observable, to prove a dropped event changed nothing. */
function snapshot(turn: TurnState): unknown {
  return structuredClone(turn);
}

// ---- start -------------------------------------------------------------------------------------

describe("turn machine: start", () => {
  it("a model turn calls the model for step 1 and nothing else", () => {
    const turn = newTurn();
    expect(turn.phase).toBe("new");
    expect(stepTurn(turn, { type: "start" })).toEqual([{ type: "call_model", step: 1 }]);
    expect(turn.phase).toBe("model");
    expect(turn.step).toBe(1);
  });

  it("opens with one user message per input, in order (merged inputs)", () => {
    const inputs = [userMessage("a"), userMessage("b"), userMessage({ n: 3 })];
    const turn = newTurn({ inputs });
    expect(turn.messages).toEqual([userMessage("a"), userMessage("b"), userMessage({ n: 3 })]);
    // The turn takes the caller's array as its message list (no copy per turn) and appends to it.
    stepTurn(turn, { type: "start" });
    modelDone(turn, "done");
    expect(turn.messages).toBe(inputs);
    expect(inputs).toHaveLength(4);
  });

  it("a function turn runs the function instead of calling a model", () => {
    const turn = newTurn({ kind: "function" });
    expect(stepTurn(turn, { type: "start" })).toEqual([{ type: "run_function" }]);
    expect(turn.phase).toBe("function");
  });

  it("a second start is a driver bug: the turn fails with internal_invariant, naming the turn", () => {
    const turn = started();
    const end = endOf(stepTurn(turn, { type: "start" }));
    expect(end.outcome.status).toBe("failed");
    expect(end.outcome.reason.code).toBe("internal_invariant");
    expect(end.outcome.reason.message).toContain("t1");
    expect(turn.phase).toBe("ended");
  });

  it("a resumed turn continues after its checkpointed step with the checkpointed messages", () => {
    const resumedMessages = [userMessage("hello"), { role: "assistant", content: [] } as Message];
    const turn = newTurn({ resumedMessages, resumedStep: 3 });
    expect(turn.messages).toEqual(resumedMessages);
    expect(stepTurn(turn, { type: "start" })).toEqual([{ type: "call_model", step: 4 }]);
  });
});

// ---- the step loop -------------------------------------------------------------------------------

describe("turn machine: model steps and tools", () => {
  it("a final answer ends the turn completed (ok) with the text as output", () => {
    const turn = started();
    const effects = modelDone(turn, "the answer");
    expect(effects).toEqual([
      {
        type: "end",
        outcome: {
          status: "completed",
          reason: { code: "ok", message: "model finished" },
          output: "the answer",
        },
        unsteered: [],
      },
    ]);
    expect(turn.phase).toBe("ended");
    expect(turn.outcome).toEqual(endOf(effects).outcome);
    expect(turn.messages.at(-1)).toEqual({
      role: "assistant",
      content: [{ type: "text", text: "the answer" }],
    });
  });

  it("several tool calls in one step run in parallel: one run_tools effect carrying all of them, in order", () => {
    const turn = started();
    const calls = [call("a"), call("b", "other"), call("c")];
    expect(modelDone(turn, "let me look", calls)).toEqual([{ type: "run_tools", step: 1, calls }]);
    expect(turn.phase).toBe("tools");
  });

  it("waits for every result of the step, then feeds them back in call order and calls the model again", () => {
    const turn = started();
    const [a, b, c] = [call("a"), call("b"), call("c")];
    modelDone(turn, "", [a, b, c]);
    // Results arrive out of order; nothing happens until the last one.
    expect(toolDone(turn, ok(c))).toEqual([]);
    expect(toolDone(turn, ok(a))).toEqual([]);
    expect(turn.phase).toBe("tools");
    expect(toolDone(turn, ok(b))).toEqual([{ type: "call_model", step: 2 }]);
    expect(roles(turn.messages)).toEqual(["user", "assistant", "tool"]);
    expect(turn.messages[1]).toEqual({ role: "assistant", content: [a, b, c] });
    expect(turn.messages[2]).toEqual({ role: "tool", content: [ok(a), ok(b), ok(c)] });
  });

  it("runs the whole loop: model → tools → model → final answer", () => {
    const turn = started();
    const x = call("x");
    modelDone(turn, "checking", [x]);
    toolDone(turn, ok(x));
    const end = endOf(modelDone(turn, "all done"));
    expect(end.outcome).toMatchObject({ status: "completed", output: "all done" });
    expect(roles(turn.messages)).toEqual(["user", "assistant", "tool", "assistant"]);
    expect(turn.messages[1]).toEqual({
      role: "assistant",
      content: [{ type: "text", text: "checking" }, x],
    });
  });

  it("adds up the token usage of every step; a step without usage adds nothing", () => {
    const turn = started();
    const x = call("x");
    modelDone(turn, "", [x], { inputTokens: 10, outputTokens: 2 });
    toolDone(turn, ok(x));
    const y = call("y");
    modelDone(turn, "", [y]);
    toolDone(turn, ok(y));
    modelDone(turn, "done", [], { inputTokens: 5, outputTokens: 7 });
    expect(turn.usage).toEqual({ inputTokens: 15, outputTokens: 9 });
  });

  it("a failing model ends the turn failed with model_error, quoting the cause, and no output", () => {
    const turn = started();
    const end = endOf(
      stepTurn(turn, { type: "model.failed", attempt: 1, step: 1, error: "HTTP 503: overloaded" }),
    );
    expect(end.outcome).toEqual({
      status: "failed",
      reason: { code: "model_error", message: "HTTP 503: overloaded" },
    });
    expect("output" in end.outcome).toBe(false);
  });

  it("a function turn completes with the function's output, or fails with function_error", () => {
    const good = newTurn({ kind: "function" });
    stepTurn(good, { type: "start" });
    const done = endOf(stepTurn(good, { type: "function.done", attempt: 1, output: { n: 42 } }));
    expect(done.outcome).toEqual({
      status: "completed",
      reason: { code: "ok", message: "function returned" },
      output: { n: 42 },
    });

    const bad = newTurn({ kind: "function" });
    stepTurn(bad, { type: "start" });
    const failed = endOf(stepTurn(bad, { type: "function.failed", attempt: 1, error: "TypeError: boom" }));
    expect(failed.outcome).toEqual({
      status: "failed",
      reason: { code: "function_error", message: "TypeError: boom" },
    });
  });

  it("a function that returns nothing completes without an output field", () => {
    const turn = newTurn({ kind: "function" });
    stepTurn(turn, { type: "start" });
    const end = endOf(stepTurn(turn, { type: "function.done", attempt: 1, output: undefined }));
    expect(end.outcome.status).toBe("completed");
    expect("output" in end.outcome).toBe(false);
  });
});

// ---- limits ----------------------------------------------------------------------------------------

describe("turn machine: limits", () => {
  it("ends max_iterations (model_call_limit) when the step at the limit asks for tools", () => {
    const turn = started({ modelCallsMax: 1 });
    const x = call("x");
    // The step's tools still run, so their results are recorded; only the next model call is refused.
    expect(modelDone(turn, "", [x])).toEqual([{ type: "run_tools", step: 1, calls: [x] }]);
    const effects = toolDone(turn, ok(x));
    expect(effects.some((e) => e.type === "call_model")).toBe(false);
    const end = endOf(effects);
    expect(end.outcome.status).toBe("max_iterations");
    expect(end.outcome.reason.code).toBe("model_call_limit");
    expect(end.outcome.reason.message).toContain("1 model calls");
    expect(roles(turn.messages)).toEqual(["user", "assistant", "tool"]);
  });

  it("never calls the model more than modelCallsMax times", () => {
    const turn = newTurn({ modelCallsMax: 3 });
    const modelCalls: number[] = [];
    let effects = stepTurn(turn, { type: "start" });
    for (let i = 0; turn.phase !== "ended"; i++) {
      for (const e of effects) if (e.type === "call_model") modelCalls.push(e.step);
      const c = call(`c${i}`);
      modelDone(turn, "", [c]);
      effects = toolDone(turn, ok(c));
    }
    expect(modelCalls).toEqual([1, 2, 3]);
    expect(turn.outcome?.status).toBe("max_iterations");
  });

  it("a final answer on the last allowed model call is completed, not max_iterations", () => {
    const turn = started({ modelCallsMax: 2 });
    const c = call("c");
    modelDone(turn, "", [c]);
    toolDone(turn, ok(c));
    expect(endOf(modelDone(turn, "just in time")).outcome.status).toBe("completed");
  });

  it("tool calls past toolCallsPerStepMax do not run; the model sees an error result for each", () => {
    const turn = started({ toolCallsPerStepMax: 2 });
    const [a, b, c] = [call("a"), call("b"), call("c")];
    expect(modelDone(turn, "", [a, b, c])).toEqual([{ type: "run_tools", step: 1, calls: [a, b] }]);
    toolDone(turn, ok(b));
    expect(toolDone(turn, ok(a))).toEqual([{ type: "call_model", step: 2 }]);
    const tool = turn.messages[2]!;
    expect(tool.role).toBe("tool");
    const results = tool.content as readonly ToolResultPart[];
    expect(results.map((r) => r.toolCallId)).toEqual(["a", "b", "c"]);
    expect(results[2]!.output.type).toBe("error-text");
    expect(results[2]!.output.value).toContain("too many tool calls in one step (3 > 2)");
  });

  it("when no call of a step may run, the step ends at once with error results", () => {
    const turn = started({ toolCallsPerStepMax: 0 });
    const a = call("a");
    expect(modelDone(turn, "", [a])).toEqual([{ type: "call_model", step: 2 }]);
    expect(turn.messages[2]).toMatchObject({ role: "tool", content: [{ toolCallId: "a" }] });
  });

  it("a duplicate tool call id runs once; the duplicate gets an error result naming the id", () => {
    const turn = started();
    const first = call("dup");
    const second = { ...call("dup"), input: '{"other":true}' };
    expect(modelDone(turn, "", [first, second])).toEqual([{ type: "run_tools", step: 1, calls: [first] }]);
    expect(toolDone(turn, ok(first))).toEqual([{ type: "call_model", step: 2 }]);
    const results = turn.messages[2]!.content as readonly ToolResultPart[];
    expect(results[0]).toEqual(ok(first));
    expect(results[1]!.output).toEqual({ type: "error-text", value: 'duplicate tool call id "dup"' });
  });
});

// ---- stale events ------------------------------------------------------------------------------------

describe("turn machine: stale and late events are dropped", () => {
  it("a model result from another attempt or step changes nothing", () => {
    const turn = started({ attempt: 2 });
    const before = snapshot(turn);
    const stale: TurnMachineEvent[] = [
      { type: "model.done", attempt: 1, step: 1, text: "old attempt", toolCalls: [] },
      { type: "model.done", attempt: 2, step: 0, text: "old step", toolCalls: [] },
      { type: "model.done", attempt: 2, step: 2, text: "future step", toolCalls: [] },
      { type: "model.failed", attempt: 1, step: 1, error: "old attempt" },
      { type: "model.failed", attempt: 2, step: 3, error: "wrong step" },
    ];
    for (const event of stale) expect(stepTurn(turn, event)).toEqual([]);
    expect(snapshot(turn)).toEqual(before);
  });

  it("a model result while tools run (the step already answered) changes nothing", () => {
    const turn = started();
    modelDone(turn, "", [call("a")]);
    const before = snapshot(turn);
    expect(stepTurn(turn, { type: "model.done", attempt: 1, step: 1, text: "again", toolCalls: [] })).toEqual(
      [],
    );
    expect(stepTurn(turn, { type: "model.failed", attempt: 1, step: 1, error: "late" })).toEqual([]);
    expect(snapshot(turn)).toEqual(before);
  });

  it("a tool result from an earlier step is dropped even when the call id is reused", () => {
    const turn = started();
    modelDone(turn, "", [call("a")]);
    toolDone(turn, ok(call("a")));
    modelDone(turn, "", [call("a")]);
    const before = snapshot(turn);
    const late = ok(call("a"), "from step 1");
    expect(stepTurn(turn, { type: "tool.done", attempt: 1, step: 1, result: late })).toEqual([]);
    expect(stepTurn(turn, { type: "tool.done", attempt: 7, step: 2, result: late })).toEqual([]);
    expect(snapshot(turn)).toEqual(before);
    expect(toolDone(turn, ok(call("a"), "fresh"))).toEqual([{ type: "call_model", step: 3 }]);
  });

  it("a second result for an answered call is dropped; the first one stands", () => {
    const turn = started();
    const [a, b] = [call("a"), call("b")];
    modelDone(turn, "", [a, b]);
    toolDone(turn, ok(a, "first"));
    expect(toolDone(turn, ok(a, "second"))).toEqual([]);
    toolDone(turn, ok(b));
    expect((turn.messages[2]!.content as readonly ToolResultPart[])[0]!.output.value).toBe("first");
  });

  it("a result for a call the step never made fails the turn with internal_invariant", () => {
    const turn = started();
    modelDone(turn, "", [call("a")]);
    const end = endOf(toolDone(turn, ok(call("ghost"))));
    expect(end.outcome.status).toBe("failed");
    expect(end.outcome.reason.code).toBe("internal_invariant");
    expect(end.outcome.reason.message).toContain('"ghost"');
  });

  it("function results of another attempt, or in a model turn, are dropped", () => {
    const fn = newTurn({ kind: "function", attempt: 3 });
    stepTurn(fn, { type: "start" });
    expect(stepTurn(fn, { type: "function.done", attempt: 2, output: 1 })).toEqual([]);
    expect(stepTurn(fn, { type: "function.failed", attempt: 2, error: "x" })).toEqual([]);
    expect(fn.phase).toBe("function");

    const model = started();
    expect(stepTurn(model, { type: "function.done", attempt: 1, output: 1 })).toEqual([]);
    expect(stepTurn(model, { type: "tool.done", attempt: 1, step: 1, result: ok(call("a")) })).toEqual([]);
    expect(model.phase).toBe("model");
  });

  it("after the turn ended, every event is dropped and the outcome never changes", () => {
    const turn = started();
    modelDone(turn, "final");
    const before = snapshot(turn);
    const late: TurnMachineEvent[] = [
      { type: "start" },
      { type: "model.done", attempt: 1, step: 1, text: "again", toolCalls: [call("z")] },
      { type: "model.failed", attempt: 1, step: 1, error: "late failure" },
      { type: "tool.done", attempt: 1, step: 1, result: ok(call("z")) },
      { type: "function.done", attempt: 1, output: "x" },
      { type: "function.failed", attempt: 1, error: "x" },
      cancel("immediate"),
      interrupt("after_step"),
      steer("late"),
    ];
    for (const event of late) expect(stepTurn(turn, event)).toEqual([]);
    expect(snapshot(turn)).toEqual(before);
    expect(turn.outcome?.status).toBe("completed");
  });
});

// ---- cancellation ------------------------------------------------------------------------------------

describe("turn machine: cancellation", () => {
  it("immediate, during a model call: aborts it and ends cancelled with the caller's reason", () => {
    const turn = started();
    expect(stepTurn(turn, cancel("immediate"))).toEqual([
      { type: "abort", reason: CANCEL },
      { type: "end", outcome: { status: "cancelled", reason: CANCEL }, unsteered: [] },
    ]);
    // The aborted call's late answer is stale.
    expect(modelDone(turn, "too late")).toEqual([]);
    expect(turn.outcome).toEqual({ status: "cancelled", reason: CANCEL });
  });

  it("immediate, during tools: aborts them; calls without a result get an error result in the history", () => {
    const turn = started();
    const [a, b, c] = [call("a"), call("b"), call("c")];
    modelDone(turn, "", [a, b, c]);
    toolDone(turn, ok(b));
    const effects = stepTurn(turn, interrupt("immediate"));
    expect(effects[0]).toEqual({ type: "abort", reason: INTERRUPT });
    expect(endOf(effects).outcome).toEqual({ status: "interrupted", reason: INTERRUPT });
    // The history stays well-formed: every call of the assistant message has exactly one result.
    expect(roles(turn.messages)).toEqual(["user", "assistant", "tool"]);
    const results = turn.messages[2]!.content as readonly ToolResultPart[];
    expect(results.map((r) => [r.toolCallId, r.output.type])).toEqual([
      ["a", "error-text"],
      ["b", "text"],
      ["c", "error-text"],
    ]);
    expect(results[0]!.output.value).toContain("cancelled before it finished");
    expect(toolDone(turn, ok(a))).toEqual([]);
  });

  it("immediate, during a function: aborts it and ends cancelled", () => {
    const turn = newTurn({ kind: "function" });
    stepTurn(turn, { type: "start" });
    const effects = stepTurn(turn, cancel("immediate"));
    expect(effects.map((e) => e.type)).toEqual(["abort", "end"]);
    expect(stepTurn(turn, { type: "function.done", attempt: 1, output: "late" })).toEqual([]);
    expect(turn.outcome?.status).toBe("cancelled");
  });

  it("before the turn started, any cancel ends it at once without calling the model", () => {
    for (const mode of ["immediate", "after_step"] as const) {
      const turn = newTurn();
      const effects = stepTurn(turn, cancel(mode));
      expect(effects.map((e) => e.type)).toEqual(["abort", "end"]);
      expect(turn.outcome?.status).toBe("cancelled");
      expect(stepTurn(turn, { type: "start" })).toEqual([]);
    }
  });

  it("after_step, during a model call that asks for tools: the step's tools still run, then it ends", () => {
    const turn = started();
    expect(stepTurn(turn, cancel("after_step"))).toEqual([]);
    const [a, b] = [call("a"), call("b")];
    expect(modelDone(turn, "", [a, b])).toEqual([{ type: "run_tools", step: 1, calls: [a, b] }]);
    expect(toolDone(turn, ok(a))).toEqual([]);
    const effects = toolDone(turn, ok(b));
    // No abort: nothing was in flight any more. No further model call.
    expect(effects).toEqual([
      { type: "end", outcome: { status: "cancelled", reason: CANCEL }, unsteered: [] },
    ]);
    expect(roles(turn.messages)).toEqual(["user", "assistant", "tool"]);
    expect(
      (turn.messages[2]!.content as readonly ToolResultPart[]).every((r) => r.output.type === "text"),
    ).toBe(true);
  });

  it("after_step, during tools: lets the remaining results arrive, then ends without aborting", () => {
    const turn = started();
    const [a, b] = [call("a"), call("b")];
    modelDone(turn, "", [a, b]);
    toolDone(turn, ok(a));
    expect(stepTurn(turn, interrupt("after_step"))).toEqual([]);
    expect(turn.phase).toBe("tools");
    expect(endOf(toolDone(turn, ok(b))).outcome).toEqual({ status: "interrupted", reason: INTERRUPT });
  });

  it("after_step, when the step turns out to be the last: the turn completes with its answer", () => {
    const turn = started();
    stepTurn(turn, cancel("after_step"));
    expect(endOf(modelDone(turn, "answer")).outcome).toMatchObject({ status: "completed", output: "answer" });
  });

  it("cancelling a steered input the model never saw drops it alone; the turn goes on", () => {
    // The crash test found a cancelled, unseen steered input ending with whatever ended its turn
    // (completed, interrupted, failed): it must end cancelled, and the turn must not care.
    for (const kind of ["model", "function"] as const) {
      for (const mode of ["immediate", "after_step"] as const) {
        const turn = started({ kind });
        stepTurn(turn, steer("s1"));
        expect(stepTurn(turn, cancel(mode, { inputId: "s1" }))).toEqual([
          { type: "drop", inputId: "s1", status: "cancelled", reason: CANCEL },
        ]);
        expect(turn.cancel).toBeUndefined();
        const done =
          kind === "model"
            ? modelDone(turn, "answer")
            : stepTurn(turn, { type: "function.done", attempt: 1, output: 5 });
        const end = endOf(done);
        expect(end).toMatchObject({ outcome: { status: "completed" }, unsteered: [] });
      }
    }
  });

  it("after_step lets a function agent finish", () => {
    const turn = newTurn({ kind: "function" });
    stepTurn(turn, { type: "start" });
    expect(stepTurn(turn, cancel("after_step"))).toEqual([]);
    expect(endOf(stepTurn(turn, { type: "function.done", attempt: 1, output: 5 })).outcome.status).toBe(
      "completed",
    );
  });

  it("a later after_step interrupt outranks an earlier after_step cancel, never the reverse", () => {
    for (const order of [
      [cancel("after_step"), interrupt("after_step")],
      [interrupt("after_step"), cancel("after_step")],
    ]) {
      const [turn, a] = inToolStep();
      for (const event of order) stepTurn(turn, event);
      expect(endOf(toolDone(turn, ok(a))).outcome).toEqual({ status: "interrupted", reason: INTERRUPT });
    }
  });

  it("an immediate cancel after a pending after_step one ends the turn now, with its own reason", () => {
    const turn = started();
    modelDone(turn, "", [call("a")]);
    stepTurn(turn, interrupt("after_step"));
    const effects = stepTurn(turn, cancel("immediate"));
    expect(effects.map((e) => e.type)).toEqual(["abort", "end"]);
    expect(turn.outcome).toEqual({ status: "cancelled", reason: CANCEL });
  });
});

// ---- steering ------------------------------------------------------------------------------------

describe("turn machine: steered input", () => {
  it("joins at the step boundary: after all the step's tool results, before the next model call", () => {
    const turn = started();
    const [a, b] = [call("a"), call("b")];
    modelDone(turn, "", [a, b]);
    expect(toolDone(turn, ok(a))).toEqual([]);
    // Between a tool call and its result: held back.
    expect(stepTurn(turn, steer("s1"))).toEqual([]);
    expect(roles(turn.messages)).toEqual(["user", "assistant"]);
    expect(toolDone(turn, ok(b))).toEqual([{ type: "call_model", step: 2 }]);
    expect(roles(turn.messages)).toEqual(["user", "assistant", "tool", "user"]);
    expect(turn.messages[3]).toEqual(userMessage("steered s1"));
    expect(turn.steered).toEqual([]);
  });

  it("steered during a model call that asks for tools: still waits for the tools' results", () => {
    const turn = started();
    stepTurn(turn, steer("s1"));
    const a = call("a");
    expect(modelDone(turn, "", [a])).toEqual([{ type: "run_tools", step: 1, calls: [a] }]);
    expect(roles(turn.messages)).toEqual(["user", "assistant"]);
    toolDone(turn, ok(a));
    expect(roles(turn.messages)).toEqual(["user", "assistant", "tool", "user"]);
  });

  it("several steered inputs join together, in arrival order", () => {
    const [turn, a] = inToolStep();
    stepTurn(turn, steer("s1"));
    stepTurn(turn, steer("s2"));
    toolDone(turn, ok(a));
    expect(turn.messages.slice(3)).toEqual([userMessage("steered s1"), userMessage("steered s2")]);
  });

  it("steered during what would be the final answer: the model is called again to answer it", () => {
    const turn = started();
    stepTurn(turn, steer("s1"));
    expect(modelDone(turn, "first answer")).toEqual([{ type: "call_model", step: 2 }]);
    expect(roles(turn.messages)).toEqual(["user", "assistant", "user"]);
    const end = endOf(modelDone(turn, "answer to both"));
    expect(end.outcome.output).toBe("answer to both");
    expect(end.unsteered).toEqual([]);
  });

  it("when no model call is left, steered input the model never saw is handed back (unsteered)", () => {
    const final = started({ modelCallsMax: 1 });
    stepTurn(final, steer("s1"));
    const completed = endOf(modelDone(final, "answer"));
    expect(completed).toMatchObject({ outcome: { status: "completed" }, unsteered: ["s1"] });
    expect(roles(final.messages)).toEqual(["user", "assistant"]);

    const [limited, a] = inToolStep({ modelCallsMax: 1 });
    stepTurn(limited, steer("s2"));
    const maxed = endOf(toolDone(limited, ok(a)));
    expect(maxed).toMatchObject({ outcome: { status: "max_iterations" }, unsteered: ["s2"] });
    expect(roles(limited.messages)).toEqual(["user", "assistant", "tool"]);
  });

  it("a cancel hands unseen steered input back; the unseen input whose handle asked leaves alone", () => {
    const turn = started();
    stepTurn(turn, steer("s1"));
    stepTurn(turn, steer("s2"));
    expect(stepTurn(turn, cancel("immediate", { inputId: "s1" }))).toMatchObject([
      { type: "drop", inputId: "s1" },
    ]);
    const end = endOf(stepTurn(turn, cancel("immediate")));
    expect(end).toMatchObject({ outcome: { status: "cancelled" }, unsteered: ["s2"] });
  });

  it("an after_step cancel at a boundary with steered input waiting hands it back instead of calling the model", () => {
    const [turn, a] = inToolStep();
    stepTurn(turn, steer("s1"));
    stepTurn(turn, cancel("after_step"));
    const end = endOf(toolDone(turn, ok(a)));
    expect(end).toMatchObject({ outcome: { status: "cancelled" }, unsteered: ["s1"] });
    expect(roles(turn.messages)).toEqual(["user", "assistant", "tool"]);
  });

  it("input steered into a function turn is handed back when it ends", () => {
    const turn = newTurn({ kind: "function" });
    stepTurn(turn, { type: "start" });
    stepTurn(turn, steer("s1"));
    expect(endOf(stepTurn(turn, { type: "function.done", attempt: 1, output: 1 })).unsteered).toEqual(["s1"]);
  });

  it("a failed model call hands steered input back", () => {
    const turn = started();
    stepTurn(turn, steer("s1"));
    const end = endOf(stepTurn(turn, { type: "model.failed", attempt: 1, step: 1, error: "boom" }));
    expect(end.unsteered).toEqual(["s1"]);
  });
});

// ---- property: random drives ---------------------------------------------------------------------

/** Which reason codes each terminal status may carry. */
const CODES: Record<Exclude<TerminalStatus, "withdrawn">, readonly string[]> = {
  completed: ["ok"],
  failed: ["model_error", "function_error"],
  cancelled: ["cancel_requested"],
  interrupted: ["interrupted_by_input"],
  max_iterations: ["model_call_limit"],
};

/**
 * Drives one model turn with a random but legal driver (every result it sends answers a call the
 * machine asked for, or is deliberately stale), mixed with steers and cancels, and checks the rules
 * that must hold whatever the order.
 */
function randomDrive(seed: number): void {
  const r = new SeededRandom(seed);
  const modelCallsMax = r.int(1, 5);
  const turn = newTurn({ attempt: 2, modelCallsMax, toolCallsPerStepMax: r.int(1, 4) });
  const ctx = `seed ${seed}`;
  const effects: TurnEffect[] = [...stepTurn(turn, { type: "start" })];
  let inFlight: ToolCallPart[] = [];
  const steeredIds: string[] = [];
  const cancelledSteered = new Set<string>();
  let ends = 0;
  let effectsAfterEnd = 0;

  const feed = (event: TurnMachineEvent) => {
    const out = stepTurn(turn, event);
    if (ends > 0) effectsAfterEnd += out.length;
    for (const e of out) {
      effects.push(e);
      if (e.type === "end") ends += 1;
      if (e.type === "run_tools") inFlight = [...e.calls];
    }
  };

  for (let i = 0; i < 400 && turn.phase !== "ended"; i++) {
    const roll = r.next();
    if (roll < 0.08) {
      const id = `s${steeredIds.length}`;
      steeredIds.push(id);
      feed(steer(id));
    } else if (roll < 0.11) {
      // A handle's cancel names its input; sometimes that input is steered and still unseen.
      const unseen = turn.steered.map((s) => s.inputId);
      const inputId = unseen.length > 0 && r.chance(0.5) ? r.pick(unseen) : r.pick(["i0", ...steeredIds]);
      const mode = r.chance(0.5) ? "immediate" : "after_step";
      if (r.chance(0.5)) {
        if (unseen.includes(inputId)) cancelledSteered.add(inputId);
        feed(cancel(mode, { inputId }));
      } else feed(interrupt(mode));
    } else if (roll < 0.2) {
      // Stale: an older attempt, or an older step.
      feed({ type: "model.done", attempt: 1, step: turn.step, text: "stale", toolCalls: [] });
      feed({ type: "tool.done", attempt: turn.attempt, step: turn.step - 1, result: ok(call("old")) });
    } else if (turn.phase === "model") {
      if (r.chance(0.05)) feed({ type: "model.failed", attempt: 2, step: turn.step, error: "flaky" });
      else {
        const n = r.chance(0.3) ? 0 : r.int(1, 5);
        const calls = Array.from({ length: n }, (_, k) => call(`s${turn.step}c${k}`));
        feed({
          type: "model.done",
          attempt: 2,
          step: turn.step,
          text: `step ${turn.step}`,
          toolCalls: calls,
        });
      }
    } else if (turn.phase === "tools" && inFlight.length > 0) {
      const at = r.int(0, inFlight.length - 1);
      const [c] = inFlight.splice(at, 1);
      feed({ type: "tool.done", attempt: 2, step: turn.step, result: ok(c!) });
    }
  }

  expect(turn.phase, ctx).toBe("ended");
  expect(ends, ctx).toBe(1);
  expect(effectsAfterEnd, ctx).toBe(0);

  // Model calls are numbered 1, 2, 3… and never exceed the limit.
  const steps = effects.filter((e) => e.type === "call_model").map((e) => e.step);
  expect(steps, ctx).toEqual(Array.from({ length: steps.length }, (_, k) => k + 1));
  expect(steps.length, ctx).toBeLessThanOrEqual(modelCallsMax);

  const end = effects.find((e) => e.type === "end");
  if (end?.type !== "end") throw new Error(ctx);
  const { status, reason } = end.outcome;
  expect(CODES[status as keyof typeof CODES], ctx).toContain(reason.code);

  // Well-formed history: an assistant message with calls is followed at once by exactly one tool
  // message answering each call in order; nothing (no steered input) lands in between.
  const m = turn.messages;
  for (let k = 0; k < m.length; k++) {
    const msg = m[k]!;
    if (msg.role !== "assistant") continue;
    const ids = msg.content.filter((p) => p.type === "tool-call").map((p) => p.toolCallId);
    if (ids.length === 0) continue;
    const next = m[k + 1];
    expect(next?.role, ctx).toBe("tool");
    expect(
      (next!.content as readonly ToolResultPart[]).map((p) => p.toolCallId),
      ctx,
    ).toEqual(ids);
  }

  // Every steered input is accounted for exactly once: seen by the model, handed back, or dropped
  // because its own handle cancelled it.
  const seen = m.flatMap((x) =>
    x.role === "user" ? x.content.map((p) => p.text.replace("steered ", "")) : [],
  );
  for (const id of steeredIds) {
    const places = [seen.includes(id), end.unsteered.includes(id), cancelledSteered.has(id)].filter(Boolean);
    expect(places.length, `${ctx}: steered ${id}`).toBe(1);
  }
}

describe("turn machine: seeded random drives", () => {
  it("end exactly once, bounded model calls, specific reasons, well-formed history, no lost steer", () => {
    for (let seed = 1; seed <= 400; seed++) randomDrive(seed);
  });
});
