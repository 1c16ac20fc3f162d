/**
 * Background children on the memory store: dispatch, caps, completions delivered as new parent turns
 * exactly once and never inside a running turn, merging, control verbs, budgets, timeouts, retention
 * and held completions after downtime; then the cases the simulation found, each the smallest
 * reproduction of a seed. Longer than most test files because those regressions belong beside the
 * behaviour they pin down. A "crash" here abandons a runtime mid-work (its gated calls never answer)
 * and starts a second one on the same store.
 */
import { describe, expect, it } from "vitest";
import {
  type ChildCompletion,
  createMemoryStore,
  type Model,
  type ModelPart,
  type ModelRequest,
  type Runtime,
  type RuntimeEvent,
  type Session,
  type Store,
  type TreeBudget,
  type WakeChannel,
} from "../../src/index.js";
import { until } from "../support/async.js";
import type { ScriptedModel } from "../support/models.js";
import { callTools, GatedModel, scriptedModel, text, toolCall } from "../support/models.js";
import { spyStore, type TestRuntime, testRuntime } from "../support/runtime.js";
import { tool } from "../support/tools.js";

function lastUserText(request: ModelRequest): string {
  const user = request.prompt.filter((m) => m.role === "user").at(-1);
  return user?.role === "user" ? user.content.map((p) => p.text).join("") : "";
}

/** A child model that answers its goal at once, echoing it. */
const echoModel = scriptedModel((request) => text(`done: ${lastUserText(request).split("\n")[0]}`));

function events(runtime: Runtime): RuntimeEvent[] {
  const seen: RuntimeEvent[] = [];
  runtime.on((e) => seen.push(e));
  return seen;
}

/** Starts `runtime` and returns session "p" of agent "parent", busy with a turn on its gated model. */
async function busyParent(runtime: Runtime, parent: GatedModel): Promise<Session> {
  await runtime.start();
  const session = runtime.session("p", { agent: "parent" });
  session.send("busy");
  await until(() => parent.calls.length === 1);
  return session;
}

/** The id of a dispatched delegation; "" when it was refused. */
function dispatchedId(sent: ReturnType<Session["delegate"]>): string {
  return sent.status === "dispatched" ? sent.id : "";
}

