/**
 * Turns a tool's schema — a Standard Schema (zod 4, valibot, ArkType, …) or a plain JSON Schema
 * object — into the two things the runtime needs: the JSON Schema the model is shown, and a `check`
 * that validates the arguments the model sent and explains failures in words a model can act on.
 *
 * @packageDocumentation
 */

import { type OutputUnit, type Schema, type SchemaDraft, Validator } from "@cfworker/json-schema";
import type { StandardJSONSchemaV1, StandardSchemaV1 } from "@standard-schema/spec";
import { describeValue, InvalidInputError } from "../errors.js";
import type { JsonSchema } from "../runtime/ports/model.js";
import type { ToolArgsCheck } from "../runtime/ports/tool.js";

/** A compiled tool schema. */
export interface CompiledToolSchema {
  /** The JSON Schema sent to the model. */
  readonly inputSchema: JsonSchema;
  /** Validates parsed arguments; Standard Schemas may answer asynchronously. */
  readonly check: (args: unknown) => ToolArgsCheck | Promise<ToolArgsCheck>;
}

/** One validation problem: where in the arguments, and what is wrong. */
export interface SchemaIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/** Issues listed in one check message; the rest are counted, so a huge bad payload gives a short message. */
const ISSUES_SHOWN_MAX = 10;

/** True when `value` implements Standard Schema (it may be a function: ArkType types are). */
export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return false;
  const props = (value as Partial<StandardSchemaV1>)["~standard"];
  return typeof props === "object" && props !== null && typeof props.validate === "function";
}

/**
 * Compiles `schema` for the tool called `toolName`. Throws {@link InvalidInputError}
 * (`INVALID_ARGUMENT`) when the schema is neither kind, cannot be turned into JSON Schema, or does not
 * describe an object (model providers only accept object-shaped tool input).
 */
export function compileToolSchema(toolName: string, schema: unknown): CompiledToolSchema {
  return isStandardSchema(schema) ? compileStandard(toolName, schema) : compileJsonSchema(toolName, schema);
}

function compileStandard(toolName: string, schema: StandardSchemaV1): CompiledToolSchema {
  const props = schema["~standard"] as StandardSchemaV1.Props & Partial<StandardJSONSchemaV1.Props>;
  let inputSchema: JsonSchema;
  if (typeof props.jsonSchema?.input === "function") {
    try {
      // The input side: the model writes what the schema accepts, before any transform runs.
      inputSchema = props.jsonSchema.input({ target: "draft-2020-12" });
    } catch (error) {
      throw invalid(
        toolName,
        `its ${props.vendor} schema cannot be expressed as JSON Schema for the model`,
        schema,
        error,
      );
    }
  } else {
    // Without the JSON Schema extension the model only learns that it must send an object; the
    // check below still enforces the real shape and tells the model what was wrong.
    inputSchema = { type: "object" };
  }
  assertObjectSchema(toolName, inputSchema);
  return {
    inputSchema,
    check(args) {
      // Called on `props`, as the spec's callers do: a library may rely on `this`.
      const result = props.validate(args);
      return result instanceof Promise ? result.then(fromStandardResult) : fromStandardResult(result);
    },
  };
}

function fromStandardResult(result: StandardSchemaV1.Result<unknown>): ToolArgsCheck {
  // The spec: a falsy `issues` means success.
  if (!result.issues) return { ok: true, value: result.value };
  const issues = result.issues.map((issue) => ({
    path: (issue.path ?? []).map((segment) => (typeof segment === "object" ? segment.key : segment)),
    message: issue.message,
  }));
  return { ok: false, message: formatIssues(issues) };
}

function compileJsonSchema(toolName: string, schema: unknown): CompiledToolSchema {
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
    throw invalid(toolName, "its schema must be a Standard Schema or a JSON Schema object", schema);
  }
  let copy: Record<string, unknown>;
  try {
    // A private copy: a caller mutating their object later cannot make the model's view and the
    // validator's view disagree.
    copy = structuredClone(schema) as Record<string, unknown>;
  } catch (error) {
    throw invalid(toolName, "its JSON Schema must be plain JSON data", schema, error);
  }
  assertObjectSchema(toolName, copy);
  let validator: Validator;
  try {
    validator = new Validator(copy as Schema, draftOf(copy), false);
  } catch (error) {
    throw invalid(toolName, "its JSON Schema could not be compiled", schema, error);
  }
  return {
    inputSchema: Object.freeze(copy),
    check(args) {
      const result = validator.validate(args);
      return result.valid
        ? { ok: true, value: args }
        : { ok: false, message: formatIssues(issuesOf(result.errors)) };
    },
  };
}

