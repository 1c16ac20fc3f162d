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
import { describeCause, printable } from "../kernel/outcome.js";
import type { RuntimeOptions } from "../runtime/options.js";
import type { Runtime } from "../runtime/runtime.js";
import type { BootMessage } from "./protocol.js";
import { RuntimeServer } from "./runtime-server.js";
import { toWire } from "./wire-error.js";
import type { WorkerStart } from "./worker-runtime.js";

const start = workerData as WorkerStart;
const boss = parentPort!;

/** The runtime the module's export describes. */
async function runtimeFrom(start: WorkerStart): Promise<Runtime> {
  let module: Record<string, unknown>;
  try {
    module = (await import(start.module)) as Record<string, unknown>;
  } catch (error) {
    throw new BootError(
      "BOOT_FAILED",
      `the runtime's worker could not import ${start.module}: ${describeCause(error)}`,
      {
        cause: error,
      },
    );
  }
  const exported = module[start.exportName];
  if (exported === undefined)
    throw new BootError(
      "WORKER_MODULE_INVALID",
      `${start.module} has no export ${JSON.stringify(start.exportName)}: export the runtime's options, or a function that returns them or a runtime`,
    );
  const made =
    typeof exported === "function" ? await (exported as (data: unknown) => unknown)(start.data) : exported;
  if (isRuntime(made)) return made;
  if (typeof made !== "object" || made === null || !("agents" in made))
    throw new BootError(
      "WORKER_MODULE_INVALID",
      `${start.module}'s export ${JSON.stringify(start.exportName)} gave ${printable(made).slice(0, 60)}, not runtime options ({ agents, ... }) or a runtime`,
    );
  return createRuntime(made as RuntimeOptions);
}

function isRuntime(value: unknown): value is Runtime {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Runtime).start === "function" &&
    typeof (value as Runtime).session === "function" &&
    typeof (value as Runtime).stop === "function"
  );
}

async function main(): Promise<void> {
  let runtime: Runtime | undefined;
  try {
    runtime = await runtimeFrom(start);
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
  const server = new RuntimeServer(booted, async (options) => {
    const status = await booted.stop(options);
    await booted[Symbol.asyncDispose]();
    server.stopped();
    return status;
  });
  server.connect(start.port, start.words, true);
  process.on("exit", (code) => server.exiting(code, fatal === undefined ? undefined : describeCause(fatal)));
  boss.postMessage({ t: "started" } satisfies BootMessage);
}

await main();
