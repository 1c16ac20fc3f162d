/**
 * The entry of a runtime's worker thread: imports the user's module, makes the runtime from its
 * export, starts it and serves the client that started the worker (and any client it connects).
 * Boot failures go back as typed errors and leave nothing running.
 *
 * @packageDocumentation
 */
import { parentPort, workerData } from "node:worker_threads";
import { createRuntime } from "../create-runtime.js";
import { BootError, isOffstageError } from "../errors.js";
import { describeCause } from "../kernel/outcome.js";
import type { Runtime } from "../runtime/runtime.js";
import { isRecord } from "../validate.js";
import { hostToolsOf } from "./host-calls.js";
import { HostForwarder } from "./host-forwarder.js";
import { isRuntime, loadExport } from "./module-export.js";
import type { BootMessage } from "./protocol.js";
import { RuntimeServer } from "./runtime-server.js";
import { toWire } from "./wire-error.js";
import type { WorkerStart } from "./worker-runtime.js";

const start = workerData as WorkerStart;
const boss = parentPort!;

/**
 * The runtime the module's export describes. Options whose agents have host tools and that name no
 * host executor get `host`, which forwards those calls to the thread that started the worker.
 */
async function runtimeFrom(start: WorkerStart, host: HostForwarder): Promise<Runtime> {
  const made = await loadExport(start);
  if (isRuntime(made)) return made;
  const forwards = made.host === undefined && isRecord(made.agents) && hostToolsOf(made.agents).size > 0;
  return createRuntime(forwards ? { ...made, host } : made);
}

async function main(): Promise<void> {
  let runtime: Runtime | undefined;
  const host = new HostForwarder();
  try {
    runtime = await runtimeFrom(start, host);
    await runtime.start();
  } catch (error) {
    await runtime?.[Symbol.asyncDispose]().catch(() => undefined);
    const typed = isOffstageError(error)
      ? error
      : new BootError("BOOT_FAILED", `the runtime's worker failed to boot: ${describeCause(error)}`);
    boss.postMessage({ t: "boot-failed", error: toWire(typed) } satisfies BootMessage);
    start.port.close();
    return;
  }
  const booted = runtime;
  let fatal: unknown;
  process.on("uncaughtExceptionMonitor", (error) => {
    fatal = error;
  });
  const server = new RuntimeServer(
    booted,
    async (options) => {
      const status = await booted.stop(options);
      await booted[Symbol.asyncDispose]();
      server.stopped();
      return status;
    },
    host,
  );
  server.connect(start.port, start.words, true);
  process.on("exit", (code) => server.exiting(code, fatal === undefined ? undefined : describeCause(fatal)));
  boss.postMessage({ t: "started" } satisfies BootMessage);
}

await main();
