/**
 * `slotQuantumMs`: a session whose turn ended with more input queued keeps its slot for its next turn,
 * ahead of sessions waiting for one, while its run of back-to-back turns is younger than the quantum
 * (and holds at most `RUN_TURNS_MAX` turns); then the longest-waiting session gets the slot.
 */
import { describe, expect, it } from "vitest";
import type { Model, Runtime } from "../../src/index.js";
import { RUN_TURNS_MAX } from "../../src/kernel/scheduler/scheduler.js";
import { createNoopModel } from "../../src/testing/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";
import { testRuntime } from "../support/runtime.js";

/** Sends `a` inputs to session a, then one to session b; returns the sessions in the order their turns started. */
async function startOrder(runtime: Runtime, a: number): Promise<string[]> {
  await runtime.start();
  const order: string[] = [];
  runtime.on((event) => {
    if (event.type === "turn.started") order.push(event.sessionId);
  });
  const sa = runtime.session("a", { agent: "bench" });
  const sb = runtime.session("b", { agent: "bench" });
  const handles = Array.from({ length: a }, (_, i) => sa.send(`a${i}`));
  handles.push(sb.send("b"));
  await Promise.all(handles.map((handle) => handle.result()));
  await runtime.stop();
  return order;
}

/** A no-op model whose every step takes `ms` of the virtual clock. */
function slowModel(clock: VirtualClock, ms: number): Model {
  const noop = createNoopModel();
  return {
    id: "slow",
    stream(request) {
      clock.advance(ms);
      return noop.stream(request);
    },
  };
}

describe("runtime: the slot quantum", () => {
  it("while the clock stands still, a session runs RUN_TURNS_MAX more turns before the waiting one", async () => {
    const { runtime } = testRuntime(
      { bench: { model: createNoopModel() } },
      { limits: { maxConcurrentTurns: 1 } },
    );
    const order = await startOrder(runtime, 100);
    expect(order.indexOf("b")).toBe(RUN_TURNS_MAX + 1);
    expect(order.filter((id) => id === "a")).toHaveLength(100);
  });

  it("a run ends once the quantum has passed since its first turn started", async () => {
    const clock = new VirtualClock();
    const { runtime } = testRuntime(
      { bench: { model: slowModel(clock, 4) } },
      { clock, limits: { maxConcurrentTurns: 1 }, slotQuantumMs: 10 },
    );
    // Turns start at 0, 4 and 8 ms; at the end of the third (12 ms) the run is 12 ms old.
    expect((await startOrder(runtime, 10)).indexOf("b")).toBe(3);
  });

  it("with slotQuantumMs 0 the slot goes to the waiting session after every turn", async () => {
    const { runtime } = testRuntime(
      { bench: { model: createNoopModel() } },
      { limits: { maxConcurrentTurns: 1 }, slotQuantumMs: 0 },
    );
    expect((await startOrder(runtime, 5)).slice(0, 3)).toEqual(["a", "b", "a"]);
  });

  it("a slot free for everyone: the quantum changes nothing", async () => {
    const { runtime } = testRuntime(
      { bench: { model: createNoopModel() } },
      { limits: { maxConcurrentTurns: 2 } },
    );
    expect((await startOrder(runtime, 3)).slice(0, 2).sort()).toEqual(["a", "b"]);
  });
});
