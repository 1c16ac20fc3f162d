/**
 * The store conformance cases about turns: starts, steers and ends, what each input ends with,
 * history order, and several sessions written in turn.
 */
import { describe, expect } from "vitest";
import type { TurnOutcome } from "../../kernel/outcome.js";
import { assistant, checkpoint, end, OK, record, start, user } from "./fixtures.js";
import type { SuiteKit } from "./suite-kit.js";

/** Registers these cases of the store conformance suite. */
export function turnCases(kit: SuiteKit): void {
  const { fresh, reopened, test } = kit;
  describe("turns and history", () => {
    test("startTurn marks its inputs running in the turn", [], async () => {
      const store = await fresh();
      store.accept(record("i1", 1));
      store.accept(record("i2", 2));
      store.startTurn(start("t1", ["i1", "i2"]));
      expect(store.input("i1")).toMatchObject({ status: "running", turnId: "t1" });
      expect(store.input("i2")).toMatchObject({ status: "running", turnId: "t1" });
      expect((await store.open()).queued).toEqual([]);
    });

    test("endTurn gives each input the outcome and appends the messages to history", [], async () => {
      const store = await fresh();
      store.accept(record("i1", 1));
      store.accept(record("i2", 2));
      store.startTurn(start("t1", ["i1", "i2"]));
      const outcome: TurnOutcome = { status: "failed", reason: { code: "model_error", message: "boom" } };
      store.endTurn(end("t1", ["i1", "i2"], { outcome, messages: [user("a"), user("b"), assistant("c")] }));
      for (const id of ["i1", "i2"]) expect(store.input(id)).toMatchObject({ status: "failed", outcome });
      expect(store.history("s1")).toEqual([user("a"), user("b"), assistant("c")]);
      expect((await store.open()).interrupted).toEqual([]);
    });

    test("history keeps append order across turns; a session without turns has none", [], async () => {
      const store = await fresh();
      for (let n = 1; n <= 3; n++) {
        store.accept(record(`i${n}`, n));
        store.startTurn(start(`t${n}`, [`i${n}`]));
        store.endTurn(end(`t${n}`, [`i${n}`], { messages: [user(`q${n}`), assistant(`a${n}`)] }));
      }
      store.accept(record("i4", 4));
      store.startTurn(start("t4", ["i4"]));
      store.endTurn(end("t4", ["i4"], { messages: [] }));
      expect(store.history("s1")).toEqual([1, 2, 3].flatMap((n) => [user(`q${n}`), assistant(`a${n}`)]));
      expect(store.history("unknown")).toEqual([]);
    });

    test("requeued inputs of a turn end go back to queued", [], async () => {
      const store = await fresh();
      store.accept(record("i1", 1));
      store.accept(record("i2", 2));
      store.startTurn(start("t1", ["i1"]));
      store.steer({ sessionId: "s1", inputId: "i2", turnId: "t1", attempt: 1 });
      store.endTurn(end("t1", ["i1", "i2"], { requeued: ["i2"] }));
      expect(store.input("i1")?.status).toBe("completed");
      expect(store.input("i2")).toMatchObject({ status: "queued", turnId: undefined });
      expect((await store.open()).queued.map((input) => input.id)).toEqual(["i2"]);
    });

    test("a steered input runs in the turn and takes its outcome", [], async () => {
      const store = await fresh();
      store.accept(record("i1", 1));
      store.accept(record("i2", 2, { policy: "steer" }));
      store.startTurn(start("t1", ["i1"]));
      store.steer({ sessionId: "s1", inputId: "i2", turnId: "t1", attempt: 1 });
      expect(store.input("i2")).toMatchObject({ status: "running", turnId: "t1" });
      store.endTurn(end("t1", ["i1", "i2"]));
      expect(store.input("i2")).toMatchObject({ status: "completed", turnId: "t1", outcome: OK });
    });

    test("a turn starts and ends only inputs that are live, and in the turn", [], async () => {
      const store = await fresh();
      for (let n = 1; n <= 3; n++) store.accept(record(`i${n}`, n));
      const reason = { code: "withdrawn", message: "withdrawn" } as const;
      store.endInput({ sessionId: "s1", inputId: "i1", status: "withdrawn", reason, endedAtMs: 5 });
      store.startTurn(start("t1", ["i1", "i2"]));
      expect(store.input("i1")).toMatchObject({ status: "withdrawn", turnId: undefined });
      store.endTurn(end("t1", ["i1", "i2", "i3"]));
      expect(store.input("i1")?.status).toBe("withdrawn");
      expect(store.input("i2")?.status).toBe("completed");
      expect(store.input("i3")).toMatchObject({ status: "queued", turnId: undefined });
    });

    test("a turn's second end is ignored", [], async () => {
      const store = await fresh();
      store.accept(record("i1", 1));
      store.startTurn(start("t1", ["i1"]));
      store.endTurn(end("t1", ["i1"], { messages: [assistant("once")] }));
      const outcome: TurnOutcome = {
        status: "interrupted",
        reason: { code: "runtime_stopped", message: "x" },
      };
      store.endTurn(end("t1", ["i1"], { outcome, messages: [assistant("twice")] }));
      expect(store.input("i1")?.status).toBe("completed");
      expect(store.history("s1")).toEqual([assistant("once")]);
    });
  });

  describe("several sessions", () => {
    const s2 = { sessionId: "s2" } as const;

    test(
      "writes to two sessions in turn keep each session's inputs, turns and history apart",
      [],
      async () => {
        const store = await fresh();
        store.createSession({ id: "s2", agent: "a", createdAtMs: 500 });
        store.accept(record("i1", 1));
        store.accept(record("j1", 2, s2));
        store.accept(record("i2", 3, { policy: "steer" }));
        store.accept(record("j2", 4, s2));
        store.startTurn(start("t1", ["i1"]));
        store.startTurn({ ...start("u1", ["j1"]), ...s2 });
        store.steer({ sessionId: "s1", inputId: "i2", turnId: "t1", attempt: 1 });
        store.checkpoint(checkpoint(1, [user("q1"), assistant("a1")]));
        const reason = { code: "withdrawn", message: "withdrawn" } as const;
        store.endInput({ ...s2, inputId: "j2", status: "withdrawn", reason, endedAtMs: 5 });
        store.endTurn(end("t1", ["i1", "i2"], { messages: [user("q1"), assistant("a1")] }));
        store.endTurn({ ...end("u1", ["j1"], { messages: [user("r1")] }), ...s2 });
        expect(store.input("i2")).toMatchObject({ status: "completed", turnId: "t1" });
        expect(store.input("j1")?.status).toBe("completed");
        expect(store.input("j2")?.status).toBe("withdrawn");
        expect(store.history("s1")).toEqual([user("q1"), assistant("a1")]);
        expect(store.history("s2")).toEqual([user("r1")]);
        expect(store.history("s3")).toEqual([]);
        expect((await store.open()).queued).toEqual([]);
      },
    );

    test("an input accepted before a reopen runs in a turn after it", ["reopen"], async () => {
      const store = await fresh();
      store.accept(record("i1", 1));
      const next = await reopened(store);
      await next.open();
      next.startTurn(start("t1", ["i1"]));
      next.endTurn(end("t1", ["i1"], { messages: [assistant("a")] }));
      expect(next.input("i1")?.status).toBe("completed");
      expect(next.history("s1")).toEqual([assistant("a")]);
    });
  });
}
