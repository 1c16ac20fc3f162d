/**
 * The conversation format. It mirrors the subset of the AI SDK's language-model prompt that Offstage
 * uses (system text, user text, assistant text and tool calls, tool results), so that an adapter for
 * any AI SDK provider passes messages through unchanged.
 */

/** A text part of a user or assistant message. */
export interface TextPart {
  readonly type: "text";
  readonly text: string;
}

/** A tool call the model asked for. `input` is the JSON text exactly as the model produced it. */
export interface ToolCallPart {
  readonly type: "tool-call";
  readonly toolCallId: string;
  readonly toolName: string;
  readonly input: string;
}

/** The result of one tool call, as the model will see it. */
export interface ToolResultPart {
  readonly type: "tool-result";
  readonly toolCallId: string;
  readonly toolName: string;
  readonly output: { readonly type: "text" | "error-text"; readonly value: string };
}

/** One message of a session's history. */
export type Message =
  | { readonly role: "system"; readonly content: string }
  | { readonly role: "user"; readonly content: readonly TextPart[] }
  | { readonly role: "assistant"; readonly content: readonly (TextPart | ToolCallPart)[] }
  | { readonly role: "tool"; readonly content: readonly ToolResultPart[] };

/** Builds the system message of a prompt. */
export function systemMessage(text: string): Message {
  return { role: "system", content: text };
}

/** Builds a user message from an input payload: strings are used as they are, anything else as JSON. */
export function userMessage(payload: unknown): Message {
  const text = typeof payload === "string" ? payload : JSON.stringify(payload);
  return { role: "user", content: [{ type: "text", text }] };
}

/** Builds the assistant message that records one model step. */
export function assistantMessage(text: string, toolCalls: readonly ToolCallPart[]): Message {
  const content: (TextPart | ToolCallPart)[] = text === "" ? [] : [{ type: "text", text }];
  for (const call of toolCalls) content.push(call);
  return { role: "assistant", content };
}

/** What the model last said in these messages (its partial output when a turn was cut short). */
export function lastAssistantText(messages: readonly Message[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role !== "assistant") continue;
    const text = m.content.flatMap((part) => (part.type === "text" ? [part.text] : [])).join("");
    if (text !== "") return text;
  }
  return "";
}
