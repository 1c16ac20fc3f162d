/**
 * A second process for the boot-gate tests: opens the SQLite store at `argv[2]` — as a bare store,
 * or with `runtime` as `argv[3]` as a started runtime — prints `ready` and holds it until it is
 * killed, or prints `refused <code>` and exits 1. Run with `node --import ./test/crash/ts-hook.ts`.
 */
import { createRuntime, silentLogger } from "../../src/index.js";
import { createSqliteStore } from "../../src/store/sqlite/sqlite-store-options.js";

const store = createSqliteStore({ path: process.argv[2]! });
try {
  if (process.argv[3] === "runtime") {
    const runtime = createRuntime({ agents: { f: { run: async () => "ok" } }, store, logger: silentLogger });
    await runtime.start();
  } else await store.open();
} catch (error) {
  process.stdout.write(`refused ${(error as { code?: string }).code}\n`);
  process.exit(1);
}
process.stdout.write("ready\n");
// The timer keeps the store reachable: a store nothing refers to is collected, and its lock with it.
setInterval(() => store, 60_000);
