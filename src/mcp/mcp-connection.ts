/**
 * One live link to an MCP server, kept alive: it connects (bounded by a timeout), and when the
 * server dies — its process exits, its HTTP endpoint stops answering — the calls in flight fail
 * with a message naming the server and what it last said, and the link is restarted in the
 * background, at once and then with a doubling delay, until `restartsMax` restarts in a row have
 * failed; after that only a call tries again, at most every 30 s. Calls made while it is down fail
 * at once with the reason, so a model gets a tool error to act on instead of a hang.
 *
 * The states: `connecting` (a connect is under way; calls wait for it), `ready`, `down` (a restart
 * is scheduled; calls fail), `failed` (given up; calls fail, one every 30 s tries) and `closed`. A client the caller
 * passed in is never restarted: the caller owns its transport.
 *
 * @packageDocumentation
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { ErrorCode, McpError, type Tool as McpToolInfo } from "@modelcontextprotocol/sdk/types.js";
import { OffstageError } from "../errors.js";
import { TIMER_DELAY_MAX_MS } from "../kernel/limits.js";
import type { CheckedMcpConfig } from "./mcp-config.js";
import type { McpCallResult } from "./tool-result.js";

/** How a connection behaves; every field has a default in `mcpTools`. */
export interface ConnectionOptions {
  readonly connectTimeoutMs: number;
  readonly restartsMax: number;
  readonly restartDelayMs: number;
}

/** What a tool list entry holds (the fields Offstage reads). */
export type ListedTool = Pick<McpToolInfo, "name" | "title" | "description" | "inputSchema">;

/** What one connect's server process said besides JSON-RPC, for messages when it fails. */
interface Attempt {
  stderr: string;
  /** The first thing on its stdout that was not JSON-RPC. */
  garbage: string | undefined;
}

type State =
  | { readonly kind: "connecting"; readonly promise: Promise<Client> }
  | { readonly kind: "ready"; readonly client: Client; readonly attempt: Attempt }
  | { readonly kind: "down"; readonly reason: string; readonly retryAtMs: number }
  /** Given up: no restarts in the background; a call after `retryAtMs` tries once more. */
  | { readonly kind: "failed"; readonly reason: string; readonly retryAtMs: number }
  | { readonly kind: "closed" };

/** Characters of a server's stderr kept for messages. */
const STDERR_TAIL_MAX = 600;
/** The longest wait between restarts. */
const RESTART_DELAY_MAX_MS = 30_000;
const CLIENT_INFO = { name: "offstage", version: "0.1.0" };

/** A live, self-restarting link to one MCP server. */
export class McpConnection {
  readonly name: string;
  readonly #source: CheckedMcpConfig | Client;
  readonly #options: ConnectionOptions;
  #state: State;
  /** Restarts in a row that failed. */
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Why the link last broke, as calls that were in flight then report it. */
  #lastLoss: string | undefined;

