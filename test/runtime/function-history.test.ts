/**
 * A function agent's output is part of its session's history, as an assistant message after the
 * input it answered, so `history` holds each input and what answered it (README's Quick start
 * counter printed `seen 1.5 inputs` when only inputs were kept).
 */
import { describe, expect, it } from "vitest";
import { testRuntime } from "../support/runtime.js";

describe("a function agent's history", () => {
  it("holds each input and the output that answered it", async () => {
    const { runtime } = testRuntime({
      counter: {
        run: (input, { history }) => `seen ${history.length / 2 + 1} inputs; last: ${String(input)}`,
      },
      records: { run: (input) => ({ echoed: input }) },
      silent: { run: () => undefined },
    });
    await runtime.start();
    const counter = runtime.session("c", { agent: "counter" });
    counter.send("a");
    counter.send("b");
    expect((await counter.send("c").result()).output).toBe("seen 3 inputs; last: c");
    expect(counter.history().map((m) => m.role)).toEqual([
      "user",
      "assistant",
      "user",
      "assistant",
      "user",
      "assistant",
    ]);
    expect(counter.history()[1]).toEqual({
      role: "assistant",
      content: [{ type: "text", text: "seen 1 inputs; last: a" }],
    });
    const records = runtime.session("r", { agent: "records" });
    expect((await records.send({ n: 1 }).result()).output).toEqual({ echoed: { n: 1 } });
    expect(records.history()[1]).toEqual({
      role: "assistant",
      content: [{ type: "text", text: '{"echoed":{"n":1}}' }],
    });
    const silent = runtime.session("s", { agent: "silent" });
    expect((await silent.send("x").result()).output).toBeNull();
    expect(silent.history()).toEqual([
      { role: "user", content: [{ type: "text", text: "x" }] },
      { role: "assistant", content: [] },
    ]);
    await runtime.stop();
  });

  it("its output is a private copy: changing the returned object later changes nothing", async () => {
    const kept = { list: [1] };
    const { runtime } = testRuntime({ f: { run: () => kept } });
    await runtime.start();
    const result = await runtime.session("s", { agent: "f" }).send("x").result();
    kept.list.push(2);
    expect(result.output).toEqual({ list: [1] });
    await runtime.stop();
  });
});
