/**
 * Property-based fuzzing of the constructors that check what they are given before anything runs:
 * `createPostgresStore`, `createDemoModel`, `defineTool`, `createToolRegistry`, `createFileTools`,
 * `fromAiSdk`, `createScriptedModel` and the server's tokens (`createApp`). Each call either works or
 * refuses with an `OffstageError` of its stable code whose message quotes the refused value (or says
 * why it could not be read); nothing else may be thrown. The five values that break naive checks —
 * a proxy that throws on every trap, a revoked proxy, a symbol, a BigInt, a lone surrogate — are
 * also tried in every position by name, so no seed can miss them.
 */
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { defineTool, isOffstageError } from "../../src/index.js";
import { fromAiSdk } from "../../src/models/ai-sdk/index.js";
import { createDemoModel } from "../../src/models/demo/index.js";
import { createToolRegistry } from "../../src/runtime/tools/tool-registry.js";
import { createApp } from "../../src/server/index.js";
import { createPostgresStore } from "../../src/store/postgres/index.js";
import { RETENTION_KEYS } from "../../src/store/retention.js";
import { createScriptedModel } from "../../src/testing/index.js";
import { createFileTools } from "../../src/tools/index.js";
import { argument, collectEscapes, fuzzParameters, hostile, optionsLike } from "./hostile.js";

const RUNS = 200;
const escaped = collectEscapes({ beforeAll, afterAll });
afterEach(() => expect(escaped).toEqual([]));

/** What a refusal's message says about the value: quoted, or why it could not be read. */
const SAYS_WHY = /; got .+ \([\w ,]+\)$|cannot be read: |is not a known key|inherited|is a getter/;

/** Runs `call`; a throw must be an `OffstageError` with `code` that says what was wrong with what. */
function refusedCleanly(code: string, call: () => unknown): void {
  try {
    call();
  } catch (error) {
    if (!isOffstageError(error)) throw new Error(`not an OffstageError: ${String(error)}`, { cause: error });
    expect(error.code).toBe(code);
    expect(error.message).toMatch(SAYS_WHY);
  }
}

function theFive(): unknown[] {
  const revocable = Proxy.revocable({}, {});
  revocable.revoke();
  const trap = () => {
    throw new Error("trap");
  };
  const trapAll = new Proxy(
    {},
    { get: trap, has: trap, ownKeys: trap, getPrototypeOf: trap, getOwnPropertyDescriptor: trap },
  );
  return [trapAll, revocable.proxy, Symbol("hostile"), 10n, "user-\uD83C"];
}

const schema = { type: "object" };
const good = { name: "ok", description: "d", schema, execute: () => 1 };
const tool = defineTool(good);
const languageModel = { specificationVersion: "v4", provider: "p", modelId: "m", doStream() {} };
const PG_URL = "postgres://postgres@127.0.0.1:5432/test";

/** Each call site, with a hostile value put in one position. */
type Call = readonly [name: string, code: string, call: (v: unknown) => unknown];

const CALLS: readonly Call[] = [
  ["createPostgresStore(v)", "INVALID_OPTIONS", (v) => createPostgresStore(v as never)],
  ["createPostgresStore({ pool: v })", "INVALID_OPTIONS", (v) => createPostgresStore({ pool: v } as never)],
  ...["connectionString", "schema", "leaseMs", "processId", "readTimeoutMs", "notify", ...RETENTION_KEYS].map(
    (key) =>
      [
        `createPostgresStore({ ${key}: v })`,
        "INVALID_OPTIONS",
        (v: unknown) => createPostgresStore({ connectionString: PG_URL, [key]: v } as never),
      ] as const,
  ),
  ["createDemoModel(v)", "INVALID_ARGUMENT", (v) => createDemoModel(v as never)],
  ...["latencyMs", "failOn", "seed", "sleep"].map(
    (key) =>
      [
        `createDemoModel({ ${key}: v })`,
        "INVALID_ARGUMENT",
        (v: unknown) => createDemoModel({ [key]: v }),
      ] as const,
  ),
  ["defineTool(v)", "INVALID_ARGUMENT", (v) => defineTool(v as never)],
  ...["name", "description", "execute", "timeoutMs", "executor", "module", "schema"].map(
    (key) =>
      [
        `defineTool({ ${key}: v })`,
        "INVALID_ARGUMENT",
        (v: unknown) => defineTool({ ...good, [key]: v } as never),
      ] as const,
  ),
  ["createToolRegistry(v)", "INVALID_ARGUMENT", (v) => createToolRegistry(v as never)],
  ["createToolRegistry([v])", "INVALID_ARGUMENT", (v) => createToolRegistry([tool, v] as never)],
  [
    "createToolRegistry([{ name: v }])",
    "INVALID_ARGUMENT",
    (v) => createToolRegistry([{ ...tool, name: v }] as never),
  ],
  ["createFileTools(v)", "INVALID_ARGUMENT", (v) => createFileTools(v as never)],
  ["createFileTools({ root: v })", "INVALID_ARGUMENT", (v) => createFileTools({ root: v } as never)],
  [
    "createFileTools({ readBytesMax: v })",
    "INVALID_ARGUMENT",
    (v) => createFileTools({ root: ".", readBytesMax: v } as never),
  ],
  ["fromAiSdk(v)", "INVALID_ARGUMENT", (v) => fromAiSdk(v as never)],
  ["fromAiSdk(model, v)", "INVALID_ARGUMENT", (v) => fromAiSdk(languageModel as never, v as never)],
  ...["id", "redact", "temperature"].map(
    (key) =>
      [
        `fromAiSdk(model, { ${key}: v })`,
        "INVALID_ARGUMENT",
        (v: unknown) => fromAiSdk(languageModel as never, { [key]: v }),
      ] as const,
  ),
  ["createScriptedModel(v)", "INVALID_ARGUMENT", (v) => createScriptedModel(v as never)],
  [
    "createApp({ tokens: v })",
    "INVALID_OPTIONS",
    (v) => createApp({ runtime: {} as never, tokens: v as never }),
  ],
  [
    "createApp({ tokens: [v] })",
    "INVALID_OPTIONS",
    (v) => createApp({ runtime: {} as never, tokens: [v] as never }),
  ],
  ...["token", "sha256", "sessionPrefix", "verbs"].map(
    (key) =>
      [
        `createApp({ tokens: [{ ${key}: v }] })`,
        "INVALID_OPTIONS",
        (v: unknown) => createApp({ runtime: {} as never, tokens: [{ [key]: v }] as never }),
      ] as const,
  ),
];

