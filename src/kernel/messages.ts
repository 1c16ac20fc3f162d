/**
 * The conversation format: Offstage's own, and plain JSON, so a session's history is stored as it
 * is. It follows the AI SDK's language-model prompt closely (system text; user text and files;
 * assistant text, reasoning, files and tool calls; tool results), so the AI SDK adapter
 * (`offstage/ai-sdk`) maps it part for part. Where it differs it does so to stay JSON: a tool call's
 * `input` is the JSON text the model wrote (the AI SDK's prompt wants it parsed), a file's bytes are
 * base64 text, and what a provider attached to a part (`providerMetadata`, e.g. a reasoning
 * signature) is kept on the part so the adapter can hand it back on the next call.
 */

/** Data a provider attached to a part, by provider name; handed back to that provider on later calls. */
export type ProviderMetadata = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

/** A text part of a user or assistant message. */
export interface TextPart {
  readonly type: "text";
  readonly text: string;
  readonly providerMetadata?: ProviderMetadata;
}

/** Reasoning the model showed before its answer (kept in history: some providers need it back). */
export interface ReasoningPart {
  readonly type: "reasoning";
  readonly text: string;
  readonly providerMetadata?: ProviderMetadata;
}

/**
 * A file: in a user message (an image, a PDF) or produced by the model. Either `data` (base64) or
 * `url` is set.
 */
export interface FilePart {
  readonly type: "file";
  /** An IANA media type (`image/png`) or its top-level segment (`image`). */
  readonly mediaType: string;
  readonly filename?: string;
  /** The bytes, base64-encoded. */
  readonly data?: string;
  /** Where the provider can fetch the file instead. */
  readonly url?: string;
  readonly providerMetadata?: ProviderMetadata;
}

/** A tool call the model asked for. `input` is the JSON text exactly as the model produced it. */
export interface ToolCallPart {
  readonly type: "tool-call";
  readonly toolCallId: string;
  readonly toolName: string;
  readonly input: string;
  readonly providerMetadata?: ProviderMetadata;
}

/** The result of one tool call, as the model will see it. */
export interface ToolResultPart {
  readonly type: "tool-result";
  readonly toolCallId: string;
  readonly toolName: string;
  readonly output: { readonly type: "text" | "error-text"; readonly value: string };
}

/** What a user message holds. */
export type UserPart = TextPart | FilePart;

/** What an assistant message holds, in the order the model produced it. */
export type AssistantPart = TextPart | ReasoningPart | FilePart | ToolCallPart;

/** One message of a session's history. */
export type Message =
  | { readonly role: "system"; readonly content: string }
  | { readonly role: "user"; readonly content: readonly UserPart[] }
  | { readonly role: "assistant"; readonly content: readonly AssistantPart[] }
  | { readonly role: "tool"; readonly content: readonly ToolResultPart[] };

/** Builds the system message of a prompt. */
export function systemMessage(text: string): Message {
  return { role: "system", content: text };
}

/**
 * Builds a user message from an input payload. A payload that is itself a user message
 * (`{ role: "user", content: [text and file parts] }`) is used as it is, so a host can send files;
 * strings are used as text; anything else as its JSON text.
 */
export function userMessage(payload: unknown): Message {
  if (isUserMessage(payload)) return payload;
  const text = typeof payload === "string" ? payload : JSON.stringify(payload);
  return { role: "user", content: [{ type: "text", text }] };
}

/** Builds the assistant message that records one model step from its text and tool calls. */
export function assistantMessage(text: string, toolCalls: readonly ToolCallPart[] = []): Message {
  const content: AssistantPart[] = text === "" ? [] : [{ type: "text", text }];
  for (const call of toolCalls) content.push(call);
  return { role: "assistant", content };
}

/** The text of an assistant message's text parts, joined. */
export function textOf(content: readonly AssistantPart[]): string {
  let text = "";
  for (const part of content) if (part.type === "text") text += part.text;
  return text;
}

/** What the model last said in these messages (its partial output when a turn was cut short). */
export function lastAssistantText(messages: readonly Message[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role !== "assistant") continue;
    const text = textOf(m.content);
    if (text !== "") return text;
  }
  return "";
}

function isUserMessage(payload: unknown): payload is Message {
  if (typeof payload !== "object" || payload === null) return false;
  const { role, content } = payload as { role?: unknown; content?: unknown };
  if (role !== "user" || !Array.isArray(content) || content.length === 0) return false;
  return content.every(isUserPart);
}

function isUserPart(part: unknown): boolean {
  if (typeof part !== "object" || part === null) return false;
  const p = part as Record<string, unknown>;
  if (p.type === "text") return typeof p.text === "string";
  if (p.type !== "file" || typeof p.mediaType !== "string") return false;
  return typeof p.data === "string" || typeof p.url === "string";
}
