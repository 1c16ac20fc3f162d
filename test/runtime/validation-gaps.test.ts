/**
 * What issue #15 found accepted silently, each refused now with a typed error that names the problem
 * and changes nothing (the store's writes and the runtime's metrics are the same before and after):
 * durations a timer cannot honour (over 2³¹−1 ms a Node timer fires at once), unknown option keys at
 * every level (with the near name suggested), inherited keys, and payloads JSON cannot carry as
 * they are (named by path).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  BootError,
  createMemoryStore,
  createRuntime,
  InvalidInputError,
  type OffstageError,
  type Runtime,
  type RuntimeOptions,
  type Session,
  silentLogger,
} from "../../src/index.js";
import { TIMER_DELAY_MAX_MS } from "../../src/kernel/limits.js";
import { createSqliteStore } from "../../src/store/sqlite/index.js";
import { until } from "../support/async.js";
import { scriptedModel, text } from "../support/models.js";
import {
  type GatedFunction,
  gatedFunction,
  type StoreSpy,
  spyStore,
  stateOf,
  testRuntime,
} from "../support/runtime.js";
import { tool } from "../support/tools.js";

const TOO_LONG = TIMER_DELAY_MAX_MS + 1;

interface World {
  runtime: Runtime;
  spy: StoreSpy;
  fn: GatedFunction;
  s: Session;
  lead: Session;
}

let world: World;

beforeEach(async () => {
  const fn = gatedFunction();
  const inner = createMemoryStore();
  const spy = spyStore(inner);
  // The spy records the runtime's writes; the delegation log is the memory store's own.
  Object.assign(spy.store, { delegations: inner.delegations });
  const { runtime } = testRuntime(
    { f: fn.agent, lead: { model: scriptedModel(() => text("ok")), tools: [tool("look", () => "seen")] } },
    { store: spy.store },
  );
  await runtime.start();
  const s = runtime.session("s", { agent: "f" });
  s.send("running");
  await until(() => fn.calls.length === 1);
  const lead = runtime.session("lead", { agent: "lead" });
  world = { runtime, spy, fn, s, lead };
});

afterEach(async () => {
  await world.runtime.stop();
});

function snapshot() {
  const { runtime, s, lead, spy } = world;
  return {
    state: stateOf(runtime, [s, lead], []),
    writes: spy.writes.length,
    delegations: runtime.delegations.list().length,
  };
}

/** What `call` threw (or rejected with); fails if it did neither. */
async function refusal(call: () => unknown): Promise<OffstageError> {
  let result: unknown;
  try {
    result = call();
    if (result instanceof Promise) await result;
  } catch (error) {
    return error as OffstageError;
  }
  throw new Error("the call was accepted");
}

/** Refused with `InvalidInputError` `INVALID_ARGUMENT`, quoting `message`, and nothing changed. */
async function expectArgumentRefused(call: () => unknown, message: string | RegExp): Promise<void> {
  const before = snapshot();
  const error = await refusal(call);
  expect(error).toBeInstanceOf(InvalidInputError);
  expect(error.code).toBe("INVALID_ARGUMENT");
  if (typeof message === "string") expect(error.message).toContain(message);
  else expect(error.message).toMatch(message);
  await new Promise((resolve) => setImmediate(resolve));
  expect(snapshot()).toEqual(before);
}

/** `createRuntime` refuses with `BootError` `INVALID_OPTIONS`, quoting `message`; no store is opened. */
function expectOptionRefused(extra: Record<string, unknown>, message: string | RegExp): void {
  const spy = spyStore();
  const options = {
    logger: silentLogger,
    store: spy.store,
    agents: { f: { run: () => 1 } },
    ...extra,
  } as unknown as RuntimeOptions;
  let error: OffstageError | undefined;
  try {
    createRuntime(options);
  } catch (caught) {
    error = caught as OffstageError;
  }
  expect(error).toBeInstanceOf(BootError);
  expect(error!.code).toBe("INVALID_OPTIONS");
  if (typeof message === "string") expect(error!.message).toContain(message);
  else expect(error!.message).toMatch(message);
  expect(spy.opens).toBe(0);
  expect(spy.writes).toEqual([]);
}

function expectStoreRefused(make: () => unknown, message: string): void {
  let error: OffstageError | undefined;
  try {
    make();
  } catch (caught) {
    error = caught as OffstageError;
  }
  expect(error).toBeInstanceOf(BootError);
  expect(error!.code).toBe("INVALID_OPTIONS");
  expect(error!.message).toContain(message);
}

