/**
 * Property-based fuzzing of the host bridges' entry points (#17): random and adversarial values for
 * `createSlot`, `slot.submit`, `createSessionSlot`, `createHostQueue`, `host.drain`,
 * `createWorkerPool` and a tool's `executor` / `module`. Each call either works or refuses with an
 * `OffstageError` `INVALID_ARGUMENT`, and a refusal changes nothing (no call pending, no host call
 * run or dropped). Nothing else may be thrown, and nothing may escape as an unhandled rejection.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createHostQueue,
  createSessionSlot,
  createSlot,
  defineTool,
  isOffstageError,
} from "../../src/index.js";
import { createWorkerPool } from "../../src/tools/worker/index.js";
import { argument, collectEscapes, fuzzParameters, hostile, optionsLike } from "./hostile.js";

const RUNS = 200;
const escaped = collectEscapes({ beforeAll, afterAll });

/** Runs `call`; a throw must be `INVALID_ARGUMENT`. Returns what it returned, or `undefined` when refused. */
function refusedCleanly<T>(call: () => T): T | undefined {
  try {
    return call();
  } catch (error) {
    if (!isOffstageError(error)) throw new Error(`not an OffstageError: ${String(error)}`, { cause: error });
    expect(error.code).toBe("INVALID_ARGUMENT");
    return undefined;
  }
}

const silent = { warn: () => {}, error: () => {} };

describe("host bridges under hostile input", () => {
  it("createSlot(options) and slot.submit(factory)", () => {
    const options = optionsLike({ name: fc.string({ maxLength: 140 }), logger: fc.constant(silent) });
    fc.assert(
      fc.property(options, argument(fc.constant(() => 1)), (given, factory) => {
        const slot = refusedCleanly(() => createSlot(given.v as never));
        if (slot === undefined) return;
        const accepted = refusedCleanly(() => slot.submit(factory.v as never));
        if (accepted === undefined) expect(slot.pending).toBe(false);
        slot.close();
        expect(slot.submit(() => 1)).toBe(false);
      }),
      fuzzParameters(RUNS),
    );
  });

  it("createSessionSlot(session)", () => {
    fc.assert(
      fc.property(hostile(), (session) => {
        refusedCleanly(() => createSessionSlot(session.v as never, { logger: silent }));
      }),
      fuzzParameters(RUNS),
    );
  });

  it("createHostQueue(options) and host.drain(options): a refused drain runs nothing", async () => {
    const drainOptions = optionsLike({
      budgetMs: fc.oneof(fc.integer({ min: -5, max: 50 }), fc.double()),
      max: fc.oneof(fc.integer({ min: -2, max: 5 }), fc.double()),
    });
    await fc.assert(
      fc.asyncProperty(optionsLike({ clock: fc.constant(undefined) }), drainOptions, async (given, drain) => {
        const host = refusedCleanly(() => createHostQueue(given.v as never));
        if (host === undefined) return;
        let ran = 0;
        const done = host
          .submit({
            agentName: "a",
            toolName: "t",
            args: {},
            sessionId: "s",
            turnId: "t1",
            toolCallId: "c1",
            signal: new AbortController().signal,
            run: () => ran++,
          })
          .catch(() => {});
        const count = refusedCleanly(() => host.drain(drain.v as never));
        if (count === undefined) {
          expect(ran).toBe(0);
          expect(host.depth).toBe(1);
        } else {
          expect(ran).toBe(count);
          expect(host.depth).toBe(1 - count);
        }
        host.drain();
        expect(ran).toBe(1);
        await done;
      }),
      fuzzParameters(RUNS),
    );
  });

  it("createWorkerPool(options)", async () => {
    const options = optionsLike({
      minThreads: fc.integer({ min: -1, max: 2 }),
      maxThreads: fc.integer({ min: -1, max: 2 }),
      idleTimeoutMs: fc.oneof(fc.integer({ min: -1, max: 100 }), fc.double()),
    });
    await fc.assert(
      fc.asyncProperty(options, async (given) => {
        const pool = refusedCleanly(() => createWorkerPool(given.v as never));
        await pool?.close();
      }),
      fuzzParameters(50),
    );
  });

  it("defineTool's executor and module", () => {
    fc.assert(
      fc.property(
        argument(fc.constantFrom("inline", "host", "worker")),
        argument(fc.constantFrom(import.meta.url, "file:///tmp/x.js", "./x.js", "")),
        (executor, module) => {
          const tool = refusedCleanly(() =>
            defineTool({
              name: "t",
              description: "t",
              schema: { type: "object" },
              executor: executor.v as never,
              module: module.v as never,
              execute: () => 1,
            }),
          );
          if (tool === undefined) return;
          expect(["inline", "host", "worker", undefined]).toContain(tool.executor);
          if (tool.executor === "worker") expect(tool.module).toMatch(/^(file|data):/);
          else expect(tool.module).toBeUndefined();
        },
      ),
      fuzzParameters(RUNS),
    );
  });

  it("lets nothing escape", () => {
    expect(escaped).toEqual([]);
  });
});
