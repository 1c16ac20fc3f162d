/**
 * A `worker_threads` worker for the boot-gate tests: starts a runtime on the SQLite file
 * `workerData.path` (the TypeScript sources, through the crash tests' hook) and posts back what its
 * start did: `{ started: true }`, or the error's code, message and details. It stops a runtime that
 * started, so a test that wrongly lets it in still ends.
 */
import { parentPort, workerData } from "node:worker_threads";

await import(workerData.hook);
const { createRuntime, silentLogger } = await import(workerData.src);
const runtime = createRuntime({
  agents: { f: { run: async (input) => `worker did ${String(input)}` } },
  store: (await import(workerData.sqlite)).createSqliteStore({ path: workerData.path }),
  logger: silentLogger,
});
try {
  await runtime.start();
  await runtime.session("from-worker", { agent: "f" }).send("x").result({ timeoutMs: 5_000 });
  await runtime.stop();
  parentPort.postMessage({ started: true });
} catch (error) {
  parentPort.postMessage({
    started: false,
    code: error.code,
    message: error.message,
    details: error.details,
  });
}
