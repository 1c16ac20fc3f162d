/**
 * Offstage as an MCP server: a runtime's sessions as six tools any MCP host can call. A host that
 * can only call tools synchronously gets durable background work this way: `send` returns the
 * input's id at once, the session's agent works on it off the host's loop, under the session's
 * inbox policy, and `result` fetches the answer later (waiting at most a bound), after a restart
 * too when the store is durable.
 *
 * | tool | does |
 * |---|---|
 * | `send` | accepts input for a session (made on first use), returns its id and status at once |
 * | `status` | where an input stands: queued, running or how it ended |
 * | `result` | waits up to `waitMs` for the input to end; its answer, or `done: false` |
 * | `cancel` | cancels a queued input or the turn answering it |
 * | `delegate` | hands a goal to a background child of a session; its result comes back as a new turn |
 * | `list_children` | a session's background children: goal, status, elapsed time, model calls |
 *
 * @packageDocumentation
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import * as z from "zod";
import { isOffstageError, TurnTimeout } from "../errors.js";
import { DEFAULTS } from "../kernel/limits.js";
import type { Runtime } from "../runtime/runtime.js";
import type { TurnHandle } from "../runtime/turn-handle.js";
import { argumentsOf, checkDurationMs, checkObject, checkText, type Subject } from "../validate.js";

/** Options of {@link createSessionServer}. */
export interface SessionServerOptions {
  /** The agent that runs sessions `send` creates (a host may name another one per call). */
  readonly agent: string;
  /** The server's name in the MCP handshake (default `offstage`). */
  readonly name?: string;
  /** The longest wait `result` accepts (default 50 000 ms, below MCP clients' usual 60 s timeout). */
  readonly resultWaitMsMax?: number;
}

const CALL: Subject = argumentsOf("createSessionServer()");
const POLICIES = ["enqueue", "reject", "interrupt", "merge", "steer"] as const;
/** Characters of a child's summary `list_children` shows. */
const SUMMARY_CHARS_MAX = 500;

/**
 * An MCP server (the SDK's `McpServer`) whose tools drive `runtime`'s sessions. Connect it to a
 * transport yourself (`await server.connect(new StdioServerTransport())`), or run `offstage mcp`.
 * The runtime must be started before the first call; errors (an unknown input, a refused send)
 * come back as tool errors with their code.
 *
 * @example
 * ```ts
 * const server = createSessionServer(runtime, { agent: "assistant" });
 * await server.connect(new StdioServerTransport());
 * ```
 */
