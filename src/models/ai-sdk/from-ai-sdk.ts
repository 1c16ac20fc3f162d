/**
 * `fromAiSdk`: any AI SDK provider's language model (`@ai-sdk/provider` LanguageModelV4, V3 or V2)
 * as an Offstage {@link Model}. It calls the model's `doStream` once per step — the runtime owns the
 * step loop, the retries, persistence between steps and cancellation — and maps the prompt, the
 * tools, the settings and the streamed parts both ways. It depends on `@ai-sdk/provider`'s types
 * only: no provider package and no `ai` at run time.
 *
 * @packageDocumentation
 */
import type { LanguageModelV2, LanguageModelV3, LanguageModelV4 } from "@ai-sdk/provider";
import { ModelCallError } from "../../errors.js";
import type { Model, ModelPart, ModelRequest, ModelSettings } from "../../runtime/ports/model.js";
import {
  checkModelSettings,
  MODEL_SETTING_KEYS,
  mergeProviderOptions,
  SAMPLING_SETTINGS,
} from "../../runtime/ports/model-settings.js";
import { argumentsOf, checkObject, checkOptions, fail, isStringArray, readKeys } from "../../validate.js";
import { fromStreamPart } from "./from-stream.js";
import { toModelCallError } from "./provider-error.js";
import { type PromptFamily, toFunctionTool, toPrompt, toToolChoice } from "./to-prompt.js";

/** A language model of any AI SDK provider: specification V4, V3 or V2. */
export type AiSdkLanguageModel = LanguageModelV4 | LanguageModelV3 | LanguageModelV2;

/** Options of {@link fromAiSdk}: defaults for every call, which an agent's own settings override. */
export interface AiSdkModelOptions extends ModelSettings {
  /** Shown in events and logs (default `provider:modelId`, e.g. `openai.chat:gpt-5-mini`). Never put a key in it. */
  readonly id?: string;
  /**
   * Strings cut out of every error message this model reports (its API key, say), so they reach no
   * reason, event, log or stored row. The model resolver passes the key it found.
   */
  readonly redact?: readonly string[];
}

const FROM_AI_SDK = argumentsOf("fromAiSdk()");

const MODEL_KEYS = ["specificationVersion", "doStream"] as const;

