/**
 * Runtime recovery on a real SQLite file. A *process* here is a runtime and its store; a crash kills
 * it the way `kill -9` does within one test process: from that moment its writes and commits go
 * nowhere (whatever it still had in flight can never land), the store's uncommitted group is lost,
 * and the lock row stays behind for the next process to take over. A new process then opens the same
 * file and must drive every accepted input to exactly one terminal state.
 */
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import type { Agent, Runtime, RuntimeEvent, RuntimeOptions, Session } from "../../src/index.js";
import { InvalidInputError } from "../../src/index.js";
import { createSqliteStore, type SqliteStore } from "../../src/store/sqlite/index.js";
import { VirtualClock } from "../../src/testing/index.js";
import { eventually, until } from "../support/async.js";
import { callTools, GatedModel, roles, scriptedModel, text, toolCall, userTexts } from "../support/models.js";
import { type GatedFunction, gatedFunction, testRuntime } from "../support/runtime.js";
import { tool } from "../support/tools.js";
import { freshPath, removeFiles } from "./sqlite-files.js";

interface Process {
  readonly runtime: Runtime;
  readonly store: SqliteStore;
  readonly events: RuntimeEvent[];
  /** Dies as by `kill -9`: nothing it does from now on reaches the file. */
  crash(): void;
}

const processes: Process[] = [];

afterEach(async () => {
  for (const p of processes.splice(0)) {
    await p.runtime.stop();
    await p.store.close();
  }
  removeFiles();
});

const NEVER = new Promise<never>(() => {});

/** A store whose writes and commits stop reaching `store` once `alive()` is false. */
function fenced<T extends object>(store: T, alive: () => boolean): T {
  const reads = new Set<PropertyKey>([
    "kind",
    "receipt",
    "open",
    "history",
    "findByIdempotencyKey",
    "input",
    "queuedSessions",
    "queuedOf",
    "get",
    "list",
    "spend",
  ]);
  return new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      // The delegation log writes into the same file: it dies with the process too.
      if (property === "delegations" && typeof value === "object" && value !== null)
        return fenced(value, alive);
      if (typeof value !== "function" || reads.has(property)) {
        return typeof value === "function" ? value.bind(target) : value;
      }
      return (...args: unknown[]) => {
        if (alive()) return (value as (...a: unknown[]) => unknown).apply(target, args);
        return property === "commit" || property === "close" ? NEVER : undefined;
      };
    },
  });
}

async function start(
  path: string,
  agents: Record<string, Agent>,
  options: {
    readonly groupCommitMs?: number;
    readonly runtime?: Partial<Omit<RuntimeOptions, "agents" | "store">>;
    /** Dies inside `start()`, as it emits `runtime.started`: recovery's last group never commits. */
    readonly dieAtStart?: boolean;
  } = {},
): Promise<Process> {
  const store = createSqliteStore({ path, groupCommitMs: options.groupCommitMs ?? 0 });
  let alive = true;
  const { runtime } = testRuntime(agents, { ...options.runtime, store: fenced(store, () => alive) });
  const events: RuntimeEvent[] = [];
  runtime.on((event) => events.push(event));
  const p: Process = {
    runtime,
    store,
    events,
    crash: () => {
      alive = false;
      const at = processes.indexOf(p);
      if (at >= 0) processes.splice(at, 1);
      store.crash();
    },
  };
  if (options.dieAtStart === true)
    runtime.on((event) => {
      if (event.type === "runtime.started") p.crash();
    });
  else processes.push(p);
  await runtime.start();
  return p;
}

/** A first process on `path` whose agent "f" is a gated function, with session "s" on it. */
async function startGated(path: string): Promise<{ fn: GatedFunction; first: Process; s: Session }> {
  const fn = gatedFunction();
  const first = await start(path, { f: fn.agent });
  return { fn, first, s: first.runtime.session("s", { agent: "f" }) };
}

/** Reads through a connection of its own: what a restarted process will find. */
function committed(path: string, sql: string): unknown[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}

