/**
 * Models by name, resolved at start from the installed provider packages: `openai:`, `openai.chat:`,
 * `anthropic:`, `openai-compatible:<baseURL>:<model>`. Credentials come from `options.providers`
 * before the environment; a missing key or package fails `start()` with a `BootError` that names
 * what to set or install and leaves nothing running; and a key never appears in logs, events,
 * errors, stored rows or metrics.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type BootError,
  createMemoryStore,
  createRuntime,
  defineTool,
  type Logger,
  type RuntimeOptions,
} from "../../src/index.js";
import { createAiSdkResolver } from "../../src/models/ai-sdk/index.js";
import { createSqliteStore } from "../../src/store/sqlite/index.js";
import { spyStore } from "../support/runtime.js";
import { type LoopbackLlm, startLoopbackLlm } from "./loopback-llm.js";

const ENV_KEYS = [
  "OPENAI_API_KEY",
  "ANTHROPIC_API_KEY",
  "OPENAI_BASE_URL",
  "ANTHROPIC_BASE_URL",
  "OPENAI_COMPATIBLE_API_KEY",
];
const saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const k of ENV_KEYS) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  for (const c of cleanups.splice(0)) await c();
});

async function server(): Promise<LoopbackLlm> {
  const llm = await startLoopbackLlm(() => ({ text: ["hello ", "by name"] }));
  cleanups.push(() => llm.close());
  return llm;
}

function quiet(extra: Partial<RuntimeOptions>, model: string): RuntimeOptions {
  return {
    store: createMemoryStore(),
    logger: { warn() {}, error() {} },
    agents: { a: { model } },
    ...extra,
  };
}

async function bootError(options: RuntimeOptions): Promise<BootError> {
  const runtime = createRuntime(options);
  const error = await runtime.start().then(
    () => undefined,
    (e: unknown) => e as BootError,
  );
  if (error === undefined) throw new Error("start() succeeded");
  expect(runtime.state).toBe("stopped");
  return error;
}

describe("models by name", () => {
  it("openai-compatible:<baseURL>:<model> reaches a local server, with no key; the model may hold colons", async () => {
    for (const k of ENV_KEYS) delete process.env[k];
    const llm = await server();
    const runtime = createRuntime(quiet({}, `openai-compatible:${llm.baseURL}:llama3.2:3b`));
    await runtime.start();
    const result = await runtime.session("s", { agent: "a" }).send("hi").result({ timeoutMs: 5_000 });
    expect(result.output).toBe("hello by name");
    expect(llm.requests[0]!.body.model).toBe("llama3.2:3b");
    expect(llm.requests[0]!.headers.authorization).toBeUndefined();
    await runtime.stop();
  });

  it("anthropic:, openai: (Responses) and openai.chat: use the explicit key and base URL over the environment", async () => {
    const llm = await server();
    process.env.ANTHROPIC_API_KEY = "env-anthropic-key";
    process.env.OPENAI_API_KEY = "env-openai-key";
    const providers = {
      anthropic: { apiKey: "explicit-anthropic-key", baseURL: llm.baseURL },
      openai: { baseURL: llm.baseURL },
    };
    const runtime = createRuntime({
      store: createMemoryStore(),
      logger: { warn() {}, error() {} },
      providers,
      agents: {
        claude: { model: "anthropic:claude-loopback" },
        gpt: { model: "openai:gpt-loopback" },
        chat: { model: "openai.chat:gpt-loopback" },
      },
    });
    await runtime.start();
    for (const agent of ["claude", "gpt", "chat"])
      expect((await runtime.session(agent, { agent }).send("hi").result({ timeoutMs: 5_000 })).output).toBe(
        "hello by name",
      );
    expect(llm.requests.map((r) => r.path)).toEqual([
      "/v1/messages",
      "/v1/responses",
      "/v1/chat/completions",
    ]);
    expect(llm.requests[0]!.headers["x-api-key"]).toBe("explicit-anthropic-key");
    expect(llm.requests[1]!.headers.authorization).toBe("Bearer env-openai-key");
    await runtime.stop();
  });

  it("a missing key fails start() with MODEL_KEY_MISSING naming the variable, before the store opens", async () => {
    delete process.env.ANTHROPIC_API_KEY;
    const spy = spyStore();
    const error = await bootError({ ...quiet({}, "anthropic:claude-x"), store: spy.store });
    expect(error.code).toBe("MODEL_KEY_MISSING");
    expect(error.message).toContain("ANTHROPIC_API_KEY");
    expect(error.message).toContain("providers.anthropic.apiKey");
    expect(spy.opens).toBe(0);
  });

  it("a missing provider package fails start() with MODEL_PACKAGE_MISSING naming what to install", async () => {
    const error = await bootError({
      ...quiet({ providers: { openai: { apiKey: "k-123456" } } }, "openai:gpt-5-mini"),
      modelResolver: createAiSdkResolver({
        importPackage: (name) => import(`${name}-that-is-not-installed`),
      }),
    });
    expect(error.code).toBe("MODEL_PACKAGE_MISSING");
    expect(error.message).toContain("npm install @ai-sdk/openai");
  });

  it("an unknown provider or a malformed openai-compatible name fails with MODEL_NAME_INVALID", async () => {
    expect((await bootError(quiet({}, "mistral:large"))).code).toBe("MODEL_NAME_INVALID");
    const bad = await bootError(quiet({}, "openai-compatible:localhost:llama"));
    expect(bad.code).toBe("MODEL_NAME_INVALID");
    expect(bad.message).toContain("openai-compatible:<baseURL>:<model>");
  });

  it("a named model in options.models is resolved too", async () => {
    delete process.env.OPENAI_API_KEY;
    const error = await bootError({
      ...quiet({}, "openai-compatible:http://127.0.0.1:9/v1:m"),
      models: { fast: "openai:gpt-5-nano" },
    });
    expect(error.code).toBe("MODEL_KEY_MISSING");
    expect(error.message).toContain("OPENAI_API_KEY");
  });
});

describe("a key never leaks", () => {
  it("is absent from logs, events, errors, stored rows and metrics, even when the provider echoes it", async () => {
    // Not shaped like a provider's key, so only Offstage's own redaction can keep it out, not the
    // logger's patterns for well-known key formats.
    const key = "loopback-credential-7f3a9c2e91";
    const llm = await startLoopbackLlm((request) =>
      request.lastUserText === "fail"
        ? {
            kind: "status",
            status: 401,
            message: `Incorrect API key provided: ${String(request.headers.authorization)}`,
          }
        : request.toolResults === 0
          ? { toolCalls: [{ id: "c1", name: "echo", args: ['{"say":"hi"}'] }] }
          : { kind: "status", status: 500, message: `upstream saw ${String(request.headers.authorization)}` },
    );
    cleanups.push(() => llm.close());
    const dir = mkdtempSync(join(tmpdir(), "offstage-key-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const logged: string[] = [];
    const write = (...args: unknown[]) => logged.push(JSON.stringify(args));
    const logger: Logger = { debug: write, info: write, warn: write, error: write };
    const echo = defineTool({
      name: "echo",
      description: "d",
      schema: z.object({ say: z.string() }),
      execute: ({ say }) => say,
    });
    const runtime = createRuntime({
      store: createSqliteStore({ path: join(dir, "db.sqlite") }),
      logger,
      providers: { "openai-compatible": { apiKey: key } },
      agents: {
        a: {
          model: `openai-compatible:${llm.baseURL}:m`,
          tools: [echo],
          retry: { attemptsMax: 2, backoffMs: 1 },
        },
      },
    });
    const events: string[] = [];
    runtime.on((event) => events.push(JSON.stringify(event)));
    await runtime.start();
    const session = runtime.session("s", { agent: "a" });
    const failed = await session.send("fail").result({ timeoutMs: 5_000 });
    expect(failed.reason.message).toContain("Incorrect API key provided: Bearer [redacted]");
    expect(logged.some((line) => line.includes("a model call failed"))).toBe(true);
    const retried = await session.send("go").result({ timeoutMs: 5_000 });
    expect(retried.status).toBe("failed");
    const thrown = await session
      .send("go")
      .result({ timeoutMs: 5_000 })
      .then((r) => JSON.stringify(r));
    expect(llm.requests.every((r) => r.headers.authorization === `Bearer ${key}`)).toBe(true);
    const metrics = JSON.stringify(runtime.metrics());
    const history = JSON.stringify(session.history());
    await runtime.stop();
    const everything = [
      ...logged,
      ...events,
      JSON.stringify(failed),
      JSON.stringify(retried),
      thrown,
      metrics,
      history,
    ].join("\n");
    expect(events.length).toBeGreaterThan(5);
    expect(everything).not.toContain(key);
    for (const file of readdirSync(dir))
      expect(readFileSync(join(dir, file)).includes(key), file).toBe(false);
  });

  it("is not quoted by a boot error either", async () => {
    const error = await bootError({
      ...quiet({ providers: { anthropic: { apiKey: "sk-never-shown-1234" } } }, "anthropic:claude"),
      modelResolver: createAiSdkResolver({
        importPackage: () => Promise.reject(new Error("boom sk-never-shown-1234")),
      }),
    });
    expect(error.code).toBe("MODEL_PACKAGE_MISSING");
    expect(JSON.stringify({ message: error.message, details: error.details })).not.toContain(
      "sk-never-shown-1234",
    );
  });
});