describe("dispatch and delivery", () => {
  it("returns at once; the result comes back as a new parent turn, exactly once", async () => {
    const parentModel = scriptedModel((request) => text(`parent saw: ${lastUserText(request).slice(0, 60)}`));
    const { runtime } = testRuntime({
      parent: { model: parentModel },
      worker: { model: echoModel, tools: [tool("look", () => "ok")] },
    });
    await runtime.start();
    const seen = events(runtime);
    const session = runtime.session("p", { agent: "parent" });
    const sent = session.delegate({
      goal: "count the files",
      context: "the user wants a number",
      agent: "worker",
    });
    expect(sent.status).toBe("dispatched");
    const id = dispatchedId(sent);
    expect(runtime.delegations.get(id)).toMatchObject({ running: true, depth: 1, parentSessionId: "p" });
    await until(() => runtime.delegations.get(id)?.delivery === "delivered", "delivery");
    await until(() => parentModel.requests.length === 1, "the parent turn");
    const block = lastUserText(parentModel.requests[0]!);
    expect(block).toContain("goal: count the files");
    expect(block).toContain("context: the user wants a number");
    expect(block).toContain("result:\ndone: count the files");
    const record = runtime.delegations.get(id)!;
    expect(record.completion).toMatchObject({ status: "completed", modelCalls: 1, exitReason: "ok" });
    expect(record.running).toBe(false);
    expect(seen.filter((e) => e.type === "delegation.completed")).toHaveLength(1);
    expect(seen.filter((e) => e.type === "delegation.delivered")).toHaveLength(1);
    expect(runtime.session(record.childSessionId).history().length).toBeGreaterThan(0);
    await runtime.stop({ drain: true });
    expect(parentModel.requests).toHaveLength(1);
  });

  it("the model's delegate tool dispatches; the result never enters the running turn", async () => {
    const parent = new GatedModel();
    const { runtime } = testRuntime({
      boss: { model: parent, delegates: true, tools: [tool("look", () => "ok")] },
    });
    await runtime.start();
    const h = runtime.session("p", { agent: "boss" }).send("split the work");
    await until(() => parent.calls.length === 1);
    expect(parent.last.request.tools.map((t) => t.name)).toEqual(["look", "delegate"]);
    parent.last.release(callTools(toolCall("c1", "delegate", { tasks: [{ goal: "part one", tools: [] }] })));
    // The child (same agent, gated model) asks for its answer; meanwhile the parent steps on.
    await until(() => parent.calls.length === 3, "the child's call and the parent's second call");
    const parentStep2 = parent.calls.find(
      (c) => lastUserText(c.request) === "split the work" && c !== parent.calls[0],
    );
    const childCall = parent.calls.find((c) => lastUserText(c.request).startsWith("part one"))!;
    // Only the tools the spec named, plus delegate: a child below the depth limit may delegate too.
    expect(childCall.request.tools.map((t) => t.name)).toEqual(["delegate"]);
    const toolMessage = parentStep2!.request.prompt.at(-1)!;
    expect(JSON.stringify(toolMessage)).toContain("dispatched 1 background task");
    childCall.release(text("part one is done"));
    const [id] = runtime.delegations.list().map((d) => d.id);
    await until(() => runtime.delegations.get(id!)?.delivery === "pending", "the completion");
    // The parent's turn is still running: the completion waits in its inbox.
    expect(parent.calls).toHaveLength(3);
    parentStep2!.release(text("I asked a worker"));
    await h.result();
    await until(() => parent.calls.length === 4, "the completion turn");
    expect(lastUserText(parent.last.request)).toContain("part one is done");
    parent.last.release(text("thanks"));
    await until(() => runtime.delegations.get(id!)?.delivery === "delivered");
    await runtime.stop({ drain: true });
  });

  it("waiting completions merge into one parent turn", async () => {
    const parentModel = scriptedModel(() => text("noted"));
    const gate = new GatedModel();
    const { runtime } = testRuntime({ parent: { model: parentModel }, worker: { model: gate } });
    await runtime.start();
    const session = runtime.session("p", { agent: "parent" });
    const sent = session.delegateAll([
      { goal: "a", agent: "worker" },
      { goal: "b", agent: "worker" },
      { goal: "c", agent: "worker" },
    ]);
    expect(sent).toMatchObject({ status: "dispatched" });
    await until(() => gate.calls.length === 3);
    // Hold the parent busy so all three completions queue up behind its turn.
    const busy = session.send("keep talking");
    for (const call of gate.calls) call.release(text("ok"));
    await busy.result();
    await until(() => runtime.delegations.list().every((d) => d.delivery === "delivered"));
    expect(parentModel.requests).toHaveLength(2);
    const merged = parentModel.requests[1]!.prompt.filter((m) => m.role === "user").slice(-3);
    expect(merged.map((m) => JSON.stringify(m))).toEqual([
      expect.stringContaining("goal: a"),
      expect.stringContaining("goal: b"),
      expect.stringContaining("goal: c"),
    ]);
    await runtime.stop({ drain: true });
  });
});