describe("constructors under hostile input", () => {
  it.each(CALLS)("%s: the five values that break naive checks are refused cleanly", (_name, code, call) => {
    for (const value of theFive()) refusedCleanly(code, () => call(value));
  });

  it.each(CALLS)("%s: random and adversarial values", (_name, code, call) => {
    fc.assert(
      fc.property(hostile(), ({ v }) => refusedCleanly(code, () => call(v))),
      fuzzParameters(Math.ceil(RUNS / 4)),
    );
  });

  it.each(RETENTION_KEYS)(
    "createPostgresStore({ %s }): NaN, negative, zero, fractional, a string, a getter that throws are refused, quoted",
    (key) => {
      for (const value of [Number.NaN, -1, 0, 2.5, "100", Number.POSITIVE_INFINITY, 2 ** 53]) {
        const call = () => createPostgresStore({ connectionString: PG_URL, [key]: value });
        expect(call).toThrow(`createPostgresStore(): ${key} must be a positive integer; got `);
        refusedCleanly("INVALID_OPTIONS", call);
      }
      const getter = Object.defineProperty({ connectionString: PG_URL }, key, {
        enumerable: true,
        get() {
          throw new Error("boom");
        },
      });
      expect(() => createPostgresStore(getter)).toThrow(expect.objectContaining({ code: "INVALID_OPTIONS" }));
      refusedCleanly("INVALID_OPTIONS", () => createPostgresStore(getter));
      // And a good one is taken.
      expect(createPostgresStore({ connectionString: PG_URL, [key]: 7 }).kind).toBe("postgres");
    },
  );

  it("createPostgresStore(options) and createDemoModel(options) as whole options objects", () => {
    const postgres = optionsLike({
      connectionString: fc.constant(PG_URL),
      schema: fc.constantFrom("offstage", "no-dashes"),
      leaseMs: fc.integer({ min: 0, max: 200 }),
      processId: fc.string({ maxLength: 4 }),
      notify: fc.boolean(),
      ...Object.fromEntries(RETENTION_KEYS.map((key) => [key, fc.integer({ min: -2, max: 5 })])),
    });
    const demo = optionsLike({ latencyMs: fc.integer({ min: -1, max: 5 }), seed: fc.double() });
    fc.assert(
      fc.property(postgres, demo, argument(fc.constant(schema)), ({ v: p }, { v: d }, { v: s }) => {
        refusedCleanly("INVALID_OPTIONS", () => createPostgresStore(p as never));
        refusedCleanly("INVALID_ARGUMENT", () => createDemoModel(d as never));
        refusedCleanly("INVALID_ARGUMENT", () => defineTool({ ...good, schema: s } as never));
      }),
      fuzzParameters(RUNS),
    );
  });

  it("a token that is refused is never quoted", () => {
    const secret = "short-secret\uD83C";
    let message = "";
    try {
      createApp({ runtime: {} as never, tokens: [{ token: secret }] });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe(
      "serve: tokens[0].token must be 16 or more printable ASCII characters; got 13 characters (string, not shown)",
    );
  });
});
