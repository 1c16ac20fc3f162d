/**
 * The host executor port: where the runtime sends a tool call whose tool says `executor: "host"`.
 * Such a call must run on the host's own thread (a game engine's or a DCC's main thread), at a
 * moment the host picks: the host calls `drain()` from its loop and the queued calls run there.
 *
 * `createHostQueue()` (`offstage`) is the implementation for a runtime that shares the host's
 * thread. A runtime running in a worker thread is given a forwarding executor instead: `submit`
 * posts the call's data — every field of {@link HostCall} except `signal`, `run` and `started` —
 * to the thread that owns the client, which looks the tool up by `agentName` and `toolName` in the
 * same module the worker imported, submits it to its own `HostQueue` with `run: (signal) =>
 * tool.execute(args, { signal, sessionId, turnId, toolCallId })`, and posts back `started` and the
 * outcome. When the worker's `signal` fires, the forwarder posts a cancel that aborts the
 * client-side call's signal, which removes it from that queue if it has not started.
 *
 * @packageDocumentation
 */
import type { LatencyStats } from "../latency-stats.js";
import type { ToolCallRequest } from "./tool.js";

/**
 * One tool call waiting for the host thread. Its `signal` fires on cancel, interrupt, stop or the
 * tool's timeout: a call still queued is removed at once and `submit`'s promise rejects with the
 * signal's reason; a running call is given the signal.
 */
export interface HostCall extends ToolCallRequest {
  /** The agent whose tool this is: with `toolName`, finds the tool in another thread. */
  readonly agentName: string;
  /** Runs the call; called on the host thread, inside `drain()`. */
  readonly run: (signal: AbortSignal) => unknown;
  /** Called once, on the host thread, when `drain()` starts the call (it stopped waiting). */
  readonly started?: () => void;
}

/** Where host tool calls go (`RuntimeOptions.host`). */
export interface HostExecutor {
  /**
   * Queues `call` for the host and returns at once. The promise resolves with what `run` returned
   * (awaited when it is a promise), rejects with what it threw, or, when `call.signal` fired while
   * the call was queued, rejects with the signal's reason (and `run` is never called).
   */
  submit(call: HostCall): Promise<unknown>;
  /** What the queue has done, for `runtime.metrics().host`. */
  metrics(): HostQueueMetrics;
}

/** Host calls of one tool. */
export interface HostToolMetrics {
  readonly name: string;
  /** Calls `drain()` ran. */
  readonly ran: number;
  /** Calls removed before they ran: the turn was cancelled or the call's timeout passed. */
  readonly removed: number;
  /** From `submit` to `drain()` starting the call. */
  readonly wait: LatencyStats;
  /** The longest a call of this tool held the host thread (its synchronous part), in ms. */
  readonly holdMaxMs: number;
}

/** A snapshot of a host queue: what waits, and which tool held the host thread how long. */
export interface HostQueueMetrics {
  /** Calls waiting for `drain()` now. */
  readonly depth: number;
  /** Calls `drain()` ran, all tools. */
  readonly ran: number;
  /** The tool whose call held the host thread the longest, or `undefined` before any ran. */
  readonly longest: { readonly name: string; readonly holdMs: number } | undefined;
  /** By tool name, in the order each first came. */
  readonly tools: readonly HostToolMetrics[];
}