describe("caps", () => {
  it("rejects a fan-out over the per-parent cap as a whole, with what to do next", async () => {
    const gate = new GatedModel();
    const { runtime } = testRuntime(
      { parent: { model: echoModel }, worker: { model: gate } },
      { delegation: { perParentRunningMax: 2 } },
    );
    await runtime.start();
    const seen = events(runtime);
    const session = runtime.session("p", { agent: "parent" });
    const refused = session.delegateAll([1, 2, 3].map((n) => ({ goal: `task ${n}`, agent: "worker" })));
    expect(refused).toMatchObject({ status: "rejected", code: "DELEGATION_CAP_PARENT" });
    expect(refused.status === "rejected" && refused.reason).toMatch(/do the work yourself/);
    expect(runtime.delegations.list()).toEqual([]);
    expect(seen.some((e) => e.type === "delegation.rejected")).toBe(true);
    expect(session.delegateAll([1, 2].map((n) => ({ goal: `task ${n}`, agent: "worker" }))).status).toBe(
      "dispatched",
    );
    expect(session.delegate({ goal: "one more", agent: "worker" })).toMatchObject({ status: "rejected" });
    await runtime.stop();
  });

  it("a child at the depth limit gets no delegate tool", async () => {
    const gate = new GatedModel();
    const { runtime } = testRuntime(
      { boss: { model: gate, delegates: true } },
      { delegation: { depthMax: 1 } },
    );
    await runtime.start();
    runtime.session("p", { agent: "boss" }).delegate({ goal: "go" });
    await until(() => gate.calls.length === 1);
    expect(gate.last.request.tools.map((t) => t.name)).toEqual([]);
    await runtime.stop();
  });
});

describe("control", () => {
  it("interruptAll interrupts every running child; each reports once, with its partial output", async () => {
    const gate = new GatedModel();
    const parentModel = scriptedModel(() => text("ok"));
    const { runtime } = testRuntime({
      parent: { model: parentModel },
      worker: { model: gate, tools: [tool("look", () => "seen")] },
    });
    await runtime.start();
    runtime.session("p", { agent: "parent" }).delegateAll([
      { goal: "one", agent: "worker" },
      { goal: "two", agent: "worker" },
    ]);
    await until(() => gate.calls.length === 2);
    gate.calls[0]!.release([
      { type: "text-delta", id: "t", delta: "looking around" },
      ...callTools(toolCall("c1", "look", {})),
    ]);
    await until(() => gate.calls.length === 3, "the first child's second step");
    expect(runtime.delegations.interruptAll("shutting down")).toBe(2);
    await until(() => runtime.delegations.list().every((d) => d.delivery === "delivered"));
    const completions = runtime.delegations.list().map((d) => d.completion!);
    expect(completions.map((c) => c.status)).toEqual(["interrupted", "interrupted"]);
    expect(completions[0]!.partialOutput).toBe("looking around");
    expect(completions[0]!.error?.message).toBe("shutting down");
    expect(parentModel.requests).toHaveLength(1);
    expect(runtime.delegations.interruptAll()).toBe(0);
    await runtime.stop({ drain: true });
  });

  it("cancelling the parent's turn leaves its children running; stopChildren stops them", async () => {
    const parent = new GatedModel();
    const gate = new GatedModel();
    const { runtime } = testRuntime({ parent: { model: parent }, worker: { model: gate } });
    await runtime.start();
    const session = runtime.session("p", { agent: "parent" });
    const h = session.send("start");
    await until(() => parent.calls.length === 1);
    session.delegate({ goal: "background", agent: "worker" });
    await until(() => gate.calls.length === 1);
    expect(await h.cancel()).toBe("cancelled");
    expect(runtime.delegations.list()[0]!.running).toBe(true);
    expect(gate.last.signal.aborted).toBe(false);
    expect(runtime.delegations.stopChildren("p")).toBe(1);
    expect(gate.last.signal.aborted).toBe(true);
    await until(() => runtime.delegations.list()[0]!.completion !== undefined);
    expect(runtime.delegations.list()[0]!.completion!.status).toBe("interrupted");
    await runtime.stop();
  });

  it("cancel(id) cancels one child; a second cancel is a no-op", async () => {
    const gate = new GatedModel();
    const { runtime } = testRuntime({ parent: { model: echoModel }, worker: { model: gate } });
    await runtime.start();
    const sent = runtime.session("p", { agent: "parent" }).delegate({ goal: "x", agent: "worker" });
    const id = dispatchedId(sent);
    await until(() => gate.calls.length === 1);
    expect(runtime.delegations.cancel(id, "not needed")).toBe(true);
    expect(runtime.delegations.cancel(id)).toBe(false);
    await until(() => runtime.delegations.get(id)?.completion !== undefined);
    expect(runtime.delegations.get(id)!.completion).toMatchObject({
      status: "cancelled",
      error: { code: "cancel_requested", message: "not needed" },
    });
    await runtime.stop();
  });

  it("a child completes only after its own children settled", async () => {
    const worker = new GatedModel();
    const leaf = new GatedModel();
    const parentModel = scriptedModel(() => text("ok"));
    const { runtime } = testRuntime({
      parent: { model: parentModel },
      worker: { model: worker, delegates: true },
      leaf: { model: leaf },
    });
    await runtime.start();
    runtime.session("p", { agent: "parent" }).delegate({ goal: "organise", agent: "worker" });
    await until(() => worker.calls.length === 1);
    const [child] = runtime.delegations.list();
    runtime.session(child!.childSessionId).delegate({ goal: "leaf work", agent: "leaf" });
    worker.last.release(text("waiting for the leaf"));
    await until(() => leaf.calls.length === 1);
    expect(runtime.delegations.get(child!.id)!.running).toBe(true);
    leaf.last.release(text("leaf result"));
    await until(() => worker.calls.length === 2, "the worker's completion turn");
    expect(lastUserText(worker.last.request)).toContain("leaf result");
    worker.last.release(text("all done"));
    await until(() => runtime.delegations.get(child!.id)!.delivery === "delivered");
    expect(runtime.delegations.get(child!.id)!.completion!.summary).toBe("all done");
    await runtime.stop({ drain: true });
  });
});