function started(p: Process): Extract<RuntimeEvent, { type: "runtime.started" }> {
  return p.events.find((e) => e.type === "runtime.started") as Extract<
    RuntimeEvent,
    { type: "runtime.started" }
  >;
}

const echo: Agent = { run: async (input) => ({ echo: input }) };

describe("receipts", () => {
  it("a handle says durable only once the commit holding its input resolved", async () => {
    const path = freshPath();
    const fn = gatedFunction();
    const p = await start(path, { f: fn.agent }, { groupCommitMs: 30 });
    const handle = p.runtime.session("s", { agent: "f" }).send("hello");
    expect(handle.receipt).toBe("stored");
    expect(committed(path, "SELECT id FROM inputs")).toEqual([]);
    expect(await handle.stored()).toBe("durable");
    expect(handle.receipt).toBe("durable");
    expect(committed(path, "SELECT id FROM inputs")).toEqual([{ id: handle.id }]);
  });

  it("an oversized payload is refused with PAYLOAD_TOO_LARGE before anything is written", async () => {
    const path = freshPath();
    const store = createSqliteStore({ path });
    const { runtime } = testRuntime({ f: echo }, { store, limits: { payloadBytesMax: 1024 } });
    processes.push({ runtime, store, events: [], crash: () => {} });
    await runtime.start();
    const session = runtime.session("s", { agent: "f" });
    await store.commit();
    const before = store.stats().writes;
    expect(() => session.send("x".repeat(2000))).toThrow(
      expect.objectContaining({ code: "PAYLOAD_TOO_LARGE", constructor: InvalidInputError }),
    );
    expect(store.stats().writes).toBe(before);
    expect(runtime.metrics().inputsAccepted).toBe(0);
    await runtime.stop();
    expect(committed(path, "SELECT count(*) AS n FROM inputs")).toEqual([{ n: 0 }]);
  });
});

describe("restart after stop() without drain", () => {
  it("queued inputs stay stored and run after a new process starts on the file", async () => {
    const path = freshPath();
    const { fn, first, s } = await startGated(path);
    const running = s.send("a");
    const queued = [s.send("b"), s.send("c")];
    await until(() => fn.calls.length === 1);
    expect(await first.runtime.stop()).toBe("clean");
    expect(running.poll()?.status).toBe("interrupted");
    await first.store.close();
    const second = await start(path, { f: echo });
    expect(started(second)).toMatchObject({ recoveredInputs: 2, resumedTurns: 0 });
    // Two turns, each ended by a real commit: wait on the wall clock (see `eventually`).
    await eventually(
      () => queued.every((h) => second.store.input(h.id)?.status === "completed"),
      "both queued inputs to complete after the restart",
    );
    expect(queued.map((h) => second.store.input(h.id)?.outcome?.output)).toEqual([
      { echo: "b" },
      { echo: "c" },
    ]);
  });
});