export function createSessionServer(runtime: Runtime, options: SessionServerOptions): McpServer {
  checkObject(CALL, "options", options);
  checkText(CALL, "agent", options.agent, 256);
  if (options.name !== undefined) checkText(CALL, "name", options.name, 200);
  const waitMax = options.resultWaitMsMax ?? DEFAULTS.mcp.resultWaitMsMax;
  checkDurationMs(CALL, "resultWaitMsMax", waitMax);
  const server = new McpServer({ name: options.name ?? "offstage", version: "0.1.0" });
  const session = (id: string, agent: string | undefined) =>
    runtime.session(id, { agent: agent ?? options.agent });
  const handle = (inputId: string): TurnHandle => {
    const found = runtime.handle(inputId);
    if (found === undefined) throw new Error(`UNKNOWN_INPUT: no input ${JSON.stringify(inputId)}`);
    return found;
  };
  const sessionId = z.string().min(1).max(256).describe("The session's id; made on first use.");
  const inputId = z.string().min(1).max(256).describe("The input id `send` returned.");

  server.registerTool(
    "send",
    {
      description:
        "Send input to an Offstage session. Returns at once with the input's id while the session's agent works on it in the background; call `result` with the id for the answer. While the session is busy, `policy` decides: enqueue (default, wait in line), steer (join the running turn at its next step), interrupt (cancel the running turn, then run this), merge (fold queued inputs into one turn), reject (refuse).",
      inputSchema: {
        session: sessionId,
        input: z.string().describe("What to say to the session's agent."),
        policy: z.enum(POLICIES).optional(),
        idempotencyKey: z
          .string()
          .min(1)
          .max(256)
          .optional()
          .describe("A repeat with this key returns the first send's id."),
        agent: z
          .string()
          .min(1)
          .max(256)
          .optional()
          .describe("The agent of a new session (default: the server's)."),
      },
    },
    (args) =>
      answer(() => {
        const sent = session(args.session, args.agent).send(args.input, {
          ...(args.policy === undefined ? {} : { policy: args.policy }),
          ...(args.idempotencyKey === undefined ? {} : { idempotencyKey: args.idempotencyKey }),
        });
        return { inputId: sent.id, sessionId: sent.sessionId, status: sent.status, turnId: sent.turnId };
      }),
  );

  server.registerTool(
    "status",
    {
      description:
        "Where an input stands: queued, running, or how it ended (completed, failed, cancelled, …).",
      inputSchema: { inputId },
    },
    (args) => answer(() => statusOf(handle(args.inputId))),
  );

  server.registerTool(
    "result",
    {
      description: `Wait up to waitMs (default ${DEFAULTS.mcp.resultWaitMs}, at most ${waitMax}) for an input to end, then return its answer; \`done: false\` when it is still queued or running (call again).`,
      inputSchema: { inputId, waitMs: z.number().int().min(0).max(waitMax).optional() },
    },
    (args, extra) =>
      answer(async () => {
        const found = handle(args.inputId);
        const waitMs = args.waitMs ?? Math.min(DEFAULTS.mcp.resultWaitMs, waitMax);
        if (!found.done && waitMs > 0) {
          try {
            await found.result({ timeoutMs: waitMs, signal: extra.signal });
          } catch (error) {
            // Not done in time, cancelled, or the host gave up: the handle says which.
            if (
              !(error instanceof TurnTimeout) &&
              !isOffstageError(error, "TURN_CANCELLED") &&
              !extra.signal.aborted
            )
              throw error;
          }
        }
        return statusOf(found);
      }),
  );

  server.registerTool(
    "cancel",
    {
      description:
        "Cancel an input: a queued one ends at once, a running turn is aborted. Returns how it ended.",
      inputSchema: { inputId, reason: z.string().max(1000).optional() },
    },
    (args) =>
      answer(async () => {
        const found = handle(args.inputId);
        await found.cancel(args.reason === undefined ? {} : { reason: args.reason });
        return statusOf(found);
      }),
  );

  server.registerTool(
    "delegate",
    {
      description:
        "Hand a goal to a background child of a session. Returns at once ({ status: dispatched, id } or rejected with a reason); the child's result arrives later as a new turn of that session.",
      inputSchema: {
        session: sessionId,
        goal: z.string().min(1).describe("What the child should achieve."),
        context: z.string().optional().describe("Everything the child needs to know; it sees nothing else."),
        role: z.string().optional(),
        tools: z.array(z.string()).optional().describe("A subset of the agent's tools (default: all)."),
      },
    },
    (args) =>
      answer(() =>
        session(args.session, undefined).delegate({
          goal: args.goal,
          ...(args.context === undefined ? {} : { context: args.context }),
          ...(args.role === undefined ? {} : { role: args.role }),
          ...(args.tools === undefined ? {} : { tools: args.tools }),
        }),
      ),
  );

  server.registerTool(
    "list_children",
    {
      description:
        "A session's background children: goal, status, elapsed time, model calls and what each found.",
      inputSchema: { session: sessionId },
    },
    (args) =>
      answer(() => {
        const now = Date.now();
        const children = runtime.delegations.list({ parentSessionId: args.session }).map((d) => ({
          id: d.id,
          goal: d.spec.goal,
          status: d.running ? "running" : (d.completion?.status ?? "stopped"),
          elapsedMs: (d.completion?.completedAtMs ?? now) - d.dispatchedAtMs,
          modelCalls: d.modelCalls,
          delivery: d.delivery,
          ...(d.completion === undefined
            ? {}
            : { summary: d.completion.summary.slice(0, SUMMARY_CHARS_MAX) }),
        }));
        return { sessionId: args.session, children };
      }),
  );
  return server;
}

/** An input's status and, once it ended, its outcome. */
function statusOf(found: TurnHandle): Record<string, unknown> {
  const settled = found.poll();
  const base = { inputId: found.id, sessionId: found.sessionId, status: found.status, done: found.done };
  if (settled === undefined) return { ...base, turnId: found.turnId };
  const { outcome } = settled;
  return {
    ...base,
    turnId: found.turnId,
    reason: outcome.reason,
    ...(outcome.output === undefined ? {} : { output: outcome.output }),
  };
}

/** Runs a tool's work; its value as JSON text and structured content, a thrown error as a tool error. */
async function answer(work: () => unknown): Promise<CallToolResult> {
  try {
    const value = (await work()) as Record<string, unknown>;
    return { content: [{ type: "text", text: JSON.stringify(value, null, 2) }], structuredContent: value };
  } catch (error) {
    const text = isOffstageError(error)
      ? `${error.code}: ${error.message}`
      : error instanceof Error
        ? error.message
        : String(error);
    return { content: [{ type: "text", text }], isError: true };
  }
}
