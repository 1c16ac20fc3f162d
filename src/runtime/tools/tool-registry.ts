/**
 * A set of tools looked up by name: what an agent's tool list becomes once its names are known to be
 * unique. It also holds the list the model is shown, built once rather than on every model call.
 *
 * @packageDocumentation
 */

import {
  argumentsOf,
  checkArray,
  checkFunction,
  checkObject,
  checkOneOf,
  fail,
  isRecord,
  readKeys,
  type Subject,
} from "../../validate.js";
import type { ModelTool } from "../ports/model.js";
import { TOOL_EXECUTORS, TOOL_NAME_PATTERN, type Tool } from "../ports/tool.js";

/** Tools by name, plus their descriptions for the model. */
export interface ToolRegistry {
  /** The tool called `name`, or `undefined` when there is none. */
  get(name: string): Tool | undefined;
  /** Every tool, in the order given. */
  list(): readonly Tool[];
  /** The tools as the model sees them, in the order given. */
  readonly modelTools: readonly ModelTool[];
}

/**
 * Builds a registry from a list of tools (made with `defineTool` or any object satisfying
 * {@link Tool}).
 *
 * @throws {@link InvalidInputError} with code `INVALID_ARGUMENT` when `tools` is not an array (of at
 *   most 1 000), an entry is not a tool (name, description, input schema, `check` and `execute`), or
 *   two tools share a name — the model could not tell them apart.
 *
 * @example
 * ```ts
 * const registry = createToolRegistry(createFileTools({ root: "./workspace" }));
 * registry.get("read_file"); // the tool
 * registry.modelTools;       // what the model is offered
 * ```
 */
export function createToolRegistry(tools: readonly Tool[]): ToolRegistry {
  const list: readonly Tool[] = Object.freeze(
    checkTools(argumentsOf("createToolRegistry()"), "tools", tools),
  );
  const byName = new Map(list.map((tool) => [tool.name, tool]));
  const modelTools: readonly ModelTool[] = Object.freeze(
    list.map((tool) =>
      Object.freeze({
        type: "function" as const,
        name: tool.name,
        description: tool.description,
        inputSchema: tool.inputSchema,
      }),
    ),
  );
  return {
    get: (name) => byName.get(name),
    list: () => list,
    modelTools,
  };
}

/**
 * Checks a list of tools as {@link createToolRegistry} takes it, each read once, and returns a copy:
 * every entry a tool, no two with one name. `createRuntime` checks each agent's tools with it, so a
 * bad one fails as a bad option.
 */
export function checkTools(subject: Subject, name: string, tools: unknown): Tool[] {
  const list = checkArray(subject, name, tools, "an array of tools");
  const indexByName = new Map<string, number>();
  for (const [index, tool] of list.entries()) {
    const toolName = checkTool(subject, `${name}[${index}]`, tool);
    const earlier = indexByName.get(toolName);
    // The model could not tell two tools of one name apart.
    if (earlier !== undefined)
      fail(subject, `${name}[${index}].name`, toolName, `unique (${name}[${earlier}] has it too)`, {
        details: { name: toolName, indexes: [earlier, index] },
      });
    indexByName.set(toolName, index);
  }
  return list as Tool[];
}

const TOOL_KEYS = ["name", "description", "inputSchema", "check", "execute", "executor", "module"] as const;

/** Checks one entry of a tool list; returns its name. */
function checkTool(subject: Subject, where: string, tool: unknown): string {
  checkObject(subject, where, tool, "a tool (defineTool())");
  const { name, description, inputSchema, check, execute, executor, module } = readKeys(
    subject,
    where,
    tool,
    TOOL_KEYS,
  );
  if (typeof name !== "string" || !TOOL_NAME_PATTERN.test(name))
    fail(subject, `${where}.name`, name, 'a tool name: 1–64 letters, digits, "_" or "-"');
  if (typeof description !== "string") fail(subject, `${where}.description`, description, "a string");
  if (!isRecord(inputSchema)) fail(subject, `${where}.inputSchema`, inputSchema, "a JSON Schema object");
  checkFunction(subject, `${where}.check`, check);
  checkFunction(subject, `${where}.execute`, execute);
  if (executor !== undefined) checkOneOf(subject, `${where}.executor`, executor, TOOL_EXECUTORS);
  if (executor === "worker" && typeof module !== "string")
    fail(
      subject,
      `${where}.module`,
      module,
      "the URL of a module that exports the tool, as a worker tool needs",
    );
  return name;
}
