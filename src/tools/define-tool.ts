/**
 * `defineTool`: the usual way to build a {@link Tool}. It checks the definition once, up front, so a
 * typo in a tool name or a schema that no model provider accepts fails when the agent is defined,
 * not in the middle of a turn.
 *
 * @packageDocumentation
 */
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { describeValue } from "../errors.js";
import type { JsonSchema } from "../runtime/ports/model.js";
import {
  TOOL_EXECUTORS,
  TOOL_NAME_PATTERN,
  type Tool,
  type ToolContext,
  type ToolExecutorKind,
} from "../runtime/ports/tool.js";
import {
  argumentsOf,
  checkFunction,
  checkObject,
  checkOneOf,
  fail,
  isInstance,
  readKeys,
  type Subject,
} from "../validate.js";
import { compileToolSchema } from "./compile-tool-schema.js";

interface ToolDefinitionBase {
  /** Unique within an agent; must match {@link TOOL_NAME_PATTERN}. */
  readonly name: string;
  /** Tells the model when and how to use the tool. */
  readonly description: string;
  /** Overrides `limits.toolTimeoutMs` for this tool; a positive, finite number of milliseconds. */
  readonly timeoutMs?: number;
  /**
   * Where calls run: `inline` (default) in the runtime's thread; `host` queued for the host's own
   * thread, run when the host calls `drain()` on the queue given as `createRuntime({ host })`, for
   * code that must run there (a game engine's or a DCC's API); `worker` in a worker-thread pool
   * (`createRuntime({ workers })`), for CPU-bound or blocking code.
   */
  readonly executor?: ToolExecutorKind;
  /**
   * For `executor: "worker"`: the module that exports this tool, usually `import.meta.url` of the
   * file that defines it. A worker thread imports it and runs the tool's `execute` there.
   */
  readonly module?: string | URL;
}

/** A tool whose arguments are described by a Standard Schema (zod 4, valibot, ArkType, …). */
export interface StandardToolDefinition<Schema extends StandardSchemaV1> extends ToolDefinitionBase {
  /**
   * Validates the arguments. The model is shown its JSON Schema: from its own Standard JSON Schema
   * extension (zod 4, ArkType) or its library's converter (zod/mini, zod 3 with
   * `zod-to-json-schema`, valibot with `@valibot/to-json-schema`). A schema that cannot be
   * converted is refused.
   */
  readonly schema: Schema;
  /** What the model is shown instead of the schema's conversion (a JSON Schema of an object). */
  readonly jsonSchema?: JsonSchema;
  /** Runs the tool with validated arguments (the schema's output type). Strings reach the model as they are. */
  readonly execute: (args: StandardSchemaV1.InferOutput<Schema>, context: ToolContext) => unknown;
}

/** A tool whose arguments are described by a plain JSON Schema object (drafts 4, 7, 2019-09, 2020-12). */
export interface JsonSchemaToolDefinition<Args = unknown> extends ToolDefinitionBase {
  /** Sent to the model as it is and used to validate the arguments; `$schema` picks the draft (default 2020-12). */
  readonly schema: JsonSchema;
  /** Runs the tool with arguments that passed the schema. `Args` is what you promise the schema ensures. */
  readonly execute: (args: Args, context: ToolContext) => unknown;
}

