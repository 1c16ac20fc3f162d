/**
 * The child of `crash-loop.test.ts`. Its function agent's turn never finishes in a process: in the
 * first process it hangs until the parent kills it; in every later one (the turn resumed) it kills
 * its own process the moment it runs, as a turn that crashes the process each time would. Each run
 * is appended to a marker file first. A later process whose recovery fails the turn instead prints
 * the input's final status and exits.
 *
 * Arguments: the database path, the marker path, `first` or `again`.
 *
 * @packageDocumentation
 */
import { appendFileSync, writeSync } from "node:fs";
import { setTimeout as sleepFor } from "node:timers/promises";
import { createRuntime, silentLogger } from "../../src/index.js";
import { createSqliteStore } from "../../src/store/sqlite/index.js";

/** The attempts the turn gets; the test expects at most this many runs. */
const MAX_ATTEMPTS = 3;

const [path = "", marker = "", mode = "first"] = process.argv.slice(2);
const store = createSqliteStore({ path });
const run = () => {
  appendFileSync(marker, "run\n");
  if (mode === "again") process.kill(process.pid, "SIGKILL");
  return new Promise(() => {});
};
const runtime = createRuntime({
  agents: { loop: { run, onCrash: "resume", maxAttempts: MAX_ATTEMPTS } },
  store,
  logger: silentLogger,
});
await runtime.start();
if (mode === "first") {
  const handle = runtime.session("s", { agent: "loop" }).send("x");
  await handle.stored();
  // Past the group-commit window: the turn's first attempt is committed too.
  await sleepFor(100);
  writeSync(1, `${handle.id}\n`);
} else {
  // Time for a resumed turn to run (and kill this process); a turn recovery failed never runs.
  await sleepFor(200);
  const id = process.argv[5] ?? "";
  writeSync(1, `${JSON.stringify(runtime.handle(id)?.poll()?.outcome ?? null)}\n`);
  await runtime.stop();
  await store.close();
  process.exit(0);
}
