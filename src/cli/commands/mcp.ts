/**
 * `offstage mcp`: Offstage as an MCP server over stdio. Any MCP host (an editor, a desktop app, an
 * agent CLI) starts it as a tool server and gets the runtime's sessions as tools: `send` returns
 * at once and `result` fetches the answer later, so a host that can only call tools synchronously
 * gets durable background work. Stdout is the protocol; everything else goes to stderr. When the
 * host closes stdin the runtime stops without draining: queued work stays in the store and runs the
 * next time.
 *
 * @packageDocumentation
 */
import { resolve } from "node:path";
import type { Runtime } from "../../runtime/runtime.js";
import {
  CHAT_AGENT,
  chatModel,
  createChatRuntime,
  type DemoPace,
  describeError,
} from "../chat/chat-runtime.js";

/** What `offstage mcp` was asked for (checked by its caller). */
export interface McpCommandOptions {
  readonly model: string;
  /** The SQLite file; `undefined` keeps everything in memory. */
  readonly dbPath: string | undefined;
  readonly workspace: string;
  readonly pace: DemoPace;
}

/** Serves until the host closes the connection; returns the exit code. */
export async function runMcpServer(options: McpCommandOptions): Promise<number> {
  const say = (line: string) => process.stderr.write(`offstage mcp: ${line}\n`);
  let mcp: typeof import("../../mcp/index.js");
  let stdio: typeof import("@modelcontextprotocol/sdk/server/stdio.js");
  try {
    mcp = await import("../../mcp/index.js");
    stdio = await import("@modelcontextprotocol/sdk/server/stdio.js");
  } catch (error) {
    say(`needs the MCP SDK: npm i @modelcontextprotocol/sdk zod (${describeError(error)})`);
    return 2;
  }
  const logger = {
    warn: (details: object, message: string) => say(`warn: ${message} ${JSON.stringify(details)}`),
    error: (details: object, message: string) => say(`error: ${message} ${JSON.stringify(details)}`),
  };
  const runtime: Runtime = createChatRuntime({
    model: chatModel(options.model, options.pace),
    dbPath: options.dbPath,
    workspace: options.workspace,
    tools: [],
    logger,
  });
  try {
    await runtime.start();
  } catch (error) {
    // A host shows this line; a server on another model than the one asked for would mislead it.
    say(`cannot start: ${describeError(error)}`);
    await runtime[Symbol.asyncDispose]().catch(() => undefined);
    return 2;
  }
  const server = mcp.createSessionServer(runtime, { agent: CHAT_AGENT });
  const transport = new stdio.StdioServerTransport();
  const closed = new Promise<void>((done) => {
    transport.onclose = done;
    process.stdin.once("end", done);
    process.once("SIGTERM", done);
    process.once("SIGINT", done);
  });
  await server.connect(transport);
  say(
    `serving sessions of agent "${CHAT_AGENT}" on stdio; store ${options.dbPath === undefined ? "memory" : resolve(options.dbPath)}`,
  );
  await closed;
  const status = await runtime.stop();
  await runtime[Symbol.asyncDispose]();
  await server.close().catch(() => undefined);
  say(`stopped (${status})`);
  return 0;
}
