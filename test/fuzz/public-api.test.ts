/**
 * Property-based fuzzing of every public entry point (issue #15): random and adversarial values for
 * options, ids, payloads, send options, handle methods, delegation specs and controls, and store
 * options. Each call either does what it is for or refuses with a typed `OffstageError` whose code is
 * one of the call's stable codes — and a refusal changes nothing (the store's writes, the metrics, the
 * sessions and the handles are as they were). No call may throw anything else, no rejection may
 * escape unhandled, and no call may hang. Callbacks that throw or return hostile values are fuzzed
 * in `callbacks.test.ts`.
 *
 * Fixed seed; `OFFSTAGE_FUZZ_RUNS=5000 npx vitest run test/fuzz` for a longer campaign, and
 * `OFFSTAGE_FUZZ_SEED=<seed>` to replay a failure fast-check printed.
 */
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  createMemoryStore,
  createRuntime,
  isOffstageError,
  type OffstageErrorCode,
  type Runtime,
  type RuntimeOptions,
  type Session,
  silentLogger,
  type TurnHandle,
} from "../../src/index.js";
import { createSqliteStore } from "../../src/store/sqlite/index.js";
import type { VirtualClock } from "../../src/testing/index.js";
import { track, turnOfLoop, until } from "../support/async.js";
import { scriptedModel, text } from "../support/models.js";
import {
  type GatedFunction,
  gatedFunction,
  type StoreSpy,
  spyStore,
  testRuntime,
} from "../support/runtime.js";
import { tool } from "../support/tools.js";
import {
  argument,
  collectEscapes,
  fuzzParameters,
  hostile,
  idLike,
  isPrintableId,
  optionsLike,
} from "./hostile.js";

const RUNS = 300;
const escaped = collectEscapes({ beforeAll, afterAll });

interface World {
  runtime: Runtime;
  clock: VirtualClock;
  spy: StoreSpy;
  fn: GatedFunction;
  gated: Session;
  quick: Session;
  lead: Session;
  done: TurnHandle;
  running: TurnHandle;
  queued: TurnHandle;
}

let world: World;

async function makeWorld(): Promise<World> {
  const inner = createMemoryStore();
  const spy = spyStore(inner);
  Object.assign(spy.store, { delegations: inner.delegations });
  const fn = gatedFunction();
  const { runtime, clock } = testRuntime(
    {
      f: fn.agent,
      quick: { run: (input) => input ?? null },
      lead: { model: scriptedModel(() => text("ok")), tools: [tool("look", () => "seen")], delegates: true },
    },
    { store: spy.store, limits: { payloadBytesMax: 4_096, inboxLengthMax: 64 } },
  );
  await runtime.start();
  const gated = runtime.session("gated", { agent: "f" });
  const quick = runtime.session("quick", { agent: "quick" });
  const lead = runtime.session("lead", { agent: "lead" });
  const done = quick.send("done");
  await done.result();
  const running = gated.send("running");
  const queued = gated.send("queued");
  await until(() => fn.calls.length === 1);
  return { runtime, clock, spy, fn, gated, quick, lead, done, running, queued };
}

beforeEach(async () => {
  escaped.length = 0;
  world = await makeWorld();
});

afterEach(async () => {
  for (const call of world.fn.calls) call.gate.resolve("released");
  await world.runtime.stop();
  expect(escaped).toEqual([]);
});

/** Everything a refused call must leave as it was. */
function snapshot(): unknown {
  const { runtime, spy, done, running, queued } = world;
  const m = runtime.metrics();
  return {
    state: runtime.state,
    writes: spy.writes.length,
    sessions: runtime.sessionIds(),
    queued: m.queuedInputs,
    running: m.runningTurns,
    accepted: m.inputsAccepted,
    started: m.turnsStarted,
    ended: m.ended,
    delegations: runtime.state === "running" ? runtime.delegations.list().length : -1,
    handles: [done, running, queued].map((h) => `${h.status}:${h.turnId}`),
  };
}

/**
 * Calls `call`; when it throws (or returns a promise that rejects), the error must be an Offstage
 * error with one of `codes`, and the state must be as it was just before the call. Returns whether
 * the call was accepted.
 */
async function refusedCleanly(call: () => unknown, codes: readonly OffstageErrorCode[]): Promise<boolean> {
  const before = snapshot();
  let error: unknown;
  let refused = false;
  let after: unknown;
  try {
    const result = call();
    // A refusal is decided before the call returns: compare the state now, before any job runs.
    after = snapshot();
    if (result instanceof Promise) {
      const settled = await Promise.race([
        result.then(
          () => "resolved",
          (e: unknown) => {
            error = e;
            refused = true;
            return "rejected";
          },
        ),
        new Promise((resolve) => setTimeout(resolve, 0, "pending")),
      ]);
      if (settled === "pending") return true;
    }
  } catch (e) {
    after = snapshot();
    error = e;
    refused = true;
  }
  if (!refused) return true;
  if (!isOffstageError(error)) throw new Error(`not an OffstageError: ${String(error)}`, { cause: error });
  expect(codes, error.message).toContain(error.code);
  expect(typeof error.message).toBe("string");
  expect(after).toEqual(before);
  return false;
}

