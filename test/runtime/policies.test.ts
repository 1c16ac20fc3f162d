import { describe, expect, it } from "vitest";
import type { Policy, RuntimeEvent } from "../../src/index.js";
import { CapacityError, InvalidInputError, OffstageError, TurnCancelled } from "../../src/index.js";
import { flush, thrownBy, until } from "../support/async.js";
import { callTools, roles, text, toolCall, userTexts } from "../support/models.js";
import { busySession, gatedChat, gatedSession, spyStore, startSession, stateOf } from "../support/runtime.js";
import { GatedTool } from "../support/tools.js";

describe("enqueue", () => {
  it("runs inputs one turn at a time, in arrival order", async () => {
    const { fn, runtime, s } = await gatedSession();
    const handles = ["a", "b", "c", "d"].map((x) => s.send(x));
    for (let i = 0; i < handles.length; i++) {
      await until(() => fn.calls.length === i + 1);
      await flush();
      // Only one turn at a time: the next call has not started.
      expect(fn.calls).toHaveLength(i + 1);
      expect(handles.filter((h) => h.status === "running")).toEqual([handles[i]]);
      fn.calls[i]!.gate.resolve(`out ${i}`);
    }
    expect(fn.calls.map((c) => c.input)).toEqual(["a", "b", "c", "d"]);
    for (const [i, h] of handles.entries()) expect((await h.result()).output).toBe(`out ${i}`);
    expect(new Set(handles.map((h) => h.turnId)).size).toBe(4);
    await runtime.stop();
  });
});

describe("reject", () => {
  it("runs when the session is idle", async () => {
    const { runtime, s } = await startSession({ f: { run: async (x) => x } });
    const h = s.send("x", { policy: "reject" });
    expect((await h.result()).output).toBe("x");
    await runtime.stop();
  });

  it("refuses while busy with CapacityError SESSION_BUSY and changes nothing", async () => {
    const spy = spyStore();
    const { fn, runtime, s, a } = await busySession({ store: spy.store });
    const events: RuntimeEvent[] = [];
    runtime.on((e) => events.push(e));
    const before = stateOf(runtime, [s], [a]);
    const writes = spy.writes.length;
    const thrown = thrownBy(() => s.send("b", { policy: "reject" }));
    expect(thrown).toBeInstanceOf(CapacityError);
    expect((thrown as CapacityError).code).toBe("SESSION_BUSY");
    expect((thrown as Error).message).toContain(a.turnId!);
    await flush();
    expect(stateOf(runtime, [s], [a])).toEqual(before);
    expect(spy.writes.length).toBe(writes);
    expect(events).toEqual([]);

    // Busy because of a queued input (no turn running yet) refuses too.
    const queued = s.send("c");
    expect(() => s.send("d", { policy: "reject" })).toThrow(
      expect.objectContaining({ code: "SESSION_BUSY" }),
    );
    fn.calls[0]!.gate.resolve("A");
    await until(() => fn.calls.length === 2);
    fn.calls[1]!.gate.resolve("C");
    await queued.result();
    expect(fn.calls.map((c) => c.input)).toEqual(["a", "c"]);
    await runtime.stop();
  });
});

describe("interrupt", () => {
  it("cancels the running turn (interrupted_by_input) and runs next, ahead of queued enqueue input", async () => {
    const { fn, runtime, s, a } = await busySession();
    const b = s.send("b");
    const c = s.send("c", { policy: "interrupt" });
    await until(() => fn.calls.length === 2);
    expect(fn.calls[0]!.signal.aborted).toBe(true);
    expect(a.status).toBe("interrupted");
    expect(a.poll()!.outcome.reason.code).toBe("interrupted_by_input");
    expect(a.poll()!.outcome.reason.message).toContain(c.id);
    await expect(a.result()).rejects.toBeInstanceOf(TurnCancelled);
    expect(fn.calls[1]!.input).toBe("c");
    expect(c.status).toBe("running");
    expect(b.status).toBe("queued");
    fn.calls[1]!.gate.resolve("C");
    await until(() => fn.calls.length === 3);
    expect(fn.calls[2]!.input).toBe("b");
    fn.calls[2]!.gate.resolve("B");
    expect((await b.result()).output).toBe("B");
    expect((await c.result()).output).toBe("C");
    expect(runtime.metrics().ended).toMatchObject({ interrupted: 1, completed: 2 });
    await runtime.stop();
  });

  it("interrupt inputs keep their own arrival order ahead of enqueued ones", async () => {
    const { fn, runtime, s } = await busySession();
    s.send("q1");
    s.send("i1", { policy: "interrupt" });
    s.send("i2", { policy: "interrupt" });
    for (let i = 1; i < 4; i++) {
      await until(() => fn.calls.length === i + 1);
      fn.calls[i]!.gate.resolve(i);
    }
    // i2's interrupt landed while i1 ran: i1 was interrupted in turn.
    expect(fn.calls.map((c) => c.input)).toEqual(["a", "i1", "i2", "q1"]);
    await runtime.stop();
  });

  it("when idle, an interrupt input just runs", () => runsWhenIdle("interrupt"));
});

