/**
 * Property-based fuzzing of what Offstage calls back: models, tools (their `check` and `execute`),
 * function agents and event listeners throw, reject with, return or stream random and adversarial
 * values. Whatever they do, the turn reaches a terminal status with a readable reason of bounded
 * length, the session is not wedged (its next input runs), `send()` returns its handle, nothing
 * escapes as an uncaught exception or unhandled rejection, nothing hangs, and `stop()` is `clean`.
 *
 * Fixed seed; `OFFSTAGE_FUZZ_RUNS` and `OFFSTAGE_FUZZ_SEED` as in `public-api.test.ts`.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Agent, ModelPart, ModelRequest, Tool, TurnHandle } from "../../src/index.js";
import { CAUSE_CHARS_MAX } from "../../src/kernel/limits.js";
import { until } from "../support/async.js";
import { callTools, text, toolCall } from "../support/models.js";
import { testRuntime } from "../support/runtime.js";
import { collectEscapes, fuzzParameters, hostile } from "./hostile.js";

const escaped = collectEscapes({ beforeAll, afterAll });

/** Where the hostile value comes from, and how it is delivered. */
const PLACES = [
  "function throws",
  "function rejects",
  "function returns",
  "tool throws",
  "tool rejects",
  "tool returns",
  "tool check throws",
  "tool check returns",
  "model stream() throws",
  "model stream() returns",
  "model iteration throws",
  "model error part",
  "model part",
  "listener throws",
] as const;
type Place = (typeof PLACES)[number];

/** True for a turn of the first input (the one the hostile callback answers): its last user message. */
function isFirst(request: ModelRequest): boolean {
  const user = request.prompt.filter((m) => m.role === "user").at(-1);
  return user?.role === "user" && user.content.some((part) => part.type === "text" && part.text === "first");
}

/** The agents of a run: `a` misbehaves with `value` at `place` on its first input only. */
function agentFor(place: Place, value: unknown): Agent {
  const hostileTool: Tool = {
    name: "t",
    description: "a tool",
    inputSchema: { type: "object" },
    check: (args) => {
      if (place === "tool check throws") throw value;
      if (place === "tool check returns") return value as never;
      return { ok: true, value: args };
    },
    execute: () => {
      if (place === "tool throws") throw value;
      if (place === "tool rejects") return Promise.reject(value);
      return value;
    },
  };
  if (place.startsWith("function")) {
    return {
      run: (input) => {
        if (input !== "first") return "fine";
        if (place === "function throws") throw value;
        if (place === "function rejects") return Promise.reject(value);
        return value;
      },
    };
  }
  let toolCalls = 0;
  return {
    tools: [hostileTool],
    model: {
      id: "hostile",
      stream(request: ModelRequest): Iterable<ModelPart> | AsyncIterable<ModelPart> {
        if (!isFirst(request) || place === "listener throws") return text("fine");
        if (place.startsWith("tool")) {
          toolCalls += 1;
          return toolCalls === 1 ? callTools(toolCall("c1", "t", {})) : text("after the tool");
        }
        switch (place) {
          case "model stream() throws":
            throw value;
          case "model stream() returns":
            return value as Iterable<ModelPart>;
          case "model iteration throws":
            return (async function* () {
              yield { type: "text-delta", id: "t", delta: "partial " } as ModelPart;
              throw value;
            })();
          case "model error part":
            return [{ type: "error", error: value }];
          default:
            return [value as ModelPart, { type: "finish", finishReason: "stop" }];
        }
      },
    },
  };
}

describe("fuzzing callbacks: hostile values become terminal outcomes", () => {
  it("every turn settles with a readable reason; the session goes on; stop() is clean", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...PLACES), hostile(), async (place, { v: value }) => {
        escaped.length = 0;
        const { runtime } = testRuntime({ a: agentFor(place, value) });
        await runtime.start();
        if (place === "listener throws")
          runtime.on(() => {
            throw value;
          });
        const session = runtime.session("s", { agent: "a" });
        let first: TurnHandle | undefined;
        let second: TurnHandle | undefined;
        expect(() => {
          first = session.send("first");
          second = session.send("second");
        }).not.toThrow();
        await until(() => first!.done && second!.done, `both inputs to settle (${place})`);
        for (const handle of [first!, second!]) {
          const { outcome } = handle.poll()!;
          expect(["completed", "failed"]).toContain(outcome.status);
          expect(typeof outcome.reason.message).toBe("string");
          expect(outcome.reason.message.length).toBeLessThanOrEqual(CAUSE_CHARS_MAX + 200);
        }
        expect(second!.poll()!.outcome.status, "the session's next input ran").toBe("completed");
        expect(await runtime.stop()).toBe("clean");
        expect(escaped).toEqual([]);
      }),
      fuzzParameters(150),
    );
  });
});
