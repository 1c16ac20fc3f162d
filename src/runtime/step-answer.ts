/**
 * A model step's answer as it streams in: the assistant message's parts in the order the model
 * produced them — text and reasoning grouped into blocks by id (filled in place while they stream,
 * with what the provider attaches to each), whole tool calls, files — and the finish's reason, usage
 * and metadata. It is also the `model.done` event the turn's machine is fed when the step succeeds
 * (the kernel reads only the event's fields), so a step builds no second object.
 *
 * @packageDocumentation
 */
import { ModelCallError } from "../errors.js";
import type { AssistantPart, ProviderMetadata, ToolCallPart } from "../kernel/messages.js";
import { tokenCount, type Usage, usageFrom } from "../kernel/outcome.js";
import type { FinishReason, ModelPart } from "./ports/model.js";
import { mergeProviderOptions } from "./ports/model-settings.js";
import type { CallTelemetry, ModelCallEnd } from "./ports/telemetry.js";

/** Most steps ask for no tool calls: they share this array instead of allocating their own. */
const NO_CALLS: ToolCallPart[] = [];
/** An answer's parts and block ids until its first part (see `append`); frozen, so nothing is pushed to them. */
const NO_PARTS: readonly AssistantPart[] = Object.freeze([]);
const NO_IDS: readonly (string | undefined)[] = Object.freeze([]);

/**
 * One try's answer as it streams in. It is also the `model.done` event the kernel is fed when the
 * step succeeds (the kernel reads only the event's fields), so a step builds no second object.
 */
export class StepAnswer {
  declare readonly type: "model.done";
  declare readonly attempt: number;
  declare readonly step: number;
  declare text: string;
  declare toolCalls: ToolCallPart[];
  /** The message's parts in order; text and reasoning parts are filled in place while they stream. */
  declare content: AssistantPart[];
  /** The block id of each open text or reasoning part of `content` (index-aligned); `undefined` once closed. */
  declare openIds: (string | undefined)[];
  declare usage: Usage | undefined;
  declare finishReason: FinishReason | undefined;
  declare providerMetadata: ProviderMetadata | undefined;
  declare responseId: string | undefined;
  declare failed: boolean;
  declare error: unknown;
  /** Characters of `model.text` this try emitted (what a retry tells consumers to drop). */
  declare emittedChars: number;
  /** Parts taken so far: the idle timer watches it move. */
  declare seen: number;
  /** Its end was handled: a late end of an abandoned try is ignored. */
  declare settled: boolean;
  // For the observer (metrics, logs, the call's span): the kernel reads none of these.
  declare readonly startedAtMs: number;
  declare span: CallTelemetry<ModelCallEnd> | undefined;

  constructor(attempt: number, step: number, startedAtMs: number) {
    this.type = "model.done";
    this.attempt = attempt;
    this.step = step;
    this.text = "";
    this.toolCalls = NO_CALLS;
    this.content = NO_PARTS as AssistantPart[];
    this.openIds = NO_IDS as (string | undefined)[];
    this.usage = undefined;
    this.finishReason = undefined;
    this.providerMetadata = undefined;
    this.responseId = undefined;
    this.failed = false;
    this.error = undefined;
    this.emittedChars = 0;
    this.seen = 0;
    this.settled = false;
    this.startedAtMs = startedAtMs;
    this.span = undefined;
  }

  /** Takes one streamed part; false when the try is over (an error, or a cut-short finish). */
  add(part: ModelPart): boolean {
    this.seen += 1;
    // A model is anyone's code: what it streams is checked before it reaches the history.
    if (typeof part !== "object" || part === null) return this.#malformed("part: it is not an object");
    switch (part.type) {
      case "text-delta":
      case "reasoning-delta": {
        if (typeof part.delta !== "string" || typeof part.id !== "string")
          return this.#malformed(`${part.type} part: its id and delta must be strings`);
        const block = openBlock(
          this,
          part.type === "text-delta" ? "text" : "reasoning",
          part.id,
          part.providerMetadata,
        );
        block.text += part.delta;
        return true;
      }
      case "text-start":
      case "reasoning-start":
        openBlock(this, part.type === "text-start" ? "text" : "reasoning", part.id, part.providerMetadata);
        return true;
      case "text-end":
      case "reasoning-end":
        closeBlock(this, part.type === "text-end" ? "text" : "reasoning", part.id, part.providerMetadata);
        return true;
      case "tool-call": {
        if (
          typeof part.toolCallId !== "string" ||
          typeof part.toolName !== "string" ||
          typeof part.input !== "string"
        )
          return this.#malformed("tool-call part: toolCallId, toolName and input must be strings");
        const call: ToolCallPart =
          part.providerMetadata === undefined
            ? { type: "tool-call", toolCallId: part.toolCallId, toolName: part.toolName, input: part.input }
            : {
                type: "tool-call",
                toolCallId: part.toolCallId,
                toolName: part.toolName,
                input: part.input,
                providerMetadata: part.providerMetadata,
              };
        if (this.toolCalls === NO_CALLS) this.toolCalls = [call];
        else this.toolCalls.push(call);
        append(this, call, undefined);
        return true;
      }
      case "file":
        if (
          typeof part.mediaType !== "string" ||
          (typeof part.data !== "string" && typeof part.url !== "string")
        )
          return this.#malformed("file part: it needs a mediaType and base64 data or a url");
        append(
          this,
          {
            type: "file",
            mediaType: part.mediaType,
            ...(part.data === undefined ? {} : { data: part.data }),
            ...(part.url === undefined ? {} : { url: part.url }),
            ...(part.providerMetadata === undefined ? {} : { providerMetadata: part.providerMetadata }),
          },
          undefined,
        );
        return true;
      case "response-metadata":
        if (part.id !== undefined) this.responseId = part.id;
        return true;
      case "finish":
        if (part.usage !== undefined) this.usage = usageOf(part.usage);
        this.finishReason = part.finishReason;
        if (part.providerMetadata !== undefined) this.providerMetadata = part.providerMetadata;
        if (part.finishReason === "interrupted") {
          this.fail(
            new ModelCallError("the provider's stream ended before the answer was complete", {
              retryable: true,
            }),
          );
          return false;
        }
        return true;
      case "error":
        this.fail(part.error);
        return false;
      default:
        return true;
    }
  }