/** On an idle session a policy that acts on a running turn has nothing to act on: the input runs. */
async function runsWhenIdle(policy: Policy): Promise<void> {
  const { runtime, s } = await startSession({ f: { run: async (x) => x } });
  const h = s.send("x", { policy });
  const result = await h.result();
  expect(result).toMatchObject({ status: "completed", output: "x" });
  await runtime.stop();
}

describe("merge", () => {
  it("folds every queued input into one turn: one turnId, and the prompt holds every user message", async () => {
    const { m, runtime, s } = await gatedChat({ system: "be brief" });
    const a = s.send("first");
    await until(() => m.calls.length === 1);
    const b = s.send("second");
    const c = s.send("third", { policy: "merge" });
    const d = s.send("fourth");
    m.last.release(text("one"));
    await until(() => m.calls.length === 2);
    expect(userTexts(m.last.request.prompt)).toEqual(["first", "second", "third", "fourth"]);
    expect(roles(m.last.request.prompt)).toEqual(["system", "user", "assistant", "user", "user", "user"]);
    m.last.release(text("all three"));
    const results = await Promise.all([b, c, d].map((h) => h.result()));
    expect(new Set(results.map((r) => r.turnId)).size).toBe(1);
    expect(results[0]!.turnId).not.toBe((await a.result()).turnId);
    expect(results.map((r) => r.output)).toEqual(["all three", "all three", "all three"]);
    expect(m.calls).toHaveLength(2);
    expect(runtime.metrics().turnsStarted).toBe(4);
    await runtime.stop();
  });

  it("a function agent receives every merged payload", async () => {
    const { fn, runtime, s } = await busySession();
    const b = s.send({ n: 1 }, { policy: "merge" });
    const c = s.send({ n: 2 });
    fn.calls[0]!.gate.resolve("A");
    await until(() => fn.calls.length === 2);
    expect(fn.calls[1]!.input).toEqual([{ n: 1 }, { n: 2 }]);
    fn.calls[1]!.gate.resolve("both");
    expect((await b.result()).turnId).toBe((await c.result()).turnId);
    await runtime.stop();
  });

  it("withdrawing the only merge input leaves the rest to run one by one", async () => {
    const { fn, runtime, s } = await busySession();
    s.send("b");
    s.send("m", { policy: "merge" }).withdraw();
    s.send("c");
    fn.calls[0]!.gate.resolve(0);
    await until(() => fn.calls.length === 2);
    expect(fn.calls[1]!.input).toBe("b");
    fn.calls[1]!.gate.resolve(1);
    await until(() => fn.calls.length === 3);
    expect(fn.calls[2]!.input).toBe("c");
    fn.calls[2]!.gate.resolve(2);
    await runtime.stop({ drain: true });
  });
});

