/**
 * The MCP servers given to `offstage chat --mcp`: connected before the chat starts, in parallel,
 * each bounded by a timeout. A server that cannot be used — not installed, prints garbage, never
 * answers — is reported in one line and the chat goes on without its tools.
 *
 * @packageDocumentation
 */
import type { McpToolSet } from "../../mcp/index.js";
import type { Tool } from "../../runtime/ports/tool.js";
import { describeError } from "./chat-runtime.js";

/** The servers that answered, their tools, and a line about each server. */
export interface ChatMcp {
  readonly sets: readonly McpToolSet[];
  readonly tools: readonly Tool[];
  readonly report: readonly { readonly ok: boolean; readonly line: string }[];
}

/**
 * Connects to each server (`node server.mjs`, `http://…/mcp`). Tool names already taken (by the
 * file tools or an earlier server) are left out, with a line saying so.
 */
export async function connectChatMcp(
  commands: readonly string[],
  taken: ReadonlySet<string>,
  connectTimeoutMs: number,
): Promise<ChatMcp> {
  if (commands.length === 0) return { sets: [], tools: [], report: [] };
  let mcp: typeof import("../../mcp/index.js");
  try {
    mcp = await import("../../mcp/index.js");
  } catch (error) {
    const line = `--mcp needs the MCP SDK: npm i @modelcontextprotocol/sdk zod (${describeError(error)}); going on without MCP tools`;
    return { sets: [], tools: [], report: [{ ok: false, line }] };
  }
  const settled = await Promise.allSettled(
    commands.map(async (command) => mcp.mcpTools(mcp.parseMcpCommand(command), { connectTimeoutMs })),
  );
  const sets: McpToolSet[] = [];
  const tools: Tool[] = [];
  const report: { ok: boolean; line: string }[] = [];
  const names = new Set(taken);
  settled.forEach((result, i) => {
    const command = commands[i]!;
    if (result.status === "rejected") {
      report.push({
        ok: false,
        line: `MCP ${command}: ${describeError(result.reason)}; going on without its tools`,
      });
      return;
    }
    const set = result.value;
    sets.push(set);
    const kept = set.tools.filter((tool) => !names.has(tool.name));
    for (const tool of kept) names.add(tool.name);
    tools.push(...kept);
    const dropped = set.tools.filter((tool) => !kept.includes(tool)).map((t) => t.name);
    const notes = [
      ...dropped.map((name) => `${name} left out: the name is taken`),
      ...set.skipped.map((s) => `${s.name} left out: ${s.reason}`),
    ];
    report.push({
      ok: true,
      line: `MCP ${command}: ${kept.length} tool${kept.length === 1 ? "" : "s"} (${kept.map((t) => t.name).join(", ")})${notes.length === 0 ? "" : `; ${notes.join("; ")}`}`,
    });
  });
  return { sets, tools, report };
}
