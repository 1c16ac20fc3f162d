/**
 * `mcpTools`: the tools of an MCP server, as Offstage tools an agent can be given.
 *
 * @packageDocumentation
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { DEFAULTS } from "../kernel/limits.js";
import type { Tool } from "../runtime/ports/tool.js";
import { defineTool } from "../tools/define-tool.js";
import {
  argumentsOf,
  checkDurationMs,
  checkObject,
  checkPositiveInteger,
  checkText,
  fail,
  isStringArray,
  type Subject,
} from "../validate.js";
import { checkMcpConfig, type McpServerConfig } from "./mcp-config.js";
import { type ListedTool, McpConnection } from "./mcp-connection.js";
import { offstageToolName } from "./tool-names.js";
import { renderMcpResult } from "./tool-result.js";

/** Options of {@link mcpTools}. */
export interface McpToolsOptions {
  /** Prepended to every tool name (`github_`), so two servers' tools cannot clash. */
  readonly prefix?: string;
  /** Only these tools, by their MCP names (default: all). */
  readonly include?: readonly string[];
  /** How long connecting and listing the tools may take (default 10 000 ms). */
  readonly connectTimeoutMs?: number;
  /** Each tool's timeout; default the runtime's `limits.toolTimeoutMs`. */
  readonly timeoutMs?: number;
  /** Failed restarts in a row before a dead server is given up (default 5). */
  readonly restartsMax?: number;
  /** The wait before the second restart, doubling after (default 250 ms; the first is at once). */
  readonly restartDelayMs?: number;
}

/** A tool of the server that Offstage could not offer, and why. */
export interface SkippedMcpTool {
  readonly name: string;
  readonly reason: string;
}

/** The tools of one MCP server, and the link that serves them. */
export interface McpToolSet extends AsyncDisposable {
  /** The server's name in messages: its `name` option, or its command line or URL. */
  readonly name: string;
  /** The tools, named for Offstage (`[a-zA-Z0-9_-]{1,64}`, with the prefix). */
  readonly tools: readonly Tool[];
  /** Tools left out: a name clash or a schema Offstage cannot validate. */
  readonly skipped: readonly SkippedMcpTool[];
  /** Where the link stands: `ready`, `connecting` (a restart), `down`, `failed` or `closed`. */
  readonly state: "connecting" | "ready" | "down" | "failed" | "closed";
  /** Closes the link and stops a server process it started. Idempotent. */
  close(): Promise<void>;
}

const CALL: Subject = argumentsOf("mcpTools()");

/**
 * Connects to an MCP server and returns its tools as Offstage tools, with their JSON Schemas.
 *
 * Pass a server to start over stdio (`{ command, args }`), a Streamable HTTP endpoint (`{ url }`),
 * or an SDK `Client` you connected yourself (Offstage then never closes or restarts it).
 *
 * Details:
 * - Arguments the model sends are checked against the tool's JSON Schema before the server sees them.
 * - Cancelling the turn, or the tool's timeout, aborts the call: the server receives the MCP
 *   `notifications/cancelled` for it.
 * - A server that dies fails the calls in flight with a tool error that says so, and is restarted
 *   (at once, then with a doubling delay); calls while it is down fail at once with the reason.
 * - Results become text for the model: text parts as they are, structured content as JSON, images,
 *   audio and binary resources as a line naming their media type and size. A result marked
 *   `isError` is a tool error.
 *
 * @throws `InvalidInputError` `INVALID_ARGUMENT` for a malformed config or option;
 *   `OffstageError` `MCP_CONNECT_FAILED` when the server cannot be started, does not answer in
 *   `connectTimeoutMs`, or speaks something other than MCP (the message quotes what it printed).
 *
 * @example
 * ```ts
 * await using files = await mcpTools({ command: "npx", args: ["-y", "@modelcontextprotocol/server-filesystem", "."] });
 * const runtime = createRuntime({ agents: { assistant: { model, tools: [...files.tools] } } });
 * ```
 */
export async function mcpTools(
  source: McpServerConfig | Client,
  options: McpToolsOptions = {},
): Promise<McpToolSet> {
  checkObject(CALL, "options", options);
  const prefix = options.prefix ?? "";
  if (prefix !== "") checkText(CALL, "prefix", prefix, 32);
  if (options.include !== undefined && !isStringArray(options.include))
    fail(CALL, "include", options.include, "an array of tool names");
  if (options.timeoutMs !== undefined) checkDurationMs(CALL, "timeoutMs", options.timeoutMs, { min: 1 });
  const defaults = DEFAULTS.mcp;
  const connectTimeoutMs = options.connectTimeoutMs ?? defaults.connectTimeoutMs;
  checkDurationMs(CALL, "connectTimeoutMs", connectTimeoutMs, { min: 1 });
  const restartsMax = options.restartsMax ?? defaults.restartsMax;
  if (restartsMax !== 0) checkPositiveInteger(CALL, "restartsMax", restartsMax);
  const restartDelayMs = options.restartDelayMs ?? defaults.restartDelayMs;
  checkDurationMs(CALL, "restartDelayMs", restartDelayMs);

  const checked = source instanceof Client ? undefined : checkMcpConfig(CALL, source);
  const name = checked?.name ?? source.constructor.name;
  const connection = new McpConnection(name, checked ?? (source as Client), {
    connectTimeoutMs,
    restartsMax,
    restartDelayMs,
  });
  let listed: ListedTool[];
  try {
    listed = await connection.listTools();
  } catch (error) {
    await connection.close();
    throw error;
  }
  const tools: Tool[] = [];
  const skipped: SkippedMcpTool[] = [];
  const taken = new Set<string>();
  for (const info of listed) {
    if (options.include !== undefined && !options.include.includes(info.name)) continue;
    const toolName = offstageToolName(prefix, info.name, taken);
    try {
      tools.push(
        defineTool<Record<string, unknown>>({
          name: toolName,
          description: info.description ?? info.title ?? `The ${info.name} tool of the MCP server ${name}.`,
          schema: info.inputSchema,
          ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
          execute: async (args, { signal }) =>
            renderMcpResult(await connection.call(info.name, args, signal)),
        }),
      );
      taken.add(toolName);
    } catch (error) {
      skipped.push({ name: info.name, reason: error instanceof Error ? error.message : String(error) });
    }
  }
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= connection.close();
    return closing;
  };
  return Object.freeze({
    name,
    tools: Object.freeze(tools),
    skipped: Object.freeze(skipped),
    get state() {
      return connection.state;
    },
    close,
    [Symbol.asyncDispose]: close,
  });
}