/** The idempotency key of send options that were accepted (so a plain object of data properties). */
function keyOf(options: unknown): unknown {
  return typeof options === "object" && options !== null
    ? (options as { idempotencyKey?: unknown }).idempotencyKey
    : undefined;
}

/** An independent oracle: is this a value JSON carries exactly (and so one send() must accept)? */
function isJson(value: unknown, seen = new Set<unknown>(), depth = 0): boolean {
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (typeof value !== "object" || seen.has(value) || depth > 100) return false;
  try {
    const proto = Object.getPrototypeOf(value);
    seen.add(value);
    if (Array.isArray(value)) {
      if (proto !== Array.prototype) return false;
      for (let i = 0; i < value.length; i++)
        if (!(i in value) || !isJson(value[i], seen, depth + 1)) return false;
      return true;
    }
    if (proto !== Object.prototype && proto !== null) return false;
    if (Object.getOwnPropertySymbols(value).length > 0 || "toJSON" in value) return false;
    for (const key of Object.keys(value))
      if (!isJson((value as Record<string, unknown>)[key], seen, depth + 1)) return false;
    return true;
  } catch {
    return false;
  } finally {
    seen.delete(value);
  }
}

/** An object the test itself may read (not a proxy that throws, nor one with a strange prototype). */
function isPlain(value: unknown): boolean {
  try {
    const proto = Object.getPrototypeOf(value);
    return (proto === Object.prototype || proto === null) && Object.keys(value as object).length >= 0;
  } catch {
    return false;
  }
}

const SEND_CODES: OffstageErrorCode[] = [
  "INVALID_ARGUMENT",
  "PAYLOAD_TOO_LARGE",
  "IDEMPOTENCY_CONFLICT",
  "SESSION_BUSY",
  "INBOX_FULL",
];
const sendOptions = optionsLike({
  policy: fc.constantFrom("enqueue", "reject", "interrupt", "merge", "steer", "Enqueue", ""),
  idempotencyKey: fc.oneof(idLike(), fc.constant("k")),
});
const resultOptions = optionsLike({
  timeoutMs: fc.oneof(fc.integer({ min: -5, max: 10 }), fc.constant(2 ** 31), fc.double()),
  signal: fc.constant(new AbortController().signal),
});

