/**
 * A set of tools looked up by name: what an agent's tool list becomes once its names are known to be
 * unique. It also holds the list the model is shown, built once rather than on every model call.
 *
 * @packageDocumentation
 */
import { describeValue, InvalidInputError } from "../../errors.js";
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
 * @throws {@link InvalidInputError} with code `INVALID_ARGUMENT` when `tools` is not an array, an
 *   entry is not a tool (name, description, input schema, `check` and `execute`), or two tools share
 *   a name — the model could not tell them apart.
 *
 * @example
 * ```ts
 * const registry = createToolRegistry(createFileTools({ root: "./workspace" }));
 * registry.get("read_file"); // the tool
 * registry.modelTools;       // what the model is offered
 * ```
 */
export function createToolRegistry(tools: readonly Tool[]): ToolRegistry {
  if (!Array.isArray(tools)) {
    throw new InvalidInputError(
      "INVALID_ARGUMENT",
      `tools must be an array of tools; got ${describeValue(tools)}`,
    );
  }
  const byName = new Map<string, { tool: Tool; index: number }>();
  tools.forEach((tool: unknown, index) => {
    assertTool(tool, index);
    const earlier = byName.get(tool.name);
    if (earlier !== undefined) {
      throw new InvalidInputError(
        "INVALID_ARGUMENT",
        `tool name ${describeValue(tool.name)} is used by tools[${earlier.index}] and tools[${index}]; tool names must be unique`,
        { details: { name: tool.name, indexes: [earlier.index, index] } },
      );
    }
    byName.set(tool.name, { tool, index });
  });
  const list: readonly Tool[] = Object.freeze([...tools]);
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
    get: (name) => byName.get(name)?.tool,
    list: () => list,
    modelTools,
  };
}

function assertTool(tool: unknown, index: number): asserts tool is Tool {
  const where = `tools[${index}]`;
  if (typeof tool !== "object" || tool === null) {
    throw new InvalidInputError(
      "INVALID_ARGUMENT",
      `${where} must be a tool object; got ${describeValue(tool)}`,
    );
  }
  const candidate = tool as Partial<Record<keyof Tool, unknown>>;
  const problem =
    typeof candidate.name !== "string" || !TOOL_NAME_PATTERN.test(candidate.name)
      ? `name must be 1–64 letters, digits, "_" or "-"; got ${describeValue(candidate.name)}`
      : typeof candidate.description !== "string"
        ? `description must be a string; got ${describeValue(candidate.description)}`
        : typeof candidate.inputSchema !== "object" || candidate.inputSchema === null
          ? `inputSchema must be a JSON Schema object; got ${describeValue(candidate.inputSchema)}`
          : typeof candidate.check !== "function"
            ? `check must be a function; got ${describeValue(candidate.check)}`
            : typeof candidate.execute !== "function"
              ? `execute must be a function; got ${describeValue(candidate.execute)}`
              : candidate.executor !== undefined && !TOOL_EXECUTORS.includes(candidate.executor as never)
                ? `executor must be one of ${TOOL_EXECUTORS.join(", ")}; got ${describeValue(candidate.executor)}`
                : candidate.executor === "worker" && typeof candidate.module !== "string"
                  ? `a worker tool needs module, the URL of a module that exports it; got ${describeValue(candidate.module)}`
                  : undefined;
  if (problem !== undefined) {
    throw new InvalidInputError("INVALID_ARGUMENT", `${where}: ${problem}`, { details: { index } });
  }
}
