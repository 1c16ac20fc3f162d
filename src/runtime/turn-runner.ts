/**
 * Performs a turn's effects: streams a model step, runs tool calls (in parallel, each with its own
 * timeout and the turn's `AbortSignal`), or calls a function agent. Every result goes back to the
 * kernel as an event tagged with the turn's attempt and step, through the dispatcher; the kernel
 * drops results that arrive after the turn moved on.
 *
 * A model that returns a synchronous iterable is drained inline, without promises or dispatcher hops
 * (the fast path for local and no-op models).
 *
 * @packageDocumentation
 */

import type { Message, ToolCallPart, ToolResultPart } from "../kernel/messages.js";
import { describeCause, type Usage } from "../kernel/outcome.js";
import { errorResult, type TurnEvent as KernelEvent, type TurnState } from "../kernel/turn/turn-machine.js";
import type { ToolRegistry } from "../tools/tool-registry.js";
import type { FunctionAgent, ModelAgent } from "./agent.js";
import type { Clock } from "./clock.js";
import type { Dispatcher } from "./dispatcher.js";
import type { RuntimeEvent } from "./events.js";
import type { ModelPart, ModelRequest } from "./ports/model.js";
import { runInTurn } from "./turn-scope.js";

/** One running turn: its state, and what its effects need. */
export interface ActiveTurn extends TurnState {
  readonly sessionId: string;
  /** The session's history before this turn. */
  readonly history: readonly Message[];
  /** The inputs the turn started with (function agents receive their payloads). */
  readonly inputs: readonly { readonly payload: unknown }[];
  readonly startedAtMs: number;
  /** Created on first use (the first model, tool or function call), not for turns that make none. */
  controller: AbortController | undefined;
  ended: boolean;
}

/** What the runner needs from the runtime. */
export interface TurnHost {
  readonly clock: Clock;
  readonly dispatcher: Dispatcher;
  readonly toolTimeoutMs: number;
  feed(turn: ActiveTurn, event: KernelEvent): void;
  /** Emits a turn event if anyone listens; `build` is only called then. */
  emit(turn: ActiveTurn, build: () => RuntimeEvent): void;
  /** Whether anyone listens to turn events (checked first on hot paths, to skip building `build`). */
  observed(): boolean;
  /** Counts model/tool/function calls outstanding (for `stop()`'s accounting). */
  callStarted(): void;
  callEnded(): void;
}

export function signalOf(turn: ActiveTurn): AbortSignal {
  turn.controller ??= new AbortController();
  return turn.controller.signal;
}

/**
 * A model step's answer as it streams in. It is also the `model.done` event the kernel is fed when
 * the step succeeds (the kernel reads only the event's fields), so a step builds no second object.
 */
interface StepAnswer {
  readonly type: "model.done";
  readonly attempt: number;
  readonly step: number;
  text: string;
  toolCalls: ToolCallPart[];
  usage: Usage | undefined;
  error: unknown;
  failed: boolean;
}

/** Streams one model step and feeds `model.done` or `model.failed`. */
export function callModel(
  host: TurnHost,
  turn: ActiveTurn,
  agent: ModelAgent,
  system: Message | undefined,
  tools: ToolRegistry,
  step: number,
): void {
  const { attempt } = turn;
  // One exact-size copy: the model may keep its prompt, so it must not see later turns' messages.
  const prompt =
    system === undefined ? turn.history.concat(turn.messages) : [system].concat(turn.history, turn.messages);
  // Plain data with every key, so all steps share one shape, and adapters may spread it
  // (`{ ...request, providerOptions }`): a getter on a prototype would not survive the spread, and
  // an own getter makes V8 build a slow dictionary object (≈ 0.8 µs and 450 B per step).
  const request: ModelRequest = {
    prompt,
    tools: tools.modelTools,
    maxOutputTokens: agent.maxOutputTokens,
    abortSignal: signalOf(turn),
  };
  const answer: StepAnswer = {
    type: "model.done",
    attempt,
    step,
    text: "",
    toolCalls: NO_CALLS,
    usage: undefined,
    error: undefined,
    failed: false,
  };
  host.callStarted();
  let stream: ReturnType<ModelAgent["model"]["stream"]>;
  try {
    stream = agent.model.stream(request);
  } catch (error) {
    answer.failed = true;
    answer.error = error;
    stepDone(host, turn, answer);
    return;
  }
  if (isSyncIterable(stream)) {
    try {
      if (Array.isArray(stream)) {
        // Indexed: an array iterator per step is a large share of what a no-op turn allocates.
        for (let i = 0; i < stream.length; i++) if (!take(host, turn, answer, stream[i])) break;
      } else {
        for (const part of stream) if (!take(host, turn, answer, part)) break;
      }
    } catch (error) {
      answer.failed = true;
      answer.error = error;
    }
    stepDone(host, turn, answer);
    return;
  }
  void (async () => {
    try {
      for await (const part of await stream) if (!take(host, turn, answer, part)) break;
    } catch (error) {
      answer.failed = true;
      answer.error = error;
    }
    host.dispatcher.post("model.done", () => stepDone(host, turn, answer));
  })();
}

function stepDone(host: TurnHost, turn: ActiveTurn, answer: StepAnswer): void {
  const { attempt, step } = answer;
  host.callEnded();
  host.feed(
    turn,
    answer.failed ? { type: "model.failed", attempt, step, error: describeCause(answer.error) } : answer,
  );
}

/** Most steps ask for no tool calls: they share this array instead of allocating their own. */
const NO_CALLS: ToolCallPart[] = [];

