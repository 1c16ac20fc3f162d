/**
 * `offstage/workers`: a worker-thread pool for tools with `executor: "worker"`, on the optional peer
 * dependency `piscina` (`npm i piscina@5`).
 *
 * @packageDocumentation
 */
export type { WorkerCall, WorkerExecutor } from "../../runtime/ports/worker-executor.js";
export { createWorkerPool, WorkerPool, type WorkerPoolOptions } from "./worker-pool.js";