  /** Drops empty text and reasoning parts (a start with no deltas and nothing attached) and sets `text`. */
  finish(): void {
    const { content } = this;
    let text = "";
    let empty = 0;
    for (let i = 0; i < content.length; i++) {
      const part = content[i]!;
      if (part.type === "text" || part.type === "reasoning") {
        if (part.text === "" && part.providerMetadata === undefined) empty += 1;
        else if (part.type === "text") text += part.text;
      }
    }
    if (empty > 0)
      this.content = content.filter(
        (part) =>
          !(
            (part.type === "text" || part.type === "reasoning") &&
            part.text === "" &&
            !part.providerMetadata
          ),
      );
    this.text = text;
  }

  /** Fails the try for a part the runtime cannot use; ends the stream. */
  #malformed(what: string): false {
    this.fail(new Error(`the model sent a malformed ${what}`));
    return false;
  }

  fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.error = error;
  }
}

type BlockKind = "text" | "reasoning";
type Block = { type: BlockKind; text: string; providerMetadata?: ProviderMetadata };

/** The index of the open text or reasoning part with this id, or -1. */
function openAt(answer: StepAnswer, kind: BlockKind, id: string): number {
  const { content, openIds } = answer;
  for (let i = content.length - 1; i >= 0; i--) if (openIds[i] === id && content[i]!.type === kind) return i;
  return -1;
}

function attach(block: Block, meta: ProviderMetadata | undefined): void {
  if (meta !== undefined)
    block.providerMetadata =
      block.providerMetadata === undefined ? meta : mergeProviderOptions(block.providerMetadata, meta);
}

/** The open text or reasoning part with this id, or a new one at the end of the message. */
function openBlock(
  answer: StepAnswer,
  kind: BlockKind,
  id: string,
  meta: ProviderMetadata | undefined,
): Block {
  const at = openAt(answer, kind, id);
  if (at >= 0) {
    const block = answer.content[at] as Block;
    attach(block, meta);
    return block;
  }
  const block: Block =
    meta === undefined ? { type: kind, text: "" } : { type: kind, text: "", providerMetadata: meta };
  append(answer, block as AssistantPart, id);
  return block;
}

/**
 * Adds a part at the end of the message, with its block id. The first part makes arrays of one
 * rather than growing the empty ones (a push to `[]` allocates room for 17): a typical answer has
 * one or two parts (bench/NOTES.md, "exact-size answer arrays").
 */
function append(answer: StepAnswer, part: AssistantPart, id: string | undefined): void {
  if (answer.content.length === 0) {
    answer.content = [part];
    answer.openIds = [id];
  } else {
    answer.content.push(part);
    answer.openIds.push(id);
  }
}

function closeBlock(
  answer: StepAnswer,
  kind: BlockKind,
  id: string,
  meta: ProviderMetadata | undefined,
): void {
  const at = openAt(answer, kind, id);
  if (at < 0) return;
  attach(answer.content[at] as Block, meta);
  answer.openIds[at] = undefined;
}

/**
 * Usage as the kernel sums it: token counts that are finite numbers, 0 or more. Anything else a
 * model reports (a string, an object) is left out, so a bad count never turns a sum into text. Usage
 * that is well-formed already (every model's, nearly always) is kept as it is.
 */
function usageOf(usage: Usage): Usage | undefined {
  if (typeof usage !== "object" || usage === null) return undefined;
  const { inputTokens, outputTokens, cachedInputTokens, cacheWriteTokens, reasoningTokens } = usage;
  const wellFormed =
    tokenCount(inputTokens) !== undefined &&
    tokenCount(outputTokens) !== undefined &&
    (cachedInputTokens === undefined || tokenCount(cachedInputTokens) !== undefined) &&
    (cacheWriteTokens === undefined || tokenCount(cacheWriteTokens) !== undefined) &&
    (reasoningTokens === undefined || tokenCount(reasoningTokens) !== undefined);
  return wellFormed
    ? usage
    : usageFrom({ inputTokens, outputTokens, cachedInputTokens, cacheWriteTokens, reasoningTokens });
}
