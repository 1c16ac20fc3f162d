/**
 * The rules that name what a `stop()` did.
 */
import { describe, expect, it } from "vitest";
import { type StopFacts, type StopStatus, stopStatus } from "../../src/kernel/shutdown/stop-status.js";

function facts(overrides: Partial<StopFacts>): StopFacts {
  return { drain: false, discarded: 0, abandonedCalls: 0, force: false, storeFailed: false, ...overrides };
}

describe("stop status", () => {
  it("clean when everything the stop waited for settled", () => {
    expect(stopStatus(facts({}))).toBe("clean");
    expect(stopStatus(facts({ drain: true }))).toBe("clean");
    // `force` only matters when something had to be killed.
    expect(stopStatus(facts({ drain: true, force: true }))).toBe("clean");
  });

  it("clean without drain even when work was cut short: interrupting it is what was asked", () => {
    expect(stopStatus(facts({ drain: false, discarded: 7 }))).toBe("clean");
  });

  it("drained_with_discards when a drain ran out of time with work unfinished", () => {
    expect(stopStatus(facts({ drain: true, discarded: 1 }))).toBe("drained_with_discards");
    expect(stopStatus(facts({ drain: true, discarded: 3, force: true }))).toBe("drained_with_discards");
  });

  it("timeout when calls ignored their abort signal past the deadline, whatever else happened", () => {
    expect(stopStatus(facts({ abandonedCalls: 1 }))).toBe("timeout");
    expect(stopStatus(facts({ abandonedCalls: 2, drain: true, discarded: 5 }))).toBe("timeout");
  });

  it("force_killed when such calls were outstanding and force was set", () => {
    expect(stopStatus(facts({ abandonedCalls: 1, force: true }))).toBe("force_killed");
    expect(stopStatus(facts({ abandonedCalls: 4, force: true, drain: true, discarded: 2 }))).toBe(
      "force_killed",
    );
  });

  it("store_failed when the store lost writes, whatever else happened", () => {
    expect(stopStatus(facts({ storeFailed: true }))).toBe("store_failed");
    expect(
      stopStatus(facts({ storeFailed: true, abandonedCalls: 2, force: true, drain: true, discarded: 1 })),
    ).toBe("store_failed");
  });

  it("every combination maps to exactly the status its rule gives (worst outcome wins)", () => {
    const seen = new Set<StopStatus>();
    for (const drain of [false, true])
      for (const force of [false, true])
        for (const discarded of [0, 1, 10])
          for (const abandonedCalls of [0, 1, 3])
            for (const storeFailed of [false, true]) {
              const want: StopStatus = storeFailed
                ? "store_failed"
                : abandonedCalls > 0
                  ? force
                    ? "force_killed"
                    : "timeout"
                  : drain && discarded > 0
                    ? "drained_with_discards"
                    : "clean";
              const got = stopStatus({ drain, force, discarded, abandonedCalls, storeFailed });
              expect(got, JSON.stringify({ drain, force, discarded, abandonedCalls, storeFailed })).toBe(
                want,
              );
              seen.add(got);
            }
    expect(seen.size).toBe(5);
  });
});
