/**
 * `createRuntime`: the runtime with the package's default store, the SQLite file
 * `./.offstage/offstage.db`, so work a host was told is accepted survives the process unless the
 * host asks for less.
 *
 * @packageDocumentation
 */
import type { RuntimeOptions } from "./runtime/options.js";
import { createRuntimeWith, type Runtime } from "./runtime/runtime.js";
import { createSqliteStore } from "./store/sqlite/sqlite-store.js";

/**
 * Creates a runtime. Validates options (throws `BootError` `INVALID_OPTIONS` quoting the bad value);
 * starts nothing until `await runtime.start()`. Without `options.store`, work is kept in the SQLite
 * file `./.offstage/offstage.db`.
 *
 * @example
 * const runtime = createRuntime({ agents: { assistant: { model, system: "You are terse." } } });
 * await runtime.start();
 * const handle = runtime.session("user-42", { agent: "assistant" }).send("hello");
 */
export function createRuntime(options: RuntimeOptions): Runtime {
  return createRuntimeWith(options, () => createSqliteStore());
}
