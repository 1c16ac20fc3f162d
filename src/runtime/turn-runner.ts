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

import { isOffstageError } from "../errors.js";
import type { ToolCallPart, ToolResultPart } from "../kernel/messages.js";
import { describeCause, printable, type Usage } from "../kernel/outcome.js";
import { errorResult, type TurnMachineEvent } from "../kernel/turn/turn-machine.js";
import { argumentsOf, checkJson } from "../validate.js";
import type { FunctionAgent, ModelAgent } from "./agent.js";
import type { LiveTurn } from "./live-turn.js";
import type { ToolSpan } from "./observer.js";
import type { RuntimeParts } from "./parts.js";
import type { FinishReason, ModelPart, ModelRequest } from "./ports/model.js";
import type { CallTelemetry, ModelCallEnd } from "./ports/telemetry.js";
import { runInTurn } from "./turn-scope.js";

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
  // For the observer (metrics, logs, the call's span): the kernel reads none of these.
  readonly modelId: string;
  readonly startedAtMs: number;
  finishReason: FinishReason | undefined;
  span: CallTelemetry<ModelCallEnd> | undefined;
}

/** Streams one model step and feeds `model.done` or `model.failed`. */
export function callModel(parts: RuntimeParts, turn: LiveTurn, agent: ModelAgent, step: number): void {
  const { attempt } = turn;
  const { system, tools } = turn.entry;
  // A copy: the model may keep its prompt, so it must not see later turns' messages.
  const prompt =
    system === undefined ? turn.history.concat(turn.messages) : [system].concat(turn.history, turn.messages);
  // Plain data, so adapters may spread it (`{ ...request, providerOptions }`).
  const request: ModelRequest = {
    prompt,
    tools: tools!.modelTools,
    maxOutputTokens: agent.maxOutputTokens,
    abortSignal: turn.signal,
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
    modelId: agent.model.id,
    startedAtMs: parts.clock.monotonicMs(),
    finishReason: undefined,
    span: undefined,
  };
  parts.driver.callStarted();
  const span = parts.observer.modelCallStarted(turn, step, answer.modelId, request);
  if (span === undefined) streamStep(parts, turn, agent, request, answer);
  else {
    answer.span = span;
    // The model runs inside its call's trace context: a provider's own spans nest under it.
    span.run(() => streamStep(parts, turn, agent, request, answer));
  }
}

function streamStep(
  parts: RuntimeParts,
  turn: LiveTurn,
  agent: ModelAgent,
  request: ModelRequest,
  answer: StepAnswer,
): void {
  let stream: ReturnType<ModelAgent["model"]["stream"]>;
  let sync: boolean;
  try {
    stream = agent.model.stream(request);
    // Inside the try: a hostile return value (a proxy) can throw when asked what it is.
    sync = isSyncIterable(stream);
  } catch (error) {
    answer.failed = true;
    answer.error = error;
    stepDone(parts, turn, answer);
    return;
  }
  if (sync) {
    const given = stream as Iterable<ModelPart>;
    try {
      if (Array.isArray(given)) {
        // Indexed: no iterator per step (bench/NOTES.md).
        for (let i = 0; i < given.length; i++) if (!take(parts, turn, answer, given[i])) break;
      } else {
        for (const part of given) if (!take(parts, turn, answer, part)) break;
      }
    } catch (error) {
      answer.failed = true;
      answer.error = error;
    }
    stepDone(parts, turn, answer);
    return;
  }
  void (async () => {
    try {
      for await (const part of await stream) if (!take(parts, turn, answer, part)) break;
    } catch (error) {
      answer.failed = true;
      answer.error = error;
    }
    parts.dispatcher.post("model.done", () => stepDone(parts, turn, answer));
  })();
}

function stepDone(parts: RuntimeParts, turn: LiveTurn, answer: StepAnswer): void {
  const { attempt, step } = answer;
  parts.driver.callEnded();
  parts.observer.modelCallEnded(turn, answer, answer.modelId);
  parts.driver.feed(
    turn,
    answer.failed ? { type: "model.failed", attempt, step, error: describeCause(answer.error) } : answer,
  );
}

/** Most steps ask for no tool calls: they share this array instead of allocating their own. */
const NO_CALLS: ToolCallPart[] = [];

function take(parts: RuntimeParts, turn: LiveTurn, answer: StepAnswer, part: ModelPart): boolean {
  // A stream may go on after its turn ended or was aborted (providers do not all stop on abort):
  // nothing it says after that may reach the handle's events.
  if (turn.ended || turn.controller?.signal.aborted === true) return false;
  if (typeof part !== "object" || part === null) return malformed(answer, "part: it is not an object");
  switch (part.type) {
    case "text-delta":
      if (typeof part.delta !== "string")
        return malformed(answer, "text-delta part: its delta is not a string");
      answer.text += part.delta;
      if (parts.events.observed)
        parts.driver.emitTurn(turn, {
          type: "model.text",
          sessionId: turn.sessionId,
          turnId: turn.turnId,
          delta: part.delta,
        });
      return true;
    case "tool-call":
      if (
        typeof part.toolCallId !== "string" ||
        typeof part.toolName !== "string" ||
        typeof part.input !== "string"
      )
        return malformed(answer, "tool-call part: toolCallId, toolName and input must be strings");
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
      answer.finishReason = part.finishReason;
      return true;
    case "error":
      answer.failed = true;
      answer.error = part.error;
      return false;
    default:
      return true;
  }
}