describe("steer", () => {
  it("appends to the running turn after all of the step's tool results, before the next model call", async () => {
    const slow = new GatedTool("slow");
    const { m, runtime, s } = await gatedChat({ tools: [slow.tool] });
    const a = s.send("first");
    await until(() => m.calls.length === 1);
    m.last.release(callTools(toolCall("c1", "slow", { n: 1 }), toolCall("c2", "slow", { n: 2 })));
    await until(() => slow.calls.length === 2);
    slow.calls[0]!.gate.resolve("one done");
    await flush();
    // Between the two results of the step: the steer must wait for the step boundary.
    const b = s.send("also this", { policy: "steer" });
    expect(b.status).toBe("running");
    expect(b.turnId).toBe(a.turnId);
    await flush();
    expect(m.calls).toHaveLength(1);
    slow.calls[1]!.gate.resolve("two done");
    await until(() => m.calls.length === 2);
    const prompt = m.last.request.prompt;
    expect(roles(prompt)).toEqual(["user", "assistant", "tool", "user"]);
    const toolMessage = prompt[2]!;
    expect(toolMessage.role === "tool" && toolMessage.content.map((r) => r.toolCallId)).toEqual(["c1", "c2"]);
    expect(userTexts(prompt)).toEqual(["first", "also this"]);
    m.last.release(text("answered both"));
    const [ra, rb] = await Promise.all([a.result(), b.result()]);
    expect(ra.output).toBe("answered both");
    expect(rb.output).toBe("answered both");
    expect(rb.turnId).toBe(ra.turnId);
    expect(roles(s.history())).toEqual(["user", "assistant", "tool", "user", "assistant"]);
    await runtime.stop();
  });

  it("a steer during the final model call makes the model answer again with it", async () => {
    const { m, runtime, s } = await gatedChat();
    const a = s.send("first");
    await until(() => m.calls.length === 1);
    const b = s.send("wait, one more", { policy: "steer" });
    m.last.release(text("draft"));
    await until(() => m.calls.length === 2);
    expect(roles(m.last.request.prompt)).toEqual(["user", "assistant", "user"]);
    expect(userTexts(m.last.request.prompt)).toEqual(["first", "wait, one more"]);
    m.last.release(text("final"));
    expect((await a.result()).output).toBe("final");
    expect((await b.result()).output).toBe("final");
    await runtime.stop();
  });

  it("cancelling a steered input the model has not seen ends it alone; the turn answers the rest", async () => {
    for (const mode of ["immediate", "after_step"] as const) {
      const { m, runtime, s } = await gatedChat();
      const a = s.send("a");
      await until(() => m.calls.length === 1);
      const b = s.send("b", { policy: "steer" });
      expect(await b.cancel({ mode, reason: "never mind" })).toBe("cancelled");
      expect(b.poll()?.outcome.reason).toEqual({ code: "cancel_requested", message: "never mind" });
      // No turn answered it: it names none.
      expect(b.turnId).toBeUndefined();
      expect(m.last.signal.aborted).toBe(false);
      m.last.release(text("A"));
      expect((await a.result()).output).toBe("A");
      expect(m.calls).toHaveLength(1);
      expect(userTexts(s.history())).toEqual(["a"]);
      await runtime.stop();
    }
  });

  it("into a function-agent turn: requeued and runs as its own turn", async () => {
    const { fn, runtime, s, a } = await busySession();
    const b = s.send("b", { policy: "steer" });
    expect(b.status).toBe("running");
    fn.calls[0]!.gate.resolve("A");
    await until(() => fn.calls.length === 2);
    expect(fn.calls[1]!.input).toBe("b");
    expect(b.status).toBe("running");
    expect(b.turnId).toBe(fn.calls[1]!.turnId);
    expect(b.turnId).not.toBe(a.turnId);
    fn.calls[1]!.gate.resolve("B");
    expect((await a.result()).output).toBe("A");
    expect((await b.result()).output).toBe("B");
    expect(runtime.metrics().ended.completed).toBe(2);
    await runtime.stop();
  });

  it("a steer that arrives after the turn decided to end (commit pending) runs as its own turn", async () => {
    const spy = spyStore();
    const { m, runtime, s } = await gatedChat({}, { store: spy.store });
    const a = s.send("first");
    await until(() => m.calls.length === 1);
    let openCommit!: () => void;
    spy.commitGate = new Promise((resolve) => {
      openCommit = resolve;
    });
    m.last.release(text("done"));
    await until(() => spy.writes.some((w) => w.method === "endTurn"), "the turn's end to be written");
    const b = s.send("late steer", { policy: "steer" });
    spy.commitGate = undefined;
    openCommit();
    expect((await a.result()).output).toBe("done");
    await until(() => m.calls.length === 2, "the late steer to get its own model call");
    expect(userTexts(m.last.request.prompt)).toEqual(["first", "late steer"]);
    m.last.release(text("seen"));
    const rb = await b.result();
    expect(rb.output).toBe("seen");
    expect(rb.turnId).not.toBe(a.turnId);
    await runtime.stop();
  });

  it("when idle, a steer input just runs", () => runsWhenIdle("steer"));
});

describe("withdraw", () => {
  it("a queued input ends withdrawn; result() throws TurnCancelled; it never runs", async () => {
    const { fn, runtime, s } = await gatedSession();
    const events: RuntimeEvent[] = [];
    runtime.on((e) => events.push(e));
    s.send("a");
    await until(() => fn.calls.length === 1);
    const b = s.send("b");
    const c = s.send("c");
    expect(runtime.metrics().queuedInputs).toBe(2);
    b.withdraw();
    expect(runtime.metrics().queuedInputs).toBe(1);
    const error = await b.result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TurnCancelled);
    expect((error as TurnCancelled).details).toMatchObject({ status: "withdrawn" });
    expect(b.status).toBe("withdrawn");
    expect(b.poll()!.outcome.reason.code).toBe("withdrawn");
    expect(events).toContainEqual({
      type: "input.status",
      sessionId: "s",
      inputId: b.id,
      status: "withdrawn",
    });
    fn.calls[0]!.gate.resolve("A");
    await until(() => fn.calls.length === 2);
    expect(fn.calls[1]!.input).toBe("c");
    fn.calls[1]!.gate.resolve("C");
    await c.result();
    expect(runtime.metrics().ended).toMatchObject({ withdrawn: 1, completed: 2 });
    await runtime.stop();
  });

  it("a running or settled input → OffstageError NOT_WITHDRAWABLE, nothing changes", async () => {
    const { fn, runtime, s, a } = await busySession();
    const before = stateOf(runtime, [s], [a]);
    const thrown = thrownBy(() => a.withdraw());
    expect(thrown).toBeInstanceOf(OffstageError);
    expect((thrown as OffstageError).code).toBe("NOT_WITHDRAWABLE");
    expect((thrown as Error).message).toContain("running");
    expect(stateOf(runtime, [s], [a])).toEqual(before);
    fn.calls[0]!.gate.resolve("A");
    await a.result();
    expect(() => a.withdraw()).toThrow(expect.objectContaining({ code: "NOT_WITHDRAWABLE" }));
    expect(a.status).toBe("completed");
    await runtime.stop();
  });
});