describe("fuzzing the public API: typed refusals that change nothing", () => {
  it("createRuntime(options)", async () => {
    const agentLike = optionsLike({
      run: fc.constant(() => 1),
      model: fc.constant(scriptedModel(() => text("x"))),
      system: fc.string(),
      tools: fc.constant([tool("t", () => 1)]),
      onCrash: fc.constantFrom("resume", "fail", "retry"),
      maxAttempts: fc.integer({ min: -1, max: 3 }),
      delegates: fc.boolean(),
    });
    const options = optionsLike({
      agents: fc.oneof(
        fc
          .dictionary(fc.string({ maxLength: 6 }), agentLike, { maxKeys: 2 })
          .map((agents) =>
            Object.fromEntries(Object.entries(agents).map(([name, agent]) => [name, agent.v])),
          ),
        hostile(),
      ),
      store: fc.constantFrom(createMemoryStore(), {}, null),
      limits: optionsLike({
        inboxLengthMax: fc.integer({ min: -1, max: 5 }),
        toolTimeoutMs: fc.constant(3e9),
      }),
      pollIntervalMs: fc.oneof(fc.integer({ min: -1, max: 1_000 }), fc.constant(3e9)),
      slotQuantumMs: fc.integer({ min: -1, max: 20 }),
      hogThresholdMs: fc.integer({ min: -1, max: 100 }),
      logger: fc.constantFrom(silentLogger, {}, console),
      delegation: optionsLike({
        runningMax: fc.integer({ min: -1, max: 3 }),
        budget: fc.constant({ tokensMax: 1 }),
      }),
      models: fc.constantFrom({}, { m: scriptedModel(() => text("x")) }, { m: {} }),
      ids: fc.constantFrom(() => "id", 5),
    });
    await fc.assert(
      fc.asyncProperty(options, async ({ v: given }) => {
        const spy = spyStore();
        // Plain options get the spy as their store, so nothing is created on disk; others go as they are.
        let withStore: unknown = given;
        try {
          if (isPlain(given) && !("store" in (given as object)))
            withStore = { ...(given as object), store: spy.store };
        } catch {
          // Its getters throw: it goes as it is (createRuntime must refuse it).
        }
        let made: Runtime | undefined;
        try {
          made = createRuntime(withStore as RuntimeOptions);
        } catch (error) {
          if (!isOffstageError(error))
            throw new Error(`not an OffstageError: ${String(error)}`, { cause: error });
          expect(["INVALID_OPTIONS"], error.message).toContain(error.code);
        }
        if (made !== undefined) expect(made.state).toBe("created");
        expect(spy.opens).toBe(0);
        expect(spy.writes).toEqual([]);
      }),
      fuzzParameters(RUNS),
    );
  });

  it("runtime.session(id, options)", async () => {
    const ids = argument(
      fc.oneof(idLike(), fc.constantFrom("gated", "quick", "lead", "a>b", "x".repeat(257))),
    );
    const options = optionsLike({ agent: fc.constantFrom("f", "quick", "lead", "nope") });
    await fc.assert(
      fc.asyncProperty(ids, options, async ({ v: id }, { v: given }) => {
        const accepted = await refusedCleanly(
          () => world.runtime.session(id as string, given as never),
          ["INVALID_ARGUMENT", "UNKNOWN_AGENT", "UNKNOWN_SESSION"],
        );
        // Only well-formed, printable ids get in: a lone surrogate would become U+FFFD in the store.
        if (accepted) expect(isPrintableId(id), JSON.stringify(id)).toBe(true);
      }),
      fuzzParameters(RUNS),
    );
  });

  it("session.send(payload, options): accepts exactly the JSON values", async () => {
    const payloads = argument(fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.string({ maxLength: 5_000 })));
    await fc.assert(
      fc.asyncProperty(
        payloads,
        sendOptions,
        fc.boolean(),
        async ({ v: payload }, { v: options }, toBusy) => {
          const session = toBusy ? world.gated : world.quick;
          let handle: TurnHandle | undefined;
          const accepted = await refusedCleanly(() => {
            handle = session.send(payload, options as never);
            return handle;
          }, SEND_CODES);
          if (accepted) {
            expect(isJson(payload), "an accepted payload is a JSON value").toBe(true);
            expect(["queued", "running", "completed"]).toContain(handle!.status);
            const key = keyOf(options);
            if (key !== undefined) expect(isPrintableId(key), JSON.stringify(key)).toBe(true);
          }
        },
      ),
      fuzzParameters(RUNS),
    );
  });

  it("session.invoke(payload, options): refusals send nothing", async () => {
    const options = fc.oneof(sendOptions, resultOptions);
    await fc.assert(
      fc.asyncProperty(hostile(), options, async ({ v: payload }, { v: given }) => {
        // Only refusals are awaited; an accepted invoke runs on its own.
        await refusedCleanly(() => world.quick.invoke(payload, given as never), SEND_CODES);
      }),
      fuzzParameters(RUNS),
    );
  });

  it("handle.result(), cancel() of a settled input, poll(), stored(), withdraw() of a running one", async () => {
    const cancelOptions = optionsLike({
      mode: fc.constantFrom("immediate", "after_step", "soon"),
      reason: fc.oneof(fc.string(), fc.integer()),
    });
    await fc.assert(
      fc.asyncProperty(resultOptions, cancelOptions, async ({ v: forResult }, { v: forCancel }) => {
        const { done, running, queued } = world;
        for (const handle of [done, running, queued])
          await refusedCleanly(() => handle.result(forResult as never), ["INVALID_ARGUMENT", "TURN_TIMEOUT"]);
        await refusedCleanly(() => done.cancel(forCancel as never), ["INVALID_ARGUMENT"]);
        await refusedCleanly(() => running.withdraw(), ["NOT_WITHDRAWABLE"]);
        await refusedCleanly(() => done.withdraw(), ["NOT_WITHDRAWABLE"]);
        expect(done.poll()?.status).toBe("completed");
        expect(running.poll()).toBeUndefined();
        expect(await done.stored()).toBe("stored");
      }),
      fuzzParameters(RUNS),
    );
  });

  it("delegate() specs, delegateAll(), and every delegations control", async () => {
    const spec = optionsLike({
      goal: fc.oneof(fc.string({ maxLength: 20 }), fc.constant("x".repeat(20_000))),
      context: fc.string(),
      role: fc.string(),
      agent: fc.constantFrom("lead", "f", "nope"),
      model: fc.constantFrom("m", undefined),
      tools: fc.constantFrom(["look"], ["nope"], "look"),
      limits: optionsLike({
        modelCallsMax: fc.integer({ min: -1, max: 3 }),
        timeoutMs: fc.constantFrom(0, 10, 3e9),
      }),
    });
    const controls = fc.oneof(
      fc.tuple(fc.constant("delegate"), spec, hostile()),
      fc.tuple(
        fc.constant("delegateAll"),
        argument(fc.array(spec, { maxLength: 3 }).map((specs) => specs.map((one) => one.v))),
        hostile(),
      ),
      fc.tuple(fc.constant("list"), optionsLike({ parentSessionId: fc.constantFrom("lead", "") }), hostile()),
      fc.tuple(fc.constantFrom("get", "deliverStale"), hostile(), hostile()),
      fc.tuple(fc.constantFrom("cancel", "dropStale"), argument(idLike()), hostile()),
      fc.tuple(fc.constant("interruptAll"), hostile(), hostile()),
      fc.tuple(
        fc.constant("stopChildren"),
        argument(fc.constant("lead")),
        optionsLike({ recursive: fc.boolean(), reason: fc.string() }),
      ),
    );
    await fc.assert(
      fc.asyncProperty(controls, async ([verb, { v: a }, { v: b }]) => {
        const d = world.runtime.delegations as unknown as Record<string, (...args: unknown[]) => unknown>;
        const call =
          verb === "delegate"
            ? () => world.lead.delegate(a as never)
            : verb === "delegateAll"
              ? () => world.lead.delegateAll(a as never)
              : () => d[verb]!.call(world.runtime.delegations, a, b);
        await refusedCleanly(call, ["INVALID_ARGUMENT"]);
      }),
      fuzzParameters(RUNS),
    );
  });

  it("runtime.on(), handle(), metrics(), and stop() (a stop that was accepted is followed by a start)", async () => {
    const stopOptions = optionsLike({
      drain: fc.boolean(),
      timeoutMs: fc.oneof(fc.integer({ min: -1, max: 50 }), fc.constant(3e9)),
      force: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(
        hostile(),
        hostile(),
        stopOptions,
        async ({ v: listener }, { v: id }, { v: forStop }) => {
          await refusedCleanly(() => world.runtime.on(listener as never)(), ["INVALID_ARGUMENT"]);
          await refusedCleanly(() => world.runtime.handle(id as never), ["INVALID_ARGUMENT"]);
          expect(typeof world.runtime.metrics().inputsAccepted).toBe("number");
          const stopped = track(world.runtime.stop(forStop as never));
          // A draining stop waits for the gated turn, and any stop for its deadline on the virtual clock.
          for (const call of world.fn.calls) call.gate.resolve("released");
          for (let i = 0; i < 100 && !stopped.settled(); i++) {
            world.clock.advance(1_000);
            await turnOfLoop();
          }
          const outcome = await stopped.promise.then(
            (status) => status,
            (error: unknown) => error,
          );
          if (typeof outcome === "string") {
            expect(["clean", "drained_with_discards", "timeout", "force_killed"]).toContain(outcome);
            for (const call of world.fn.calls) call.gate.resolve("released");
            world = await makeWorld();
          } else {
            expect(isOffstageError(outcome, "INVALID_ARGUMENT"), String(outcome)).toBe(true);
            expect(world.runtime.state).toBe("running");
          }
        },
      ),
      fuzzParameters(Math.ceil(RUNS / 3)),
    );
  });

  it("createMemoryStore() and createSqliteStore() options (nothing is opened)", async () => {
    const memory = optionsLike({ endedInputsMax: fc.oneof(fc.integer({ min: -2, max: 5 }), fc.double()) });
    const sqlite = optionsLike({
      path: fc.constantFrom("", "./.offstage/fuzz-never-opened.db"),
      durability: fc.constantFrom("full", "normal", "fast"),
      groupCommitMs: fc.oneof(fc.integer({ min: -1, max: 5 }), fc.constant(3e9), fc.double()),
      busyTimeoutMs: fc.oneof(fc.integer({ min: -1, max: 5 }), fc.constant(3e9)),
      checkIntegrity: fc.oneof(fc.boolean(), fc.string()),
    });
    await fc.assert(
      fc.asyncProperty(memory, sqlite, async ({ v: forMemory }, { v: forSqlite }) => {
        for (const make of [
          () => createMemoryStore(forMemory as never),
          () => createSqliteStore(forSqlite as never),
        ]) {
          try {
            const store = make();
            expect(typeof store.open).toBe("function");
          } catch (error) {
            if (!isOffstageError(error))
              throw new Error(`not an OffstageError: ${String(error)}`, { cause: error });
            expect(error.code).toBe("INVALID_OPTIONS");
          }
        }
      }),
      fuzzParameters(RUNS),
    );
  });
});
