/**
 * Model doubles for the runtime tests: parts builders, a scripted model that answers at once, and a
 * gated model whose every step waits for the test.
 */
import type { Message, Model, ModelPart, ModelRequest, ToolResultPart } from "../../src/index.js";
import { createScriptedModel } from "../../src/testing/index.js";
import { deferred } from "./async.js";

export function text(value: string): ModelPart[] {
  return [
    { type: "text-delta", id: "t", delta: value },
    { type: "finish", finishReason: "stop", usage: { inputTokens: 1, outputTokens: 1 } },
  ];
}

export function toolCall(toolCallId: string, toolName: string, input: unknown): ModelPart {
  return {
    type: "tool-call",
    toolCallId,
    toolName,
    input: typeof input === "string" ? input : JSON.stringify(input),
  };
}

/** A step that asks for these tool calls. */
export function callTools(...calls: ModelPart[]): ModelPart[] {
  return [...calls, { type: "finish", finishReason: "tool-calls" }];
}

/** Answers each step synchronously from `script(request, callIndex)` and records every request. */
export {
  createScriptedModel as scriptedModel,
  type ScriptedModel,
} from "../../src/testing/index.js";

export interface GatedCall {
  readonly request: ModelRequest;
  readonly signal: AbortSignal;
  /** Lets the step answer with these parts. */
  release(parts: ModelPart[]): void;
  /** Makes the step's stream throw. */
  fail(error: unknown): void;
  /** True once the stream has finished (answered, failed or aborted). */
  ended: boolean;
}

/**
 * A model whose every step waits until the test releases it. It honours its abort signal (the
 * stream throws the abort reason) unless `ignoreAbort` is set.
 */
export class GatedModel implements Model {
  readonly id = "gated";
  readonly calls: GatedCall[] = [];
  readonly #ignoreAbort: boolean;

  constructor(options: { ignoreAbort?: boolean } = {}) {
    this.#ignoreAbort = options.ignoreAbort === true;
  }

  get last(): GatedCall {
    const call = this.calls.at(-1);
    if (call === undefined) throw new Error("the model was not called");
    return call;
  }

  stream(request: ModelRequest): AsyncIterable<ModelPart> {
    const gate = deferred<ModelPart[]>();
    const signal = request.abortSignal;
    const call: GatedCall = {
      request,
      signal,
      release: (parts) => gate.resolve(parts),
      fail: (error) => gate.reject(error),
      ended: false,
    };
    this.calls.push(call);
    if (!this.#ignoreAbort) {
      signal.addEventListener("abort", () => gate.reject(signal.reason), { once: true });
    }
    return (async function* () {
      try {
        yield* await gate.promise;
      } finally {
        call.ended = true;
      }
    })();
  }
}

/** Text of the user messages in a prompt, in order. */
export function userTexts(messages: readonly Message[]): string[] {
  const out: string[] = [];
  for (const m of messages) {
    if (m.role !== "user") continue;
    for (const part of m.content) if (part.type === "text") out.push(part.text);
  }
  return out;
}

/** The roles of a prompt's messages, in order. */
export function roles(messages: readonly Message[]): string[] {
  return messages.map((m) => m.role);
}

/** The tool results the model was shown in this request's last tool message. */
export function lastToolResults(request: ModelRequest): ToolResultPart[] {
  const message = [...request.prompt]
    .reverse()
    .find((m): m is Extract<Message, { role: "tool" }> => m.role === "tool");
  if (message === undefined) throw new Error("the prompt holds no tool results");
  return [...message.content];
}

/**
 * A model that, on each turn's first step, asks for the tool calls `callsFor` picks from the prompt's
 * last message, and answers "done" once it has seen their results. Shared by sessions: it decides
 * from the prompt, not from how many steps it has taken.
 */
export function toolsThenDone(callsFor: (lastMessage: string) => ModelPart[]) {
  return createScriptedModel((request) =>
    request.prompt.at(-1)?.role === "tool"
      ? text("done")
      : callTools(...callsFor(JSON.stringify(request.prompt.at(-1)))),
  );
}