describe("idempotency keys", () => {
  it("a repeated send returns the same handle object and accepts nothing new", async () => {
    const { fn, runtime, s } = await gatedSession();
    const a = s.send({ q: 1 }, { idempotencyKey: "k1" });
    const again = s.send({ q: 1 }, { idempotencyKey: "k1" });
    expect(again).toBe(a);
    await until(() => fn.calls.length === 1);
    expect(s.send({ q: 1 }, { idempotencyKey: "k1", policy: "reject" })).toBe(a);
    expect(runtime.metrics().inputsAccepted).toBe(1);
    // The same key on another session is another input.
    const other = runtime.session("t", { agent: "f" }).send({ q: 1 }, { idempotencyKey: "k1" });
    expect(other).not.toBe(a);
    fn.calls[0]!.gate.resolve("once");
    await a.result();
    // After it ended, the key still answers with the original input.
    const late = s.send({ q: 1 }, { idempotencyKey: "k1" });
    expect(late.id).toBe(a.id);
    expect(late.status).toBe("completed");
    expect((await late.result()).output).toBe("once");
    expect(fn.calls.filter((c) => JSON.stringify(c.input) === '{"q":1}')).toHaveLength(2);
    await until(() => fn.calls.length === 2);
    fn.calls[1]!.gate.resolve("other");
    await runtime.stop({ drain: true });
  });

  it("the same key with a different payload → InvalidInputError IDEMPOTENCY_CONFLICT, nothing changes", async () => {
    const { fn, runtime, s } = await gatedSession();
    const a = s.send("payload", { idempotencyKey: "k" });
    const before = stateOf(runtime, [s], [a]);
    const thrown = thrownBy(() => s.send("other payload", { idempotencyKey: "k" }));
    expect(thrown).toBeInstanceOf(InvalidInputError);
    expect((thrown as InvalidInputError).code).toBe("IDEMPOTENCY_CONFLICT");
    expect((thrown as InvalidInputError).details).toMatchObject({ inputId: a.id, idempotencyKey: "k" });
    expect(stateOf(runtime, [s], [a])).toEqual(before);
    await until(() => fn.calls.length === 1);
    fn.calls[0]!.gate.resolve("A");
    await a.result();
    expect(() => s.send("other payload", { idempotencyKey: "k" })).toThrow(
      expect.objectContaining({ code: "IDEMPOTENCY_CONFLICT" }),
    );
    await runtime.stop();
  });
});

describe("inbox limit", () => {
  it("a full inbox → CapacityError INBOX_FULL (limits.inboxLengthMax), nothing changes", async () => {
    const { fn, runtime, s, a } = await busySession({ limits: { inboxLengthMax: 2 } });
    const b = s.send("b");
    const c = s.send("c", { policy: "merge" });
    const before = stateOf(runtime, [s], [a, b, c]);
    for (const policy of ["enqueue", "interrupt", "merge"] as const) {
      const thrown = thrownBy(() => s.send("d", { policy }));
      expect(thrown).toBeInstanceOf(CapacityError);
      expect((thrown as CapacityError).code).toBe("INBOX_FULL");
      expect((thrown as Error).message).toContain("inboxLengthMax 2");
    }
    await flush();
    expect(stateOf(runtime, [s], [a, b, c])).toEqual(before);
    expect(fn.calls[0]!.signal.aborted).toBe(false);
    // A steer joins the running turn instead of the inbox, so it is still accepted.
    expect(s.send("e", { policy: "steer" }).status).toBe("running");
    // Another session has its own inbox.
    expect(runtime.session("t", { agent: "f" }).send("x").status).toBe("queued");
    await runtime.stop();
  });
});