  constructor(name: string, source: CheckedMcpConfig | Client, options: ConnectionOptions) {
    this.name = name;
    this.#source = source;
    this.#options = options;
    this.#state =
      source instanceof Client
        ? { kind: "ready", client: source, attempt: { stderr: "", garbage: undefined } }
        : { kind: "connecting", promise: this.#connect() };
  }

  /** Waits for the first connect and lists the server's tools. Throws `MCP_CONNECT_FAILED`. */
  async listTools(): Promise<ListedTool[]> {
    const client = await this.#client(undefined);
    const tools: ListedTool[] = [];
    let cursor: string | undefined;
    try {
      do {
        const page = await client.listTools(cursor === undefined ? {} : { cursor }, {
          timeout: this.#options.connectTimeoutMs,
        });
        tools.push(...page.tools);
        cursor = page.nextCursor;
      } while (cursor !== undefined);
    } catch (error) {
      throw new OffstageError(
        "MCP_CONNECT_FAILED",
        `MCP server ${JSON.stringify(this.name)} did not list its tools: ${this.#explain(error, this.#attempt())}`,
        { cause: error },
      );
    }
    return tools;
  }

  /**
   * Calls a tool. `signal` cancels it: the SDK then sends the server `notifications/cancelled`.
   * Throws an `Error` whose message a model can act on when the server is down or dies meanwhile.
   */
  async call(tool: string, args: Record<string, unknown>, signal: AbortSignal): Promise<McpCallResult> {
    const client = await this.#client(signal);
    try {
      // No SDK timeout of its own: the runtime's tool timeout aborts `signal`, which cancels.
      return (await client.callTool({ name: tool, arguments: args }, undefined, {
        signal,
        timeout: TIMER_DELAY_MAX_MS,
      })) as McpCallResult;
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (!isConnectionFailure(error)) throw error;
      const reason = this.#lost(client, error);
      throw new Error(
        `MCP server ${JSON.stringify(this.name)} went away during the call (${reason})${this.#restartNote()}`,
        { cause: error },
      );
    }
  }

  /** Where the link stands, for status displays. */
  get state(): State["kind"] {
    return this.#state.kind;
  }

  /** Closes the link (and stops a server process it started). Idempotent. */
  async close(): Promise<void> {
    const state = this.#state;
    if (state.kind === "closed") return;
    this.#state = { kind: "closed" };
    clearTimeout(this.#timer);
    if (this.#source instanceof Client) return;
    const client =
      state.kind === "ready"
        ? state.client
        : state.kind === "connecting"
          ? await state.promise.catch(() => undefined)
          : undefined;
    await client?.close().catch(() => undefined);
  }

  async #client(signal: AbortSignal | undefined): Promise<Client> {
    const state = this.#state;
    switch (state.kind) {
      case "ready":
        return state.client;
      case "connecting":
        return signal === undefined ? state.promise : raceAbort(state.promise, signal);
      case "down": {
        const inMs = Math.max(0, state.retryAtMs - Date.now());
        throw new Error(
          `MCP server ${JSON.stringify(this.name)} is down (${state.reason}); it restarts in ${inMs} ms`,
        );
      }
      case "failed":
        if (!(this.#source instanceof Client) && Date.now() >= state.retryAtMs) {
          const promise = this.#connect();
          this.#state = { kind: "connecting", promise };
          return signal === undefined ? promise : raceAbort(promise, signal);
        }
        throw new Error(`MCP server ${JSON.stringify(this.name)} is unavailable: ${state.reason}`);
      case "closed":
        throw new Error(`MCP server ${JSON.stringify(this.name)}: its tools were closed`);
    }
  }

  /** Starts a connect; the state becomes `ready`, `down` or `failed` when it settles. */
  #connect(): Promise<Client> {
    const attempt: Attempt = { stderr: "", garbage: undefined };
    const promise = this.#open(attempt).then(
      (client) => {
        if (this.#state.kind === "closed") {
          void client.close().catch(() => undefined);
          throw new Error(`MCP server ${JSON.stringify(this.name)}: its tools were closed`);
        }
        this.#failures = 0;
        this.#state = { kind: "ready", client, attempt };
        return client;
      },
      (error: unknown) => {
        if (this.#state.kind !== "closed") this.#scheduleRestart(describe(error));
        throw error;
      },
    );
    // A connect nobody waits for (a background restart) must not be an unhandled rejection.
    promise.catch(() => undefined);
    return promise;
  }

  async #open(attempt: Attempt): Promise<Client> {
    const transport = this.#transport(attempt);
    const client = new Client(CLIENT_INFO, { capabilities: {} });
    client.onerror = (error) => {
      // A line on stdout that is not JSON (SyntaxError) or not JSON-RPC (the SDK's schema check):
      // remembered for the message when the server fails.
      if (error instanceof SyntaxError || error.name === "ZodError") attempt.garbage ??= describe(error);
    };
    client.onclose = () => {
      this.#lost(client, `the server ${this.#source instanceof Client ? "closed" : "exited"}`);
    };
    try {
      await client.connect(transport, { timeout: this.#options.connectTimeoutMs });
      return client;
    } catch (error) {
      await client.close().catch(() => undefined);
      throw new OffstageError(
        "MCP_CONNECT_FAILED",
        `cannot connect to MCP server ${JSON.stringify(this.name)}: ${this.#explain(error, attempt)}`,
        { cause: error },
      );
    }
  }

  #transport(attempt: Attempt): Transport {
    const source = this.#source as CheckedMcpConfig;
    if (source.kind === "http") {
      const headers = source.config.headers;
      return new StreamableHTTPClientTransport(
        source.url,
        headers === undefined ? {} : { requestInit: { headers: { ...headers } } },
      );
    }
    const { command, args, env, cwd } = source.config;
    const transport = new StdioClientTransport({
      command,
      args: args === undefined ? [] : [...args],
      ...(env === undefined ? {} : { env: { ...env } }),
      ...(cwd === undefined ? {} : { cwd }),
      stderr: "pipe",
    });
    transport.stderr?.on("data", (chunk: Buffer) => {
      attempt.stderr = (attempt.stderr + chunk.toString("utf8")).slice(-STDERR_TAIL_MAX);
    });
    return transport;
  }

  /** The link to `client` broke: mark it down and restart. Returns why, for messages. */
  #lost(client: Client, cause: unknown): string {
    const state = this.#state;
    if (state.kind !== "ready" || state.client !== client) return this.#lastLoss ?? this.#explain(cause);
    const reason = this.#explain(cause, state.attempt);
    this.#lastLoss = reason;
    void client.close().catch(() => undefined);
    if (this.#source instanceof Client)
      this.#state = { kind: "failed", reason, retryAtMs: Number.POSITIVE_INFINITY };
    else this.#state = { kind: "connecting", promise: this.#connect() };
    return reason;
  }

  #scheduleRestart(reason: string): void {
    this.#failures += 1;
    if (this.#failures > this.#options.restartsMax) {
      this.#state = {
        kind: "failed",
        reason: `${this.#failures} connects in a row failed; the last: ${reason}`,
        retryAtMs: Date.now() + RESTART_DELAY_MAX_MS,
      };
      return;
    }
    const delayMs = Math.min(RESTART_DELAY_MAX_MS, this.#options.restartDelayMs * 2 ** (this.#failures - 1));
    this.#state = { kind: "down", reason, retryAtMs: Date.now() + delayMs };
    this.#timer = setTimeout(() => {
      if (this.#state.kind === "down") this.#state = { kind: "connecting", promise: this.#connect() };
    }, delayMs);
    this.#timer.unref();
  }

