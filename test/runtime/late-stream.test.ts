/**
 * A model stream that goes on after its turn was cancelled (some providers ignore the abort and keep
 * sending): nothing it says afterwards may reach the event stream or change the outcome.
 */
import { describe, expect, it } from "vitest";
import type { Model, ModelPart, RuntimeEvent } from "../../src/index.js";
import { deferred, flush, until } from "../support/async.js";
import { testRuntime } from "../support/runtime.js";

describe("a stream that ignores its abort", () => {
  it("adds no events after the turn was cancelled", async () => {
    const more = deferred();
    let started = false;
    const stubborn: Model = {
      id: "stubborn",
      stream: () =>
        (async function* (): AsyncGenerator<ModelPart> {
          started = true;
          yield { type: "text-delta", id: "t", delta: "before" };
          await more.promise;
          yield { type: "text-delta", id: "t", delta: "after the cancel" };
          yield { type: "finish", finishReason: "stop" };
        })(),
    };
    const { runtime } = testRuntime({ chat: { model: stubborn } });
    await runtime.start();
    const seen: RuntimeEvent[] = [];
    runtime.on((event) => seen.push(event));
    const h = runtime.session("s", { agent: "chat" }).send("go");
    await until(() => started && seen.some((e) => e.type === "model.text"), "the first delta");
    expect(await h.cancel({ reason: "enough" })).toBe("cancelled");
    more.resolve();
    // Let the stubborn stream run to its end.
    await flush();
    const deltas = seen.flatMap((e) => (e.type === "model.text" ? [e.delta] : []));
    expect(deltas).toEqual(["before"]);
    expect(seen.at(-1)?.type).toBe("turn.ended");
    expect(h.status).toBe("cancelled");
    await runtime.stop();
  });
});
