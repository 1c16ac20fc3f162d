import { describe, expect, it } from "vitest";
import { z } from "zod";
import { InvalidInputError, isOffstageError, type ToolContext } from "../../src/index.js";
import { createToolRegistry } from "../../src/runtime/tools/tool-registry.js";
import { formatIssues } from "../../src/tools/compile-tool-schema.js";
import { defineTool } from "../../src/tools/define-tool.js";

const context: ToolContext = {
  signal: new AbortController().signal,
  sessionId: "s",
  turnId: "t",
  toolCallId: "c",
};

/** Runs `define` and returns what it threw, failing if it did not throw. */
function thrown(define: () => unknown): InvalidInputError {
  try {
    define();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(isOffstageError(error, "INVALID_ARGUMENT")).toBe(true);
    return error as InvalidInputError;
  }
  throw new Error("expected a throw");
}

const jsonSchema = {
  type: "object",
  properties: {
    path: { type: "string", minLength: 1 },
    depth: { type: "integer", maximum: 3 },
    tags: { type: "array", items: { type: "string" } },
  },
  required: ["path"],
  additionalProperties: false,
} as const;

describe("defineTool with a Standard Schema (zod 4)", () => {
  const schema = z.object({ city: z.string().min(1), days: z.number().int().max(7).default(1) });
  const tool = defineTool({
    name: "get_weather",
    description: "Weather for a city.",
    schema,
    timeoutMs: 5_000,
    execute: ({ city, days }) => `${city} for ${days} days`,
  });

  it("sends the model the schema's JSON Schema input side", () => {
    expect(tool).toMatchObject({ name: "get_weather", description: "Weather for a city.", timeoutMs: 5_000 });
    expect(tool.inputSchema).toMatchObject({
      type: "object",
      properties: { city: { type: "string", minLength: 1 }, days: { type: "integer" } },
      required: ["city"],
    });
  });

  it("check() returns the schema's output (defaults applied) and execute receives it", async () => {
    const checked = await tool.check({ city: "Oslo" });
    expect(checked).toEqual({ ok: true, value: { city: "Oslo", days: 1 } });
    if (!checked.ok) throw new Error("unreachable");
    expect(await tool.execute(checked.value, context)).toBe("Oslo for 1 days");
  });

  it("check() lists every problem with its path", async () => {
    const checked = await tool.check({ city: 3, days: 9 });
    expect(checked.ok).toBe(false);
    if (checked.ok) throw new Error("unreachable");
    expect(checked.message).toMatch(/^2 problems:\n- city: .*expected string.*\n- days: .*<=7/);
  });

  it("accepts an asynchronous Standard Schema validate()", async () => {
    const asyncTool = defineTool({
      name: "async_check",
      description: "",
      schema: z
        .object({ n: z.number() })
        .refine(async (v) => v.n > 0, { message: "n must be positive", path: ["n"] }),
      execute: ({ n }) => n,
    });
    const pending = asyncTool.check({ n: -1 });
    expect(pending).toBeInstanceOf(Promise);
    expect(await pending).toEqual({ ok: false, message: "1 problem:\n- n: n must be positive" });
  });

  it("refuses a Standard Schema it cannot convert, and takes jsonSchema to say what the model is shown", async () => {
    const bare = {
      "~standard": {
        version: 1 as const,
        vendor: "hand-made",
        validate: (value: unknown) =>
          typeof value === "object" && value !== null && "x" in value
            ? { value: value as { x: unknown } }
            : { issues: [{ message: "x is required" }] },
      },
    };
    const refused = thrown(() =>
      defineTool({ name: "bare", description: "d", schema: bare, execute: ({ x }) => x }),
    );
    expect(refused.message).toContain(
      'defineTool(): tool "bare": schema must be a schema JSON Schema can express for the model (the hand-made converter says:',
    );
    expect(refused.message).toContain("pass jsonSchema");
    const shown = { type: "object", properties: { x: { type: "number" } }, required: ["x"] };
    const tool = defineTool({
      name: "bare",
      description: "d",
      schema: bare,
      jsonSchema: shown,
      execute: () => 1,
    });
    expect(tool.inputSchema).toEqual(shown);
    expect(await tool.check({})).toEqual({ ok: false, message: "1 problem:\n- (input): x is required" });
  });

  it("refuses a schema that cannot become JSON Schema, or is not an object", () => {
    const date = thrown(() =>
      defineTool({ name: "when", description: "", schema: z.object({ at: z.date() }), execute: () => 1 }),
    );
    expect(date.message).toContain(
      'tool "when": schema must be a schema JSON Schema can express for the model (the zod converter says:',
    );
    expect(date.cause).toBeInstanceOf(Error);
    const scalar = thrown(() =>
      defineTool({ name: "s", description: "", schema: z.string(), execute: () => 1 }),
    );
    expect(scalar.message).toContain(
      `schema.type must be "object": a tool's input is an object; got "string" (string)`,
    );
  });
});

