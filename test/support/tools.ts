/** Tool doubles for the runtime tests: a plain tool, and a gated one whose calls wait for the test. */
import type { Tool, ToolContext } from "../../src/index.js";
import { type Deferred, deferred } from "./async.js";

/** A tool that accepts any arguments. */
export function tool(
  name: string,
  execute: (args: unknown, context: ToolContext) => unknown,
  extra: Partial<Omit<Tool, "execute">> = {},
): Tool {
  return {
    name,
    description: `the ${name} tool`,
    inputSchema: { type: "object" },
    check: (args) => ({ ok: true, value: args }),
    execute,
    ...extra,
  };
}

/** A tool whose calls each wait for the test; it honours its signal unless told not to. */
export class GatedTool {
  readonly calls: { args: unknown; context: ToolContext; gate: Deferred<unknown> }[] = [];
  readonly tool: Tool;

  constructor(name: string, options: { ignoreAbort?: boolean; timeoutMs?: number } = {}) {
    this.tool = tool(
      name,
      (args, context) => {
        const gate = deferred<unknown>();
        this.calls.push({ args, context, gate });
        if (options.ignoreAbort !== true) {
          context.signal.addEventListener("abort", () => gate.reject(context.signal.reason), { once: true });
        }
        return gate.promise;
      },
      options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs },
    );
  }
}
