/**
 * The tool port: what the runtime needs from a tool. `defineTool` (in `src/tools`) builds one from a
 * Standard Schema or a plain JSON Schema; anything that satisfies this interface works.
 *
 * @packageDocumentation
 */
import type { JsonSchema } from "./model.js";

/**
 * What tool names may look like: the strictest rule among the model providers (OpenAI and Anthropic
 * both accept exactly this), so a tool that works with one works with all.
 */
export const TOOL_NAME_PATTERN: RegExp = /^[a-zA-Z0-9_-]{1,64}$/;

/** What a tool execution receives besides its arguments. */
export interface ToolContext {
  /** Fires when the turn is cancelled or the tool's timeout passes; stop promptly. */
  readonly signal: AbortSignal;
  readonly sessionId: string;
  readonly turnId: string;
  readonly toolCallId: string;
}

/** A tool call handed to an executor beyond the runtime's own code: the host's thread, a worker's. */
export interface ToolCallRequest {
  readonly toolName: string;
  /** The arguments, already checked against the tool's schema; plain JSON data. */
  readonly args: unknown;
  readonly sessionId: string;
  readonly turnId: string;
  readonly toolCallId: string;
  /** Fires on cancel, interrupt, stop or the tool's timeout (what each executor does then, it says). */
  readonly signal: AbortSignal;
}

/** The result of checking a tool's arguments. */
export type ToolArgsCheck =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly message: string };

/**
 * Where a tool's calls run: `inline` in the runtime's thread (the default: async work, IO); `host`
 * queued for the host's own thread, run when the host calls `drain()` (see `HostExecutor`);
 * `worker` in a worker-thread pool, for CPU-bound or blocking work (see `WorkerExecutor`).
 */
export type ToolExecutorKind = "inline" | "host" | "worker";

/** The executors a tool may name. */
export const TOOL_EXECUTORS: readonly ToolExecutorKind[] = Object.freeze(["inline", "host", "worker"]);

/** A tool the model may call. */
export interface Tool {
  readonly name: string;
  readonly description: string;
  /** The input schema sent to the model. */
  readonly inputSchema: JsonSchema;
  /** Overrides `limits.toolTimeoutMs` for this tool. */
  readonly timeoutMs?: number;
  /** Where its calls run (default `inline`). */
  readonly executor?: ToolExecutorKind;
  /**
   * For `executor: "worker"`: the URL of an ES module that exports this tool (by any name, or
   * inside an exported array), which a worker thread imports to run `execute`.
   */
  readonly module?: string;
  /** Checks parsed arguments against the schema; a failure becomes a tool error the model sees. */
  check(args: unknown): ToolArgsCheck | Promise<ToolArgsCheck>;
  /** Runs the tool. The returned value is shown to the model (strings as they are, else as JSON). */
  execute(args: unknown, context: ToolContext): unknown;
}