describe("defineTool with a plain JSON Schema", () => {
  const tool = defineTool<{ path: string }>({
    name: "walk",
    description: "Walks a path.",
    schema: jsonSchema,
    execute: ({ path }, { toolCallId }) => `${toolCallId}:${path}`,
  });

  it("sends the schema unchanged and passes valid arguments through", async () => {
    expect(tool.inputSchema).toEqual(jsonSchema);
    expect(tool.timeoutMs).toBeUndefined();
    expect(tool.check({ path: "a", tags: ["x"] })).toEqual({ ok: true, value: { path: "a", tags: ["x"] } });
    expect(await tool.execute({ path: "a" }, context)).toBe("c:a");
  });

  it("check() names each problem once, at its path, without the wrapper errors", () => {
    const checked = tool.check({ path: 1, depth: 9, tags: ["a", 2], extra: true });
    expect(checked).toEqual({
      ok: false,
      message: [
        "4 problems:",
        '- path: Instance type "number" is invalid. Expected "string".',
        "- depth: 9 is greater than 3.",
        '- tags[1]: Instance type "number" is invalid. Expected "string".',
        "- extra: is not allowed here",
      ].join("\n"),
    });
    expect(tool.check({})).toEqual({
      ok: false,
      message: '1 problem:\n- (input): Instance does not have required property "path".',
    });
    expect(tool.check("path")).toMatchObject({
      ok: false,
      message: expect.stringContaining('Expected "object"'),
    });
  });

  it("keeps its own copy of the schema, so later edits by the caller change nothing", () => {
    const schema = { type: "object", properties: { n: { type: "number" } } };
    const copy = defineTool({ name: "copy", description: "", schema, execute: () => 1 });
    schema.properties.n.type = "string";
    expect(copy.check({ n: 1 })).toEqual({ ok: true, value: { n: 1 } });
    expect(copy.inputSchema).toEqual({ type: "object", properties: { n: { type: "number" } } });
  });

  it("follows the draft named by $schema", () => {
    const draft4 = defineTool({
      name: "d4",
      description: "",
      schema: {
        $schema: "http://json-schema.org/draft-04/schema#",
        type: "object",
        properties: { n: { type: "number", maximum: 5, exclusiveMaximum: true } },
      },
      execute: () => 1,
    });
    expect(draft4.check({ n: 5 })).toMatchObject({ ok: false });
    expect(draft4.check({ n: 4 })).toMatchObject({ ok: true });
  });
});

