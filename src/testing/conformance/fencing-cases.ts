/**
 * The store conformance cases about attempt fencing (a stale attempt's checkpoint, steer, start
 * or end changes nothing) and what `commit()` promises.
 */
import { describe, expect } from "vitest";
import { assistant, checkpoint, end, record, start, user } from "./fixtures.js";
import type { SuiteKit } from "./suite-kit.js";

/** Registers these cases of the store conformance suite. */
export function fencingCases(kit: SuiteKit): void {
  const { fresh, test } = kit;
  describe("attempt fencing", () => {
    test("a checkpoint of a stale attempt is ignored", [], async () => {
      const store = await fresh();
      store.accept(record("i1", 1));
      store.startTurn(start("t1", ["i1"], 2));
      store.checkpoint(checkpoint(1, [user("fresh")], 2));
      store.checkpoint(checkpoint(3, [user("stale")]));
      const [turn] = (await store.open()).interrupted;
      expect(turn).toMatchObject({ turnId: "t1", attempt: 2, step: 1, messages: [user("fresh")] });
    });

    test("a turn end of a stale attempt is ignored", [], async () => {
      const store = await fresh();
      store.accept(record("i1", 1));
      store.startTurn(start("t1", ["i1"], 2));
      store.endTurn(end("t1", ["i1"], { attempt: 1, messages: [assistant("late")] }));
      expect(store.input("i1")).toMatchObject({ status: "running", turnId: "t1" });
      expect(store.history("s1")).toEqual([]);
      expect((await store.open()).interrupted.map((turn) => turn.turnId)).toEqual(["t1"]);
    });

    test("a steer into a stale attempt, an ended or an unknown turn is ignored", [], async () => {
      const store = await fresh();
      for (let n = 1; n <= 4; n++) store.accept(record(`i${n}`, n));
      store.startTurn(start("t1", ["i1"], 2));
      store.steer({ sessionId: "s1", inputId: "i2", turnId: "t1", attempt: 1 });
      store.steer({ sessionId: "s1", inputId: "i3", turnId: "nope", attempt: 1 });
      store.startTurn(start("t2", ["i4"]));
      store.endTurn(end("t2", ["i4"]));
      store.steer({ sessionId: "s1", inputId: "i3", turnId: "t2", attempt: 1 });
      expect(store.input("i2")).toMatchObject({ status: "queued", turnId: undefined });
      expect(store.input("i3")).toMatchObject({ status: "queued", turnId: undefined });
      expect((await store.open()).queued.map((input) => input.id)).toEqual(["i2", "i3"]);
    });

    test("a start whose attempt is not above the stored one is ignored", [], async () => {
      const store = await fresh();
      store.accept(record("i1", 1));
      store.startTurn(start("t1", ["i1"], 2));
      store.checkpoint(checkpoint(1, [user("kept")], 2));
      store.startTurn(start("t1", ["i1"], 2));
      store.startTurn(start("t1", ["i1"], 1));
      const [turn] = (await store.open()).interrupted;
      expect(turn).toMatchObject({ attempt: 2, step: 1, messages: [user("kept")] });
    });

    test("a resumed attempt keeps the checkpoint and fences off the old attempt", [], async () => {
      const store = await fresh();
      store.accept(record("i1", 1));
      store.startTurn(start("t1", ["i1"]));
      store.checkpoint(checkpoint(2, [user("q"), assistant("step 2")]));
      store.startTurn(start("t1", ["i1"], 2));
      store.checkpoint(checkpoint(3, [user("stale")]));
      store.endTurn(end("t1", ["i1"], { attempt: 1 }));
      expect(store.input("i1")?.status).toBe("running");
      const [turn] = (await store.open()).interrupted;
      expect(turn).toMatchObject({ attempt: 2, step: 2, messages: [user("q"), assistant("step 2")] });
      store.endTurn(end("t1", ["i1"], { attempt: 2 }));
      expect(store.input("i1")?.status).toBe("completed");
    });
  });

  describe("commit", () => {
    test("reads see every write before its commit resolves", [], async () => {
      const store = await fresh();
      store.accept(record("i1", 1, { idempotencyKey: "k" }));
      store.startTurn(start("t1", ["i1"]));
      store.endTurn(end("t1", ["i1"], { messages: [assistant("a")] }));
      const committed = store.commit();
      expect(store.input("i1")?.status).toBe("completed");
      expect(store.findByIdempotencyKey("s1", "k")?.id).toBe("i1");
      expect(store.history("s1")).toEqual([assistant("a")]);
      await committed;
    });

    test("commit() resolves with nothing written, and every pending commit resolves", [], async () => {
      const store = await fresh();
      await store.commit();
      const commits: Promise<void>[] = [];
      for (let n = 1; n <= 50; n++) {
        store.accept(record(`i${n}`, n));
        commits.push(store.commit());
      }
      await Promise.all(commits);
      expect((await store.open()).queued).toHaveLength(50);
    });
  });
}
