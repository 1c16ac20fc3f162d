/**
 * Whatever a tool, a model, a function agent or a listener throws — a value with no prototype, one
 * whose `toString` or getters throw, a revoked proxy, a symbol, a huge string — becomes a terminal
 * outcome with a readable, bounded reason: the session is never wedged (its next input runs), no
 * rejection escapes unhandled, and `stop()` reports `clean` because everything settled. A `send()`
 * whose `input.accepted` listener throws still returns its handle: it accepted the input.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Agent, Logger, ModelPart, TurnHandle } from "../../src/index.js";
import { CAUSE_CHARS_MAX } from "../../src/kernel/limits.js";
import { describeCause } from "../../src/kernel/outcome.js";
import { until } from "../support/async.js";
import { callTools, scriptedModel, text, toolCall } from "../support/models.js";
import { testRuntime } from "../support/runtime.js";
import { tool } from "../support/tools.js";

/** Values that cannot be turned into a string the ordinary way, by name. */
function hostileValues(): [string, unknown][] {
  const noPrototype = Object.create(null) as object;
  const throwingToString = {
    toString() {
      throw new Error("toString refused");
    },
    valueOf() {
      throw new Error("valueOf refused");
    },
    toJSON() {
      throw new Error("toJSON refused");
    },
  };
  const throwingPrimitive = {
    [Symbol.toPrimitive]() {
      throw new Error("no primitive");
    },
  };
  class GetterError extends Error {
    override get message(): string {
      throw new Error("message getter refused");
    }
    override get name(): string {
      throw new Error("name getter refused");
    }
  }
  const revocable = Proxy.revocable({}, {});
  revocable.revoke();
  const trapAll = new Proxy(
    {},
    {
      get() {
        throw new Error("get trap");
      },
      getPrototypeOf() {
        throw new Error("getPrototypeOf trap");
      },
      ownKeys() {
        throw new Error("ownKeys trap");
      },
      has() {
        throw new Error("has trap");
      },
    },
  );
  return [
    ["an object with no prototype", noPrototype],
    ["an object whose toString, valueOf and toJSON throw", throwingToString],
    ["an object whose Symbol.toPrimitive throws", throwingPrimitive],
    ["an Error whose message and name getters throw", new GetterError()],
    ["a revoked proxy", revocable.proxy],
    ["a proxy whose every trap throws", trapAll],
    ["a symbol", Symbol("hostile")],
    ["a huge string", "x".repeat(5_000_000)],
    ["undefined", undefined],
    ["null", null],
  ];
}

const HOSTILE = hostileValues();
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeEach(() => {
  unhandled.length = 0;
  process.on("unhandledRejection", onUnhandled);
});

afterEach(() => {
  process.off("unhandledRejection", onUnhandled);
});

/** A logger that records what it was told. */
function recordingLogger(): Logger & { errors: string[] } {
  const errors: string[] = [];
  return { errors, warn: () => {}, error: (_details, message) => errors.push(message) };
}

/** Runs `first` then a plain input on the same session; both must settle, and stop() must be clean. */
async function expectContained(agent: Agent, check: (handle: TurnHandle) => void): Promise<void> {
  const { runtime } = testRuntime({ a: agent, ok: { run: () => "fine" } });
  await runtime.start();
  const s = runtime.session("s", { agent: "a" });
  const first = s.send("first");
  const second = s.send("second");
  await until(() => first.done && second.done, "both inputs to settle");
  check(first);
  expect(second.done).toBe(true);
  await new Promise((resolve) => setImmediate(resolve));
  expect(unhandled).toEqual([]);
  expect(runtime.metrics().runningTurns).toBe(0);
  expect(await runtime.stop()).toBe("clean");
}

function expectReadableReason(handle: TurnHandle, status: string, code: string): void {
  const outcome = handle.poll()!.outcome;
  expect(outcome.status).toBe(status);
  expect(outcome.reason.code).toBe(code);
  expect(typeof outcome.reason.message).toBe("string");
  expect(outcome.reason.message.length).toBeGreaterThan(0);
  expect(outcome.reason.message.length).toBeLessThan(CAUSE_CHARS_MAX + 200);
}

