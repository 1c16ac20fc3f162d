/**
 * The model port: the one call the runtime makes to a language model.
 *
 * It is shaped after the AI SDK provider specification's `doStream` (LanguageModelV3/V4) so that an
 * adapter maps it 1:1: the prompt is the same message list, tools are the same function-tool
 * descriptions, and the stream yields the same part types (text deltas, complete tool calls with
 * their input as JSON text, a finish part with usage, an error part). The runtime owns the step loop,
 * cancellation and persistence between steps; a model only answers one step.
 *
 * @packageDocumentation
 */
import type { Message } from "../../kernel/messages.js";
import type { Usage } from "../../kernel/outcome.js";

/** A JSON Schema object describing a tool's input, as sent to the model. */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** A tool as the model sees it. */
export interface ModelTool {
  readonly type: "function";
  readonly name: string;
  readonly description: string;
  readonly inputSchema: JsonSchema;
}

/** One model step: the conversation so far and the tools on offer. */
export interface ModelRequest {
  readonly prompt: readonly Message[];
  readonly tools: readonly ModelTool[];
  /** Aborted when the turn is cancelled or interrupted; a model must stop promptly when it fires. */
  readonly abortSignal: AbortSignal;
  /** The agent's output limit; `undefined` when it sets none. */
  readonly maxOutputTokens?: number | undefined;
}

/** Why the model stopped, as the AI SDK names it. */
export type FinishReason = "stop" | "length" | "content-filter" | "tool-calls" | "error" | "other";

/** A part of a streamed model answer. */
export type ModelPart =
  | { readonly type: "text-delta"; readonly id: string; readonly delta: string }
  | {
      readonly type: "tool-call";
      readonly toolCallId: string;
      readonly toolName: string;
      readonly input: string;
    }
  | { readonly type: "finish"; readonly finishReason: FinishReason; readonly usage?: Usage }
  | { readonly type: "error"; readonly error: unknown };

/**
 * A language model. `stream` answers one step. It may return a synchronous iterable (a fast path the
 * runtime drains without awaiting) or an async iterable, or a promise of either; it may throw. An
 * `error` part or a throw fails the turn with reason `model_error`.
 */
export interface Model {
  /** Shown in events and logs, e.g. `openai:gpt-5` or `demo`. */
  readonly id: string;
  stream(
    request: ModelRequest,
  ): Iterable<ModelPart> | AsyncIterable<ModelPart> | Promise<Iterable<ModelPart> | AsyncIterable<ModelPart>>;
}