describe("restart after a crash (no stop, no close)", () => {
  it("queued inputs are driven, and the running function turn resumes as attempt 2", async () => {
    const path = freshPath();
    const { fn, first, s } = await startGated(path);
    const handles = [s.send("a"), s.send("b")];
    await until(() => fn.calls.length === 1);
    await handles[1]!.stored();
    first.crash();
    const second = await start(path, { f: echo });
    expect(started(second)).toMatchObject({ recoveredInputs: 1, resumedTurns: 1 });
    const resumed = second.events.find((e) => e.type === "turn.started");
    expect(resumed).toMatchObject({ inputIds: [handles[0]!.id], attempt: 2 });
    for (const h of handles) {
      const result = await second.runtime.handle(h.id)!.result();
      expect(result.status).toBe("completed");
    }
    expect(userTexts(second.store.history("s"))).toEqual(["a", "b"]);
  });

  it("a model turn resumes from its last checkpoint: finished tool calls do not run again", async () => {
    const path = freshPath();
    const model = new GatedModel();
    let lookups = 0;
    const lookup = tool("lookup", () => {
      lookups += 1;
      return "42";
    });
    const first = await start(path, { chat: { model, system: "sys", tools: [lookup] } });
    const handle = first.runtime.session("s", { agent: "chat" }).send("what is it?");
    await until(() => model.calls.length === 1);
    model.last.release(callTools(toolCall("c1", "lookup", {})));
    await until(() => model.calls.length === 2);
    await first.store.commit();
    first.crash();

    const again = scriptedModel(() => text("it is 42"));
    const second = await start(path, { chat: { model: again, system: "sys", tools: [lookup] } });
    const result = await second.runtime.handle(handle.id)!.result();
    expect(result.output).toBe("it is 42");
    expect(lookups).toBe(1);
    expect(roles(again.requests[0]!.prompt)).toEqual(["system", "user", "assistant", "tool"]);
    expect(roles(second.store.history("s"))).toEqual(["user", "assistant", "tool", "assistant"]);
  });

  it("with onCrash fail the turn ends failed/crashed, its input kept in history", async () => {
    const path = freshPath();
    const fn = gatedFunction();
    const first = await start(path, { f: { ...fn.agent, onCrash: "fail" } });
    const handle = first.runtime.session("s", { agent: "f" }).send("a");
    await until(() => fn.calls.length === 1);
    await first.store.commit();
    first.crash();
    const second = await start(path, { f: { ...echo, onCrash: "fail" } });
    expect(started(second)).toMatchObject({ resumedTurns: 0 });
    const settled = second.runtime.handle(handle.id)!.poll();
    expect(settled?.status).toBe("failed");
    expect(settled?.outcome.reason).toMatchObject({ code: "crashed" });
    expect(settled?.outcome.reason.message).toContain("onCrash is fail");
    expect(userTexts(second.store.history("s"))).toEqual(["a"]);
  });

  it("attempts are bounded: past maxAttempts the turn fails crashed", async () => {
    const path = freshPath();
    const agent = (run: Agent) => ({ ...run, maxAttempts: 2 });
    const fn1 = gatedFunction();
    const first = await start(path, { f: agent(fn1.agent) });
    const handle = first.runtime.session("s", { agent: "f" }).send("a");
    await until(() => fn1.calls.length === 1);
    await first.store.commit();
    first.crash();
    const fn2 = gatedFunction();
    const second = await start(path, { f: agent(fn2.agent) });
    await until(() => fn2.calls.length === 1);
    await second.store.commit();
    second.crash();
    const third = await start(path, { f: agent(echo) });
    const settled = third.runtime.handle(handle.id)!.poll();
    expect(settled?.outcome.reason).toMatchObject({ code: "crashed" });
    expect(settled?.outcome.reason.message).toContain("attempt 3 > maxAttempts");
  });

  it("a steered input the model never saw runs in a turn of its own after the restart", async () => {
    const path = freshPath();
    const model = new GatedModel();
    const first = await start(path, { chat: { model } });
    const s = first.runtime.session("s", { agent: "chat" });
    const question = s.send("first");
    await until(() => model.calls.length === 1);
    const steered = s.send("and also", { policy: "steer" });
    expect(steered.status).toBe("running");
    await steered.stored();
    first.crash();
    const answers = scriptedModel((request) => text(`answer to ${userTexts(request.prompt).at(-1)}`));
    const second = await start(path, { chat: { model: answers } });
    expect(started(second)).toMatchObject({ recoveredInputs: 1, resumedTurns: 1 });
    const results = [
      await second.runtime.handle(question.id)!.result(),
      await second.runtime.handle(steered.id)!.result(),
    ];
    expect(results.map((r) => r.output)).toEqual(["answer to first", "answer to and also"]);
    expect(results[0]!.turnId).not.toBe(results[1]!.turnId);
  });

  it("an idempotency key holds across the restart: same input, same handle id, conflict on another payload", async () => {
    const path = freshPath();
    const { first, s: before } = await startGated(path);
    const original = before.send({ n: 1 }, { idempotencyKey: "k" });
    await original.stored();
    first.crash();
    const second = await start(path, { f: echo });
    const s = second.runtime.session("s");
    expect(s.send({ n: 1 }, { idempotencyKey: "k" }).id).toBe(original.id);
    expect(() => s.send({ n: 2 }, { idempotencyKey: "k" })).toThrow(
      expect.objectContaining({ code: "IDEMPOTENCY_CONFLICT" }),
    );
    await second.runtime.handle(original.id)!.result();
    // Ended now: a repeat after a stop and start gets a settled handle read back from the file.
    await second.runtime.stop();
    await second.runtime.start();
    const later = second.runtime.session("s").send({ n: 1 }, { idempotencyKey: "k" });
    expect([later.id, later.poll()?.status]).toEqual([original.id, "completed"]);
    expect(committed(path, "SELECT count(*) AS n FROM inputs")).toEqual([{ n: 1 }]);
  });

  it("a late write of the crashed attempt changes nothing once the turn resumed", async () => {
    const path = freshPath();
    const fn1 = gatedFunction();
    const first = await start(path, { f: fn1.agent });
    const handle = first.runtime.session("s", { agent: "f" }).send("a");
    await until(() => fn1.calls.length === 1);
    await first.store.commit();
    const turnId = fn1.calls[0]!.turnId;
    first.crash();
    const fn2 = gatedFunction();
    const second = await start(path, { f: fn2.agent });
    await until(() => fn2.calls.length === 1);
    // What attempt 1 would have written, had its result arrived now.
    const late = { turnId, sessionId: "s", attempt: 1, inputIds: [handle.id], requeued: [] };
    second.store.checkpoint({ turnId, sessionId: "s", attempt: 1, step: 9, messages: [] });
    second.store.endTurn({
      ...late,
      outcome: { status: "completed", reason: { code: "ok", message: "late" }, output: "stale" },
      messages: [{ role: "assistant", content: [{ type: "text", text: "stale" }] }],
      usage: { inputTokens: 0, outputTokens: 0 },
      endedAtMs: 0,
    });
    expect(second.store.input(handle.id)?.status).toBe("running");
    fn2.calls[0]!.gate.resolve("fresh");
    expect((await second.runtime.handle(handle.id)!.result()).output).toBe("fresh");
    expect(JSON.stringify(second.store.history("s"))).not.toContain("stale");
  });
});

