/**
 * Every Standard Schema library reaches the model as its real JSON Schema, through its own
 * maintained converter: zod 4, zod/mini, zod 3 (`zod/v3` with `zod-to-json-schema`), valibot (with
 * `@valibot/to-json-schema`). A schema a converter cannot express is refused by `defineTool`, never
 * sent as `{ "type": "object" }`. And the converted schema is what a real provider puts on the wire.
 */
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import * as zm from "zod/mini";
import { z as z3 } from "zod/v3";
import {
  createMemoryStore,
  createRuntime,
  defineTool,
  isOffstageError,
  silentLogger,
} from "../../src/index.js";
import { startLoopbackLlm } from "./loopback-llm.js";
import { loopbackModel } from "./providers.js";

const schemas = {
  "zod 4": z.object({ city: z.string(), days: z.number().int().optional() }),
  "zod/mini": zm.object({ city: zm.string(), days: zm.optional(zm.number()) }),
  "zod 3": z3.object({ city: z3.string(), days: z3.number().int().optional() }),
  valibot: v.object({ city: v.string(), days: v.optional(v.number()) }),
};

function refusal(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected defineTool to refuse the schema");
}

describe.each(Object.entries(schemas))("%s", (_, schema) => {
  const tool = defineTool({
    name: "forecast",
    description: "Weather ahead.",
    schema,
    execute: () => "sunny",
  });

  it("shows the model the schema's properties and required keys", () => {
    expect(tool.inputSchema).toMatchObject({
      type: "object",
      properties: { city: { type: "string" }, days: { type: expect.stringMatching(/^(number|integer)$/) } },
      required: ["city"],
    });
  });

  it("checks the arguments with the library itself", async () => {
    expect(await tool.check({ city: "Oslo" })).toMatchObject({ ok: true });
    const bad = await tool.check({ city: 3 });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.message).toContain("city");
  });
});

describe("a transform shows the model its input side", () => {
  it.each([
    ["zod 4", z.object({ n: z.string().transform((s) => s.length) })],
    [
      "zod/mini",
      zm.object({
        n: zm.pipe(
          zm.string(),
          zm.transform((s: string) => s.length),
        ),
      }),
    ],
    ["valibot", v.object({ n: v.pipe(v.string(), v.transform(Number)) })],
  ])("%s", async (_, schema) => {
    const tool = defineTool({ name: "t", description: "d", schema: schema as never, execute: () => 1 });
    expect(tool.inputSchema).toMatchObject({ properties: { n: { type: "string" } } });
    expect(await tool.check({ n: "abc" })).toMatchObject({ ok: true });
  });
});

describe("schemas that cannot be converted are refused", () => {
  const cases: [string, unknown][] = [
    ["zod 4 date", z.object({ at: z.date() })],
    ["zod/mini date", zm.object({ at: zm.date() })],
    ["valibot custom", v.object({ n: v.custom(() => true) })],
    ["valibot date", v.object({ at: v.date() })],
  ];
  for (const [name, schema] of cases) {
    it(name, () => {
      const error = refusal(() =>
        defineTool({ name: "t", description: "d", schema: schema as never, execute: () => 1 }),
      );
      expect(isOffstageError(error, "INVALID_ARGUMENT")).toBe(true);
      expect(error.message).toMatch(
        /schema must be a schema JSON Schema can express for the model \(the \w+ converter says: /,
      );
    });
  }
});

describe("the converted schema is what the provider sends", () => {
  it("a valibot tool's JSON Schema reaches the wire through @ai-sdk/openai-compatible", async () => {
    const llm = await startLoopbackLlm(() => ({ text: ["ok"] }));
    const tool = defineTool({
      name: "forecast",
      description: "d",
      schema: schemas.valibot,
      execute: () => 1,
    });
    const runtime = createRuntime({
      store: createMemoryStore(),
      logger: silentLogger,
      agents: { a: { model: loopbackModel("openai-compatible", llm.baseURL), tools: [tool] } },
    });
    await runtime.start();
    await runtime.session("s", { agent: "a" }).send("go").result({ timeoutMs: 5_000 });
    const sent = llm.requests[0]!.body.tools[0].function.parameters;
    expect(sent).toMatchObject({
      type: "object",
      properties: { city: { type: "string" } },
      required: ["city"],
    });
    await runtime.stop();
    await llm.close();
  });
});