/** Runs one child whose model asks for a tool at every step, under `budget`; returns its completion. */
async function loopingChild(step: ModelPart[], budget: TreeBudget): Promise<ChildCompletion | undefined> {
  const { runtime } = testRuntime(
    {
      parent: { model: scriptedModel(() => text("ok")) },
      worker: { model: scriptedModel(() => step), tools: [tool("look", () => "x")] },
    },
    { delegation: { budget } },
  );
  await runtime.start();
  runtime.session("p", { agent: "parent" }).delegate({ goal: "loop", agent: "worker" });
  await until(() => runtime.delegations.list()[0]?.completion !== undefined);
  const completion = runtime.delegations.list()[0]!.completion;
  await runtime.stop();
  return completion;
}

describe("budget and time", () => {
  it("tokens are charged step by step: a turn stops at the step after the one that crossed the budget", async () => {
    // Each step asks for a tool and reports 3 tokens; the budget of 5 is crossed by the second step.
    const step: ModelPart[] = [
      toolCall("c", "look", {}),
      { type: "finish", finishReason: "tool-calls", usage: { inputTokens: 2, outputTokens: 1 } },
    ];
    expect(await loopingChild(step, { tokensMax: 5 })).toMatchObject({
      status: "failed",
      exitReason: "budget_exceeded",
      modelCalls: 2,
    });
  });

  it("a finished child's session, driven by the host, still counts its depth and tree", async () => {
    const { runtime } = testRuntime(
      { parent: { model: scriptedModel(() => text("ok")) }, worker: { model: echoModel } },
      { delegation: { depthMax: 1 } },
    );
    await runtime.start();
    const sent = runtime.session("p", { agent: "parent" }).delegate({ goal: "x", agent: "worker" });
    const id = dispatchedId(sent);
    await until(() => runtime.delegations.get(id)?.delivery === "delivered");
    const child = runtime.session(runtime.delegations.get(id)!.childSessionId);
    expect(child.delegate({ goal: "deeper", agent: "worker" })).toMatchObject({
      status: "rejected",
      code: "DELEGATION_DEPTH",
    });
    await runtime.stop();
  });

  it("a tree over its model-call budget ends failed with budget_exceeded, reported like any other", async () => {
    expect(await loopingChild(callTools(toolCall("c", "look", {})), { modelCallsMax: 3 })).toMatchObject({
      status: "failed",
      exitReason: "budget_exceeded",
      modelCalls: 3,
    });
  });

  it("a child past its timeout ends timed_out", async () => {
    const gate = new GatedModel();
    const { runtime, clock } = testRuntime({ parent: { model: echoModel }, worker: { model: gate } });
    await runtime.start();
    runtime
      .session("p", { agent: "parent" })
      .delegate({ goal: "slow", agent: "worker", limits: { timeoutMs: 1_000 } });
    await until(() => gate.calls.length === 1);
    clock.advance(1_001);
    await until(() => runtime.delegations.list()[0]?.completion !== undefined);
    expect(runtime.delegations.list()[0]!.completion).toMatchObject({
      status: "timed_out",
      exitReason: "timed_out",
    });
    await runtime.stop();
  });
});

