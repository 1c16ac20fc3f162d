/**
 * Every public entry point, called with bad arguments, throws (or rejects with) the specific typed
 * `OffstageError` subclass and code, and changes nothing: the runtime's counts, every session's
 * history and every input's status are the same before and after.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { OffstageErrorCode, Runtime, Session, TurnHandle } from "../../src/index.js";
import { BootError, CapacityError, InvalidInputError, OffstageError } from "../../src/index.js";
import { flush, until } from "../support/async.js";
import { type GatedFunction, gatedFunction, stateOf, testRuntime } from "../support/runtime.js";

type ErrorClass = typeof InvalidInputError | typeof BootError | typeof CapacityError | typeof OffstageError;

interface World {
  runtime: Runtime;
  fn: GatedFunction;
  s: Session;
  t: Session;
  done: TurnHandle;
  running: TurnHandle;
  queued: TurnHandle;
}

const PAYLOAD_BYTES_MAX = 1024;
let world: World;

beforeEach(async () => {
  const fn = gatedFunction();
  const { runtime } = testRuntime(
    { f: fn.agent, g: { run: async () => "g" } },
    { limits: { payloadBytesMax: PAYLOAD_BYTES_MAX } },
  );
  await runtime.start();
  const s = runtime.session("s", { agent: "f" });
  const t = runtime.session("t", { agent: "g" });
  const done = s.send("done");
  await until(() => fn.calls.length === 1);
  fn.calls[0]!.gate.resolve("finished");
  await done.result();
  const running = s.send("running");
  const queued = s.send("queued");
  await until(() => fn.calls.length === 2);
  world = { runtime, fn, s, t, done, running, queued };
});

afterEach(async () => {
  await world.runtime.stop();
});

function snapshot() {
  const { runtime, s, t, done, running, queued } = world;
  return stateOf(runtime, [s, t], [done, running, queued]);
}

/** Calls `call`, returning what it threw or rejected with (or fails if it did neither). */
async function refusal(call: () => unknown): Promise<unknown> {
  let result: unknown;
  try {
    result = call();
  } catch (error) {
    return error;
  }
  if (result instanceof Promise) {
    try {
      await result;
    } catch (error) {
      return error;
    }
  }
  throw new Error(`the call was accepted: ${String(result)}`);
}

async function expectRefused(
  call: () => unknown,
  type: ErrorClass,
  code: OffstageErrorCode,
  quoted?: string,
): Promise<void> {
  const before = snapshot();
  const error = await refusal(call);
  expect(error).toBeInstanceOf(type);
  expect((error as OffstageError).code).toBe(code);
  if (quoted !== undefined) expect((error as Error).message).toContain(quoted);
  await flush();
  expect(snapshot()).toEqual(before);
}

const INVALID = "INVALID_ARGUMENT";
const circular: Record<string, unknown> = { a: 1 };
circular.self = circular;

describe("runtime.session()", () => {
  it.each<[string, unknown, string]>([
    ["a number", 42, "42 (number)"],
    ["undefined", undefined, "undefined"],
    ["null", null, "null (null)"],
    ["an object", { id: "s" }, '{"id":"s"} (object)'],
    ["empty", "", '"" (string)'],
    ["257 characters", "x".repeat(257), '"xxxx'],
    ["a newline", "a\nb", '"a\\nb" (string)'],
    ["a tab", "a\tb", '"a\\tb" (string)'],
    ["a NUL", "a\u0000b", '"a\\u0000b" (string)'],
    ["an escape", "\u001b[31m", '"\\u001b[31m" (string)'],
    ["a lone high surrogate", "user-\uD83C", '"user-\\ud83c" (string)'],
    ["another lone high surrogate", "user-\uD83D", '"user-\\ud83d" (string)'],
    ["a lone low surrogate", "\uDFFFuser", '"\\udfffuser" (string)'],
    ["a pair in the wrong order", "\uDE00\uD83D", '"\\ude00\\ud83d" (string)'],
    ["a DEL", "a\u007fb", '"a\\u007fb" (string)'],
    ["a C1 control (NEL)", "a\u0085b", '"a\\u0085b" (string)'],
    ["a line separator", "a\u2028b", '"a\\u2028b" (string)'],
    ["a paragraph separator", "a\u2029b", '"a\\u2029b" (string)'],
  ])("an id that is %s → InvalidInputError INVALID_ARGUMENT", async (_name, id, quoted) => {
    await expectRefused(
      () => world.runtime.session(id as string, { agent: "f" }),
      InvalidInputError,
      INVALID,
      quoted,
    );
  });

  it("a 256-character printable id is fine", () => {
    const id = "é".repeat(256);
    expect(world.runtime.session(id, { agent: "g" }).id).toBe(id);
  });

  it("a surrogate pair (an emoji) and U+FFFD itself are well-formed ids", () => {
    for (const id of ["user-\uD83C\uDF89", "user-\uFFFD"])
      expect(world.runtime.session(id, { agent: "g" }).id).toBe(id);
  });

  it("options that are not an object → INVALID_ARGUMENT", async () => {
    await expectRefused(() => world.runtime.session("new", "f" as never), InvalidInputError, INVALID, '"f"');
    await expectRefused(
      () => world.runtime.session("new", null as never),
      InvalidInputError,
      INVALID,
      "null",
    );
  });

  it("an unknown agent → UNKNOWN_AGENT, listing the known ones", async () => {
    await expectRefused(
      () => world.runtime.session("new", { agent: "nope" }),
      InvalidInputError,
      "UNKNOWN_AGENT",
      'agents (f, g); got "nope" (string)',
    );
    await expectRefused(
      () => world.runtime.session("s", { agent: "nope" }),
      InvalidInputError,
      "UNKNOWN_AGENT",
    );
  });

  it("an unknown session without an agent → UNKNOWN_SESSION", async () => {
    await expectRefused(() => world.runtime.session("new"), InvalidInputError, "UNKNOWN_SESSION", '"new"');
  });

  it("an existing session named with another agent → INVALID_ARGUMENT", async () => {
    await expectRefused(
      () => world.runtime.session("s", { agent: "g" }),
      InvalidInputError,
      INVALID,
      '"f", the agent of session "s"; got "g" (string)',
    );
  });
});

