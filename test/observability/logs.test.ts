/**
 * Logs: a real `pino` logger plugs in as it is; lines carry structured fields (session, turn, input
 * ids, the error as an object with its cause); secrets never reach the output, whatever shape they
 * hide in; a logger that throws or lacks levels is contained.
 */
import { Writable } from "node:stream";
import pino from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createStderrLogger, type Logger, type Runtime } from "../../src/index.js";
import { errorFields, REDACTED, redactFields, redactText } from "../../src/runtime/redact.js";
import { createScriptedModel } from "../../src/testing/index.js";
import { until } from "../support/async.js";
import { testRuntime } from "../support/runtime.js";

const SECRETS = [
  "sk-proj-Abcdefghijklmnopqrstuvwxyz012345",
  "eyJhbGciOiJIUzI1NiJ9.payload.signature123",
  "sk-ant-api03-ZYXWVUTSRQPONMLKJIHGFEDCBA",
  "hunter2-password",
  "AIzaSyA1234567890abcdefghijklmnopqrstuv",
];

/** An error as a provider SDK might throw it: the key in the message, headers and body in fields. */
function providerError(): Error {
  const cause = Object.assign(new Error(`request rejected for key ${SECRETS[0]}`), {
    code: "ECONNRESET",
    requestHeaders: { Authorization: `Bearer ${SECRETS[1]}`, "x-api-key": SECRETS[2] },
  });
  return Object.assign(new Error("401 Unauthorized: Incorrect API key provided", { cause }), {
    statusCode: 401,
    url: `https://api.example.com/v1/chat?key=${SECRETS[4]}`,
    details: { password: SECRETS[3], attempt: 1 },
  });
}

const runtimes: Runtime[] = [];

afterEach(async () => {
  for (const runtime of runtimes.splice(0)) await runtime.stop();
});

function pinoCapture(level = "debug") {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).trimEnd().split("\n"));
      done();
    },
  });
  return { logger: pino({ level }, stream), lines, parsed: () => lines.map((l) => JSON.parse(l)) };
}

describe("logs", () => {
  it("a pino logger plugs in: a failed model call is one warn line with ids and the error as an object, secrets redacted", async () => {
    const { logger, lines, parsed } = pinoCapture();
    const model = createScriptedModel(() => providerError(), { id: "openai:gpt-test" });
    const { runtime } = testRuntime({ a: { model } }, { logger });
    runtimes.push(runtime);
    await runtime.start();
    const handle = runtime.session("s1", { agent: "a" }).send("hello");
    await handle.result();
    await runtime.stop();
    await until(() => lines.some((l) => l.includes("runtime stopped")), "the stop line");
    const warn = parsed().filter((l) => l.level === 40);
    expect(warn).toHaveLength(1);
    expect(warn[0]).toMatchObject({
      msg: "a model call failed; its turn ends failed (model_error)",
      sessionId: "s1",
      turnId: handle.turnId,
      model: "openai:gpt-test",
      error: {
        name: "Error",
        message: "401 Unauthorized: Incorrect API key provided",
        statusCode: 401,
        details: { password: REDACTED, attempt: 1 },
        cause: { name: "Error", code: "ECONNRESET", message: `request rejected for key ${REDACTED}` },
      },
    });
    expect(warn[0].url).toBeUndefined();
    expect(warn[0].error.url).toBe(`https://api.example.com/v1/chat?key=${REDACTED}`);
    const info = parsed()
      .filter((l) => l.level === 30)
      .map((l) => l.msg);
    expect(info).toEqual(["offstage runtime started", "offstage runtime stopped (clean)"]);
    const output = lines.join("\n");
    for (const secret of SECRETS) expect(output).not.toContain(secret);
  });

  it("the runtime's own failures are error lines with the error as an object; a listener that throws is contained", async () => {
    const { logger, parsed } = pinoCapture("warn");
    const { runtime } = testRuntime({ f: { run: async () => "ok" } }, { logger });
    runtimes.push(runtime);
    runtime.on((event) => {
      if (event.type === "turn.started") throw providerError();
    });
    await runtime.start();
    await runtime.session("s", { agent: "f" }).send("x").result();
    const errors = parsed().filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      event: "turn.started",
      error: { message: expect.any(String), cause: {} },
    });
    expect(JSON.stringify(errors)).not.toContain(SECRETS[1]);
    // Level filtering is the logger's: info lines were never built for a warn-level pino.
    expect(parsed().some((l) => l.level < 40)).toBe(false);
  });

  it("a logger with only warn and error works; a logger that throws is contained", async () => {
    const partial: Logger = { warn: vi.fn(), error: vi.fn() };
    const throwing: Logger = {
      warn: () => {
        throw new Error("logger down");
      },
      error: () => {
        throw new Error("logger down");
      },
      info: () => {
        throw new Error("logger down");
      },
    };
    for (const logger of [partial, throwing]) {
      const model = createScriptedModel(() => new Error("boom"));
      const { runtime } = testRuntime({ a: { model } }, { logger });
      runtimes.push(runtime);
      await runtime.start();
      expect((await runtime.session("s", { agent: "a" }).send("x").result()).status).toBe("failed");
    }
    expect(partial.warn).toHaveBeenCalledTimes(1);
  });

  it("createStderrLogger: levels, JSON lines, redaction of what it is given", () => {
    const writes: string[] = [];
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
      writes.push(String(chunk));
      return true;
    });
    try {
      const logger = createStderrLogger({ level: "info", json: true });
      logger.debug?.({ a: 1 }, "hidden");
      logger.info?.({ sessionId: "s" }, "shown");
      expect(logger.isLevelEnabled?.("debug")).toBe(false);
    } finally {
      spy.mockRestore();
    }
    expect(writes).toHaveLength(1);
    expect(JSON.parse(writes[0]!)).toMatchObject({ level: "info", msg: "shown", sessionId: "s" });
  });
});

describe("redaction", () => {
  it("replaces secrets by field name and by shape, copies, and bounds what it copies", () => {
    const cyclic: Record<string, unknown> = { name: "loop" };
    cyclic.self = cyclic;
    const hostile = {};
    Object.defineProperty(hostile, "boom", {
      enumerable: true,
      get() {
        throw new Error("getter threw");
      },
    });
    const fields = redactFields({
      headers: new Headers({ authorization: `Bearer ${SECRETS[1]}`, accept: "json" }),
      nested: { apiKey: "k", client_secret: "c", list: [`token ${SECRETS[0]}`] },
      cyclic,
      hostile,
      long: "x".repeat(10_000),
    });
    expect(fields).toMatchObject({
      headers: { authorization: REDACTED, accept: "json" },
      nested: { apiKey: REDACTED, client_secret: REDACTED, list: [`token ${REDACTED}`] },
      cyclic: { name: "loop", self: "[Circular]" },
      hostile: { boom: "[unreadable: Error: getter threw]" },
    });
    expect((fields.long as string).length).toBeLessThan(4_100);
    expect(redactText(`Authorization: Bearer ${SECRETS[1]}`)).toBe(`Authorization: Bearer ${REDACTED}`);
    expect(errorFields("just a string")).toEqual({ message: "just a string" });
    expect(errorFields(providerError())).toMatchObject({ statusCode: 401, cause: { code: "ECONNRESET" } });
  });
});