/**
 * A first runtime stops while its parent is busy, with a child's completion queued; a second one
 * starts two minutes later on the same store, so the completion is older than `staleAfterMs`.
 */
async function restartWithHeldCompletion(): Promise<{ parentModel: ScriptedModel; second: TestRuntime }> {
  const store = createMemoryStore();
  const options = { store, delegation: { staleAfterMs: 60_000 } };
  const busyParent = new GatedModel();
  const first = testRuntime({ parent: { model: busyParent }, worker: { model: echoModel } }, options);
  await first.runtime.start();
  const session = first.runtime.session("p", { agent: "parent" });
  session.send("hold on");
  await until(() => busyParent.calls.length === 1);
  session.delegate({ goal: "report", agent: "worker" });
  await until(() => first.runtime.delegations.list()[0]?.delivery === "pending");
  await first.runtime.stop();
  const parentModel = scriptedModel(() => text("ok"));
  const second = testRuntime({ parent: { model: parentModel }, worker: { model: echoModel } }, options);
  second.clock.advance(120_000);
  await second.runtime.start();
  return { parentModel, second };
}

describe("retention and downtime", () => {
  it("keeps the last N finished records per parent", async () => {
    const { runtime } = testRuntime(
      { parent: { model: scriptedModel(() => text("ok")) }, worker: { model: echoModel } },
      { delegation: { keepPerParent: 2 } },
    );
    await runtime.start();
    const session = runtime.session("p", { agent: "parent" });
    for (let i = 0; i < 5; i++) {
      session.delegate({ goal: `task ${i}`, agent: "worker" });
      await until(() => runtime.delegations.list().every((d) => d.delivery === "delivered"));
    }
    expect(runtime.delegations.list().length).toBeLessThanOrEqual(3);
    await runtime.stop();
  });

  it("a completion older than staleAfterMs at startup is held until the host confirms", async () => {
    const { parentModel, second } = await restartWithHeldCompletion();
    const [held] = second.runtime.delegations.pendingStale();
    expect(held).toMatchObject({ delivery: "held" });
    await until(() => second.runtime.metrics().queuedInputs === 0);
    expect(parentModel.requests).toHaveLength(0);
    expect(second.runtime.delegations.deliverStale(held!.id)).toBe(true);
    await until(() => second.runtime.delegations.get(held!.id)?.delivery === "delivered");
    expect(parentModel.requests).toHaveLength(1);
    expect(lastUserText(parentModel.requests[0]!)).toContain("goal: report");
    await second.runtime.stop();
  });
});

