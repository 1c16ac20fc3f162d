import { describe, expect, it } from "vitest";
import { type ChildCompletion, renderCompletions } from "../../src/kernel/delegation/child-completion.js";
import type { RetainedRecord } from "../../src/kernel/delegation/completion-delivery.js";
import { decideDelivery, recordsToPrune } from "../../src/kernel/delegation/completion-delivery.js";
import { budgetVerdict, chargeTree, createTreeSpend } from "../../src/kernel/delegation/delegation-budget.js";
import type { DelegationCaps } from "../../src/kernel/delegation/delegation-caps.js";
import { createDelegationLedger, release, reserve } from "../../src/kernel/delegation/delegation-caps.js";
import { SeededRandom } from "../../src/testing/seeded-random.js";

const caps: DelegationCaps = { runningMax: 5, perParentRunningMax: 3, depthMax: 2 };

describe("delegation caps", () => {
  it("reserves a whole fan-out or none of it", () => {
    const ledger = createDelegationLedger();
    expect(reserve(ledger, caps, "p", 0, 2)).toEqual({ kind: "reserved" });
    const refused = reserve(ledger, caps, "p", 0, 2);
    expect(refused).toMatchObject({ kind: "rejected", code: "DELEGATION_CAP_PARENT" });
    // The refused fan-out of two took nothing: one more still fits.
    expect(ledger.running).toBe(2);
    expect(reserve(ledger, caps, "p", 0, 1)).toEqual({ kind: "reserved" });
  });

  it("applies the global cap across parents", () => {
    const ledger = createDelegationLedger();
    reserve(ledger, caps, "a", 0, 3);
    reserve(ledger, caps, "b", 0, 2);
    const refused = reserve(ledger, caps, "c", 0, 1);
    expect(refused).toMatchObject({ kind: "rejected", code: "DELEGATION_CAP_GLOBAL" });
    expect(ledger.byParent.has("c")).toBe(false);
  });

  it("refuses children deeper than depthMax", () => {
    const ledger = createDelegationLedger();
    expect(reserve(ledger, caps, "grandchild", 2, 1)).toMatchObject({ code: "DELEGATION_DEPTH" });
    expect(reserve(ledger, caps, "child", 1, 1)).toEqual({ kind: "reserved" });
  });

  it("tells the model what to do next when it refuses", () => {
    const ledger = createDelegationLedger();
    reserve(ledger, caps, "p", 0, 3);
    const refused = reserve(ledger, caps, "p", 0, 1);
    expect(refused.kind === "rejected" && refused.reason).toMatch(/Wait for .* or do the work yourself/);
  });

  it("release frees one slot and ignores slots it does not hold", () => {
    const ledger = createDelegationLedger();
    reserve(ledger, caps, "p", 0, 2);
    release(ledger, "p");
    release(ledger, "nobody");
    expect(ledger.running).toBe(1);
    release(ledger, "p");
    release(ledger, "p");
    expect(ledger.running).toBe(0);
    expect(ledger.byParent.size).toBe(0);
  });

  it("never exceeds a cap under random reserve/release (seeded)", () => {
    for (let seed = 1; seed <= 50; seed++) {
      const random = new SeededRandom(seed);
      const ledger = createDelegationLedger();
      const held: string[] = [];
      for (let step = 0; step < 200; step++) {
        const parent = `p${random.int(0, 3)}`;
        if (random.next() < 0.6) {
          const count = random.int(1, 3);
          if (reserve(ledger, caps, parent, random.int(0, 2), count).kind === "reserved")
            for (let i = 0; i < count; i++) held.push(parent);
        } else if (held.length > 0) {
          release(ledger, held.splice(random.int(0, held.length - 1), 1)[0]!);
        }
        expect(ledger.running).toBe(held.length);
        expect(ledger.running).toBeLessThanOrEqual(caps.runningMax);
        for (const n of ledger.byParent.values()) expect(n).toBeLessThanOrEqual(caps.perParentRunningMax);
      }
    }
  });
});

