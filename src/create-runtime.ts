/**
 * `createRuntime`: the runtime with the package's defaults — the SQLite file
 * `./.offstage/offstage.db`, so work a host was told is accepted survives the process unless the
 * host asks for less, and the AI SDK resolver for models named by strings (`"openai:gpt-5-mini"`),
 * which imports an installed provider package only when a name needs it.
 *
 * @packageDocumentation
 */
import { createAiSdkResolver } from "./models/ai-sdk/ai-sdk-resolver.js";
import type { RuntimeOptions } from "./runtime/options.js";
import { createRuntimeWith, type Runtime } from "./runtime/runtime.js";
import { createSqliteStore } from "./store/sqlite/sqlite-store-options.js";

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
  return createRuntimeWith(options, () => createSqliteStore(), createAiSdkResolver());
}