/**
 * A process whose parent session "p" is busy in a turn when its child's completion ("the answer")
 * is committed, pending in p's inbox; then the process dies.
 */
async function crashWithCompletionPending(path: string, worker: Agent): Promise<void> {
  const busy = new GatedModel();
  const first = await start(path, { parent: { model: busy }, worker });
  const session = first.runtime.session("p", { agent: "parent" });
  session.send("hold on");
  await eventually(() => busy.calls.length === 1, "the parent's model call");
  session.delegate({ goal: "find the answer", agent: "worker" });
  await eventually(() => first.runtime.delegations.list()[0]?.delivery === "pending", "the completion");
  await first.store.commit();
  first.crash();
}

describe("background children across a crash", () => {
  const parentOk = (): ReturnType<typeof scriptedModel> => scriptedModel(() => text("noted"));

  it("a child running at the crash finishes after the restart and reports exactly once", async () => {
    const path = freshPath();
    const worker = new GatedModel();
    const first = await start(path, { parent: { model: parentOk() }, worker: { model: worker } });
    first.runtime.session("p", { agent: "parent" }).delegate({ goal: "count the files", agent: "worker" });
    await eventually(() => worker.calls.length === 1, "the child's model call");
    await first.store.commit();
    first.crash();
    const parent = parentOk();
    const second = await start(path, {
      parent: { model: parent },
      worker: { model: scriptedModel(() => text("twelve files")) },
    });
    await eventually(() => second.runtime.delegations.list()[0]?.delivery === "delivered", "delivery");
    await eventually(() => parent.requests.length === 1, "the parent's turn");
    const [record] = second.runtime.delegations.list();
    expect(record!.completion).toMatchObject({ status: "completed", summary: "twelve files" });
    expect(userTexts(parent.requests[0]!.prompt).join("\n")).toContain("twelve files");
    await second.runtime.stop({ drain: true });
    expect(parent.requests).toHaveLength(1);
    expect(committed(path, "SELECT count(*) AS n FROM inputs WHERE delegation_id IS NOT NULL")).toEqual([
      { n: 1 },
    ]);
    expect(committed(path, "SELECT delivery FROM delegations")).toEqual([{ delivery: "delivered" }]);
  });

  it("a completion committed before the crash reaches its parent once, after it", async () => {
    const path = freshPath();
    await crashWithCompletionPending(path, { model: scriptedModel(() => text("the answer")) });
    const parent = parentOk();
    const second = await start(path, { parent: { model: parent }, worker: { model: parentOk() } });
    await eventually(() => second.runtime.delegations.list()[0]?.delivery === "delivered", "delivery");
    await second.runtime.stop({ drain: true });
    const carrying = parent.requests.filter((r) => userTexts(r.prompt).join("\n").includes("the answer"));
    expect(carrying.length).toBeGreaterThanOrEqual(1);
    // One input carries it, ended once; the resumed "hold on" turn and the completion turn each ran once.
    expect(committed(path, "SELECT status FROM inputs WHERE delegation_id IS NOT NULL")).toEqual([
      { status: "completed" },
    ]);
    expect(committed(path, "SELECT count(*) AS n FROM delegations")).toEqual([{ n: 1 }]);
  });

  it("a completion held at a start that dies before withdrawing its input stays held, and is delivered once", async () => {
    const path = freshPath();
    const worker = { model: scriptedModel(() => text("the answer")) };
    await crashWithCompletionPending(path, worker);
    // Started a minute later with a short staleAfterMs, the completion is held (committed before
    // recovery ends); the process dies before the group withdrawing its input commits.
    const second = await start(
      path,
      { parent: { model: new GatedModel() }, worker },
      {
        runtime: {
          clock: new VirtualClock({ epochMs: 1_767_225_660_000 }),
          delegation: { staleAfterMs: 1_000 },
        },
        dieAtStart: true,
      },
    );
    expect(second.events.some((e) => e.type === "runtime.started")).toBe(true);
    expect(committed(path, "SELECT delivery FROM delegations")).toEqual([{ delivery: "held" }]);
    expect(committed(path, "SELECT status FROM inputs WHERE delegation_id IS NOT NULL")).toEqual([
      { status: "queued" },
    ]);
    const parent = parentOk();
    const third = await start(path, { parent: { model: parent }, worker });
    const [held] = third.runtime.delegations.pendingStale();
    expect(held?.delivery).toBe("held");
    await eventually(() => parent.requests.length === 1, "the resumed parent turn");
    await eventually(() => third.runtime.metrics().queuedInputs === 0, "an empty inbox");
    expect(third.runtime.delegations.deliverStale(held!.id)).toBe(true);
    await eventually(() => third.runtime.delegations.get(held!.id)?.delivery === "delivered", "delivery");
    await third.runtime.stop({ drain: true });
    // The parent saw the result in one turn, carried by one input; the first was withdrawn unseen.
    const history = committed(
      path,
      "SELECT m.value AS message FROM history h, json_each(h.messages) m WHERE h.session_id = 'p'",
    ) as {
      message: string;
    }[];
    const blocks = history.filter(
      (row) => row.message.includes('"role":"user"') && row.message.includes("the answer"),
    );
    expect(blocks).toHaveLength(1);
    expect(committed(path, "SELECT status FROM inputs WHERE delegation_id IS NOT NULL ORDER BY seq")).toEqual(
      [{ status: "withdrawn" }, { status: "completed" }],
    );
  });
});