/**
 * Builds a tool from a name, a description, a schema and an `execute` function.
 *
 * Use it for every tool you give an agent. Arguments the model sends are parsed by the runtime and
 * checked against the schema before `execute` runs; a failure reaches the model as a tool error that
 * lists each problem (`- path: what is wrong`), so it can correct itself, and `execute` is not called.
 *
 * Details:
 * - `schema` is either a Standard Schema or a plain JSON Schema object, and must describe an object
 *   (`type: "object"`), because model providers only accept object-shaped tool input.
 * - A Standard Schema is shown to the model as JSON Schema, converted by its library's own
 *   converter (install `zod-to-json-schema` for zod 3, `@valibot/to-json-schema` for valibot). One
 *   that cannot be converted (a transform, a custom check) is refused, unless `jsonSchema` says
 *   what the model is shown.
 * - With a Standard Schema, `execute` receives the schema's *output* (after defaults and transforms);
 *   with a JSON Schema it receives the arguments unchanged (JSON Schema defaults are not applied).
 * - `execute` receives a {@link ToolContext} whose `signal` fires on cancel or timeout: pass it on to
 *   `fetch`, `fs` and child processes.
 *
 * @throws {@link InvalidInputError} with code `INVALID_ARGUMENT` when the definition is malformed: a
 *   name that does not match {@link TOOL_NAME_PATTERN}, a description that is not a string, a missing
 *   `execute`, a `timeoutMs` that is not positive and finite, or an unusable schema.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * const weather = defineTool({
 *   name: "get_weather",
 *   description: "Current weather for a city.",
 *   schema: z.object({ city: z.string() }),
 *   timeoutMs: 5_000,
 *   execute: async ({ city }, { signal }) => (await fetch(`https://wttr.in/${city}?format=3`, { signal })).text(),
 * });
 * ```
 */
export function defineTool<Schema extends StandardSchemaV1>(definition: StandardToolDefinition<Schema>): Tool;
export function defineTool<Args = unknown>(definition: JsonSchemaToolDefinition<Args>): Tool;
export function defineTool(
  definition: StandardToolDefinition<StandardSchemaV1> | JsonSchemaToolDefinition,
): Tool {
  checkObject(DEFINE, "definition", definition, "a tool definition object");
  const { name, description, timeoutMs, execute, executor, module, schema, jsonSchema } = readKeys(
    DEFINE,
    "definition",
    definition,
    DEFINITION_KEYS,
  );
  if (typeof name !== "string" || !TOOL_NAME_PATTERN.test(name))
    fail(DEFINE, "definition.name", name, 'a tool name: 1–64 letters, digits, "_" or "-"');
  // Past the name, a refusal names the tool: one of many definitions is easier to find by it.
  const subject = argumentsOf(`defineTool(): tool ${JSON.stringify(name)}`);
  if (typeof description !== "string") fail(subject, "description", description, "a string");
  checkFunction(subject, "execute", execute);
  if (
    timeoutMs !== undefined &&
    !(typeof timeoutMs === "number" && Number.isFinite(timeoutMs) && timeoutMs > 0)
  )
    fail(subject, "timeoutMs", timeoutMs, "a positive, finite number of milliseconds");
  if (executor !== undefined) checkOneOf(subject, "executor", executor, TOOL_EXECUTORS);
  const url = workerModule(subject, executor, module);
  const { inputSchema, check } = compileToolSchema(subject, schema, jsonSchema);
  const run = execute as (args: unknown, context: ToolContext) => unknown;
  return Object.freeze({
    name,
    description,
    inputSchema,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    ...(executor === undefined ? {} : { executor }),
    ...(url === undefined ? {} : { module: url }),
    check,
    // `this` stays the definition, so a method-style `execute` that uses it keeps working.
    execute: (args: unknown, context: ToolContext) => run.call(definition, args, context),
  });
}

const DEFINE = argumentsOf("defineTool()");

const DEFINITION_KEYS = [
  "name",
  "description",
  "timeoutMs",
  "execute",
  "executor",
  "module",
  "schema",
  "jsonSchema",
] as const;

/** A worker tool's module as a URL string; other tools have none. */
function workerModule(subject: Subject, executor: unknown, module: unknown): string | undefined {
  if (executor !== "worker") {
    if (module !== undefined)
      fail(
        subject,
        "module",
        module,
        `absent: it is only for executor "worker", not ${describeValue(executor)}`,
      );
    return undefined;
  }
  let url: URL | undefined;
  try {
    if (isInstance(module, URL)) url = module;
    else if (typeof module === "string") url = new URL(module);
  } catch {
    // Not a URL: refused below.
  }
  if (url === undefined || (url.protocol !== "file:" && url.protocol !== "data:"))
    fail(
      subject,
      "module",
      module,
      "the file: URL of a module that exports the tool (import.meta.url), as a worker tool needs",
    );
  return url.href;
}
