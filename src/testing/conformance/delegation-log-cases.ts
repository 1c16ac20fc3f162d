/**
 * The store conformance cases about the delegation log: dispatch order, completions written once
 * with their delivery, pruning, tree spend charged by deltas under a budget, and all of it across a reopen or a crash. A store that
 * keeps no log skips them (the runtime refuses delegation on it).
 */
import { describe, expect } from "vitest";
import type { ChildCompletion } from "../../kernel/delegation/child-completion.js";
import type { DelegationLog, DelegationRecord } from "../../runtime/ports/delegation-log.js";
import type { Store } from "../../runtime/ports/store.js";
import { record } from "./fixtures.js";
import type { Needs, SuiteKit } from "./suite-kit.js";

/** Registers these cases of the store conformance suite. */
export function delegationLogCases(kit: SuiteKit): void {
  const { crashed, fresh, reopened, test } = kit;
  describe("delegation log", () => {
    /** A fresh store's delegation log; the cases skip themselves for a store that keeps none. */
    function logOf(store: Store): DelegationLog {
      if (store.delegations === undefined) throw new Error("the store keeps no delegation log");
      return store.delegations;
    }
    function dtest(title: string, needs: readonly Needs[], body: () => Promise<void>): void {
      test(title, needs, async (context) => {
        const probe = await kit.factory.create();
        const supported = probe.delegations !== undefined;
        await probe.close();
        // The runtime refuses delegation on such a store (DELEGATION_UNSUPPORTED): nothing to prove.
        if (!supported) context.skip("the store keeps no delegation log");
        await body();
      });
    }

    dtest("dispatched records come back in dispatch order, all or by parent", [], async () => {
      const log = logOf(await fresh());
      log.dispatch(delegation("d1", "p1"));
      log.dispatch(delegation("d2", "p2"));
      log.dispatch(delegation("d3", "p1"));
      log.dispatch({ ...delegation("d1", "p1"), depth: 9 });
      expect(log.list().map((r) => r.id)).toEqual(["d1", "d2", "d3"]);
      expect(log.list("p1").map((r) => r.id)).toEqual(["d1", "d3"]);
      expect(log.get("d1")).toEqual(delegation("d1", "p1"));
      expect(log.get("nope")).toBeUndefined();
    });

    dtest("a completion is written once, with its delivery; later ones are ignored", [], async () => {
      const log = logOf(await fresh());
      log.dispatch(delegation("d1", "p1"));
      expect(log.complete(completion("d1", "p1"), { state: "pending", inputId: "c1" })).toBe(true);
      expect(log.complete({ ...completion("d1", "p1"), status: "failed" }, { state: "dropped" })).toBe(false);
      expect(log.complete(completion("nope", "p1"), { state: "pending" })).toBe(false);
      expect(log.get("d1")).toMatchObject({
        completion: completion("d1", "p1"),
        delivery: "pending",
        deliveryInputId: "c1",
      });
      log.setDelivery("d1", { state: "delivered", inputId: "c1" });
      expect(log.get("d1")).toMatchObject({ delivery: "delivered", deliveryInputId: "c1" });
      log.setDelivery("d1", { state: "dropped", reason: "parent_missing" });
      expect(log.get("d1")).toMatchObject({ delivery: "dropped", deliveryReason: "parent_missing" });
    });

    dtest("a running child has no delivery to move; prune forgets records", [], async () => {
      const log = logOf(await fresh());
      log.dispatch(delegation("d1", "p1"));
      log.dispatch(delegation("d2", "p1"));
      log.setDelivery("d1", { state: "delivered" });
      expect(log.get("d1")?.delivery).toBeUndefined();
      log.prune(["d1", "nope"]);
      expect(log.list().map((r) => r.id)).toEqual(["d2"]);
    });

    dtest("a tree is charged by deltas and admits model calls only under its budget", [], async () => {
      const log = logOf(await fresh());
      const calls = { modelCallsMax: 2 };
      expect(log.spend("root")).toBeUndefined();
      expect(log.charge("root", 0, calls)).toEqual({ spend: { modelCalls: 1, tokens: 0 }, admitted: true });
      expect(log.charge("root", 30)).toEqual({ spend: { modelCalls: 1, tokens: 30 }, admitted: false });
      expect(log.charge("root", 0, calls)).toEqual({ spend: { modelCalls: 2, tokens: 30 }, admitted: true });
      // Refused, yet the tokens its earlier calls used are charged.
      expect(log.charge("root", 5, calls)).toEqual({ spend: { modelCalls: 2, tokens: 35 }, admitted: false });
      expect(log.spend("root")).toEqual({ modelCalls: 2, tokens: 35 });
      expect(log.charge("none", 0, { modelCallsMax: 0 })).toEqual({
        spend: { modelCalls: 0, tokens: 0 },
        admitted: false,
      });
      const tokens = { tokensMax: 100 };
      expect(log.charge("t", 99, tokens)).toEqual({ spend: { modelCalls: 1, tokens: 99 }, admitted: true });
      expect(log.charge("t", 1, tokens)).toEqual({ spend: { modelCalls: 1, tokens: 100 }, admitted: false });
      expect(log.charge("u", 7, {})).toEqual({ spend: { modelCalls: 1, tokens: 7 }, admitted: true });
      expect(log.spend("root")).toEqual({ modelCalls: 2, tokens: 35 });
    });

    dtest("records, completions, deliveries and spend survive a reopen", ["reopen"], async () => {
      const store = await fresh();
      const log = logOf(store);
      log.dispatch(delegation("d1", "p1"));
      log.dispatch(delegation("d2", "p1"));
      log.complete(completion("d1", "p1"), { state: "held", reason: "waited", inputId: "c1" });
      log.charge("p1", 4, {});
      log.charge("p1", 6, { modelCallsMax: 5 });
      const next = await reopened(store);
      await next.open();
      const again = logOf(next);
      expect(again.list().map((r) => [r.id, r.delivery])).toEqual([
        ["d1", "held"],
        ["d2", undefined],
      ]);
      expect(again.get("d1")?.completion).toEqual(completion("d1", "p1"));
      expect(again.spend("p1")).toEqual({ modelCalls: 2, tokens: 10 });
    });

    dtest(
      "a completion and the parent input that carries it survive a crash together or not at all",
      ["reopen", "crash"],
      async () => {
        const store = await fresh();
        const log = logOf(store);
        log.dispatch(delegation("d1", "s1"));
        await store.commit();
        store.accept(record("c1", 1, { delegationId: "d1" }));
        log.complete(completion("d1", "s1"), { state: "pending", inputId: "c1" });
        const next = await crashed(store);
        const { queued } = await next.open();
        const done = logOf(next).get("d1")?.completion !== undefined;
        expect(queued.map((input) => input.id)).toEqual(done ? ["c1"] : []);
      },
    );
  });
}

function delegation(id: string, parentSessionId: string): DelegationRecord {
  return {
    id,
    parentSessionId,
    childSessionId: `${parentSessionId}>${id}`,
    rootSessionId: parentSessionId,
    depth: 1,
    spec: { goal: `goal of ${id}`, tools: ["read_file"], agent: "a" },
    dispatchedAtMs: 1_000,
  };
}

function completion(delegationId: string, parentSessionId: string): ChildCompletion {
  return {
    delegationId,
    parentSessionId,
    childSessionId: `${parentSessionId}>${delegationId}`,
    spec: { goal: `goal of ${delegationId}`, tools: ["read_file"] },
    status: "completed",
    summary: "found it",
    exitReason: "ok",
    modelCalls: 2,
    usage: { inputTokens: 5, outputTokens: 7 },
    dispatchedAtMs: 1_000,
    completedAtMs: 2_000,
  };
}
