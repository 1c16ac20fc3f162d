/**
 * Performs a turn's effects other than a model step (`model-step.ts`): runs tool calls (in parallel,
 * each with its own timeout and the turn's `AbortSignal`), or calls a function agent. Every result
 * goes back to the kernel as an event tagged with the turn's attempt and step, through the
 * dispatcher; the kernel drops results that arrive after the turn moved on.
 *
 * @packageDocumentation
 */

import { isOffstageError } from "../errors.js";
import type { ToolCallPart, ToolResultPart } from "../kernel/messages.js";
import { describeCause, printable } from "../kernel/outcome.js";
import { errorResult, type TurnMachineEvent } from "../kernel/turn/turn-machine.js";
import { argumentsOf, checkJson } from "../validate.js";
import type { FunctionAgent } from "./agent.js";
import type { LiveTurn } from "./live-turn.js";
import type { ToolSpan } from "./observer.js";
import type { RuntimeParts } from "./parts.js";
import { runInTurn } from "./turn-scope.js";

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
        dispatcher.post(`tool ${toolName} ended`, () => {
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
  const timeout = new Error(`${call.toolName} timed out after ${timeoutMs} ms`);
  return new Promise<ToolResultPart>((resolve) => {
    let settled = false;
    /** A host call that no drain has started yet. */
    let waitingForHost = tool.executor === "host";
    const finish = (result: ToolResultPart) => {
      if (settled) return;
      settled = true;
      clock.clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(result);
    };
    const onAbort = () =>
      finish(
        errorResult(
          call,
          waitingForHost && signal.reason === timeout
            ? `host tool ${JSON.stringify(call.toolName)} was not run: it waited ${timeoutMs} ms for the host to call drain()`
            : `the tool call was aborted: ${describeCause(signal.reason)}`,
        ),
      );
    const timer = clock.setTimeout(() => own.abort(timeout), timeoutMs);
    signal.addEventListener("abort", onAbort, { once: true });
    driver.callStarted();
    const context = {
      signal,
      sessionId: turn.sessionId,
      turnId: turn.turnId,
      toolCallId: call.toolCallId,
    };
    const label = `tool ${call.toolName}`;
    // The tool's own code runs inside its call's trace context: what it does nests under it.
    const execute = (runSignal: AbortSignal) =>
      parts.observer.runTool(span, () =>
        runInTurn(parts.waits, turn.sessionId, turn.turnId, () =>
          tool.execute(args, runSignal === signal ? context : { ...context, signal: runSignal }),
        ),
      );
    /** Ends the inline call's watch for stalls (see `Dispatcher.inFlight`). */
    let leave = (): void => {};
    Promise.resolve()
      .then(() => {
        // Off this thread: its time holds neither the runtime nor the host.
        if (tool.executor === undefined || tool.executor === "inline") {
          leave = parts.dispatcher.inFlight(label);
          return parts.dispatcher.timed(label, () => execute(signal));
        }
        const request = { ...context, toolName: call.toolName, args };
        // Off this thread: its time holds neither the runtime nor the host.
        if (tool.executor === "worker")
          return parts.options.workers!.run({ ...request, module: tool.module! });
        // Queued for the host's thread; the host queue measures how long it holds that thread.
        return parts.options.host!.submit({
          ...request,
          agentName: turn.entry.agentName,
          // On the host's thread: in this thread, when the runtime shares it, so a long hold is a hog too.
          run: (runSignal) => parts.dispatcher.timed(`host ${label}`, () => execute(runSignal)),
          started: () => {
            waitingForHost = false;
          },
        });
      })
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
      .finally(() => {
        leave();
        driver.callEnded();
      });
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
    history: turn.history.slice(),
  };
  const { driver, dispatcher } = parts;
  const label = `function agent ${turn.entry.agentName}`;
  driver.callStarted();
  const leave = dispatcher.inFlight(label);
  Promise.resolve()
    .then(() =>
      dispatcher.timed(label, () =>
        runInTurn(parts.waits, turn.sessionId, turnId, () => agent.run(input, context)),
      ),
    )
    .then(
      (output) => {
        leave();
        const ended = functionEnded(attempt, output);
        dispatcher.post(ended.type, () => {
          driver.callEnded();
          driver.feed(turn, ended);
        });
      },
      (error) => {
        leave();
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
