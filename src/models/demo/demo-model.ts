/**
 * The demo model: a deterministic, offline stand-in for a language model, clearly named as such
 * (its id is `demo`). It lets the demo, the docs and the tests run with no API key and no network,
 * while still exercising what a real model does: streaming text word by word, asking for several
 * tool calls in one step, answering once the results are in, failing, being slow and being
 * cancelled. What it says is decided by {@link planDemoStep}; this file adds timing and failure.
 *
 * @packageDocumentation
 */
import { setTimeout as sleepFor } from "node:timers/promises";
import { estimateTokens } from "../../kernel/context-window.js";
import type { Message } from "../../kernel/messages.js";
import type { Usage } from "../../kernel/outcome.js";
import type { Model, ModelPart, ModelRequest } from "../../runtime/ports/model.js";
import { argumentsOf, checkDurationMs, checkFunction, checkOptions, fail } from "../../validate.js";
import { type DemoPlan, exchangeInput, planDemoStep } from "./demo-plan.js";

const CREATE = argumentsOf("createDemoModel()");

/** Waits `ms` milliseconds; must reject promptly when `signal` aborts. Replace it to run on a virtual clock. */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

/** Options of {@link createDemoModel}. */
export interface DemoModelOptions {
  /** Delay before each step answers, in milliseconds (default 0: answers synchronously). */
  readonly latencyMs?: number;
  /** When the input contains this text, the step fails with an `error` part (after its delay). */
  readonly failOn?: string;
  /** When the input contains this text, the step waits `slowMs` instead of `latencyMs`. */
  readonly slowOn?: string;
  /** The delay of a step triggered by `slowOn`, in milliseconds (default 1,000). */
  readonly slowMs?: number;
  /**
   * Delay between the words of an answer, in milliseconds (default 0: the whole answer at once), so
   * a chat shows it streaming as a real model's would.
   */
  readonly wordDelayMs?: number;
  /** Varies the wording of replies (never what the model does); the same seed gives the same words. */
  readonly seed?: number;
  /** How to wait; defaults to `node:timers/promises`' `setTimeout` with the signal. */
  readonly sleep?: Sleep;
}

const defaultSleep: Sleep = async (ms, signal) => {
  await sleepFor(ms, undefined, { signal });
};

/**
 * Creates the demo model.
 *
 * Use it to try Offstage without a provider, in examples, and in tests that need a model which
 * plans tool calls. It reads the user messages of the current exchange:
 * - `list <dir>`, `read <file>`, `count <dir>`, `stat <path>` become calls to `list_files`,
 *   `read_file`, `count_lines` and `file_info` (only for tools the request offers); several
 *   directives become several tool calls in one step, which the runtime runs in parallel;
 * - `use <tool> {"arg": …}` calls any tool on offer with those arguments (an MCP server's, yours);
 * - once tool results arrive, the next step streams a summary of them, word by word;
 * - without directives it streams a short reply echoing the input.
 *
 * Gotchas:
 * - With no delay (`latencyMs` and `wordDelayMs` 0, no `slowOn` match) `stream` returns a plain array — a
 *   synchronous iterable the runtime drains without promises or timers. It does not look at the
 *   abort signal then: there is nothing to interrupt.
 * - With a delay, the stream waits through `sleep` and throws the signal's reason as soon as the
 *   request is aborted.
 *
 * @throws {@link InvalidInputError} with code `INVALID_ARGUMENT` for an unknown option, a delay that
 *   is negative or longer than a timer honours, an empty `failOn`/`slowOn`, a non-integer `seed` or
 *   a `sleep` that is not a function.
 *
 * @example
 * ```ts
 * const runtime = createRuntime({
 *   agents: { assistant: { model: createDemoModel({ latencyMs: 40 }), tools: createFileTools({ root: "." }) } },
 * });
 * ```
 */