describe("defineTool refuses a malformed definition", () => {
  const good = { name: "ok", description: "d", schema: { type: "object" }, execute: () => 1 };
  it.each([
    [
      "a name with a space",
      { ...good, name: "read file" },
      'defineTool(): definition.name must be a tool name: 1–64 letters, digits, "_" or "-"; got "read file" (string)',
    ],
    ["an empty name", { ...good, name: "" }, 'got "" (string)'],
    ["a 65-character name", { ...good, name: "x".repeat(65) }, "definition.name must be a tool name: 1–64"],
    ["a missing name", { ...good, name: undefined }, "got undefined (undefined)"],
    [
      "a description that is not a string",
      { ...good, description: 42 },
      `defineTool(): tool "ok": description must be a string; got 42 (number)`,
    ],
    [
      "a missing execute",
      { ...good, execute: "run" },
      'tool "ok": execute must be a function; got "run" (string)',
    ],
    [
      "a zero timeout",
      { ...good, timeoutMs: 0 },
      "timeoutMs must be a positive, finite number of milliseconds; got 0 (number)",
    ],
    ["an infinite timeout", { ...good, timeoutMs: Number.POSITIVE_INFINITY }, "timeoutMs must be a positive"],
    ["a NaN timeout", { ...good, timeoutMs: Number.NaN }, "timeoutMs must be a positive"],
    ["a string timeout", { ...good, timeoutMs: "5" }, 'got "5" (string)'],
    [
      "a missing schema",
      { ...good, schema: undefined },
      'tool "ok": schema must be a Standard Schema or a JSON Schema object; got undefined (undefined)',
    ],
    ["an array schema", { ...good, schema: [] }, "must be a Standard Schema or a JSON Schema object"],
    ["a non-object JSON Schema", { ...good, schema: { type: "string" } }, 'schema.type must be "object"'],
    [
      "a JSON Schema with no type",
      { ...good, schema: { properties: {} } },
      'schema.type must be "object": a tool\'s input is an object; got undefined (undefined)',
    ],
    [
      "a JSON Schema holding a function",
      { ...good, schema: { type: "object", f: () => 1 } },
      "must be plain JSON data",
    ],
  ])("%s", (_name, definition, message) => {
    const error = thrown(() => defineTool(definition as never));
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.message).toContain(message);
  });

  it("a definition that is not an object", () => {
    expect(thrown(() => defineTool(null as never)).message).toBe(
      "defineTool(): definition must be a tool definition object; got null (null)",
    );
  });
});

describe("createToolRegistry", () => {
  const a = defineTool({ name: "a", description: "first", schema: { type: "object" }, execute: () => "a" });
  const b = defineTool({
    name: "b",
    description: "second",
    schema: z.object({ n: z.number() }),
    execute: () => "b",
  });

  it("looks tools up by name and lists them, and their model view, in order", () => {
    const registry = createToolRegistry([a, b]);
    expect(registry.get("b")).toBe(b);
    expect(registry.get("c")).toBeUndefined();
    expect(registry.get("toString")).toBeUndefined();
    expect(registry.list()).toEqual([a, b]);
    expect(registry.modelTools).toEqual([
      { type: "function", name: "a", description: "first", inputSchema: { type: "object" } },
      { type: "function", name: "b", description: "second", inputSchema: b.inputSchema },
    ]);
  });

  it("refuses duplicate names, naming both positions", () => {
    const error = thrown(() => createToolRegistry([a, b, { ...a, description: "again" }]));
    expect(error.message).toBe(
      'createToolRegistry(): tools[2].name must be unique (tools[0] has it too); got "a" (string)',
    );
    expect(error.details).toMatchObject({ name: "a", indexes: [0, 2] });
  });

  it("refuses entries that are not tools, and a non-array", () => {
    expect(thrown(() => createToolRegistry([a, { name: "x" } as never])).message).toBe(
      "createToolRegistry(): tools[1].description must be a string; got undefined (undefined)",
    );
    expect(thrown(() => createToolRegistry([null as never])).message).toBe(
      "createToolRegistry(): tools[0] must be a tool (defineTool()); got null (null)",
    );
    expect(thrown(() => createToolRegistry([{ ...a, name: "a b" }])).message).toContain('got "a b" (string)');
    expect(thrown(() => createToolRegistry("a" as never)).message).toBe(
      'createToolRegistry(): tools must be an array of tools; got "a" (string)',
    );
  });
});

describe("formatIssues", () => {
  it("quotes odd keys, counts what it leaves out", () => {
    const issues = Array.from({ length: 12 }, (_, i) => ({ path: ["a b", i, "c"], message: `bad ${i}` }));
    const message = formatIssues(issues);
    expect(message.split("\n")).toHaveLength(12);
    expect(message).toMatch(/^12 problems:\n- \["a b"\]\[0\]\.c: bad 0\n/);
    expect(message.endsWith("- … and 2 more")).toBe(true);
  });
});
