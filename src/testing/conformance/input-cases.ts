/**
 * The store conformance cases about opening, sessions and input: acceptance and `seq` order,
 * payloads, idempotency look-ups, and inputs ended without a turn.
 */
import { describe, expect } from "vitest";
import { end, OK, record, start } from "./fixtures.js";
import type { SuiteKit } from "./suite-kit.js";

/** Registers these cases of the store conformance suite. */
export function inputCases(kit: SuiteKit): void {
  const { fresh, test } = kit;
  describe("open and sessions", () => {
    test("a new store opens empty, with nextSeq 1", [], async () => {
      const store = await kit.create();
      const { queuedCount, ...state } = await store.open();
      expect(state).toEqual({ sessions: [], queued: [], interrupted: [], nextSeq: 1 });
      expect(queuedCount ?? 0).toBe(0);
    });

    test("open() again while open returns the current state", [], async () => {
      const store = await fresh();
      store.accept(record("i1", 1));
      const state = await store.open();
      expect(state.sessions.map((s) => s.id)).toEqual(["s1"]);
      expect(state.queued.map((i) => i.id)).toEqual(["i1"]);
      expect(state.nextSeq).toBe(2);
    });

    test("a session is recorded once: creating it again keeps the first record", [], async () => {
      const store = await fresh();
      store.createSession({ id: "s1", agent: "other", createdAtMs: 999 });
      store.createSession({ id: "s2", agent: "b", createdAtMs: 600 });
      const { sessions } = await store.open();
      expect([...sessions].sort((x, y) => x.id.localeCompare(y.id))).toEqual([
        { id: "s1", agent: "a", createdAtMs: 500 },
        { id: "s2", agent: "b", createdAtMs: 600 },
      ]);
    });
  });

  describe("accepting input", () => {
    test("an accepted input is queued with every field of its record", [], async () => {
      const store = await fresh();
      const input = record("i1", 1, { policy: "merge", idempotencyKey: "k1", delegationId: "d1" });
      store.accept(input);
      expect(store.input("i1")).toMatchObject({ id: "i1", sessionId: "s1", status: "queued" });
      expect(store.input("i1")?.payload).toEqual(input.payload);
      expect((await store.open()).queued).toEqual([input]);
    });

    test("payloads round-trip: strings, numbers, null, nested objects, unicode", [], async () => {
      const store = await fresh();
      const payloads = ["", "héllo 🌍 \u0000 \n", 42, 1.5, null, true, [1, [2]], { a: { b: ["c", null] } }];
      payloads.forEach((payload, i) => {
        store.accept(record(`i${i}`, i + 1, { payload }));
      });
      payloads.forEach((payload, i) => {
        expect(store.input(`i${i}`)?.payload).toEqual(payload);
      });
      expect((await store.open()).queued.map((input) => input.payload)).toEqual(payloads);
    });

    test("queued inputs come back in seq order, and nextSeq follows the highest seq", [], async () => {
      const store = await fresh();
      for (const seq of [3, 1, 7, 2]) store.accept(record(`i${seq}`, seq));
      const state = await store.open();
      expect(state.queued.map((input) => input.seq)).toEqual([1, 2, 3, 7]);
      expect(state.nextSeq).toBe(8);
    });

    test("input() of an unknown id is undefined", [], async () => {
      const store = await fresh();
      expect(store.input("nope")).toBeUndefined();
    });

    test("an idempotency key finds its input, in its own session only", [], async () => {
      const store = await fresh();
      store.createSession({ id: "s2", agent: "a", createdAtMs: 500 });
      store.accept(record("i1", 1, { idempotencyKey: "k" }));
      expect(store.findByIdempotencyKey("s1", "k")).toMatchObject({ id: "i1", status: "queued" });
      expect(store.findByIdempotencyKey("s2", "k")).toBeUndefined();
      expect(store.findByIdempotencyKey("s1", "other")).toBeUndefined();
    });

    test("an idempotency key still finds its input after it ended, with its outcome", [], async () => {
      const store = await fresh();
      store.accept(record("i1", 1, { idempotencyKey: "k" }));
      store.startTurn(start("t1", ["i1"]));
      store.endTurn(end("t1", ["i1"], { outcome: { ...OK, output: { answer: 42 } } }));
      expect(store.findByIdempotencyKey("s1", "k")).toMatchObject({
        id: "i1",
        status: "completed",
        turnId: "t1",
        outcome: { ...OK, output: { answer: 42 } },
      });
    });
  });

  describe("inputs ended without a turn", () => {
    test("endInput ends a queued input with its status and reason", [], async () => {
      const store = await fresh();
      store.accept(record("i1", 1));
      store.accept(record("i2", 2));
      const reason = { code: "withdrawn", message: "withdrawn before it started" } as const;
      store.endInput({ sessionId: "s1", inputId: "i1", status: "withdrawn", reason, endedAtMs: 5 });
      expect(store.input("i1")).toMatchObject({
        status: "withdrawn",
        outcome: { status: "withdrawn", reason },
      });
      expect((await store.open()).queued.map((input) => input.id)).toEqual(["i2"]);
    });

    test("endInput is ignored for a running or an ended input", [], async () => {
      const store = await fresh();
      store.accept(record("i1", 1));
      store.accept(record("i2", 2));
      store.startTurn(start("t1", ["i1"]));
      const reason = { code: "cancel_requested", message: "cancelled" } as const;
      store.endInput({ sessionId: "s1", inputId: "i1", status: "cancelled", reason, endedAtMs: 5 });
      expect(store.input("i1")?.status).toBe("running");
      store.endInput({ sessionId: "s1", inputId: "i2", status: "cancelled", reason, endedAtMs: 5 });
      store.endInput({ sessionId: "s1", inputId: "i2", status: "withdrawn", reason, endedAtMs: 6 });
      expect(store.input("i2")).toMatchObject({ status: "cancelled", outcome: { status: "cancelled" } });
    });
  });
}