function take(host: TurnHost, turn: ActiveTurn, answer: StepAnswer, part: ModelPart): boolean {
  // A stream may go on after its turn ended or was aborted (providers do not all stop on abort):
  // nothing it says after that may reach the handle's events.
  if (turn.ended || turn.controller?.signal.aborted === true) return false;
  switch (part.type) {
    case "text-delta":
      answer.text += part.delta;
      if (host.observed())
        host.emit(turn, () => ({
          type: "model.text",
          sessionId: turn.sessionId,
          turnId: turn.turnId,
          delta: part.delta,
        }));
      return true;
    case "tool-call":
      if (answer.toolCalls === NO_CALLS) answer.toolCalls = [];
      answer.toolCalls.push({
        type: "tool-call",
        toolCallId: part.toolCallId,
        toolName: part.toolName,
        input: part.input,
      });
      return true;
    case "finish":
      if (part.usage !== undefined) answer.usage = part.usage;
      return true;
    case "error":
      answer.failed = true;
      answer.error = part.error;
      return false;
    default:
      return true;
  }
}

function isSyncIterable<T>(value: unknown): value is Iterable<T> {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Iterable<T>)[Symbol.iterator] === "function"
  );
}

/** Runs a step's tool calls in parallel; each result is fed back on its own. */
export function runTools(
  host: TurnHost,
  turn: ActiveTurn,
  tools: ToolRegistry,
  step: number,
  calls: readonly ToolCallPart[],
): void {
  for (const call of calls) {
    host.emit(turn, () => ({
      type: "tool.started",
      sessionId: turn.sessionId,
      turnId: turn.turnId,
      toolCallId: call.toolCallId,
      toolName: call.toolName,
    }));
    const startedAtMs = host.clock.monotonicMs();
    void runTool(host, turn, tools, call).then((result) => {
      host.dispatcher.post(`tool ${call.toolName}`, () => {
        host.emit(turn, () => ({
          type: "tool.ended",
          sessionId: turn.sessionId,
          turnId: turn.turnId,
          toolCallId: call.toolCallId,
          toolName: call.toolName,
          isError: result.output.type === "error-text",
          durationMs: host.clock.monotonicMs() - startedAtMs,
        }));
        host.feed(turn, { type: "tool.done", attempt: turn.attempt, step, result });
      });
    });
  }
}

async function runTool(
  host: TurnHost,
  turn: ActiveTurn,
  tools: ToolRegistry,
  call: ToolCallPart,
): Promise<ToolResultPart> {
  const tool = tools.get(call.toolName);
  if (tool === undefined) {
    const known =
      tools
        .list()
        .map((t) => t.name)
        .join(", ") || "none";
    return errorResult(call, `unknown tool ${JSON.stringify(call.toolName)}; available tools: ${known}`);
  }
  let args: unknown;
  try {
    args = call.input.trim() === "" ? {} : JSON.parse(call.input);
  } catch (error) {
    return errorResult(call, `tool input is not valid JSON (${describeCause(error)}); send a JSON object`);
  }
  try {
    const checked = await tool.check(args);
    if (!checked.ok) return errorResult(call, `invalid arguments for ${call.toolName}: ${checked.message}`);
    args = checked.value;
  } catch (error) {
    return errorResult(call, `could not validate arguments for ${call.toolName}: ${describeCause(error)}`);
  }
  const turnSignal = signalOf(turn);
  if (turnSignal.aborted) return errorResult(call, "the turn was cancelled before this tool ran");
  const timeoutMs = tool.timeoutMs ?? host.toolTimeoutMs;
  const own = new AbortController();
  const signal = AbortSignal.any([turnSignal, own.signal]);
  return new Promise<ToolResultPart>((resolve) => {
    let settled = false;
    const finish = (result: ToolResultPart) => {
      if (settled) return;
      settled = true;
      host.clock.clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(result);
    };
    const onAbort = () =>
      finish(errorResult(call, `the tool call was aborted: ${describeCause(signal.reason)}`));
    const timer = host.clock.setTimeout(() => {
      own.abort(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    signal.addEventListener("abort", onAbort, { once: true });
    host.callStarted();
    const context = {
      signal,
      sessionId: turn.sessionId,
      turnId: turn.turnId,
      toolCallId: call.toolCallId,
    };
    Promise.resolve()
      .then(() => runInTurn(turn.sessionId, turn.turnId, () => tool.execute(args, context)))
      .then(
        (value) =>
          finish({
            type: "tool-result",
            toolCallId: call.toolCallId,
            toolName: call.toolName,
            output: { type: "text", value: render(value) },
          }),
        (error) => finish(errorResult(call, `${call.toolName} failed: ${describeCause(error)}`)),
      )
      .finally(() => host.callEnded());
  });
}

function render(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === undefined) return "";
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** Calls a function agent with the turn's input and feeds its return value or failure. */
export function runFunction(host: TurnHost, turn: ActiveTurn, agent: FunctionAgent): void {
  const { attempt, turnId } = turn;
  const payloads = turn.inputs.map((input) => input.payload);
  const input = payloads.length === 1 ? payloads[0] : payloads;
  const context = {
    sessionId: turn.sessionId,
    turnId,
    // Plain data, as in a model step's request: an own getter would make this a slow dictionary object.
    signal: signalOf(turn),
    inputs: payloads,
    history: turn.history,
  };
  host.callStarted();
  Promise.resolve()
    .then(() => runInTurn(turn.sessionId, turnId, () => agent.run(input, context)))
    .then(
      (output) =>
        host.dispatcher.post("function.done", () => {
          host.callEnded();
          host.feed(turn, { type: "function.done", attempt, output: output ?? null });
        }),
      (error) =>
        host.dispatcher.post("function.failed", () => {
          host.callEnded();
          host.feed(turn, { type: "function.failed", attempt, error: describeCause(error) });
        }),
    );
}