function assertObjectSchema(toolName: string, inputSchema: JsonSchema): void {
  if (typeof inputSchema !== "object" || inputSchema === null) {
    throw invalid(toolName, "its schema converter did not return a JSON Schema object", inputSchema);
  }
  if (inputSchema.type !== "object") {
    throw invalid(
      toolName,
      `its schema must describe an object (type "object"); it has type ${describeValue(inputSchema.type)}`,
      inputSchema,
    );
  }
}

/** The draft named by `$schema`; 2020-12 when absent, the draft Standard Schemas are asked for. */
function draftOf(schema: Record<string, unknown>): SchemaDraft {
  const uri = typeof schema.$schema === "string" ? schema.$schema : "";
  if (uri.includes("draft-04")) return "4";
  if (uri.includes("draft-06") || uri.includes("draft-07")) return "7";
  if (uri.includes("2019-09")) return "2019-09";
  return "2020-12";
}

/**
 * Keywords whose errors only say "a part below failed"; cfworker reports them next to the specific
 * error, which is the one worth reading.
 */
const WRAPPER_KEYWORDS = new Set([
  "properties",
  "patternProperties",
  "additionalProperties",
  "unevaluatedProperties",
  "items",
  "prefixItems",
  "additionalItems",
  "unevaluatedItems",
  "contains",
  "allOf",
  "anyOf",
  "oneOf",
  "$ref",
  "$recursiveRef",
  "dependentSchemas",
  "dependencies",
  "if",
  "then",
  "else",
  "propertyNames",
]);

function issuesOf(errors: readonly OutputUnit[]): SchemaIssue[] {
  const specific = errors.filter(
    (error) =>
      !WRAPPER_KEYWORDS.has(error.keyword) ||
      !errors.some((other) => other !== error && isBelow(other, error)),
  );
  return specific.map((error) => ({
    path: pointerSegments(error.instanceLocation),
    // A `false` subschema is how `additionalProperties: false` rejects a key.
    message: error.keyword === "false" ? "is not allowed here" : error.error,
  }));
}

function isBelow(other: OutputUnit, wrapper: OutputUnit): boolean {
  return (
    other.keywordLocation.startsWith(`${wrapper.keywordLocation}/`) ||
    other.instanceLocation.startsWith(`${wrapper.instanceLocation}/`)
  );
}

/** `#/tags/1` → `["tags", "1"]`, undoing cfworker's URI and JSON Pointer escaping. */
function pointerSegments(location: string): string[] {
  const pointer = location.replace(/^#\/?/, "");
  if (pointer === "") return [];
  return pointer.split("/").map((segment) => {
    let decoded = segment.replace(/%23/g, "#");
    try {
      decoded = decodeURI(decoded);
    } catch {
      // Not URI-encoded after all: show it as it is.
    }
    return decoded.replace(/~1/g, "/").replace(/~0/g, "~");
  });
}

/**
 * Renders issues as one line per problem, `path: message`, e.g. `- tags[1]: expected string`. The
 * root is shown as `(input)`. At most {@link ISSUES_SHOWN_MAX} lines; the rest are counted.
 */
export function formatIssues(issues: readonly SchemaIssue[]): string {
  const lines = [...new Set(issues.map((issue) => `- ${formatPath(issue.path)}: ${issue.message}`))];
  if (lines.length === 0) return "the arguments do not match the schema";
  const shown = lines.slice(0, ISSUES_SHOWN_MAX);
  if (lines.length > shown.length) shown.push(`- … and ${lines.length - shown.length} more`);
  return `${lines.length === 1 ? "1 problem" : `${lines.length} problems`}:\n${shown.join("\n")}`;
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "(input)";
  let out = "";
  for (const segment of path) {
    const key = typeof segment === "symbol" ? segment.toString() : String(segment);
    if (typeof segment === "number" || /^\d+$/.test(key)) out += `[${key}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(key)) out += out === "" ? key : `.${key}`;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out;
}

function invalid(toolName: string, problem: string, value: unknown, cause?: unknown): InvalidInputError {
  return new InvalidInputError("INVALID_ARGUMENT", `tool ${JSON.stringify(toolName)}: ${problem}`, {
    ...(cause === undefined ? {} : { cause }),
    details: { toolName, value: describeValue(value) },
  });
}
