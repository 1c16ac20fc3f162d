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

/** One tool call for a worker thread. */
export interface WorkerCall {
  /** The URL of the module that exports the tool (by any name, or inside an exported array). */
  readonly module: string;
  readonly toolName: string;
  /** The arguments, already checked against the tool's schema; plain JSON data. */
  readonly args: unknown;
  readonly sessionId: string;
  readonly turnId: string;
  readonly toolCallId: string;
  /**
   * Fires on cancel, interrupt, stop or the tool's timeout: a queued call is dropped, and the worker
   * running a started one is terminated (and replaced), so even a tool stuck in a synchronous loop
   * ends.
   */
  readonly signal: AbortSignal;
}

/** Where worker tool calls go (`RuntimeOptions.workers`). */
export interface WorkerExecutor {
  /** Runs `call` in a worker; resolves with what the tool returned, rejects with what it threw. */
  run(call: WorkerCall): Promise<unknown>;
}
