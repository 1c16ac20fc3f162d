/**
 * `createWorkerPool`: the worker executor on `piscina`, for tools with `executor: "worker"`. A call
 * runs in one of the pool's threads; cancelling it, or its timeout, terminates the thread running it
 * and the pool starts another, so a tool stuck in a synchronous loop cannot keep its thread.
 *
 * @packageDocumentation
 */
import { Piscina } from "piscina";
import type { WorkerCall, WorkerExecutor } from "../../runtime/ports/worker-executor.js";
import {
  argumentsOf,
  checkDurationMs,
  checkOptions,
  checkPositiveInteger,
  fail,
  type Subject,
} from "../../validate.js";

/** Options of {@link createWorkerPool}. */
export interface WorkerPoolOptions {
  /** Threads kept even when idle (default 0: threads start on demand). */
  readonly minThreads?: number;
  /** Threads at most (default: the machine's parallelism, at least 1). */
  readonly maxThreads?: number;
  /** An idle thread above `minThreads` exits after this long (default 10 000 ms). */
  readonly idleTimeoutMs?: number;
}

const CREATE: Subject = argumentsOf("createWorkerPool()");
const KEYS = Object.keys({ minThreads: true, maxThreads: true, idleTimeoutMs: true } satisfies Record<
  keyof WorkerPoolOptions,
  true
>);

/**
 * The worker entry beside this file. The package ships it compiled; the tests run the sources,
 * whose entry Node loads with its types stripped.
 */
const ENTRY = new URL(
  import.meta.url.endsWith(".ts") ? "./worker-entry.ts" : "./worker-entry.js",
  import.meta.url,
).href;

/** A pool of worker threads for worker tools. Pass it as `createRuntime({ workers })`. */
export class WorkerPool implements WorkerExecutor, AsyncDisposable {
  readonly #pool: Piscina;
  #closing: Promise<void> | undefined;

  constructor(options: WorkerPoolOptions = {}) {
    const given = checkOptions(CREATE, "options", options, KEYS);
    const { minThreads = 0, maxThreads, idleTimeoutMs = 10_000 } = given;
    if (minThreads !== 0) checkPositiveInteger(CREATE, "options.minThreads", minThreads);
    if (maxThreads !== undefined) checkPositiveInteger(CREATE, "options.maxThreads", maxThreads);
    checkDurationMs(CREATE, "options.idleTimeoutMs", idleTimeoutMs, { integer: true });
    if (maxThreads !== undefined && minThreads > maxThreads)
      fail(CREATE, "options.minThreads", minThreads, `at most maxThreads (${maxThreads})`);
    this.#pool = new Piscina({
      filename: ENTRY,
      minThreads,
      idleTimeout: idleTimeoutMs,
      ...(maxThreads === undefined ? {} : { maxThreads }),
    });
  }

  /** {@inheritDoc WorkerExecutor.run} */
  run(call: WorkerCall): Promise<unknown> {
    const { module, toolName, args, sessionId, turnId, toolCallId, signal } = call;
    return this.#pool.run({ module, toolName, args, sessionId, turnId, toolCallId }, { signal });
  }

  /** The pool's threads now, by thread id (a terminated thread leaves, its replacement comes). */
  get threadIds(): number[] {
    return this.#pool.threads.map((worker) => worker.threadId);
  }

  /** Calls waiting for a free thread. */
  get queued(): number {
    return this.#pool.queueSize;
  }

  /** Ends every thread (running calls are terminated). Idempotent: later calls return the first's promise. */
  close(): Promise<void> {
    this.#closing ??= this.#pool.destroy();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Makes a pool of worker threads for tools with `executor: "worker"` (CPU-bound or blocking code).
 * Needs the optional peer dependency `piscina` (`npm i piscina@5`).
 *
 * @example
 * ```ts
 * await using workers = createWorkerPool({ maxThreads: 2 });
 * const runtime = createRuntime({ workers, agents: { analyst: { model, tools: [hashFile] } } });
 * ```
 */
export function createWorkerPool(options: WorkerPoolOptions = {}): WorkerPool {
  return new WorkerPool(options);
}