describe("describeCause", () => {
  it.each(HOSTILE)("never throws and stays bounded for %s", (_name, value) => {
    const text = describeCause(value);
    expect(typeof text).toBe("string");
    expect(text.length).toBeGreaterThan(0);
    expect(text.length).toBeLessThanOrEqual(CAUSE_CHARS_MAX + 40);
  });

  it("says how much of a long cause it cut, and never cuts a surrogate pair in half", () => {
    const long = `${"a".repeat(CAUSE_CHARS_MAX - 1)}😀tail`;
    const text = describeCause(long);
    expect(text).toMatch(/\.\.\. \(6 more characters\)$/);
    expect(text).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });

  it("shows a plain thrown object as JSON rather than [object Object]", () => {
    expect(describeCause({ status: 429 })).toBe('{"status":429}');
  });
});

describe("a function agent that throws a hostile value", () => {
  it.each(HOSTILE)("%s: fails the turn with a readable reason; the session goes on", async (_name, value) => {
    await expectContained({ run: (input) => (input === "first" ? Promise.reject(value) : "ok") }, (h) =>
      expectReadableReason(h, "failed", "function_error"),
    );
  });

  it.each(HOSTILE)("%s, thrown synchronously: the same", async (_name, value) => {
    await expectContained(
      {
        run: (input) => {
          if (input === "first") throw value;
          return "ok";
        },
      },
      (h) => expectReadableReason(h, "failed", "function_error"),
    );
  });
});

describe("a function agent that returns what JSON cannot carry", () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  it.each<[string, unknown, string]>([
    ["a BigInt", 10n, "output must be a JSON value; it is a BigInt"],
    ["a Date inside", { at: new Date(0) }, "output.at must be a JSON value; it is a Date"],
    ["a cycle", cyclic, "output.self must be a JSON value; it is a cycle"],
    ["NaN inside", [1, Number.NaN], "output[1] must be a JSON value; it is NaN"],
  ])("%s: fails the turn naming where", async (_name, value, message) => {
    await expectContained({ run: (input) => (input === "first" ? value : "ok") }, (h) => {
      expectReadableReason(h, "failed", "function_error");
      expect(h.poll()!.outcome.reason.message).toContain(message);
    });
  });
});

describe("a tool that throws a hostile value", () => {
  it.each(HOSTILE)("%s: the model gets a tool error and the turn completes", async (_name, value) => {
    const model = scriptedModel((_request, call) =>
      call % 2 === 0 ? callTools(toolCall(`c${call}`, "bad", {})) : text("done"),
    );
    const bad = tool("bad", () => Promise.reject(value));
    await expectContained({ model, tools: [bad] }, (h) => {
      expect(h.poll()!.outcome.status).toBe("completed");
      const toolMessage = model.requests[1]!.prompt.find((m) => m.role === "tool");
      const result = toolMessage!.content[0] as { output: { type: string; value: string } };
      expect(result.output.type).toBe("error-text");
      expect(result.output.value).toMatch(/^bad failed: /);
      expect(result.output.value.length).toBeLessThan(CAUSE_CHARS_MAX + 100);
    });
  });

  it.each(HOSTILE)("%s, thrown synchronously or returned: the same", async (_name, value) => {
    const model = scriptedModel((_request, call) =>
      call % 2 === 0
        ? callTools(toolCall(`a${call}`, "throws", {}), toolCall(`b${call}`, "returns", {}))
        : text("done"),
    );
    const throws = tool("throws", () => {
      throw value;
    });
    const returns = tool("returns", () => value);
    await expectContained({ model, tools: [throws, returns] }, (h) => {
      expect(h.poll()!.outcome.status).toBe("completed");
    });
  });
});