export function createDemoModel(options: DemoModelOptions = {}): Model {
  const given = checkOptions(CREATE, "options", options, DEMO_MODEL_KEYS);
  const latencyMs = delayOption("latencyMs", given.latencyMs, 0);
  const slowMs = delayOption("slowMs", given.slowMs, 1_000);
  const wordDelayMs = delayOption("wordDelayMs", given.wordDelayMs, 0);
  const failOn = triggerOption("failOn", given.failOn);
  const slowOn = triggerOption("slowOn", given.slowOn);
  const seed = given.seed ?? 0;
  if (!Number.isSafeInteger(seed)) fail(CREATE, "options.seed", seed, "an integer");
  const sleep = given.sleep ?? defaultSleep;
  checkFunction(CREATE, "options.sleep", sleep);
  return {
    id: "demo",
    stream(request) {
      const input = exchangeInput(request.prompt);
      const parts =
        failOn !== undefined && input.includes(failOn)
          ? [failure(failOn)]
          : partsOf(planDemoStep(request.prompt, request.tools, seed >>> 0), request);
      const delayMs = slowOn !== undefined && input.includes(slowOn) ? slowMs : latencyMs;
      // The fast path: no promise and no timer.
      if (delayMs === 0 && wordDelayMs === 0) return parts;
      return delayed(parts, delayMs, wordDelayMs, request.abortSignal, sleep);
    },
  };
}

async function* delayed(
  parts: readonly ModelPart[],
  delayMs: number,
  wordDelayMs: number,
  signal: AbortSignal,
  sleep: Sleep,
): AsyncGenerator<ModelPart> {
  signal.throwIfAborted();
  if (delayMs > 0) await wait(delayMs, signal, sleep);
  let words = 0;
  for (const part of parts) {
    if (wordDelayMs > 0 && part.type === "text-delta" && words++ > 0) await wait(wordDelayMs, signal, sleep);
    // A sleep that ignored the signal, or an abort between parts: stop here either way.
    signal.throwIfAborted();
    yield part;
  }
}

async function wait(ms: number, signal: AbortSignal, sleep: Sleep): Promise<void> {
  try {
    await sleep(ms, signal);
  } catch (error) {
    // Node's timer rejects with a generic AbortError; the reason says why (cancel, interrupt, stop).
    signal.throwIfAborted();
    throw error;
  }
}

function partsOf(plan: DemoPlan, request: ModelRequest): ModelPart[] {
  const inputTokens = promptTokens(request.prompt);
  if (plan.kind === "tools") {
    const parts: ModelPart[] = plan.calls.map((call) => ({
      type: "tool-call",
      toolCallId: call.toolCallId,
      toolName: call.toolName,
      input: call.input,
    }));
    const outputTokens = plan.calls.reduce((sum, call) => sum + Math.ceil(call.input.length / 4), 0);
    parts.push({ type: "finish", finishReason: "tool-calls", usage: { inputTokens, outputTokens } });
    return parts;
  }
  const words = plan.text.match(/\S+\s*/g) ?? [];
  const max = request.maxOutputTokens;
  // One word is one "token": a limit cuts the answer the way a real model's would.
  const shown = max !== undefined && words.length > max ? words.slice(0, max) : words;
  const parts: ModelPart[] = shown.map((delta) => ({ type: "text-delta", id: "demo-text", delta }));
  const usage: Usage = { inputTokens, outputTokens: shown.length };
  parts.push({ type: "finish", finishReason: shown.length < words.length ? "length" : "stop", usage });
  return parts;
}

/** The prompt's size in tokens, estimated the way `fitTokenBudget` does. */
function promptTokens(prompt: readonly Message[]): number {
  let tokens = 0;
  for (const message of prompt) tokens += estimateTokens(message);
  return tokens;
}

function failure(failOn: string): ModelPart {
  return {
    type: "error",
    error: new Error(`demo model: the input contains ${JSON.stringify(failOn)}, which failOn makes fail`),
  };
}

const DEMO_MODEL_KEYS = Object.keys({
  latencyMs: true,
  failOn: true,
  slowOn: true,
  slowMs: true,
  wordDelayMs: true,
  seed: true,
  sleep: true,
} satisfies Record<keyof DemoModelOptions, true>);

function delayOption(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  checkDurationMs(CREATE, `options.${name}`, value);
  return value;
}

function triggerOption(name: string, value: string | undefined): string | undefined {
  if (value !== undefined && (typeof value !== "string" || value === ""))
    fail(CREATE, `options.${name}`, value, "a non-empty string");
  return value;
}