describe("durations longer than a timer honours (2^31-1 ms) are refused everywhere", () => {
  it("handle.result({ timeoutMs })", async () => {
    const handle = world.s.send("queued");
    await expectArgumentRefused(() => handle.result({ timeoutMs: TOO_LONG }), "timeoutMs must be");
    await expectArgumentRefused(() => handle.result({ timeoutMs: 3e9 }), "3000000000 (number)");
  });

  it("session.invoke({ timeoutMs }), before anything is sent", async () => {
    await expectArgumentRefused(() => world.s.invoke("x", { timeoutMs: 3e9 }), "timeoutMs must be");
  });

  it("runtime.stop({ timeoutMs })", async () => {
    await expectArgumentRefused(() => world.runtime.stop({ timeoutMs: 3e9 }), "timeoutMs must be");
    expect(world.runtime.state).toBe("running");
  });

  it("a delegate spec's limits.timeoutMs: nothing is dispatched", async () => {
    await expectArgumentRefused(
      () => world.lead.delegate({ goal: "x", limits: { timeoutMs: 3e9 } }),
      "limits.timeoutMs must be an integer number of milliseconds from 1 to 2147483647",
    );
  });

  it.each<[string, Record<string, unknown>, string]>([
    ["pollIntervalMs", { pollIntervalMs: 3e9 }, "pollIntervalMs must be"],
    ["slotQuantumMs", { slotQuantumMs: 3e9 }, "slotQuantumMs must be"],
    ["hogThresholdMs", { hogThresholdMs: 3e9 }, "hogThresholdMs must be"],
    ["limits.toolTimeoutMs", { limits: { toolTimeoutMs: 3e9 } }, "limits.toolTimeoutMs must be"],
    [
      "a tool's timeoutMs",
      {
        agents: {
          m: { model: scriptedModel(() => text("x")), tools: [tool("t", () => 1, { timeoutMs: 3e9 })] },
        },
      },
      "agents.m.tools[0].timeoutMs must be",
    ],
  ])("createRuntime: %s", (_name, extra, message) => {
    expectOptionRefused(extra, message);
  });

  it("createSqliteStore: groupCommitMs and busyTimeoutMs", () => {
    expectStoreRefused(
      () => createSqliteStore({ groupCommitMs: 3e9 }),
      "groupCommitMs must be a number of milliseconds from 0 to 2147483647; got 3000000000",
    );
    expectStoreRefused(
      () => createSqliteStore({ busyTimeoutMs: 3e9 }),
      "busyTimeoutMs must be an integer number of milliseconds from 0 to 2147483647; got 3000000000",
    );
    expect(() =>
      createSqliteStore({ groupCommitMs: TIMER_DELAY_MAX_MS, busyTimeoutMs: TIMER_DELAY_MAX_MS }),
    ).not.toThrow();
  });

  it("the longest allowed wait really waits (on the real clock, it does not fire after 1 ms)", async () => {
    const fn = gatedFunction();
    const runtime = createRuntime({
      logger: silentLogger,
      store: createMemoryStore(),
      agents: { f: fn.agent },
    });
    await runtime.start();
    const handle = runtime.session("s", { agent: "f" }).send("x");
    let outcome = "waiting";
    handle.result({ timeoutMs: TIMER_DELAY_MAX_MS }).then(
      () => (outcome = "resolved"),
      (error: OffstageError) => (outcome = error.code),
    );
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(outcome).toBe("waiting");
    await until(() => fn.calls.length === 1);
    fn.calls[0]!.gate.resolve("done");
    await until(() => outcome !== "waiting");
    expect(outcome).toBe("resolved");
    await runtime.stop();
  });

  it("staleAfterMs is not a timer (it is compared with a completion's age), so a long one is fine", () => {
    expect(() =>
      createRuntime({
        store: createMemoryStore(),
        agents: { f: { run: () => 1 } },
        delegation: { staleAfterMs: 30 * 24 * 60 * 60 * 1000 },
      }),
    ).not.toThrow();
    expectOptionRefused(
      { delegation: { staleAfterMs: Number.POSITIVE_INFINITY } },
      "delegation.staleAfterMs",
    );
  });
});