describe("session.send()", () => {
  it.each<[string, unknown, string]>([
    ["a string", "interrupt", '"interrupt" (string)'],
    ["a number", 5, "5 (number)"],
    ["null", null, "null (null)"],
  ])("options that are %s → INVALID_ARGUMENT", async (_name, options, quoted) => {
    await expectRefused(() => world.s.send("x", options as never), InvalidInputError, INVALID, quoted);
  });

  it.each<[string, unknown]>([
    ["unknown", "yolo"],
    ["a number", 1],
    ["a differently cased name", "Enqueue"],
  ])("a policy that is %s → INVALID_ARGUMENT", async (_name, policy) => {
    await expectRefused(
      () => world.s.send("x", { policy: policy as never }),
      InvalidInputError,
      INVALID,
      "one of enqueue, reject, interrupt, merge, steer",
    );
  });

  it.each<[string, unknown, string]>([
    ["empty", "", '"" (string)'],
    ["a number", 5, "5 (number)"],
    ["null", null, "null (null)"],
    ["257 characters", "k".repeat(257), '"kkkk'],
    ["a lone high surrogate", "\uD800", '"\\ud800" (string)'],
    ["a lone low surrogate", "\uDFFF", '"\\udfff" (string)'],
    ["a NUL", "k\u0000", '"k\\u0000" (string)'],
    ["a DEL", "k\u007f", '"k\\u007f" (string)'],
    ["a C1 control", "k\u009b", '"k\\u009b" (string)'],
    ["a line separator", "k\u2028", '"k\\u2028" (string)'],
  ])("an idempotencyKey that is %s → INVALID_ARGUMENT", async (_name, key, quoted) => {
    await expectRefused(
      () => world.s.send("x", { idempotencyKey: key as never }),
      InvalidInputError,
      INVALID,
      quoted,
    );
  });

  it.each<[string, unknown, string]>([
    ["a BigInt", 10n, "BigInt"],
    ["a nested BigInt", { n: 1n }, "BigInt"],
    ["circular", circular, "payload.self must be a JSON value; it is a cycle"],
    ["undefined", undefined, "undefined"],
    ["a function", () => 1, "a function"],
    ["a symbol", Symbol("s"), "a symbol"],
  ])("a payload that is %s → INVALID_ARGUMENT", async (_name, payload, quoted) => {
    await expectRefused(() => world.s.send(payload), InvalidInputError, INVALID, quoted);
  });

  it("an oversized payload → PAYLOAD_TOO_LARGE with its size in bytes (UTF-8)", async () => {
    // 600 two-byte characters: 1202 bytes as JSON, though only 602 characters long.
    await expectRefused(
      () => world.s.send("é".repeat(600)),
      InvalidInputError,
      "PAYLOAD_TOO_LARGE",
      `1202 bytes as JSON; the limit is ${PAYLOAD_BYTES_MAX}`,
    );
    await expectRefused(
      () => world.s.send({ text: "x".repeat(PAYLOAD_BYTES_MAX) }),
      InvalidInputError,
      "PAYLOAD_TOO_LARGE",
    );
    // Exactly at the limit is accepted.
    const fits = world.t.send("x".repeat(PAYLOAD_BYTES_MAX - 2));
    expect(fits.status).toBe("queued");
  });

  it("a refused send with an idempotency key does not claim the key", async () => {
    await expectRefused(() => world.s.send(10n, { idempotencyKey: "k" }), InvalidInputError, INVALID);
    const h = world.t.send("fine", { idempotencyKey: "k" });
    expect((await h.result()).output).toBe("g");
  });
});

describe("session.invoke()", () => {
  it.each<[string, unknown]>([
    ["null options", null],
    ["a number for options", 1000],
    ["a negative timeout", { timeoutMs: -1 }],
    ["a NaN timeout", { timeoutMs: Number.NaN }],
    ["a signal that is not an AbortSignal", { signal: "stop" }],
    ["a bad policy", { policy: "yolo" }],
  ])("%s → INVALID_ARGUMENT before anything is sent", async (_name, options) => {
    await expectRefused(() => world.t.invoke("x", options as never), InvalidInputError, INVALID);
  });
});