describe("tree budget", () => {
  it("admits model calls up to the budget and no further", () => {
    const spend = createTreeSpend();
    const budget = { modelCallsMax: 2 };
    expect(chargeTree(spend, 0, budget)).toBe(true);
    expect(chargeTree(spend, 0, budget)).toBe(true);
    expect(chargeTree(spend, 0, budget)).toBe(false);
    expect(spend.modelCalls).toBe(2);
    expect(budgetVerdict(spend, budget)).toMatchObject({
      kind: "exceeded",
      message: expect.stringContaining("2"),
    });
  });

  it("refuses the call after the one that crossed the token budget, charging its tokens", () => {
    const spend = createTreeSpend();
    const budget = { tokensMax: 100 };
    expect(chargeTree(spend, 0, budget)).toBe(true);
    expect(chargeTree(spend, 150, budget)).toBe(false);
    expect(spend).toEqual({ modelCalls: 1, tokens: 150 });
    expect(budgetVerdict(spend, budget)).toMatchObject({
      kind: "exceeded",
      message: expect.stringContaining("150"),
    });
  });

  it("tokens alone are charged without admitting a call", () => {
    const spend = createTreeSpend();
    expect(chargeTree(spend, 40)).toBe(false);
    expect(spend).toEqual({ modelCalls: 0, tokens: 40 });
  });

  it("an empty budget is unbounded", () => {
    const spend = createTreeSpend();
    for (let i = 0; i < 1000; i++) expect(chargeTree(spend, 1, {})).toBe(true);
    expect(budgetVerdict(spend, {}).kind).toBe("ok");
  });
});

function completion(overrides: Partial<ChildCompletion> = {}): ChildCompletion {
  return {
    delegationId: "d1",
    parentSessionId: "p",
    childSessionId: "p/d1",
    spec: { goal: "count the files in src", context: "the user asked for a summary", tools: ["list_files"] },
    status: "completed",
    summary: "src holds 12 files",
    exitReason: "ok",
    modelCalls: 2,
    dispatchedAtMs: 1_000,
    completedAtMs: 3_500,
    ...overrides,
  };
}

describe("completion block", () => {
  it("says why the child existed and what it found", () => {
    const text = renderCompletions([completion()]);
    expect(text).toContain("goal: count the files in src");
    expect(text).toContain("context: the user asked for a summary");
    expect(text).toContain("result:\nsrc holds 12 files");
    expect(text).toContain("ran 2.5 s, 2 model calls");
  });

  it("shows the error and partial output of a child that did not complete", () => {
    const text = renderCompletions([
      completion({
        status: "interrupted",
        error: { code: "interrupted", message: "interruptAll: shutting down" },
        partialOutput: "found 4 files so far",
      }),
    ]);
    expect(text).toContain("error (interrupted): interruptAll: shutting down");
    expect(text).toContain("partial output before it stopped:\nfound 4 files so far");
    expect(text).not.toContain("result:");
    expect(text).toMatch(/dispatch it again/);
  });

  it("merges several completions into one block", () => {
    const text = renderCompletions([completion(), completion({ delegationId: "d2" })]);
    expect(text).toMatch(/^2 background tasks/);
    expect(text.match(/<delegation /g)).toHaveLength(2);
  });
});

describe("delivery and retention", () => {
  it("delivers, holds stale completions, drops orphans", () => {
    expect(decideDelivery(true, 1_000, 2_000, 60_000)).toEqual({ kind: "deliver" });
    expect(decideDelivery(true, 1_000, 100_000, 60_000)).toEqual({ kind: "hold", ageMs: 99_000 });
    expect(decideDelivery(false, 1_000, 2_000, 60_000)).toEqual({ kind: "drop", reason: "parent_missing" });
  });

  it("keeps the newest N per parent and never prunes a record waiting for delivery", () => {
    const records: RetainedRecord[] = [
      { id: "a1", parentSessionId: "a", completedAtMs: 1, delivery: "delivered" },
      { id: "a2", parentSessionId: "a", completedAtMs: 2, delivery: "pending" },
      { id: "a3", parentSessionId: "a", completedAtMs: 3, delivery: "dropped" },
      { id: "a4", parentSessionId: "a", completedAtMs: 4, delivery: "delivered" },
      { id: "b1", parentSessionId: "b", completedAtMs: 1, delivery: "held" },
      { id: "b2", parentSessionId: "b", completedAtMs: 2, delivery: "delivered" },
    ];
    expect(recordsToPrune(records, 1).sort()).toEqual(["a1", "a3"]);
    expect(recordsToPrune(records, 10)).toEqual([]);
  });
});
