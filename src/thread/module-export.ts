/**
 * What the module of a worker runtime gives: its export (`exportName`), called with `data` when it
 * is a function. The worker makes its runtime from it; the host thread, when it runs host tools,
 * finds them in it. Failures are `BootError`s that name the module.
 *
 * @packageDocumentation
 */
import { BootError } from "../errors.js";
import { describeCause, printable } from "../kernel/outcome.js";
import type { RuntimeOptions } from "../runtime/options.js";
import type { Runtime } from "../runtime/runtime.js";

/** Which module, which export, and the data for it. */
export interface ModuleExport {
  readonly module: string;
  readonly exportName: string;
  readonly data: unknown;
}

/** Imports the module and returns runtime options or a runtime, as its export gives them. */
export async function loadExport(from: ModuleExport): Promise<RuntimeOptions | Runtime> {
  let module: Record<string, unknown>;
  try {
    module = (await import(from.module)) as Record<string, unknown>;
  } catch (error) {
    throw new BootError("BOOT_FAILED", `could not import ${from.module}: ${describeCause(error)}`, {
      cause: error,
    });
  }
  const exported = module[from.exportName];
  if (exported === undefined)
    throw new BootError(
      "WORKER_MODULE_INVALID",
      `${from.module} has no export ${JSON.stringify(from.exportName)}: export the runtime's options, or a function that returns them or a runtime`,
    );
  const made =
    typeof exported === "function" ? await (exported as (data: unknown) => unknown)(from.data) : exported;
  if (isRuntime(made)) return made;
  if (typeof made !== "object" || made === null || !("agents" in made))
    throw new BootError(
      "WORKER_MODULE_INVALID",
      `${from.module}'s export ${JSON.stringify(from.exportName)} gave ${printable(made).slice(0, 60)}, not runtime options ({ agents, ... }) or a runtime`,
    );
  return made as RuntimeOptions;
}

/** A runtime, by its shape (the module may load another copy of the package). */
export function isRuntime(value: unknown): value is Runtime {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Runtime).start === "function" &&
    typeof (value as Runtime).session === "function" &&
    typeof (value as Runtime).stop === "function"
  );
}
