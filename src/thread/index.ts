/**
 * `offstage/worker`: the runtime in a `worker_threads` worker, so the host's thread never runs any
 * of it. `startRuntimeWorker(moduleUrl)` starts it and returns the runtime's API; `runtime.port()`
 * and `connectRuntime(port)` give any other thread a client of the same runtime.
 *
 * @packageDocumentation
 */
export type { ClientDelegations } from "./client-delegations.js";
export type { ClientSession } from "./client-session.js";
export type { ClientTurnHandle } from "./client-turn-handle.js";
export {
  CALL_TIMEOUT_MS,
  type ClientOptions,
  connectRuntime,
  type RuntimeClient,
} from "./runtime-client.js";
export { startRuntimeWorker, type WorkerRuntime, type WorkerRuntimeOptions } from "./worker-runtime.js";
