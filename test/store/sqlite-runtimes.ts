/**
 * Runtimes on real SQLite files for the store and CLI tests: one function agent, `f`, that answers
 * `did <input>`; each is disposed (stopped, its store closed) by {@link disposeRuntimes}.
 */
import { createRuntime, type Runtime, silentLogger } from "../../src/index.js";
import { createSqliteStore } from "../../src/store/sqlite/index.js";

const runtimes: Runtime[] = [];

/** A runtime on a SQLite store at `path`, not started yet. */
export function runtimeOn(path: string): Runtime {
  const runtime = createRuntime({
    agents: { f: { run: async (input) => `did ${String(input)}` } },
    store: createSqliteStore({ path }),
    logger: silentLogger,
  });
  runtimes.push(runtime);
  return runtime;
}

/** Stops every runtime made since the last call and closes its store; call after each test. */
export async function disposeRuntimes(): Promise<void> {
  for (const runtime of runtimes.splice(0)) await runtime[Symbol.asyncDispose]();
}
