/**
 * `Slot` (seed 000, AsyncSlot): one call in flight, extra submits refused without calling their
 * factory, a value handed over once, a failure logged once and answered with nothing, cancel, and
 * an idempotent close. Pure: promises the test settles, no runtime, no clock.
 */
import { describe, expect, it } from "vitest";
import { createSlot, isOffstageError } from "../../src/index.js";
import { deferred, flush, thrownBy } from "../support/async.js";
import { recordingLogger } from "../support/recording-logger.js";

describe("Slot", () => {
  it("starts one call at a time; a submit while pending is refused and its factory never called", async () => {
    const slot = createSlot<number>();
    const first = deferred<number>();
    let secondCalled = false;
    expect(slot.pending).toBe(false);
    expect(slot.submit(() => first.promise)).toBe(true);
    expect(slot.pending).toBe(true);
    expect(
      slot.submit(() => {
        secondCalled = true;
        return 2;
      }),
    ).toBe(false);
    expect(secondCalled).toBe(false);
    expect(slot.poll()).toBeUndefined();
    first.resolve(1);
    await flush(1);
    expect(slot.pending).toBe(false);
    expect(slot.poll()).toBe(1);
    // Handed over once.
    expect(slot.poll()).toBeUndefined();
    expect(slot.submit(() => 3)).toBe(true);
    expect(slot.poll()).toBe(3);
  });

  it("passes the factory an AbortSignal that cancel() fires; the cancelled value is discarded", async () => {
    const slot = createSlot<string>();
    const late = deferred<string>();
    let signal: AbortSignal | undefined;
    slot.submit((s) => {
      signal = s;
      return late.promise;
    });
    expect(signal?.aborted).toBe(false);
    slot.cancel();
    expect(signal?.aborted).toBe(true);
    expect(String(signal?.reason)).toContain("the call was cancelled");
    expect(slot.pending).toBe(false);
    // A new call is taken at once; the old one's value, arriving later, never shows.
    const next = deferred<string>();
    expect(slot.submit(() => next.promise)).toBe(true);
    late.resolve("stale");
    await flush(1);
    expect(slot.poll()).toBeUndefined();
    next.resolve("fresh");
    await flush(1);
    expect(slot.poll()).toBe("fresh");
    // Cancelling with nothing in flight, or twice, does nothing.
    slot.cancel();
    slot.cancel();
  });

  it("a failure is logged once with its specific cause; poll() returns nothing, so the caller keeps its value", async () => {
    const logger = recordingLogger();
    const slot = createSlot<string>({ name: "weather", logger });
    let shown = "sunny";
    slot.submit(() => Promise.reject(new Error("HTTP 503 from wttr.in")));
    await flush(1);
    shown = slot.poll() ?? shown;
    expect(shown).toBe("sunny");
    expect(slot.poll()).toBeUndefined();
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]!.message).toContain('slot "weather": the call failed');
    expect(logger.lines[0]!.fields).toMatchObject({
      slot: "weather",
      error: expect.objectContaining({ message: "HTTP 503 from wttr.in" }),
    });
    // The slot is free again.
    expect(slot.submit(() => "rain")).toBe(true);
    expect(slot.poll()).toBe("rain");
    expect(logger.lines).toHaveLength(1);
  });

  it("a failure nobody polled is still logged once when the next submit or a cancel replaces it", async () => {
    const logger = recordingLogger();
    const slot = createSlot<string>({ logger });
    slot.submit(() => Promise.reject(new Error("first")));
    await flush(1);
    expect(slot.submit(() => Promise.reject(new Error("second")))).toBe(true);
    expect(logger.lines.map((w) => (w.fields.error as Error).message)).toEqual(["first"]);
    await flush(1);
    slot.cancel();
    expect(logger.lines.map((w) => (w.fields.error as Error).message)).toEqual(["first", "second"]);
    expect(slot.poll()).toBeUndefined();
    slot.close();
    expect(logger.lines).toHaveLength(2);
  });

  it("a logger that throws is contained: poll() still returns", async () => {
    const slot = createSlot<string>({
      logger: {
        warn: () => {
          throw new Error("logger down");
        },
        error: () => {
          throw new Error("logger down");
        },
      },
    });
    slot.submit(() => {
      throw new Error("boom");
    });
    expect(slot.poll()).toBeUndefined();
    expect(slot.submit(() => "ok")).toBe(true);
    expect(slot.poll()).toBe("ok");
  });

  it("a factory that throws synchronously is a failed call: accepted, logged once, nothing lost", () => {
    const logger = recordingLogger();
    const slot = createSlot<number>({ logger });
    expect(
      slot.submit(() => {
        throw new TypeError("scene is not loaded");
      }),
    ).toBe(true);
    expect(slot.pending).toBe(false);
    expect(slot.poll()).toBeUndefined();
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]!.fields.error).toMatchObject({
      name: "TypeError",
      message: "scene is not loaded",
    });
    // A thenable whose then throws is the same.
    const hostile = {
      // biome-ignore lint/suspicious/noThenProperty: a hostile thenable is the point of this case
      get then(): never {
        throw new Error("then getter throws");
      },
    };
    expect(slot.submit(() => hostile as never)).toBe(true);
    expect(slot.poll()).toBeUndefined();
    expect(logger.lines).toHaveLength(2);
    expect(slot.submit(() => 7)).toBe(true);
    expect(slot.poll()).toBe(7);
  });

  it("close() cancels, is idempotent, and every later submit returns false without calling the factory", () => {
    const slot = createSlot<number>();
    let signal: AbortSignal | undefined;
    slot.submit((s) => {
      signal = s;
      return new Promise<number>(() => {});
    });
    slot.close();
    expect(signal?.aborted).toBe(true);
    expect(slot.closed).toBe(true);
    expect(slot.pending).toBe(false);
    slot.close();
    let called = false;
    expect(
      slot.submit(() => {
        called = true;
        return 1;
      }),
    ).toBe(false);
    expect(called).toBe(false);
    expect(slot.poll()).toBeUndefined();
    {
      using scoped = createSlot<number>();
      scoped.submit(() => new Promise<number>(() => {}));
      expect(scoped.pending).toBe(true);
    }
  });

  it("refuses a factory that is not a function, and malformed options, with typed errors", () => {
    const slot = createSlot<number>();
    for (const factory of [undefined, 1, "f", {}]) {
      const error = thrownBy(() => slot.submit(factory as never));
      expect(isOffstageError(error, "INVALID_ARGUMENT")).toBe(true);
      expect((error as Error).message).toContain("submit(): factory must be a function");
    }
    expect(slot.pending).toBe(false);
    for (const options of [null, { name: "" }, { name: 3 }, { logger: {} }, { nmae: "x" }]) {
      const error = thrownBy(() => createSlot(options as never));
      expect(isOffstageError(error, "INVALID_ARGUMENT"), JSON.stringify(options)).toBe(true);
    }
  });
});
