/**
 * `SessionSlot` on a real runtime: submit sends a turn, poll hands over its output once, a refused
 * or failed turn is logged once and polls as nothing, cancel and close end the pending turn.
 */
import { describe, expect, it } from "vitest";
import { createSessionSlot, isOffstageError } from "../../src/index.js";
import { flush, thrownBy, until } from "../support/async.js";
import { recordingLogger } from "../support/recording-logger.js";
import { gatedSession, startSession } from "../support/runtime.js";

describe("SessionSlot", () => {
  it("submit sends one turn at a time; poll() returns the turn's output once", async () => {
    const { runtime, s, fn } = await gatedSession();
    const slot = createSessionSlot(s);
    expect(slot.submit("hello")).toBe(true);
    expect(slot.pending).toBe(true);
    // Refused while pending: nothing is sent.
    expect(slot.submit("again")).toBe(false);
    await until(() => fn.calls.length === 1, "the turn to start");
    await flush();
    expect(fn.calls).toHaveLength(1);
    expect(slot.poll()).toBeUndefined();
    fn.calls[0]!.gate.resolve("hi there");
    await until(() => !slot.pending, "the turn to settle");
    expect(slot.poll()).toBe("hi there");
    expect(slot.poll()).toBeUndefined();
    expect(runtime.metrics().inputsAccepted).toBe(1);
    await runtime.stop();
  });

  it("a failed turn is logged once with its reason and polls as nothing", async () => {
    const logger = recordingLogger();
    const { runtime, s } = await startSession({
      f: {
        run: async () => {
          throw new Error("the oracle is asleep");
        },
      },
    });
    const slot = createSessionSlot(s, { name: "oracle", logger });
    slot.submit("ask");
    await until(() => !slot.pending, "the turn to fail");
    expect(slot.poll()).toBeUndefined();
    expect(slot.poll()).toBeUndefined();
    expect(logger.lines).toHaveLength(1);
    expect(String((logger.lines[0]!.fields.error as { message: string }).message)).toMatch(
      /the turn \S+ of session "s" ended failed \(function_error\): .*the oracle is asleep/,
    );
    await runtime.stop();
  });

  it("a send the session refuses is a failed call: accepted, logged once, nothing sent", async () => {
    const logger = recordingLogger();
    const { runtime, s } = await gatedSession();
    const slot = createSessionSlot(s, { logger });
    expect(slot.submit({ bad: Number.NaN })).toBe(true);
    expect(slot.pending).toBe(false);
    expect(slot.poll()).toBeUndefined();
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]!.fields.error).toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(runtime.metrics().inputsAccepted).toBe(0);
    await runtime.stop();
  });

  it("cancel() cancels the pending turn and discards its output; close() is idempotent and refuses submits", async () => {
    const { runtime, s, fn } = await gatedSession();
    const slot = createSessionSlot(s);
    slot.submit("one");
    await until(() => fn.calls.length === 1, "the turn to start");
    slot.cancel();
    await until(() => runtime.metrics().ended.cancelled === 1, "the turn to be cancelled");
    expect(slot.poll()).toBeUndefined();
    expect(slot.submit("two")).toBe(true);
    await until(() => fn.calls.length === 2, "the second turn to start");
    slot.close();
    slot.close();
    await until(() => runtime.metrics().ended.cancelled === 2, "the second turn to be cancelled");
    expect(slot.submit("three")).toBe(false);
    await flush();
    expect(fn.calls).toHaveLength(2);
    await runtime.stop();
  });

  it("refuses what is not a session with a typed error", () => {
    for (const session of [undefined, null, {}, "s"]) {
      const error = thrownBy(() => createSessionSlot(session as never));
      expect(isOffstageError(error, "INVALID_ARGUMENT")).toBe(true);
    }
  });
});
