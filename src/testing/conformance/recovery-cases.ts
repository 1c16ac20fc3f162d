/**
 * The store conformance cases about recovery: what `open()` returns after the store was closed,
 * or dropped as by `kill -9`, and reopened — sessions, queued inputs, interrupted turns with their
 * last checkpoint, steered inputs, and committed groups kept or lost whole.
 */
import { describe, expect } from "vitest";
import { assistant, checkpoint, end, OK, record, start, user } from "./fixtures.js";
import type { SuiteKit } from "./suite-kit.js";

/** Registers these cases of the store conformance suite. */
export function recoveryCases(kit: SuiteKit): void {
  const { crashed, fresh, reopened, test } = kit;
  describe("recovery after close and reopen", () => {
    test(
      "sessions, queued inputs in seq order, nextSeq, history and keys come back",
      ["reopen"],
      async () => {
        const store = await fresh();
        store.createSession({ id: "s2", agent: "b", createdAtMs: 600 });
        for (const seq of [2, 1, 4]) store.accept(record(`i${seq}`, seq, { idempotencyKey: `k${seq}` }));
        store.accept(record("i3", 3));
        store.startTurn(start("t1", ["i3"]));
        store.endTurn(end("t1", ["i3"], { messages: [user("q"), assistant("a")] }));
        await store.commit();
        const next = await reopened(store);
        const state = await next.open();
        expect(state.sessions.map((s) => s.id).sort()).toEqual(["s1", "s2"]);
        expect(state.queued.map((input) => input.id)).toEqual(["i1", "i2", "i4"]);
        expect(state.queued[0]).toEqual(record("i1", 1, { idempotencyKey: "k1" }));
        expect(state.interrupted).toEqual([]);
        expect(state.nextSeq).toBe(5);
        expect(next.history("s1")).toEqual([user("q"), assistant("a")]);
        expect(next.findByIdempotencyKey("s1", "k2")).toMatchObject({ id: "i2", status: "queued" });
        expect(next.input("i3")).toMatchObject({ status: "completed", turnId: "t1", outcome: OK });
      },
    );

    test(
      "a running turn comes back interrupted with its last checkpoint and inputs",
      ["reopen"],
      async () => {
        const store = await fresh();
        store.accept(record("i1", 1));
        store.accept(record("i2", 2, { policy: "merge" }));
        store.startTurn(start("t1", ["i2", "i1"], 2));
        store.checkpoint(checkpoint(1, [user("one")], 2));
        store.checkpoint(checkpoint(2, [user("one"), assistant("two")], 2));
        const next = await reopened(store);
        expect((await next.open()).interrupted).toEqual([
          {
            turnId: "t1",
            sessionId: "s1",
            inputIds: ["i2", "i1"],
            attempt: 2,
            step: 2,
            messages: [user("one"), assistant("two")],
            inputs: [record("i2", 2, { policy: "merge" }), record("i1", 1)],
          },
        ]);
        expect(next.input("i1")).toMatchObject({ status: "running", turnId: "t1" });
      },
    );

    test(
      "a running turn without a checkpoint comes back at step 0 with no messages",
      ["reopen"],
      async () => {
        const store = await fresh();
        store.accept(record("i1", 1));
        store.startTurn(start("t1", ["i1"]));
        const next = await reopened(store);
        const [turn] = (await next.open()).interrupted;
        expect(turn).toMatchObject({ turnId: "t1", attempt: 1, step: 0, messages: [], inputIds: ["i1"] });
      },
    );

    test("a steered input its turn's checkpoint holds is recovered with the turn", ["reopen"], async () => {
      const store = await fresh();
      for (let n = 1; n <= 2; n++) store.accept(record(`i${n}`, n));
      store.startTurn(start("t1", ["i1"]));
      store.steer({ sessionId: "s1", inputId: "i2", turnId: "t1", attempt: 1 });
      // The model sees i2 at the next step boundary; the checkpoint written there holds it.
      store.checkpoint(checkpoint(1, [user("i1"), assistant("a"), user("i2")]));
      const next = await reopened(store);
      const state = await next.open();
      expect(state.queued).toEqual([]);
      expect(state.interrupted).toMatchObject([{ turnId: "t1", inputIds: ["i1", "i2"], step: 1 }]);
      expect(state.interrupted[0]?.inputs.map((input) => input.id)).toEqual(["i1", "i2"]);
      expect(next.input("i2")).toMatchObject({ status: "running", turnId: "t1" });
    });

    test("a steered input no checkpoint holds is queued again, in seq order", ["reopen"], async () => {
      const store = await fresh();
      for (let n = 1; n <= 4; n++) store.accept(record(`i${n}`, n));
      store.startTurn(start("t1", ["i1"]));
      store.checkpoint(checkpoint(1, [user("i1"), assistant("a")]));
      store.steer({ sessionId: "s1", inputId: "i3", turnId: "t1", attempt: 1 });
      const next = await reopened(store);
      const state = await next.open();
      expect(state.queued.map((input) => input.id)).toEqual(["i2", "i3", "i4"]);
      expect(state.interrupted).toMatchObject([{ turnId: "t1", inputIds: ["i1"], step: 1 }]);
      expect(next.input("i3")).toMatchObject({ status: "queued", turnId: undefined });
      // The turn resumes without it; its old attempt's steer is history.
      next.startTurn(start("t1", ["i1"], 2));
      next.endTurn(end("t1", ["i1"], { attempt: 2 }));
      expect(next.input("i3")?.status).toBe("queued");
    });

    test(
      "a steered input ended before the model saw it stays ended: recovery neither keeps nor queues it",
      ["reopen"],
      async () => {
        const store = await fresh();
        for (let n = 1; n <= 2; n++) store.accept(record(`i${n}`, n));
        store.startTurn(start("t1", ["i1"]));
        store.steer({ sessionId: "s1", inputId: "i2", turnId: "t1", attempt: 1 });
        const reason = { code: "cancel_requested" as const, message: "never mind" };
        store.endInput({ sessionId: "s1", inputId: "i2", status: "cancelled", reason, endedAtMs: 2_500 });
        expect(store.input("i2")).toMatchObject({
          status: "cancelled",
          outcome: { status: "cancelled", reason },
        });
        store.checkpoint(checkpoint(1, [user("i1"), assistant("a")]));
        const next = await reopened(store);
        const state = await next.open();
        expect(state.queued).toEqual([]);
        expect(state.interrupted).toMatchObject([{ turnId: "t1", inputIds: ["i1"] }]);
        expect(next.input("i2")).toMatchObject({ status: "cancelled", turnId: undefined });
      },
    );

    test("close() commits pending writes", ["reopen"], async () => {
      const store = await fresh();
      store.accept(record("i1", 1));
      const next = await reopened(store);
      expect((await next.open()).queued.map((input) => input.id)).toEqual(["i1"]);
    });

    test("close() is idempotent", [], async () => {
      const store = await fresh();
      store.accept(record("i1", 1));
      await Promise.all([store.close(), store.close()]);
      await store.close();
    });
  });

  describe("recovery after a crash", () => {
    test("every committed write survives a crash", ["reopen", "crash"], async () => {
      const store = await fresh();
      store.accept(record("i1", 1, { idempotencyKey: "k" }));
      store.accept(record("i2", 2));
      store.startTurn(start("t1", ["i1"]));
      store.checkpoint(checkpoint(1, [user("q"), assistant("a")]));
      await store.commit();
      const next = await crashed(store);
      const state = await next.open();
      expect(state.queued.map((input) => input.id)).toEqual(["i2"]);
      expect(state.interrupted).toMatchObject([{ turnId: "t1", step: 1, inputIds: ["i1"] }]);
      expect(state.nextSeq).toBe(3);
      expect(next.findByIdempotencyKey("s1", "k")?.id).toBe("i1");
    });

    test(
      "a crash keeps or loses an uncommitted group whole, never part of it",
      ["reopen", "crash"],
      async () => {
        const store = await fresh();
        store.accept(record("i1", 1));
        await store.commit();
        store.startTurn(start("t1", ["i1"]));
        store.endTurn(end("t1", ["i1"], { messages: [user("q"), assistant("a")] }));
        const next = await crashed(store);
        const { queued } = await next.open();
        if (queued.length === 1) expect(next.history("s1")).toEqual([]);
        else expect(next.history("s1")).toEqual([user("q"), assistant("a")]);
        expect(next.input("i1")?.status).toBe(queued.length === 1 ? "queued" : "completed");
      },
    );
  });
}