describe("bad input", () => {
  it('">" is reserved for children: a new session id with it is refused and nothing is created', async () => {
    const { runtime } = testRuntime({ parent: { model: echoModel } });
    await runtime.start();
    expect(() => runtime.session("a>b", { agent: "parent" })).toThrow(
      expect.objectContaining({ code: "INVALID_ARGUMENT", message: expect.stringContaining("reserved") }),
    );
    expect(runtime.sessionIds()).toEqual([]);
    await runtime.stop();
  });

  it("a malformed spec throws InvalidInputError and records nothing", async () => {
    const { runtime } = testRuntime({ parent: { model: echoModel, tools: [tool("look", () => "x")] } });
    await runtime.start();
    const session = runtime.session("p", { agent: "parent" });
    for (const spec of [
      { goal: "" },
      { goal: 42 },
      { goal: "x", agent: "nobody" },
      { goal: "x", tools: ["write_file"] },
      { goal: "x", model: "gpt-unknown" },
      { goal: "x", limits: { timeoutMs: -1 } },
    ]) {
      expect(() => session.delegate(spec as never)).toThrow(
        expect.objectContaining({ code: "INVALID_ARGUMENT" }),
      );
    }
    expect(() => session.delegateAll([])).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(runtime.delegations.list()).toEqual([]);
    await runtime.stop();
  });

  it("a store without a delegation log refuses delegating agents and delegate()", async () => {
    const bare = createMemoryStore();
    const store = new Proxy(bare, {
      get: (target, key) => {
        if (key === "delegations") return undefined;
        const value = Reflect.get(target, key, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    }) as Store;
    expect(() => testRuntime({ boss: { model: echoModel, delegates: true } }, { store })).toThrow(
      expect.objectContaining({ code: "INVALID_OPTIONS" }),
    );
    const { runtime } = testRuntime({ parent: { model: echoModel } }, { store });
    await runtime.start();
    expect(() => runtime.session("p", { agent: "parent" }).delegate({ goal: "x" })).toThrow(
      expect.objectContaining({ code: "DELEGATION_UNSUPPORTED" }),
    );
    await runtime.stop();
  });

  it("invalid delegation options are a BootError", () => {
    for (const delegation of [
      { runningMax: 0 },
      { mergeCompletions: "yes" },
      { budget: { tokensMax: -5 } },
    ]) {
      expect(() =>
        testRuntime({ parent: { model: echoModel } }, { delegation: delegation as never }),
      ).toThrow(expect.objectContaining({ code: "INVALID_OPTIONS" }));
    }
  });
});

describe("found by the simulation", () => {
  it("a completion queued for a child that is then stopped is dropped with a record, not left pending", async () => {
    const worker = new GatedModel();
    const { runtime } = testRuntime({
      parent: { model: scriptedModel(() => text("ok")) },
      worker: { model: worker },
      leaf: { model: echoModel },
    });
    await runtime.start();
    runtime.session("p", { agent: "parent" }).delegate({ goal: "organise", agent: "worker" });
    await until(() => worker.calls.length === 1);
    const [child] = runtime.delegations.list();
    const sent = runtime.session(child!.childSessionId).delegate({ goal: "leaf work", agent: "leaf" });
    const leafId = dispatchedId(sent);
    // The worker's turn still runs, so the leaf's completion waits in the worker's inbox.
    await until(() => runtime.delegations.get(leafId)?.delivery === "pending");
    expect(runtime.delegations.cancel(child!.id)).toBe(true);
    await until(() => runtime.delegations.get(child!.id)?.completion !== undefined);
    expect(runtime.delegations.get(leafId)).toMatchObject({
      delivery: "dropped",
      deliveryReason: "parent_stopped",
    });
    await runtime.stop();
  });

  it("a completion input the host withdraws is recorded dropped", async () => {
    const parent = new GatedModel();
    const { runtime } = testRuntime({ parent: { model: parent }, worker: { model: echoModel } });
    const session = await busyParent(runtime, parent);
    const sent = session.delegate({ goal: "report", agent: "worker" });
    const id = dispatchedId(sent);
    await until(() => runtime.delegations.get(id)?.delivery === "pending");
    runtime.handle(runtime.delegations.get(id)!.deliveryInputId!)!.withdraw();
    expect(runtime.delegations.get(id)).toMatchObject({ delivery: "dropped", deliveryReason: "withdrawn" });
    await runtime.stop();
  });

  it("a child whose queued goal the host cancels completes at once instead of holding its slot", async () => {
    const inner = createMemoryStore();
    const spy = spyStore(inner);
    const parent = new GatedModel();
    const { runtime } = testRuntime(
      { parent: { model: parent }, worker: { model: echoModel } },
      { store: { ...spy.store, delegations: inner.delegations! }, limits: { maxConcurrentTurns: 1 } },
    );
    const session = await busyParent(runtime, parent);
    const sent = session.delegate({ goal: "never mind", agent: "worker" });
    const id = dispatchedId(sent);
    const childSessionId = runtime.delegations.get(id)!.childSessionId;
    // The only turn slot is taken, so the child's goal waits queued.
    const accepted = spy.writes.find(
      (w) => w.method === "accept" && (w.arg as { sessionId: string }).sessionId === childSessionId,
    );
    const goal = runtime.handle((accepted!.arg as { id: string }).id)!;
    expect(goal.status).toBe("queued");
    expect(await goal.cancel()).toBe("cancelled");
    expect(runtime.delegations.get(id)).toMatchObject({
      running: false,
      completion: { status: "failed", exitReason: "no_turn" },
    });
    expect(runtime.delegations.running).toBe(0);
    await runtime.stop();
  });

  it("a parent turn resumed after a crash does not report its completions delivered again", async () => {
    const store = createMemoryStore();
    const delivered: string[] = [];
    const onDelivered = (e: RuntimeEvent) => {
      if (e.type === "delegation.delivered") delivered.push(e.delegationId);
    };
    const parentA = new GatedModel();
    const a = testRuntime({ parent: { model: parentA }, worker: { model: echoModel } }, { store });
    a.runtime.on(onDelivered);
    await a.runtime.start();
    a.runtime.session("p", { agent: "parent" }).delegate({ goal: "report", agent: "worker" });
    await until(() => parentA.calls.length === 1, "the completion turn");
    expect(delivered).toHaveLength(1);
    // The process dies in the middle of that turn; a new one resumes it from the store.
    const parentB = scriptedModel(() => text("thanks"));
    const b = testRuntime({ parent: { model: parentB }, worker: { model: echoModel } }, { store });
    b.runtime.on(onDelivered);
    await b.runtime.start();
    await until(() => parentB.requests.length === 1, "the resumed turn");
    expect(lastUserText(parentB.requests[0]!)).toContain("goal: report");
    expect(delivered).toHaveLength(1);
    await b.runtime.stop();
  });

  it("a tree's model-call budget holds across a crash", async () => {
    const store = createMemoryStore();
    let calls = 0;
    let dead = false;
    // Loops on a tool; the third call never answers in the first process (it dies there).
    const loop: Model = {
      id: "loop",
      stream() {
        calls += 1;
        if (!dead && calls === 3) return new Promise(() => {});
        return callTools(toolCall(`c${calls}`, "look", {}));
      },
    };
    const agents = {
      parent: { model: scriptedModel(() => text("ok")) },
      worker: { model: loop, tools: [tool("look", () => "x")] },
    };
    const options = { store, delegation: { budget: { modelCallsMax: 3 } } };
    const a = testRuntime(agents, options);
    await a.runtime.start();
    a.runtime.session("p", { agent: "parent" }).delegate({ goal: "loop", agent: "worker" });
    await until(() => calls === 3, "the third call");
    dead = true;
    const b = testRuntime(agents, options);
    await b.runtime.start();
    const [record] = b.runtime.delegations.list();
    await until(() => b.runtime.delegations.get(record!.id)?.completion !== undefined);
    expect(calls).toBe(3);
    expect(b.runtime.delegations.get(record!.id)!.completion).toMatchObject({
      status: "failed",
      exitReason: "budget_exceeded",
    });
    await b.runtime.stop();
  });

  it("a crashed child's completion written at recovery queues behind its parent's older input", async () => {
    const store = createMemoryStore();
    const parentA = new GatedModel();
    const a = testRuntime(
      { parent: { model: parentA }, worker: { model: new GatedModel(), onCrash: "fail" } },
      { store },
    );
    await a.runtime.start();
    const session = a.runtime.session("p", { agent: "parent" });
    session.delegate({ goal: "slow", agent: "worker" });
    session.send("first");
    await until(() => parentA.calls.length === 1);
    session.send("second");
    // The process dies: p's turn resumes, "second" is queued again, the child's turn fails.
    const parentB = scriptedModel(() => text("ok"));
    const b = testRuntime(
      { parent: { model: parentB }, worker: { model: echoModel, onCrash: "fail" } },
      { store },
    );
    await b.runtime.start();
    await until(() => parentB.requests.length === 3, "three parent turns");
    expect(parentB.requests.map((r) => lastUserText(r).split("\n")[0])).toEqual([
      "first",
      "second",
      "A background task you delegated has finished.",
    ]);
    await b.runtime.stop({ drain: true });
  });

  it("a crashed child with input still queued is not finished by recovery", async () => {
    const store = createMemoryStore();
    const workerA = new GatedModel();
    const agentsA = {
      parent: { model: scriptedModel(() => text("ok")) },
      worker: { model: workerA, onCrash: "fail" as const },
      leaf: { model: echoModel },
    };
    const a = testRuntime(agentsA, { store });
    await a.runtime.start();
    a.runtime.session("p", { agent: "parent" }).delegate({ goal: "organise", agent: "worker" });
    await until(() => workerA.calls.length === 1);
    const [child] = a.runtime.delegations.list();
    a.runtime.session(child!.childSessionId).delegate({ goal: "leaf work", agent: "leaf" });
    await until(() => a.runtime.delegations.list().some((d) => d.delivery === "pending"));
    // The process dies with the worker's turn running and the leaf's completion in its inbox.
    const b = testRuntime(
      { ...agentsA, worker: { model: scriptedModel(() => text("merged the leaf")), onCrash: "fail" } },
      { store },
    );
    await b.runtime.start();
    await until(() => b.runtime.delegations.get(child!.id)?.completion !== undefined);
    expect(b.runtime.delegations.get(child!.id)!.completion).toMatchObject({
      status: "completed",
      summary: "merged the leaf",
    });
    await b.runtime.stop({ drain: true });
  });

  it("a draining stop drains a completion whose wake was lost", async () => {
    // Every wake is lost: only the recovery poll (off while stopping) or the runtime itself drives.
    const deaf: WakeChannel = { notify: () => {}, subscribe: () => () => {} };
    const parentModel = scriptedModel(() => text("noted"));
    const gate = new GatedModel();
    const { runtime, clock } = testRuntime(
      { parent: { model: parentModel }, worker: { model: gate } },
      { wakes: deaf },
    );
    await runtime.start();
    runtime.session("p", { agent: "parent" }).delegate({ goal: "x", agent: "worker" });
    clock.advance(400);
    await until(() => gate.calls.length === 1, "the poll to start the child");
    const stopping = runtime.stop({ drain: true, timeoutMs: 60_000 });
    gate.last.release(text("done"));
    await until(() => parentModel.requests.length === 1, "the completion's turn, during the drain");
    expect(await stopping).toBe("clean");
  });

  it("deliverStale waits for start(): while stopping or stopped it queues nothing that the start would run twice", async () => {
    const { parentModel, second } = await restartWithHeldCompletion();
    const [held] = second.runtime.delegations.pendingStale();
    const stopping = second.runtime.stop({ drain: true });
    expect(second.runtime.state).toBe("stopping");
    expect(second.runtime.delegations.deliverStale(held!.id)).toBe(false);
    await stopping;
    expect(second.runtime.delegations.deliverStale(held!.id)).toBe(false);
    expect(second.runtime.delegations.get(held!.id)?.delivery).toBe("held");
    await second.runtime.start();
    expect(second.runtime.delegations.deliverStale(held!.id)).toBe(true);
    await until(() => second.runtime.delegations.get(held!.id)?.delivery === "delivered");
    await second.runtime.stop({ drain: true });
    expect(parentModel.requests).toHaveLength(1);
    const blocks = parentModel.requests[0]!.prompt.filter(
      (m) => m.role === "user" && JSON.stringify(m).includes("goal: report"),
    );
    expect(blocks).toHaveLength(1);
  });
});
