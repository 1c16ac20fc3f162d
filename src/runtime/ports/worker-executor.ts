/**
 * The worker executor port: where the runtime sends a call of a tool with `executor: "worker"`, to
 * run in another thread so that CPU-bound or blocking code holds no thread the runtime or the host
 * needs. `createWorkerPool()` (`offstage/workers`, on `piscina`) implements it.
 *
 * Functions do not cross threads: the worker imports the module that exports the tool (`Tool.module`)
 * and runs the tool's `execute` there, with the arguments as structured-cloned data.
 *
 * @packageDocumentation
 */
import type { ToolCallRequest } from "./tool.js";

/**
 * One tool call for a worker thread. Its `signal` fires on cancel, interrupt, stop or the tool's
 * timeout: a queued call is dropped, and the worker running a started one is terminated (and
 * replaced), so even a tool stuck in a synchronous loop ends.
 */
export interface WorkerCall extends ToolCallRequest {
  /** The URL of the module that exports the tool (by any name, or inside an exported array). */
  readonly module: string;
}

/** Where worker tool calls go (`RuntimeOptions.workers`). */
export interface WorkerExecutor {
  /** Runs `call` in a worker; resolves with what the tool returned, rejects with what it threw. */
  run(call: WorkerCall): Promise<unknown>;
}
