/**
 * The AI SDK's stream parts as Offstage's model parts. V3 and V4 stream the same parts; V2 differs
 * only in its finish part (a string reason and flat usage). Usage becomes numbers — the nested
 * `{ inputTokens: { total, noCache, cacheRead, cacheWrite }, outputTokens: { total, text, reasoning } }`
 * is read for totals, cached and reasoning tokens, and anything that is not a finite number is left
 * out rather than passed on. Parts Offstage does not keep (tool-input deltas, which end in a whole
 * `tool-call`; sources; raw chunks; warnings; calls the provider ran itself) are dropped.
 *
 * @packageDocumentation
 */
import type { ProviderMetadata } from "../../kernel/messages.js";
import { tokenCount, type Usage, usageFrom } from "../../kernel/outcome.js";
import type { FinishReason, ModelPart } from "../../runtime/ports/model.js";

/** A stream part of any of the three versions, read by its fields. */
type AnyPart = { readonly type: string } & Record<string, unknown>;

const FINISH_REASONS = new Set<FinishReason>([
  "stop",
  "length",
  "content-filter",
  "tool-calls",
  "error",
  "interrupted",
  "other",
]);

/** The Offstage part for `part`, or `undefined` when Offstage keeps nothing of it. */
export function fromStreamPart(part: AnyPart): ModelPart | undefined {
  switch (part.type) {
    case "text-delta":
    case "reasoning-delta":
      // The most common part by far, and V2-V4's shape is Offstage's: passed on as it is.
      if (
        part.providerMetadata === undefined &&
        typeof part.delta === "string" &&
        typeof part.id === "string"
      )
        return part as unknown as ModelPart;
      return withMetadata(
        { type: part.type, id: String(part.id), delta: typeof part.delta === "string" ? part.delta : "" },
        part.providerMetadata,
      );
    case "text-start":
    case "text-end":
    case "reasoning-start":
    case "reasoning-end":
      return withMetadata({ type: part.type, id: String(part.id) }, part.providerMetadata);
    case "tool-call":
      if (part.providerExecuted === true) return undefined;
      return withMetadata(
        {
          type: "tool-call",
          toolCallId: String(part.toolCallId),
          toolName: String(part.toolName),
          input: typeof part.input === "string" ? part.input : JSON.stringify(part.input ?? {}),
        },
        part.providerMetadata,
      );
    case "file":
      return fileOf(part);
    case "response-metadata":
      return {
        type: "response-metadata",
        ...(typeof part.id === "string" ? { id: part.id } : {}),
        ...(typeof part.modelId === "string" ? { modelId: part.modelId } : {}),
      };
    case "finish":
      return finishOf(part);
    case "error":
      return { type: "error", error: part.error };
    default:
      return undefined;
  }
}

function withMetadata<T extends ModelPart>(part: T, metadata: unknown): T {
  const kept = metadataOf(metadata);
  return kept === undefined ? part : { ...part, providerMetadata: kept };
}

/** What a provider attached, without the providers that attached nothing (`{ openai: {} }`). */
function metadataOf(value: unknown): ProviderMetadata | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  let kept: Record<string, Readonly<Record<string, unknown>>> | undefined;
  for (const [provider, values] of Object.entries(value)) {
    if (typeof values !== "object" || values === null || Object.keys(values).length === 0) continue;
    kept ??= {};
    kept[provider] = values as Readonly<Record<string, unknown>>;
  }
  return kept;
}

function fileOf(part: AnyPart): ModelPart | undefined {
  const mediaType = String(part.mediaType);
  // V4: { type: "data", data } | { type: "url", url }; V2/V3: a base64 string or bytes.
  let data = part.data as unknown;
  if (typeof data === "object" && data !== null && !(data instanceof Uint8Array)) {
    const tagged = data as { type?: string; data?: unknown; url?: unknown };
    if (tagged.type === "url")
      return withMetadata({ type: "file", mediaType, url: String(tagged.url) }, part.providerMetadata);
    data = tagged.data;
  }
  const base64 =
    data instanceof Uint8Array
      ? Buffer.from(data).toString("base64")
      : typeof data === "string"
        ? data
        : undefined;
  if (base64 === undefined) return undefined;
  return withMetadata({ type: "file", mediaType, data: base64 }, part.providerMetadata);
}

function finishOf(part: AnyPart): ModelPart {
  const reason = part.finishReason as unknown;
  let finishReason: FinishReason = "other";
  let raw: string | undefined;
  if (typeof reason === "string") {
    // V2: a string, with "unknown" when the provider sent none: the stream ended before the answer
    // did, which V3 and V4 call `interrupted`.
    finishReason =
      reason === "unknown"
        ? "interrupted"
        : FINISH_REASONS.has(reason as FinishReason)
          ? (reason as FinishReason)
          : "other";
  } else if (typeof reason === "object" && reason !== null) {
    const { unified, raw: rawReason } = reason as { unified?: unknown; raw?: unknown };
    if (FINISH_REASONS.has(unified as FinishReason)) finishReason = unified as FinishReason;
    if (typeof rawReason === "string" && rawReason !== finishReason) raw = rawReason;
  }
  const usage = usageOf(part.usage);
  const metadata = metadataOf(part.providerMetadata);
  return {
    type: "finish",
    finishReason,
    ...(raw === undefined ? {} : { rawFinishReason: raw }),
    ...(usage === undefined ? {} : { usage }),
    ...(metadata === undefined ? {} : { providerMetadata: metadata }),
  };
}

/** Usage of any version as flat numbers; `undefined` when the provider reported no token counts. */
export function usageOf(usage: unknown): Usage | undefined {
  if (typeof usage !== "object" || usage === null) return undefined;
  const u = usage as Record<string, unknown>;
  let input: number | undefined;
  let output: number | undefined;
  let cacheRead: number | undefined;
  let cacheWrite: number | undefined;
  let reasoning: number | undefined;
  if (typeof u.inputTokens === "object" && u.inputTokens !== null) {
    const i = u.inputTokens as Record<string, unknown>;
    const o = (typeof u.outputTokens === "object" && u.outputTokens !== null ? u.outputTokens : {}) as Record<
      string,
      unknown
    >;
    cacheRead = count(i.cacheRead);
    cacheWrite = count(i.cacheWrite);
    input = count(i.total) ?? sum(count(i.noCache), cacheRead, cacheWrite);
    reasoning = count(o.reasoning);
    output = count(o.total) ?? sum(count(o.text), reasoning);
  } else {
    // V2: flat numbers.
    input = count(u.inputTokens);
    output = count(u.outputTokens);
    cacheRead = count(u.cachedInputTokens);
    reasoning = count(u.reasoningTokens);
  }
  return usageFrom({
    inputTokens: input,
    outputTokens: output,
    cachedInputTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    reasoningTokens: reasoning,
  });
}

const count = tokenCount;

function sum(...values: (number | undefined)[]): number | undefined {
  let total: number | undefined;
  for (const v of values) if (v !== undefined) total = (total ?? 0) + v;
  return total;
}