  #restartNote(): string {
    const state = this.#state;
    if (state.kind === "connecting") return "; it is being restarted: call again";
    if (state.kind === "failed") return `; it is unavailable: ${state.reason}`;
    return "";
  }

  /** The current connect's record, when there is one. */
  #attempt(): Attempt | undefined {
    return this.#state.kind === "ready" ? this.#state.attempt : undefined;
  }

  /** An error, with what the server printed that explains it. */
  #explain(error: unknown, attempt?: Attempt): string {
    let text = typeof error === "string" ? error : describe(error);
    if (error instanceof McpError && error.code === ErrorCode.RequestTimeout)
      text = `no answer within ${this.#options.connectTimeoutMs} ms`;
    if (attempt === undefined) return text;
    if (attempt.garbage !== undefined) text += `; its stdout is not JSON-RPC (${attempt.garbage})`;
    const stderr = attempt.stderr.trim();
    if (stderr !== "") text += `; stderr: ${JSON.stringify(stderr.split("\n").slice(-3).join("\n"))}`;
    return text;
  }
}

/** Errors that mean the link is gone, as opposed to an error the server answered with. */
function isConnectionFailure(error: unknown): boolean {
  if (error instanceof McpError) return error.code === ErrorCode.ConnectionClosed;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return (
    error instanceof TypeError || // fetch failed
    error.name === "StreamableHTTPError" ||
    error.message === "Not connected" ||
    (typeof code === "string" && /^E(CONNREFUSED|CONNRESET|PIPE|OF)$/.test(code))
  );
}

function describe(error: unknown): string {
  if (error instanceof OffstageError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
