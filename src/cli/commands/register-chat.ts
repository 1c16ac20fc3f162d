/**
 * `offstage chat` and `offstage mcp` on the command line: their options, checked by commander, and
 * actions that load the commands only when they run (the MCP SDK is an optional dependency).
 *
 * @packageDocumentation
 */
import { type Command, InvalidArgumentError, Option } from "commander";
import { DEFAULTS } from "../../kernel/limits.js";

/** Parses a whole number of milliseconds, 0 or more. */
function milliseconds(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new InvalidArgumentError(`expected a whole number of milliseconds, got ${JSON.stringify(value)}`);
  return n;
}

/** Options the chat and the MCP server share: where sessions are kept, the model, the files. */
function sessionOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        "--model <name>",
        'the model: "demo" (offline, no key) or a provider\'s, e.g. openai:gpt-5-mini, anthropic:claude-sonnet-4-5, openai-compatible:http://127.0.0.1:11434/v1:llama3.2',
      ).default("demo"),
    )
    .addOption(
      new Option("--db <path>", "SQLite file the sessions are kept in").default(DEFAULTS.sqliteStore.path),
    )
    .addOption(new Option("--memory", "keep everything in memory instead (nothing survives)"))
    .addOption(new Option("--workspace <dir>", "folder the file tools work in").default("."))
    .addOption(new Option("--demo-latency-ms <ms>").argParser(milliseconds).hideHelp())
    .addOption(new Option("--demo-word-ms <ms>").argParser(milliseconds).hideHelp())
    .addOption(new Option("--demo-slow-ms <ms>").argParser(milliseconds).hideHelp());
}

interface SessionFlags {
  model: string;
  db: string;
  memory?: boolean;
  workspace: string;
  demoLatencyMs?: number;
  demoWordMs?: number;
  demoSlowMs?: number;
}

function pace(flags: SessionFlags) {
  return {
    ...(flags.demoLatencyMs === undefined ? {} : { latencyMs: flags.demoLatencyMs }),
    ...(flags.demoWordMs === undefined ? {} : { wordDelayMs: flags.demoWordMs }),
    ...(flags.demoSlowMs === undefined ? {} : { slowMs: flags.demoSlowMs }),
  };
}

/** Adds `offstage chat`. */
export function registerChat(program: Command): void {
  sessionOptions(
    program
      .command("chat")
      .description(
        "chat in the terminal: answers stream, keep typing while the agent works, background children report back",
      ),
  )
    .addOption(
      new Option("--policy <policy>", "what a line typed while the agent answers does")
        .choices(["steer", "enqueue", "interrupt", "merge"])
        .default("steer"),
    )
    .addOption(new Option("--session <id>", "resume this session (or start it under this id)"))
    .addOption(
      new Option(
        "--mcp <command>",
        "add an MCP server's tools: a command line or an http(s) URL (repeatable)",
      )
        .argParser((value: string, previous: string[] = []) => [...previous, value])
        .default([]),
    )
    .addOption(
      new Option("--mcp-timeout <ms>", "how long an MCP server may take to answer at start")
        .argParser(milliseconds)
        .default(DEFAULTS.mcp.connectTimeoutMs),
    )
    .addOption(
      new Option("--frame-ms <ms>").argParser(milliseconds).default(DEFAULTS.chat.frameMs).hideHelp(),
    )
    .action(
      async (
        flags: SessionFlags & {
          policy: "steer" | "enqueue" | "interrupt" | "merge";
          session?: string;
          mcp: string[];
          mcpTimeout: number;
          frameMs: number;
        },
      ) => {
        const { runChat } = await import("./chat.js");
        process.exitCode = await runChat({
          model: flags.model,
          policy: flags.policy,
          session: flags.session,
          dbPath: flags.memory === true ? undefined : flags.db,
          workspace: flags.workspace,
          mcp: flags.mcp,
          mcpTimeoutMs: flags.mcpTimeout,
          pace: pace(flags),
          frameMs: flags.frameMs,
        });
      },
    );
}

/** Adds `offstage mcp`. */
export function registerMcp(program: Command): void {
  sessionOptions(
    program
      .command("mcp")
      .description(
        "serve sessions to an MCP host over stdio: send, status, result, cancel, delegate, list_children",
      ),
  ).action(async (flags: SessionFlags) => {
    const { runMcpServer } = await import("./mcp.js");
    process.exitCode = await runMcpServer({
      model: flags.model,
      dbPath: flags.memory === true ? undefined : flags.db,
      workspace: flags.workspace,
      pace: pace(flags),
    });
  });
}
