/**
 * What an MCP tool's result becomes for the model. Offstage's model port carries a tool result as
 * text (`{ type: "text" | "error-text", value }`), so each MCP content part becomes text the model
 * can read: text as it is; structured content as its JSON; an embedded text resource with its URI;
 * an image, an audio clip or a binary resource as one line naming its media type and size (the
 * bytes are not text, and a base64 dump would only spend the model's context). A result the server
 * marks `isError` becomes a tool error the model sees as such.
 *
 * @packageDocumentation
 */

/** One content part of an MCP tool result, as the protocol defines it (the fields Offstage reads). */
export type McpContent =
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "image" | "audio"; readonly data: string; readonly mimeType: string }
  | {
      readonly type: "resource";
      readonly resource: {
        readonly uri: string;
        readonly mimeType?: string;
        readonly text?: string;
        readonly blob?: string;
      };
    }
  | {
      readonly type: "resource_link";
      readonly uri: string;
      readonly name?: string;
      readonly mimeType?: string;
      readonly description?: string;
    }
  | { readonly type: string };

/** An MCP `tools/call` result (current shape, or the legacy `toolResult` one). */
export interface McpCallResult {
  readonly content?: readonly McpContent[];
  readonly structuredContent?: unknown;
  readonly isError?: boolean;
  readonly toolResult?: unknown;
}

/** A result the MCP server marked `isError`: the model sees its text as a tool error. */
export class McpToolError extends Error {
  override readonly name = "McpToolError";
}

/**
 * The text the model sees for an MCP tool result. Throws {@link McpToolError} for a result marked
 * `isError`, so the runtime reports it to the model as a tool error.
 */
export function renderMcpResult(result: McpCallResult): string {
  if (result.toolResult !== undefined && result.content === undefined) return jsonText(result.toolResult);
  const content = Array.isArray(result.content) ? result.content : [];
  const texts = content.map(renderContent).filter((text) => text !== "");
  // Servers should mirror structured content in a text part; when one does not, the JSON is the answer.
  const hasText = content.some((part) => part.type === "text");
  if (!hasText && result.structuredContent !== undefined) texts.unshift(jsonText(result.structuredContent));
  const text = texts.join("\n");
  if (result.isError === true) throw new McpToolError(text === "" ? "the tool reported an error" : text);
  return text;
}

function renderContent(part: McpContent): string {
  switch (part.type) {
    case "text":
      return (part as { text: string }).text;
    case "image":
    case "audio": {
      const { data, mimeType } = part as { data: string; mimeType: string };
      return `[${part.type} ${mimeType}, ${sizeOf(data)}: not shown, tool results reach the model as text]`;
    }
    case "resource": {
      const { uri, mimeType, text, blob } = (part as Extract<McpContent, { type: "resource" }>).resource;
      const label = mimeType === undefined ? uri : `${uri} (${mimeType})`;
      if (typeof text === "string") return `resource ${label}:\n${text}`;
      return `[resource ${label}, ${sizeOf(blob ?? "")}: binary, not shown]`;
    }
    case "resource_link": {
      const link = part as Extract<McpContent, { type: "resource_link" }>;
      const about = [link.name, link.mimeType, link.description].filter((x) => x !== undefined);
      return `resource link ${link.uri}${about.length === 0 ? "" : ` (${about.join(", ")})`}`;
    }
    default:
      return `[${JSON.stringify(part.type)} content: not shown]`;
  }
}

/** The decoded size of base64 data, for people: `12.3 kB`. */
function sizeOf(base64: string): string {
  const bytes = Math.floor((base64.replace(/=+$/, "").length * 3) / 4);
  return bytes < 1000 ? `${bytes} B` : `${(bytes / 1000).toFixed(1)} kB`;
}

function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
