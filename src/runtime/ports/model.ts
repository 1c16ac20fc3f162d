/**
 * The model port: the one call the runtime makes to a language model.
 *
 * Its shapes are Offstage's own. They follow the AI SDK's language-model specification (V4, and V3,
 * which streams the same parts) where that is plain data, so the adapter in `offstage/ai-sdk` maps
 * part for part, and differ where Offstage needs numbers and JSON: usage is flat numbers (the AI
 * SDK's nested `{ inputTokens: { total, noCache, cacheRead, cacheWrite }, outputTokens: { total,
 * text, reasoning } }` becomes `{ inputTokens, outputTokens, cachedInputTokens, cacheWriteTokens,
 * reasoningTokens }`), the finish reason is the AI SDK's `unified` value (its `raw` one rides
 * beside it), and a tool call's input is JSON text. The runtime owns the step loop, retries,
 * cancellation and persistence between steps; a model only answers one step.
 *
 * @packageDocumentation
 */
import type { Message, ProviderMetadata } from "../../kernel/messages.js";
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

/** Options a provider understands, by provider name (`{ openai: { reasoningEffort: "low" } }`). */
export type ProviderOptions = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

/** Which tool the model must use: any or none (`auto`, default), `none`, at least one, or a named one. */
export type ToolChoice = "auto" | "none" | "required" | { readonly type: "tool"; readonly toolName: string };

/**
 * Sampling and provider settings of a model call. An agent sets them (and may change them per step
 * in `prepareStep`); `fromAiSdk(model, settings)` may give defaults, which the agent's override.
 */
export interface ModelSettings {
  /** The most tokens the answer may take. */
  readonly maxOutputTokens?: number;
  readonly temperature?: number;
  readonly topP?: number;
  readonly topK?: number;
  readonly presencePenalty?: number;
  readonly frequencyPenalty?: number;
  readonly stopSequences?: readonly string[];
  readonly seed?: number;
  readonly toolChoice?: ToolChoice;
  /** Passed to the provider as they are; merged per provider over the model's own. */
  readonly providerOptions?: ProviderOptions;
  /** Extra HTTP headers for the provider's request. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** One model step: the conversation so far, the tools on offer and the call's settings. */
export interface ModelRequest extends ModelSettings {
  readonly prompt: readonly Message[];
  readonly tools: readonly ModelTool[];
  /** Aborted when the turn is cancelled or interrupted; a model must stop promptly when it fires. */
  readonly abortSignal: AbortSignal;
}

/**
 * Why the model stopped: the AI SDK's unified reasons. `interrupted` means the provider's stream
 * ended without saying it was done, so the answer may be cut short: the runtime retries the step.
 */
export type FinishReason =
  | "stop"
  | "length"
  | "content-filter"
  | "tool-calls"
  | "error"
  | "interrupted"
  | "other";

/**
 * A part of a streamed model answer. Text and reasoning arrive as deltas grouped into blocks by `id`
 * (the `-start`/`-end` parts are optional and only carry `providerMetadata`); a tool call arrives
 * whole, its input as JSON text; `finish` ends the answer.
 */
export type ModelPart =
  | {
      readonly type: "text-delta" | "reasoning-delta";
      readonly id: string;
      readonly delta: string;
      readonly providerMetadata?: ProviderMetadata;
    }
  | {
      readonly type: "text-start" | "text-end" | "reasoning-start" | "reasoning-end";
      readonly id: string;
      readonly providerMetadata?: ProviderMetadata;
    }
  | {
      readonly type: "tool-call";
      readonly toolCallId: string;
      readonly toolName: string;
      readonly input: string;
      readonly providerMetadata?: ProviderMetadata;
    }
  | {
      /** A file the model produced; `data` is base64. */
      readonly type: "file";
      readonly mediaType: string;
      readonly data?: string;
      readonly url?: string;
      readonly providerMetadata?: ProviderMetadata;
    }
  | {
      /** Who answered: the provider's response id and the model that actually ran. */
      readonly type: "response-metadata";
      readonly id?: string;
      readonly modelId?: string;
    }
  | {
      readonly type: "finish";
      readonly finishReason: FinishReason;
      /** The provider's own word for it, when it differs. */
      readonly rawFinishReason?: string;
      readonly usage?: Usage;
      readonly providerMetadata?: ProviderMetadata;
    }
  | { readonly type: "error"; readonly error: unknown };

/**
 * A language model. `stream` answers one step. It may return a synchronous iterable (a fast path the
 * runtime drains without awaiting) or an async iterable, or a promise of either; it may throw. An
 * `error` part or a throw fails the step: a transient failure (a {@link ModelCallError} that says
 * so, a dropped connection, a timeout) is retried per the agent's `retry`, anything else fails the
 * turn with reason `model_error`.
 */
export interface Model {
  /** Shown in events and logs, e.g. `openai:gpt-5` or `demo`. Never a credential. */
  readonly id: string;
  stream(
    request: ModelRequest,
  ): Iterable<ModelPart> | AsyncIterable<ModelPart> | Promise<Iterable<ModelPart> | AsyncIterable<ModelPart>>;
}