describe("unknown option keys are refused at every level, naming the near key", () => {
  it.each<[string, Record<string, unknown>, string | RegExp]>([
    [
      "createRuntime()",
      { pollIntervalMS: 5 },
      "options.pollIntervalMS is not a known key; did you mean pollIntervalMs?",
    ],
    [
      "limits",
      { limits: { inboxLenghtMax: 5 } },
      "limits.inboxLenghtMax is not a known key; did you mean inboxLengthMax?",
    ],
    [
      "delegation",
      { delegation: { runingMax: 5 } },
      "delegation.runingMax is not a known key; did you mean runningMax?",
    ],
    [
      "delegation.budget",
      { delegation: { budget: { tokenMax: 5 } } },
      "delegation.budget.tokenMax is not a known key; did you mean tokensMax?",
    ],
    [
      "a model agent",
      { agents: { m: { model: scriptedModel(() => text("x")), sytem: "terse" } } },
      "agents.m.sytem is not a known key; did you mean system?",
    ],
    [
      "a function agent",
      { agents: { f: { run: () => 1, onCrsh: "fail" } } },
      "agents.f.onCrsh is not a known key; did you mean onCrash?",
    ],
    [
      "a key with no near name",
      { colour: "blue" },
      /options\.colour is not a known key; known keys: agents, store/,
    ],
  ])("%s", (_name, extra, message) => {
    expectOptionRefused(extra, message);
  });

  it("limits: keys inherited from the prototype, and Object.prototype's names", () => {
    expectOptionRefused(
      { limits: Object.create({ inboxLengthMax: 1 }) },
      "limits.inboxLengthMax is inherited from the object's prototype",
    );
    for (const key of ["toString", "constructor", "hasOwnProperty", "__proto__"]) {
      expectOptionRefused({ limits: JSON.parse(`{"${key}": 5}`) }, `limits.${key} is not a known key`);
    }
  });

  it("an array as agents", () => {
    expectOptionRefused(
      { agents: [{ run: () => 1 }] },
      "agents must be an object of agents by name; got [{}] (array)",
    );
  });

  it("a function agent that is an instance of a class may keep fields of its own", () => {
    class Counter {
      count = 0;
      run() {
        this.count += 1;
        return this.count;
      }
    }
    expect(() => createRuntime({ store: createMemoryStore(), agents: { c: new Counter() } })).not.toThrow();
  });

  it("send()", async () => {
    await expectArgumentRefused(
      () => world.s.send("x", { idempotencykey: "k" } as never),
      "send(): options.idempotencykey is not a known key; did you mean idempotencyKey?",
    );
  });

  it("result(), invoke() (before sending), cancel()", async () => {
    const handle = world.s.send("queued");
    await expectArgumentRefused(
      () => handle.result({ timeout: 5 } as never),
      "result(): options.timeout is not a known key; did you mean timeoutMs?",
    );
    await expectArgumentRefused(
      () => world.s.invoke("x", { polcy: "merge" } as never),
      "invoke(): options.polcy is not a known key; did you mean policy?",
    );
    await expectArgumentRefused(
      () => handle.cancel({ reson: "x" } as never),
      "cancel(): options.reson is not a known key; did you mean reason?",
    );
  });

  it("stop() and session()", async () => {
    await expectArgumentRefused(
      () => world.runtime.stop({ timeout: 5 } as never),
      "stop(): options.timeout is not a known key; did you mean timeoutMs?",
    );
    await expectArgumentRefused(
      () => world.runtime.session("new", { agnet: "f" } as never),
      "session(): options.agnet is not a known key; did you mean agent?",
    );
  });

  it("delegate() specs and their limits, delegations.list(), stopChildren()", async () => {
    await expectArgumentRefused(
      () => world.lead.delegate({ goal: "x", tool: ["look"] } as never),
      "delegate(): spec.tool is not a known key; did you mean tools?",
    );
    await expectArgumentRefused(
      () => world.lead.delegate({ goal: "x", limits: { timeout: 5 } } as never),
      "delegate(): limits.timeout is not a known key; did you mean timeoutMs?",
    );
    await expectArgumentRefused(
      () => world.runtime.delegations.list({ parentSessionID: "lead" } as never),
      "did you mean parentSessionId?",
    );
    await expectArgumentRefused(
      () => world.runtime.delegations.stopChildren("lead", { recursve: true } as never),
      "did you mean recursive?",
    );
  });

  it("createMemoryStore() and createSqliteStore()", () => {
    expectStoreRefused(
      () => createMemoryStore({ endedInputMax: 5 } as never),
      "createMemoryStore(): options.endedInputMax is not a known key; did you mean endedInputsMax?",
    );
    expectStoreRefused(
      () => createSqliteStore({ groupCommitMS: 5 } as never),
      "createSqliteStore(): options.groupCommitMS is not a known key; did you mean groupCommitMs?",
    );
    for (const bad of [-1, 0, 1.5, Number.NaN]) {
      expectStoreRefused(
        () => createMemoryStore({ endedInputsMax: bad }),
        "endedInputsMax must be a positive integer",
      );
    }
  });
});

