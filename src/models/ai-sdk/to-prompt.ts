/**
 * Offstage's messages and tools as the AI SDK's language-model prompt and function tools. Part for
 * part: what a provider attached to a part (`providerMetadata`) goes back as that part's
 * `providerOptions`, a tool call's JSON text is parsed into the object the prompt wants, and a
 * file's base64 text or URL becomes V4's tagged file data (V2 and V3 take the string or a `URL`).
 *
 * Messages and tools are immutable once recorded, so each is converted once and the result kept
 * beside it (weakly): a long conversation's prompt costs a lookup per message, not a rebuild.
 *
 * @packageDocumentation
 */
import type {
  LanguageModelV3FunctionTool,
  LanguageModelV3Message,
  LanguageModelV4FunctionTool,
  LanguageModelV4Message,
  SharedV4ProviderOptions,
} from "@ai-sdk/provider";
import type { FilePart, Message, ProviderMetadata } from "../../kernel/messages.js";
import type { ModelTool, ToolChoice } from "../../runtime/ports/model.js";

/** The prompt shape a model takes: V4's, or V3's (which V2 shares). */
export type PromptFamily = "v4" | "v3";

type AnyMessage = LanguageModelV4Message | LanguageModelV3Message;

const converted: Record<PromptFamily, WeakMap<Message, AnyMessage | null>> = {
  v4: new WeakMap(),
  v3: new WeakMap(),
};
const convertedTools = new WeakMap<ModelTool, LanguageModelV4FunctionTool>();

/** The prompt for one call. Assistant messages with nothing in them are left out (providers refuse them). */
export function toPrompt(messages: readonly Message[], family: PromptFamily): AnyMessage[] {
  const cache = converted[family];
  const prompt: AnyMessage[] = [];
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!;
    let out = cache.get(message);
    if (out === undefined) {
      out = toMessage(message, family);
      cache.set(message, out);
    }
    if (out !== null) prompt.push(out);
  }
  return prompt;
}

function toMessage(message: Message, family: PromptFamily): AnyMessage | null {
  switch (message.role) {
    case "system":
      return { role: "system", content: message.content };
    case "user":
      return {
        role: "user",
        content: message.content.map((part) =>
          part.type === "text"
            ? withOptions({ type: "text", text: part.text }, part.providerMetadata)
            : toFile(part, family),
        ),
      } as AnyMessage;
    case "assistant": {
      if (message.content.length === 0) return null;
      const content = message.content.map((part) => {
        switch (part.type) {
          case "text":
            return withOptions({ type: "text", text: part.text }, part.providerMetadata);
          case "reasoning":
            return withOptions({ type: "reasoning", text: part.text }, part.providerMetadata);
          case "file":
            return toFile(part, family);
          default:
            return withOptions(
              {
                type: "tool-call",
                toolCallId: part.toolCallId,
                toolName: part.toolName,
                input: parseInput(part.input),
              },
              part.providerMetadata,
            );
        }
      });
      return { role: "assistant", content } as AnyMessage;
    }
    case "tool":
      return {
        role: "tool",
        content: message.content.map((part) => ({
          type: "tool-result",
          toolCallId: part.toolCallId,
          toolName: part.toolName,
          output: { type: part.output.type, value: part.output.value },
        })),
      };
  }
}

function toFile(part: FilePart, family: PromptFamily): object {
  const base = part.filename === undefined ? { type: "file" } : { type: "file", filename: part.filename };
  let data: unknown;
  if (part.data !== undefined) data = family === "v4" ? { type: "data", data: part.data } : part.data;
  else data = family === "v4" ? { type: "url", url: new URL(part.url!) } : new URL(part.url!);
  return withOptions({ ...base, mediaType: part.mediaType, data }, part.providerMetadata);
}

function withOptions<T extends object>(part: T, metadata: ProviderMetadata | undefined): T {
  return metadata === undefined
    ? part
    : { ...part, providerOptions: metadata as unknown as SharedV4ProviderOptions };
}

/** The tool call's input as the prompt wants it: parsed JSON, or the text as it is when it is not JSON. */
function parseInput(input: string): unknown {
  if (input.trim() === "") return {};
  try {
    return JSON.parse(input);
  } catch {
    return input;
  }
}

/** A tool as the AI SDK's function tool (V2, V3 and V4 share the shape). */
export function toFunctionTool(tool: ModelTool): LanguageModelV4FunctionTool & LanguageModelV3FunctionTool {
  let out = convertedTools.get(tool);
  if (out === undefined) {
    out = {
      type: "function",
      name: tool.name,
      description: tool.description,
      inputSchema: tool.inputSchema as LanguageModelV4FunctionTool["inputSchema"],
    };
    convertedTools.set(tool, out);
  }
  return out as LanguageModelV4FunctionTool & LanguageModelV3FunctionTool;
}

/** Offstage's tool choice as the AI SDK's. */
export function toToolChoice(
  choice: ToolChoice,
): { type: "auto" | "none" | "required" } | { type: "tool"; toolName: string } {
  return typeof choice === "string" ? { type: choice } : { type: "tool", toolName: choice.toolName };
}