const OPTION_KEYS = [...MODEL_SETTING_KEYS, "id", "redact"];
const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * Wraps an AI SDK language model as an Offstage model.
 *
 * Use it for every provider the AI SDK supports: OpenAI, Anthropic, Google, Mistral, and
 * OpenAI-compatible local servers (Ollama, llama.cpp, vLLM) through `@ai-sdk/openai-compatible`.
 * Or name the model instead (`model: "openai:gpt-5-mini"`) and let the runtime build it at start.
 *
 * Details:
 * - Usage arrives as numbers: input and output totals, cached and cache-write input tokens and
 *   reasoning tokens when the provider reports them.
 * - Reasoning, files and what a provider attaches to a part (a reasoning signature, an item id)
 *   are kept in the history and handed back on later calls, as the provider expects.
 * - Provider failures become `ModelCallError`s with the provider's message and status; the runtime
 *   retries 429s, 5xx, timeouts and dropped connections (an agent's `retry`).
 * - An aborted call may end its stream quietly; the adapter checks the signal itself and throws its
 *   reason, so an abort is never taken for an answer.
 * - Tools the provider runs itself (web search, code execution) are not offered: Offstage runs every
 *   tool it offers.
 *
 * @throws {@link InvalidInputError} (`INVALID_ARGUMENT`) when `model` is not an AI SDK language
 *   model (no `specificationVersion` of v2, v3 or v4, no `doStream`) or an option is malformed.
 *
 * @example
 * ```ts
 * import { openai } from "@ai-sdk/openai";
 * import { fromAiSdk } from "offstage/ai-sdk";
 * const model = fromAiSdk(openai("gpt-5-mini"), { providerOptions: { openai: { reasoningEffort: "low" } } });
 * ```
 */
export function fromAiSdk(model: AiSdkLanguageModel, options: AiSdkModelOptions = {}): Model {
  const expected = "an AI SDK language model (specificationVersion v4, v3 or v2, with doStream)";
  checkObject(FROM_AI_SDK, "model", model, expected);
  const { specificationVersion: spec, doStream } = readKeys(FROM_AI_SDK, "model", model, MODEL_KEYS);
  if ((spec !== "v4" && spec !== "v3" && spec !== "v2") || typeof doStream !== "function")
    fail(FROM_AI_SDK, "model", model, expected);
  const given = checkOptions(FROM_AI_SDK, "options", options, OPTION_KEYS);
  checkModelSettings(FROM_AI_SDK, "options", given);
  const { id, redact } = given;
  if (id !== undefined && (typeof id !== "string" || id === ""))
    fail(FROM_AI_SDK, "options.id", id, "a non-empty string");
  if (redact !== undefined && !isStringArray(redact))
    fail(FROM_AI_SDK, "options.redact", redact, "an array of strings", { secret: true });
  const family: PromptFamily = spec === "v4" ? "v4" : "v3";
  const provider = String(model.provider);
  const secrets = [...(redact ?? [])];
  return {
    id: id ?? `${provider}:${String(model.modelId)}`,
    async stream(request) {
      const call = callOptions(request, given, family);
      const signal = request.abortSignal;
      let result: { stream: ReadableStream<unknown> };
      try {
        result = (await model.doStream(call as never)) as { stream: ReadableStream<unknown> };
      } catch (error) {
        throw signal.aborted ? signal.reason : toModelCallError(error, provider, secrets);
      }
      return new PartStream(result.stream.getReader(), signal, provider, secrets);
    },
  };
}

/** The `doStream` options of one request: the request's settings over the adapter's defaults. */
function callOptions(
  request: ModelRequest,
  defaults: ModelSettings,
  family: PromptFamily,
): Record<string, unknown> {
  const call: Record<string, unknown> = {
    prompt: toPrompt(request.prompt, family),
    abortSignal: request.abortSignal,
  };
  if (request.tools.length > 0) call.tools = request.tools.map(toFunctionTool);
  for (const key of SAMPLING_SETTINGS) {
    const value = request[key] ?? defaults[key];
    if (value !== undefined) call[key] = value;
  }
  const stops = request.stopSequences ?? defaults.stopSequences;
  if (stops !== undefined) call.stopSequences = [...stops];
  const choice = request.toolChoice ?? defaults.toolChoice;
  if (choice !== undefined) call.toolChoice = toToolChoice(choice);
  const { providerOptions: own, headers: ownHeaders } = defaults;
  const { providerOptions, headers } = request;
  if (own !== undefined || providerOptions !== undefined)
    call.providerOptions =
      own === undefined
        ? providerOptions
        : providerOptions === undefined
          ? own
          : mergeProviderOptions(own, providerOptions);
  if (ownHeaders !== undefined || headers !== undefined) call.headers = { ...ownHeaders, ...headers };
  return call;
}

/**
 * The provider's stream as Offstage parts, read straight from its reader (no generator or transform
 * stream per part). Ending early (`return()`) cancels the reader, which ends the HTTP response.
 */
class PartStream implements AsyncIterableIterator<ModelPart> {
  readonly #reader: ReadableStreamDefaultReader<unknown>;
  readonly #signal: AbortSignal;
  readonly #provider: string;
  readonly #secrets: readonly string[];
  #finished = false;

  constructor(
    reader: ReadableStreamDefaultReader<unknown>,
    signal: AbortSignal,
    provider: string,
    secrets: readonly string[],
  ) {
    this.#reader = reader;
    this.#signal = signal;
    this.#provider = provider;
    this.#secrets = secrets;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** One `then` per part, no async function: ~25 ns a part instead of ~90 (bench/NOTES.md, "Models"). */
  next(): Promise<IteratorResult<ModelPart, undefined>> {
    return this.#reader.read().then(this.#onRead, this.#onFail);
  }

  readonly #onRead = (
    read: Awaited<ReturnType<ReadableStreamDefaultReader<unknown>["read"]>>,
  ): IteratorResult<ModelPart, undefined> | Promise<IteratorResult<ModelPart, undefined>> => {
    // An aborted stream may just end: that is no answer.
    if (this.#signal.aborted) throw this.#signal.reason;
    if (read.done) {
      if (!this.#finished)
        throw new ModelCallError(`${this.#provider}: the stream ended without a finish`, { retryable: true });
      return DONE;
    }
    const part = fromStreamPart(read.value as { type: string } & Record<string, unknown>);
    if (part === undefined) return this.next();
    if (part.type === "finish") this.#finished = true;
    else if (part.type === "error")
      return {
        done: false,
        value: { type: "error", error: toModelCallError(part.error, this.#provider, this.#secrets) },
      };
    return { done: false, value: part };
  };

  readonly #onFail = (error: unknown): never => {
    throw this.#signal.aborted ? this.#signal.reason : toModelCallError(error, this.#provider, this.#secrets);
  };

  async return(): Promise<IteratorResult<ModelPart, undefined>> {
    // Cancelling ends the provider's response; a failure to cancel changes nothing for the caller.
    await this.#reader.cancel().catch(() => undefined);
    return DONE;
  }
}