describe("a model that throws a hostile value", () => {
  it.each(HOSTILE)("%s from stream(): the turn fails with a readable reason", async (_name, value) => {
    const model = {
      id: "hostile",
      stream: (request: { prompt: readonly unknown[] }) => {
        if (JSON.stringify(request.prompt).includes("first")) throw value;
        return text("ok");
      },
    };
    await expectContained({ model }, (h) => expectReadableReason(h, "failed", "model_error"));
  });

  it.each(HOSTILE)("%s from an async stream: the same", async (_name, value) => {
    const model = {
      id: "hostile",
      async *stream(request: { prompt: readonly unknown[] }): AsyncIterable<ModelPart> {
        if (JSON.stringify(request.prompt).includes("first")) throw value;
        yield* text("ok");
      },
    };
    await expectContained({ model }, (h) => expectReadableReason(h, "failed", "model_error"));
  });

  it.each(HOSTILE)("%s as an error part: the same", async (_name, value) => {
    const model = scriptedModel((request) =>
      JSON.stringify(request.prompt).includes("first") ? [{ type: "error", error: value }] : text("ok"),
    );
    await expectContained({ model }, (h) => expectReadableReason(h, "failed", "model_error"));
  });

  it.each(HOSTILE)("%s returned by stream(): the same", async (_name, value) => {
    const model = {
      id: "hostile",
      stream: (request: { prompt: readonly unknown[] }) =>
        (JSON.stringify(request.prompt).includes("first") ? value : text("ok")) as Iterable<ModelPart>,
    };
    await expectContained({ model }, (h) => expectReadableReason(h, "failed", "model_error"));
  });

  it.each<[string, unknown]>([
    [
      "a text-delta whose delta is an object",
      { type: "text-delta", id: "t", delta: { toString: () => "x" } },
    ],
    [
      "a tool-call whose input is not a string",
      { type: "tool-call", toolCallId: "c", toolName: "t", input: {} },
    ],
    [
      "a tool-call whose id is a symbol",
      { type: "tool-call", toolCallId: Symbol("c"), toolName: "t", input: "{}" },
    ],
    ["null", null],
  ])("a malformed part (%s): the turn fails as a model error", async (_name, part) => {
    const model = scriptedModel((request) =>
      JSON.stringify(request.prompt).includes("first") ? [part as ModelPart] : text("ok"),
    );
    await expectContained({ model, tools: [tool("t", () => "r")] }, (h) =>
      expectReadableReason(h, "failed", "model_error"),
    );
  });
});

describe("a listener that throws a hostile value", () => {
  it.each(HOSTILE)(
    "%s on input.accepted: send() still returns its handle, and the input runs once",
    async (_name, value) => {
      const logger = recordingLogger();
      let runs = 0;
      const { runtime } = testRuntime(
        {
          f: {
            run: () => {
              runs += 1;
              return "ran";
            },
          },
        },
        { logger },
      );
      await runtime.start();
      runtime.on((event) => {
        if (event.type === "input.accepted") throw value;
      });
      const s = runtime.session("s", { agent: "f" });
      const handles = [s.send("one"), s.send("two"), s.send("three")];
      for (const handle of handles) expect((await handle.result()).output).toBe("ran");
      expect(runs).toBe(3);
      expect(unhandled).toEqual([]);
      expect(await runtime.stop()).toBe("clean");
    },
  );

  it("is logged once, however often it throws, while other listeners go on hearing every event", async () => {
    const logger = recordingLogger();
    const { runtime } = testRuntime({ f: { run: () => "ok" } }, { logger });
    await runtime.start();
    const heard: string[] = [];
    runtime.on(() => {
      throw Object.create(null);
    });
    runtime.on((event) => heard.push(event.type));
    const s = runtime.session("s", { agent: "f" });
    for (let i = 0; i < 5; i++) await s.send(`n${i}`).result();
    expect(heard.filter((type) => type === "input.accepted")).toHaveLength(5);
    expect(logger.errors.filter((m) => m.includes("listener"))).toHaveLength(1);
    // A second listener that throws is logged once too.
    runtime.on(() => {
      throw new Error("second");
    });
    for (let i = 0; i < 3; i++) await s.send(`m${i}`).result();
    expect(logger.errors.filter((m) => m.includes("listener"))).toHaveLength(2);
    await runtime.stop();
  });

  it("a logger that throws too changes nothing", async () => {
    const logger: Logger = {
      warn: () => {
        throw Symbol("warn");
      },
      error: () => {
        throw Object.create(null);
      },
    };
    const { runtime } = testRuntime({ f: { run: () => "ok" } }, { logger });
    await runtime.start();
    runtime.on(() => {
      throw new Error("listener");
    });
    const handle = runtime.session("s", { agent: "f" }).send("x");
    expect((await handle.result()).output).toBe("ok");
    expect(await runtime.stop()).toBe("clean");
  });
});