/** Bad `timeoutMs` options, each with the text its message must quote. */
const BAD_TIMEOUTS: [string, unknown, string][] = [
  ["a negative timeoutMs", { timeoutMs: -1 }, "-1 (number)"],
  ["a NaN timeoutMs", { timeoutMs: Number.NaN }, "(number)"],
  ["an infinite timeoutMs", { timeoutMs: Number.POSITIVE_INFINITY }, "(number)"],
  ["a string timeoutMs", { timeoutMs: "100" }, '"100" (string)'],
];

describe("handle.result()", () => {
  it.each<[string, unknown, string]>([
    ...BAD_TIMEOUTS,
    ["a null timeout", { timeoutMs: null }, "null (null)"],
    ["a signal that is not an AbortSignal", { signal: { aborted: false } }, '{"aborted":false} (object)'],
    ["null options", null, "null (null)"],
    ["a number for options", 5000, "5000 (number)"],
  ])("%s → INVALID_ARGUMENT, and the handle is untouched", async (_name, options, quoted) => {
    for (const handle of [world.done, world.running, world.queued]) {
      await expectRefused(() => handle.result(options as never), InvalidInputError, INVALID, quoted);
    }
  });
});

describe("handle.cancel()", () => {
  it.each<[string, unknown, string]>([
    ["an unknown mode", { mode: "soon" }, '"soon" (string)'],
    ["a numeric mode", { mode: 1 }, "1 (number)"],
    ["a non-string reason", { reason: 5 }, "5 (number)"],
    ["null options", null, "null (null)"],
    ["a string for options", "now", '"now" (string)'],
  ])("%s → INVALID_ARGUMENT; nothing is cancelled", async (_name, options, quoted) => {
    for (const handle of [world.running, world.queued]) {
      await expectRefused(() => handle.cancel(options as never), InvalidInputError, INVALID, quoted);
    }
    expect(world.fn.calls[1]!.signal.aborted).toBe(false);
  });
});

describe("handle.withdraw()", () => {
  it("of a running or settled input → OffstageError NOT_WITHDRAWABLE", async () => {
    await expectRefused(() => world.running.withdraw(), OffstageError, "NOT_WITHDRAWABLE", world.running.id);
    await expectRefused(() => world.done.withdraw(), OffstageError, "NOT_WITHDRAWABLE", "completed");
  });
});

describe("runtime.stop()", () => {
  it.each<[string, unknown, string]>([
    ...BAD_TIMEOUTS,
    ["a string drain", { drain: "yes" }, '"yes" (string)'],
    ["a numeric force", { force: 1 }, "1 (number)"],
    ["null options", null, "null (null)"],
    ["a boolean for options", true, "true (boolean)"],
  ])("%s → INVALID_ARGUMENT; the runtime keeps running", async (_name, options, quoted) => {
    await expectRefused(() => world.runtime.stop(options as never), InvalidInputError, INVALID, quoted);
    expect(world.runtime.state).toBe("running");
  });
});

describe("runtime.start()", () => {
  it("while running → BootError ALREADY_STARTED", async () => {
    await expectRefused(() => world.runtime.start(), BootError, "ALREADY_STARTED");
  });
});

describe("runtime.on()", () => {
  it.each<[string, unknown, string]>([
    ["a number", 5, "5 (number)"],
    ["undefined", undefined, "undefined"],
    ["an object", { handleEvent: () => {} }, "(object)"],
  ])("a listener that is %s → INVALID_ARGUMENT", async (_name, listener, quoted) => {
    await expectRefused(() => world.runtime.on(listener as never), InvalidInputError, INVALID, quoted);
  });
});

describe("runtime.handle()", () => {
  it.each<[string, unknown, string]>([
    ["a number", 5, "5 (number)"],
    ["undefined", undefined, "undefined"],
    ["an object", { id: "x" }, '{"id":"x"} (object)'],
    ["a lone surrogate", "x\uD83C", '"x\\ud83c" (string)'],
    ["a C1 control", "x\u0085", '"x\\u0085" (string)'],
  ])("an id that is %s → INVALID_ARGUMENT", async (_name, id, quoted) => {
    await expectRefused(() => world.runtime.handle(id as never), InvalidInputError, INVALID, quoted);
  });

  it("an unknown id is not an error: undefined", () => {
    expect(world.runtime.handle("nope")).toBeUndefined();
  });
});

describe("refusals while busy", () => {
  it("policy reject → CapacityError SESSION_BUSY", async () => {
    await expectRefused(() => world.s.send("x", { policy: "reject" }), CapacityError, "SESSION_BUSY");
  });

  it("an idempotency conflict → IDEMPOTENCY_CONFLICT", async () => {
    world.s.send("one", { idempotencyKey: "same" });
    await expectRefused(
      () => world.s.send("two", { idempotencyKey: "same" }),
      InvalidInputError,
      "IDEMPOTENCY_CONFLICT",
    );
  });
});