describe("the delegation controls refuse what is not theirs to take", () => {
  it.each<[string, () => unknown, string]>([
    [
      "list(null)",
      () => world.runtime.delegations.list(null as never),
      "options must be an object; got null",
    ],
    [
      "stopChildren('p', null)",
      () => world.runtime.delegations.stopChildren("p", null as never),
      "options must be an object; got null",
    ],
    ["get(undefined)", () => world.runtime.delegations.get(undefined as never), "id must be"],
    [
      "interruptAll(5)",
      () => world.runtime.delegations.interruptAll(5 as never),
      "reason must be a string of 0-2000 characters; got 5 (number)",
    ],
    ["cancel(42)", () => world.runtime.delegations.cancel(42 as never), "id must be"],
  ])("%s → INVALID_ARGUMENT", async (_name, call, message) => {
    await expectArgumentRefused(call, message);
  });
});

describe("payloads JSON cannot carry as they are are refused, naming the path", () => {
  class Point {
    x = 1;
  }
  const cyclic: Record<string, unknown> = { a: [1, 2] };
  (cyclic.a as unknown[]).push({ back: cyclic });
  const getter = {
    get bad(): string {
      throw new Error("no reading");
    },
  };
  let deep: unknown = "bottom";
  for (let i = 0; i < 600; i++) deep = [deep];
  const hole: unknown[] = [1];
  hole[2] = 3;

  it.each<[string, unknown, string]>([
    ["NaN", { n: Number.NaN }, "payload.n must be a JSON value; it is NaN"],
    ["Infinity", [Number.POSITIVE_INFINITY], "payload[0] must be a JSON value; it is Infinity"],
    ["-Infinity at the top", Number.NEGATIVE_INFINITY, "payload must be a JSON value; it is -Infinity"],
    [
      "a Date deep inside",
      { items: [1, 2, 3, { at: new Date(0) }] },
      "payload.items[3].at must be a JSON value; it is a Date",
    ],
    ["a Map", { m: new Map() }, "payload.m must be a JSON value; it is a Map"],
    ["a Set", new Set([1]), "payload must be a JSON value; it is a Set"],
    ["undefined inside an object", { a: 1, b: undefined }, "payload.b must be a JSON value; it is undefined"],
    ["undefined inside an array", [1, undefined], "payload[1] must be a JSON value; it is undefined"],
    ["a hole in an array", hole, "payload[1] must be a JSON value; it is a hole"],
    ["a function inside", { f: () => 1 }, "payload.f must be a JSON value; it is a function"],
    ["a BigInt inside", { n: 10n }, "payload.n must be a JSON value; it is a BigInt"],
    ["a cycle", cyclic, "payload.a[2].back must be a JSON value; it is a cycle"],
    ["a getter that throws", getter, "payload.bad must be a JSON value; it is unreadable"],
    ["a class instance", { p: new Point() }, "payload.p must be a JSON value; it is an instance of Point"],
    [
      "an object with toJSON",
      { t: { toJSON: () => "x" } },
      "payload.t must be a JSON value; it is an object with a toJSON method",
    ],
    ["symbol keys", { [Symbol("k")]: 1 }, "payload must be a JSON value; it is an object with symbol keys"],
    ["an odd key", { "a b": [new Date(0)] }, 'payload["a b"][0] must be a JSON value'],
    ["nesting deeper than 512", deep, "nested more than 512 levels deep"],
  ])("%s", async (_name, payload, message) => {
    await expectArgumentRefused(() => world.s.send(payload), message);
  });

  it("plain JSON is accepted, as a private copy", async () => {
    const payload = { items: [1, "two", null, true, { deep: [[]] }], empty: {} };
    const handle = world.s.send(payload);
    payload.items.push(99);
    expect(handle.status).toBe("queued");
    const copy = Object.create(null) as Record<string, unknown>;
    copy.fine = 1;
    expect(world.s.send(copy).status).toBe("queued");
  });
});