/** Fails the step for a part the runtime cannot use; ends the stream. */
function malformed(answer: StepAnswer, what: string): false {
  answer.failed = true;
  answer.error = new Error(`the model sent a malformed ${what}`);
  return false;
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
  parts: RuntimeParts,
  turn: LiveTurn,
  step: number,
  calls: readonly ToolCallPart[],
): void {
  const { events, driver, clock, dispatcher, observer } = parts;
  for (const call of calls) {
    const { toolCallId, toolName } = call;
    const { sessionId, turnId } = turn;
    if (events.observed)
      driver.emitTurn(turn, { type: "tool.started", sessionId, turnId, toolCallId, toolName });
    const startedAtMs = clock.monotonicMs();
    const span = observer.toolCallStarted(turn, toolCallId, toolName, call.input);
    void runTool(parts, turn, call, span)
      // Whatever went wrong is the model's tool error: the turn goes on, nothing is left unsettled.
      .catch((error: unknown) => errorResult(call, `${toolName} failed: ${describeCause(error)}`))
      .then((result) => {
        dispatcher.post(`tool ${toolName}`, () => {
          const durationMs = clock.monotonicMs() - startedAtMs;
          const isError = result.output.type === "error-text";
          observer.toolCallEnded(span, toolName, durationMs, isError, result.output.value);
          if (events.observed)
            driver.emitTurn(turn, {
              type: "tool.ended",
              sessionId,
              turnId,
              toolCallId,
              toolName,
              isError,
              durationMs,
            });
          driver.feed(turn, { type: "tool.done", attempt: turn.attempt, step, result });
        });
      });
  }
}

async function runTool(
  parts: RuntimeParts,
  turn: LiveTurn,
  call: ToolCallPart,
  span: ToolSpan,
): Promise<ToolResultPart> {
  const tools = turn.entry.tools!;
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
  const turnSignal = turn.signal;
  if (turnSignal.aborted) return errorResult(call, "the turn was cancelled before this tool ran");
  const { clock, driver } = parts;
  const timeoutMs = tool.timeoutMs ?? parts.limits.toolTimeoutMs;
  const own = new AbortController();
  const signal = AbortSignal.any([turnSignal, own.signal]);
  return new Promise<ToolResultPart>((resolve) => {
    let settled = false;
    const finish = (result: ToolResultPart) => {
      if (settled) return;
      settled = true;
      clock.clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(result);
    };
    const onAbort = () =>
      finish(errorResult(call, `the tool call was aborted: ${describeCause(signal.reason)}`));
    const timer = clock.setTimeout(() => {
      own.abort(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    signal.addEventListener("abort", onAbort, { once: true });
    driver.callStarted();
    const context = {
      signal,
      sessionId: turn.sessionId,
      turnId: turn.turnId,
      toolCallId: call.toolCallId,
    };
    const label = `tool ${call.toolName}`;
    Promise.resolve()
      .then(() =>
        // The tool's own code runs inside its call's trace context: what it does nests under it.
        parts.dispatcher.timed(label, () =>
          parts.observer.runTool(span, () =>
            runInTurn(parts.waits, turn.sessionId, turn.turnId, () => tool.execute(args, context)),
          ),
        ),
      )
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
      .finally(() => driver.callEnded());
  });
}

/** A tool's return value as the text the model sees; never throws, whatever the tool returned. */
function render(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === undefined) return "";
  try {
    const json = JSON.stringify(value);
    if (typeof json === "string") return json;
  } catch {
    // A cycle, a BigInt, a getter that throws: described below instead.
  }
  return printable(value);
}

/** Calls a function agent with the turn's input and feeds its return value or failure. */
export function runFunction(parts: RuntimeParts, turn: LiveTurn, agent: FunctionAgent): void {
  const { attempt, turnId } = turn;
  const payloads = turn.inputs.map((input) => input.payload);
  const input = payloads.length === 1 ? payloads[0] : payloads;
  const context = {
    sessionId: turn.sessionId,
    turnId,
    signal: turn.signal,
    inputs: payloads,
    history: turn.history,
  };
  const { driver, dispatcher } = parts;
  const label = `function agent ${turn.entry.agentName}`;
  driver.callStarted();
  Promise.resolve()
    .then(() =>
      dispatcher.timed(label, () =>
        runInTurn(parts.waits, turn.sessionId, turnId, () => agent.run(input, context)),
      ),
    )
    .then(
      (output) => {
        const ended = functionEnded(attempt, output);
        dispatcher.post(ended.type, () => {
          driver.callEnded();
          driver.feed(turn, ended);
        });
      },
      (error) => {
        const ended: TurnMachineEvent = { type: "function.failed", attempt, error: describeCause(error) };
        dispatcher.post("function.failed", () => {
          driver.callEnded();
          parts.observer.functionFailed(turn, error);
          driver.feed(turn, ended);
        });
      },
    );
}

const RUN = argumentsOf("run()");

/**
 * The event for a function's return value: `function.done` with a private copy of it, or
 * `function.failed` when JSON cannot carry it (it is stored, and a restart must read back the same).
 */
function functionEnded(attempt: number, output: unknown): TurnMachineEvent {
  if (output === undefined || output === null) return { type: "function.done", attempt, output: null };
  if (typeof output === "string") return { type: "function.done", attempt, output };
  try {
    checkJson(RUN, "output", output);
    return { type: "function.done", attempt, output: JSON.parse(JSON.stringify(output)) };
  } catch (error) {
    return {
      type: "function.failed",
      attempt,
      error: isOffstageError(error) ? error.message : describeCause(error),
    };
  }
}
