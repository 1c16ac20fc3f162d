/**
 * Turns a tool's schema — a Standard Schema (zod 4, zod/mini, zod 3, valibot, ArkType, …) or a plain
 * JSON Schema object — into the two things the runtime needs: the JSON Schema the model is shown,
 * and a `check` that validates the arguments the model sent and explains failures in words a model
 * can act on.
 *
 * The JSON Schema of a Standard Schema comes from its own Standard JSON Schema extension
 * (`~standard.jsonSchema`: zod 4, ArkType), else from the library's maintained converter, loaded
 * from the application's own install when a tool needs it: `zod/v4/core`'s `toJSONSchema` for
 * zod/mini, `zod-to-json-schema` for zod 3, `@valibot/to-json-schema` for valibot. A schema none of
 * these can express (a transform, a custom check, a date) is refused, with the converter's reason:
 * never sent as a bare `{ "type": "object" }`, which would let the model guess.
 *
 * @packageDocumentation
 */

import { createRequire } from "node:module";
import { type OutputUnit, type Schema, type SchemaDraft, Validator } from "@cfworker/json-schema";
import type { StandardJSONSchemaV1, StandardSchemaV1 } from "@standard-schema/spec";
import { InvalidInputError } from "../errors.js";
import { describeCause } from "../kernel/outcome.js";
import type { JsonSchema } from "../runtime/ports/model.js";
import type { ToolArgsCheck } from "../runtime/ports/tool.js";
import { fail, isRecord, type Subject } from "../validate.js";

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
  try {
    const props = (value as Partial<StandardSchemaV1>)["~standard"];
    return typeof props === "object" && props !== null && typeof props.validate === "function";
  } catch {
    // A getter or proxy trap that throws: not a Standard Schema, and refused as no JSON Schema either.
    return false;
  }
}

/**
 * Compiles the `schema` of the tool `subject` defines; `jsonSchema`, when given, is what the model is
 * shown instead of the Standard Schema's conversion. Throws the subject's error (`INVALID_ARGUMENT`
 * for `defineTool`) when the schema is neither kind, cannot be turned into JSON Schema, or does not
 * describe an object (model providers only accept object-shaped tool input).
 */
export function compileToolSchema(
  subject: Subject,
  schema: unknown,
  jsonSchema?: unknown,
): CompiledToolSchema {
  return isStandardSchema(schema)
    ? compileStandard(subject, schema, jsonSchema)
    : compileJsonSchema(subject, "schema", schema);
}

function compileStandard(subject: Subject, schema: StandardSchemaV1, shown: unknown): CompiledToolSchema {
  const props = schema["~standard"] as StandardSchemaV1.Props & Partial<StandardJSONSchemaV1.Props>;
  let inputSchema: JsonSchema;
  if (shown !== undefined) {
    inputSchema = compileJsonSchema(subject, "jsonSchema", shown).inputSchema;
  } else {
    try {
      inputSchema = toJsonSchema(schema, props);
    } catch (error) {
      if (error instanceof InvalidInputError) throw error;
      fail(
        subject,
        "schema",
        schema,
        `a schema JSON Schema can express for the model (the ${String(props.vendor)} converter says: ${describeCause(error)}); change it, or pass jsonSchema to say what the model is shown`,
        { cause: error },
      );
    }
  }
  assertObjectSchema(subject, "schema", inputSchema);
  return {
    inputSchema,
    check(args) {
      // Called on `props`, as the spec's callers do: a library may rely on `this`.
      const result = props.validate(args);
      return result instanceof Promise ? result.then(fromStandardResult) : fromStandardResult(result);
    },
  };
}

const requireFromApp = createRequire(import.meta.url);

/**
 * The input side of a Standard Schema as JSON Schema (the model writes what the schema accepts,
 * before any transform runs). Throws when it cannot be expressed, or when no converter is known.
 */
function toJsonSchema(
  schema: StandardSchemaV1,
  props: StandardSchemaV1.Props & Partial<StandardJSONSchemaV1.Props>,
): JsonSchema {
  if (typeof props.jsonSchema?.input === "function")
    return props.jsonSchema.input({ target: "draft-2020-12" });
  const vendor = String(props.vendor);
  if (vendor === "zod" && "_zod" in (schema as object)) {
    // zod 4's mini schemas carry no `~standard.jsonSchema`; zod's own core converts them.
    const core = load<{ toJSONSchema: (s: unknown, o: object) => JsonSchema }>("zod/v4/core", "zod");
    return core.toJSONSchema(schema, { io: "input", target: "draft-2020-12", unrepresentable: "throw" });
  }
  if (vendor === "zod") {
    const convert = load<{ zodToJsonSchema: (s: unknown, o: object) => JsonSchema }>(
      "zod-to-json-schema",
      "zod-to-json-schema",
    );
    return convert.zodToJsonSchema(schema, {
      target: "jsonSchema7",
      $refStrategy: "none",
      pipeStrategy: "input",
      effectStrategy: "input",
    });
  }
  if (vendor === "valibot") {
    const convert = load<{ toJsonSchema: (s: unknown, o: object) => JsonSchema }>(
      "@valibot/to-json-schema",
      "@valibot/to-json-schema",
    );
    return convert.toJsonSchema(schema, { errorMode: "throw", typeMode: "input", target: "draft-2020-12" });
  }
  throw new Error(
    `Offstage knows no JSON Schema converter for ${vendor} schemas, and they implement no ~standard.jsonSchema`,
  );
}

/** A converter the application installed; a missing one says what to install. */
function load<T>(specifier: string, packageName: string): T {
  try {
    return requireFromApp(specifier) as T;
  } catch (error) {
    if (
      (error as { code?: unknown }).code === "MODULE_NOT_FOUND" ||
      (error as { code?: unknown }).code === "ERR_MODULE_NOT_FOUND"
    )
      throw new Error(`its converter is not installed: npm install ${packageName}`);
    throw error;
  }
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

/** `name` is the definition's key that holds `schema`: `schema`, or `jsonSchema` beside a Standard Schema. */
function compileJsonSchema(subject: Subject, name: string, schema: unknown): CompiledToolSchema {
  if (!isRecord(schema)) fail(subject, name, schema, "a Standard Schema or a JSON Schema object");
  let copy: Record<string, unknown>;
  try {
    // A private copy: a caller mutating their object later cannot make the model's view and the
    // validator's view disagree.
    copy = structuredClone(schema) as Record<string, unknown>;
  } catch (error) {
    fail(subject, name, schema, `plain JSON data (${describeCause(error)})`, { cause: error });
  }
  assertObjectSchema(subject, name, copy);
  let validator: Validator;
  try {
    validator = new Validator(copy as Schema, draftOf(copy), false);
  } catch (error) {
    fail(subject, name, schema, `a JSON Schema that compiles (${describeCause(error)})`, { cause: error });
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

/** Model providers take only object-shaped tool input. */
function assertObjectSchema(subject: Subject, name: string, inputSchema: JsonSchema): void {
  if (!isRecord(inputSchema))
    fail(
      subject,
      `${name} as JSON Schema`,
      inputSchema,
      "a JSON Schema object, which its converter did not return",
    );
  if (inputSchema.type !== "object")
    fail(subject, `${name}.type`, inputSchema.type, '"object": a tool\'s input is an object');
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
