/**
 * The runtime `offstage chat` and `offstage mcp` run on: one agent, `assistant`, with file tools
 * over a workspace, the `delegate` tool for background children and any MCP tools it was given, on
 * the SQLite file (durable: a session resumes after a restart) or in memory. Both commands name the
 * agent alike, so a session begun over MCP can be continued in the chat and the other way round.
 *
 * @packageDocumentation
 */
import { resolve } from "node:path";
import { createRuntime } from "../../create-runtime.js";
import { isOffstageError } from "../../errors.js";
import { createDemoModel } from "../../models/demo/demo-model.js";
import type { Logger } from "../../runtime/logger.js";
import type { Model } from "../../runtime/ports/model.js";
import type { Store } from "../../runtime/ports/store.js";
import type { Tool } from "../../runtime/ports/tool.js";
import type { Runtime } from "../../runtime/runtime.js";
import { createMemoryStore } from "../../store/memory/memory-store.js";
import { createSqliteStore } from "../../store/sqlite/sqlite-store-options.js";
import { createFileTools } from "../../tools/builtin/file-tools.js";

/** The agent of chat and MCP sessions. */
export const CHAT_AGENT = "assistant";

/** The model name that means the offline demo model. */
export const DEMO_MODEL = "demo";

/** How the demo model paces itself in a chat, so streaming and background work can be seen. */
export interface DemoPace {
  /** Before each step answers (default 150 ms). */
  readonly latencyMs?: number;
  /** Between the words of an answer (default 30 ms). */
  readonly wordDelayMs?: number;
  /** A step whose input says "slowly" waits this long instead (default 3 000 ms). */
  readonly slowMs?: number;
}

/** Options of {@link createChatRuntime}. */
export interface ChatRuntimeOptions {
  /** A model, or a name the runtime resolves at start (`openai:gpt-5-mini`, `anthropic:…`). */
  readonly model: Model | string;
  /** The SQLite file; `undefined` keeps everything in memory. */
  readonly dbPath: string | undefined;
  /** The folder the file tools work in. */
  readonly workspace: string;
  /** More tools for the agent (an MCP server's). */
  readonly tools: readonly Tool[];
  readonly logger: Logger;
}

/** The offline demo model, paced for a person to watch. */
export function chatDemoModel(pace: DemoPace = {}): Model {
  return createDemoModel({
    latencyMs: pace.latencyMs ?? 150,
    wordDelayMs: pace.wordDelayMs ?? 30,
    slowOn: "slowly",
    slowMs: pace.slowMs ?? 3_000,
  });
}

/**
 * The model a `--model` name stands for: `demo` is the offline demo model; any other name is left to
 * the runtime, which resolves it when it starts (a missing provider package or key fails the start
 * with `BootError` `MODEL_PACKAGE_MISSING`, `MODEL_KEY_MISSING` or `MODEL_NAME_INVALID`).
 */
export function chatModel(name: string, pace: DemoPace = {}): Model | string {
  return name === DEMO_MODEL ? chatDemoModel(pace) : name;
}

/** True for a start that failed on the model's name: its provider package, key or spelling. */
export function isModelBootError(error: unknown): boolean {
  return (
    isOffstageError(error, "MODEL_PACKAGE_MISSING") ||
    isOffstageError(error, "MODEL_KEY_MISSING") ||
    isOffstageError(error, "MODEL_NAME_INVALID")
  );
}

/** The store: the SQLite file, or memory. */
export function chatStore(dbPath: string | undefined): Store {
  return dbPath === undefined ? createMemoryStore() : createSqliteStore({ path: dbPath });
}

/** Creates (and does not start) the runtime. */
export function createChatRuntime(options: ChatRuntimeOptions): Runtime {
  return createRuntime({
    store: chatStore(options.dbPath),
    logger: options.logger,
    agents: {
      [CHAT_AGENT]: {
        model: options.model,
        system:
          "You are an assistant in a terminal chat. You can look at files with tools and hand longer jobs to background workers with the delegate tool; their results come back to you later.",
        tools: [...createFileTools({ root: resolve(options.workspace) }), ...options.tools],
        delegates: true,
      },
    },
  });
}

/** One line for an error at the command line: its code and message, or its text. */
export function describeError(error: unknown): string {
  if (isOffstageError(error)) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
