/**
 * Two runtimes, each on its own PostgreSQL store (its own connections, as two processes have),
 * sharing one schema: a session runs in the process that holds its lease, wherever its input was
 * sent from; admission is atomic across them; policies, idempotency keys and wakes hold across
 * them; a stopped process hands its sessions over at once. The crash cases, with real processes,
 * are in `takeover.test.ts`.
 */
import { describe, expect, it } from "vitest";
import { CapacityError, createRuntime, type Runtime } from "../../src/index.js";
import { createPostgresStore } from "../../src/store/postgres/index.js";
import { deferred } from "../support/async.js";
import { GatedModel, text, userTexts } from "../support/models.js";
import { onServer } from "./on-server.js";
import { PG_URL, sql } from "./server.js";
import { startProxy } from "./tcp-proxy.js";

const server = onServer();

/** Turns of each session running now, across both runtimes; any count above 1 is a bug. */
const running = new Map<string, number>();
let overlaps = 0;
/** Gates the turns of the named inputs hold until released. */
const gates = new Map<string, Promise<void>>();

function agentOf(name: string) {
  return {
    run: async (input: unknown, context: { sessionId: string; signal: AbortSignal }) => {
      const now = (running.get(context.sessionId) ?? 0) + 1;
      running.set(context.sessionId, now);
      if (now > 1) overlaps += 1;
      try {
        const gate = gates.get(String(input));
        if (gate !== undefined)
          await Promise.race([
            gate,
            new Promise((_, reject) =>
              context.signal.addEventListener("abort", () => reject(context.signal.reason), { once: true }),
            ),
          ]);
        else await new Promise((resolve) => setTimeout(resolve, 5));
        return `${name}:${String(input)}`;
      } finally {
        running.set(context.sessionId, (running.get(context.sessionId) ?? 1) - 1);
      }
    },
  };
}

async function start(
  name: string,
  schema: string,
  store: Partial<Parameters<typeof createPostgresStore>[0]> = {},
  model = new GatedModel(),
): Promise<Runtime> {
  const runtime = createRuntime({
    agents: { echo: agentOf(name), chat: { model } },
    store: createPostgresStore({ connectionString: PG_URL, schema, processId: name, ...store }),
    pollIntervalMs: 50,
  });
  server.keep(runtime);
  await runtime.start();
  return runtime;
}

async function pair(storeB: Partial<Parameters<typeof createPostgresStore>[0]> = {}) {
  const schema = server.schema("rt");
  const a = await start("a", schema);
  const b = await start("b", schema, storeB);
  return { schema, a, b };
}

describe("postgres: two runtimes", () => {
  it("input sent from the process that does not hold the session runs in the one that does", async () => {
    const { schema, a, b } = await pair();
    a.session("s", { agent: "echo" });
    await heldBy(schema, "s", "a");
    const handle = b.session("s", { agent: "echo" }).send("x");
    expect(await handle.result({ timeoutMs: 5_000 })).toMatchObject({ status: "completed", output: "a:x" });
    expect(handle.receipt).toBe("durable");
  });

  it("two sends in the same instant from two processes on idle sessions never start two turns", async () => {
    const { schema, a, b } = await pair();
    overlaps = 0;
    const handles = [];
    for (let n = 0; n < 20; n++) {
      const id = `idle${n}`;
      const sa = a.session(id, { agent: "echo" });
      const sb = b.session(id, { agent: "echo" });
      handles.push(sa.send(`a${n}`), sb.send(`b${n}`), sb.send(`c${n}`), sa.send(`d${n}`));
    }
    const results = await Promise.all(handles.map((h) => h.result({ timeoutMs: 10_000 })));
    expect(results.every((r) => r.status === "completed")).toBe(true);
    expect(overlaps).toBe(0);
    // From the database: no two turns of one session overlap in time.
    const clash = await sql(`SELECT x.id FROM "${schema}".turns x JOIN "${schema}".turns y
      ON x.session_id = y.session_id AND x.id < y.id
      AND x.started_at_ms < y.ended_at_ms AND y.started_at_ms < x.ended_at_ms`);
    expect(clash).toEqual([]);
  });

  it('policy "reject" from a process that does not hold a busy session is refused, nothing stored', async () => {
    const { schema, a, b } = await pair();
    const gate = deferred();
    gates.set("long", gate.promise);
    const first = a.session("r", { agent: "echo" }).send("long");
    await heldBy(schema, "r", "a");
    const sb = b.session("r", { agent: "echo" });
    await until(async () => (await sql(`SELECT 1 FROM "${schema}".turns`)).length === 1);
    const before = await sql(`SELECT count(*)::int AS n FROM "${schema}".inputs`);
    let thrown: unknown;
    try {
      sb.send("no", { policy: "reject" });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CapacityError);
    expect(thrown).toMatchObject({ code: "SESSION_BUSY" });
    expect(await sql(`SELECT count(*)::int AS n FROM "${schema}".inputs`)).toEqual(before);
    gate.resolve();
    await first.result({ timeoutMs: 5_000 });
    // Idle again: the same send is taken, and runs where the session is held.
    expect(await sb.send("yes", { policy: "reject" }).result({ timeoutMs: 5_000 })).toMatchObject({
      output: "a:yes",
    });
  });

  it('policy "interrupt" from another process interrupts the turn running in the holder', async () => {
    const { a, b, schema } = await pair();
    gates.set("stuck", new Promise(() => {}));
    const first = a.session("i", { agent: "echo" }).send("stuck");
    await until(async () => (await sql(`SELECT 1 FROM "${schema}".turns`)).length === 1);
    const second = b.session("i", { agent: "echo" }).send("next", { policy: "interrupt" });
    expect(await first.result({ timeoutMs: 5_000 }).catch((e: unknown) => e)).toMatchObject({
      code: "TURN_CANCELLED",
    });
    expect(first.status).toBe("interrupted");
    expect(await second.result({ timeoutMs: 5_000 })).toMatchObject({ output: "a:next" });
  });

  it("an idempotency key names one input across processes", async () => {
    const { schema, a, b } = await pair();
    const sa = a.session("k", { agent: "echo" });
    const sb = b.session("k", { agent: "echo" });
    const one = sb.send("same", { idempotencyKey: "key-1" });
    await one.result({ timeoutMs: 5_000 });
    const again = sa.send("same", { idempotencyKey: "key-1" });
    const fromB = sb.send("same", { idempotencyKey: "key-1" });
    expect(again.id).toBe(one.id);
    expect(fromB.id).toBe(one.id);
    expect(await sql(`SELECT count(*)::int AS n FROM "${schema}".inputs`)).toEqual([{ n: 1 }]);
  });

  it("a wake that is never sent is made up for by the recovery poll", async () => {
    const { schema, a, b } = await pair({ notify: false });
    a.session("w", { agent: "echo" });
    await heldBy(schema, "w", "a");
    const handle = b.session("w", { agent: "echo" }).send("quiet");
    expect(await handle.result({ timeoutMs: 5_000 })).toMatchObject({ output: "a:quiet" });
  });

  it("a wake lost with the listener's connection is made up for by the poll; the listener comes back", async () => {
    const { schema, a, b } = await pair();
    a.session("l", { agent: "echo" });
    await heldBy(schema, "l", "a");
    await sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE application_name = 'offstage a' AND query LIKE 'LISTEN%'`);
    const sb = b.session("l", { agent: "echo" });
    expect(await sb.send("one").result({ timeoutMs: 5_000 })).toMatchObject({ output: "a:one" });
    await until(
      async () =>
        (
          await sql(
            `SELECT 1 FROM pg_stat_activity WHERE application_name = 'offstage a' AND query LIKE 'LISTEN%'`,
          )
        ).length === 1,
    );
    expect(await sb.send("two").result({ timeoutMs: 5_000 })).toMatchObject({ output: "a:two" });
  });

  it("a stopped process hands its sessions back at once; another runs their queued input", async () => {
    const schema = server.schema("rt");
    const a = await start("a", schema, { leaseMs: 60_000 });
    const b = await start("b", schema, { leaseMs: 60_000 });
    gates.set("held", new Promise(() => {}));
    const sa = a.session("h", { agent: "echo" });
    sa.send("held");
    const queued = sa.send("later");
    await until(async () => (await sql(`SELECT 1 FROM "${schema}".turns`)).length === 1);
    await a.stop();
    expect(queued.status).toBe("interrupted");
    // Handed back (b's 50 ms poll may have taken it already): a holds it no more.
    const owners = await sql<{ owner: string | null }>(
      `SELECT owner FROM "${schema}".sessions WHERE id = 'h'`,
    );
    expect(owners.length === 1 && owners[0]!.owner !== "a").toBe(true);
    // Well inside the 60 s lease: b's poll takes the session over and runs what a left queued.
    await until(
      async () =>
        (await sql(`SELECT status FROM "${schema}".inputs WHERE payload = '"later"'`))[0]?.status ===
        "completed",
    );
    expect(b.sessionIds()).toContain("h");
  });
});

describe("postgres: two runtimes, the rest of the policies", () => {
  it('policy "steer" from another process joins the turn running in the holder', async () => {
    const schema = server.schema("rt");
    const model = new GatedModel();
    const a = await start("a", schema, {}, model);
    const b = await start("b", schema);
    const first = a.session("m", { agent: "chat" }).send("first");
    await until(async () => model.calls.length === 1);
    const steered = b.session("m", { agent: "chat" }).send("and this", { policy: "steer" });
    // The holder takes it up (wake or poll) and steers it into its running turn.
    await until(
      async () =>
        first.status === "running" &&
        model.calls.length === 1 &&
        a.handle(steered.id)?.turnId === first.turnId,
    );
    model.last.release(text("draft"));
    await until(async () => model.calls.length === 2);
    expect(userTexts(model.last.request.prompt)).toEqual(["first", "and this"]);
    model.last.release(text("both"));
    expect(await first.result({ timeoutMs: 5_000 })).toMatchObject({ output: "both" });
    expect(await steered.result({ timeoutMs: 5_000 })).toMatchObject({
      output: "both",
      turnId: first.turnId,
    });
  });

  it("cancel and withdraw from another process reach the holder; a running input is not withdrawable", async () => {
    const { schema, a, b } = await pair();
    gates.set("blocking", new Promise(() => {}));
    const running = a.session("c", { agent: "echo" }).send("blocking");
    const queuedA = a.session("c", { agent: "echo" }).send("queued a");
    const queuedB = a.session("c", { agent: "echo" }).send("queued b");
    await until(async () => (await sql(`SELECT 1 FROM "${schema}".turns`)).length === 1);
    const sb = b.session("c", { agent: "echo" });
    const fromB = (id: string) => b.handle(id)!;
    expect(() => fromB(running.id).withdraw()).toThrow(expect.objectContaining({ code: "NOT_WITHDRAWABLE" }));
    fromB(queuedA.id).withdraw();
    expect(await queuedA.result({ timeoutMs: 5_000 }).catch((e: unknown) => e)).toMatchObject({
      code: "TURN_CANCELLED",
    });
    expect(queuedA.status).toBe("withdrawn");
    expect(await fromB(running.id).cancel({ reason: "from b" })).toBe("cancelled");
    expect(running.status).toBe("cancelled");
    expect(await queuedB.result({ timeoutMs: 5_000 })).toMatchObject({ output: "a:queued b" });
    expect(sb.history().length).toBeGreaterThan(0);
  });

  it("stop({ drain: true }) in the holder finishes its work, including input other processes sent", async () => {
    const { schema, a, b } = await pair();
    a.session("d", { agent: "echo" });
    await heldBy(schema, "d", "a");
    const sent = [0, 1, 2, 3].map((n) => b.session("d", { agent: "echo" }).send(`drain ${n}`));
    await until(
      async () => (await sql(`SELECT 1 FROM "${schema}".inputs WHERE taken_by = 'a'`)).length === 4,
    );
    expect(await a.stop({ drain: true, timeoutMs: 5_000 })).toBe("clean");
    const results = await Promise.all(sent.map((h) => h.result({ timeoutMs: 5_000 })));
    expect(results.map((r) => r.output)).toEqual(["a:drain 0", "a:drain 1", "a:drain 2", "a:drain 3"]);
  });
});

describe("postgres: a process cut off past its lease", () => {
  it("gives its sessions up before another takes them over: no step runs in two processes at once", async () => {
    const proxy = await startProxy(5432);
    const schema = server.schema("rt");
    const a = await start("a", schema, {
      connectionString: `postgres://postgres@127.0.0.1:${proxy.port}/test`,
      leaseMs: 1_500,
    });
    const b = await start("b", schema);
    try {
      overlaps = 0;
      const gate = deferred();
      gates.set("cut off", gate.promise);
      const sa = a.session("cut", { agent: "echo" });
      const running = sa.send("cut off");
      const queued = sa.send("behind it");
      await until(async () => (await sql(`SELECT 1 FROM "${schema}".turns`)).length === 1);
      await proxy.cut();
      // a gives the session up on its own clock; b takes it over once the lease lapses on the server's.
      await until(
        async () => (await sql(`SELECT owner FROM "${schema}".sessions WHERE id = 'cut'`))[0]?.owner === "b",
      );
      gate.resolve();
      expect(await b.handle(queued.id)!.result({ timeoutMs: 5_000 })).toMatchObject({
        output: "b:behind it",
      });
      expect(await b.handle(running.id)!.result({ timeoutMs: 5_000 })).toMatchObject({ output: "b:cut off" });
      expect(overlaps).toBe(0);
      await proxy.restore();
      // Back in touch: a's handles settle as b ran their inputs — a let its turn go, it did not end it.
      expect(await running.result({ timeoutMs: 5_000 })).toMatchObject({ output: "b:cut off" });
      expect(await queued.result({ timeoutMs: 5_000 })).toMatchObject({ output: "b:behind it" });
      const turns = await sql<{ attempt: number }>(
        `SELECT attempt FROM "${schema}".turns WHERE input_ids LIKE '%${running.id}%'`,
      );
      expect(turns).toEqual([{ attempt: 2 }]);
    } finally {
      await proxy.restore();
      await server.disposeKept();
      await proxy.close();
    }
  }, 30_000);
});

describe("postgres: a process whose session was taken over while it ran", () => {
  it("lets the turn go at once — its call aborted, nothing ended — and its handle follows the new holder", async () => {
    const schema = server.schema("rt");
    const a = await start("a", schema, { leaseMs: 1_500 });
    // b, the other process, takes the session over.
    await start("b", schema);
    overlaps = 0;
    const gate = deferred();
    gates.set("taken", gate.promise);
    const handle = a.session("taken", { agent: "echo" }).send("taken");
    await until(async () => (await sql(`SELECT 1 FROM "${schema}".turns`)).length === 1);
    // To the server a looks dead (its heartbeat renews no row): b's poll takes the session over.
    await sql(`DELETE FROM "${schema}".processes WHERE id = 'a'`);
    await until(
      async () => (await sql(`SELECT owner FROM "${schema}".sessions WHERE id = 'taken'`))[0]?.owner === "b",
    );
    await until(async () => (await sql(`SELECT 1 FROM "${schema}".turns WHERE attempt = 2`)).length === 1);
    // a learns it at its next beat and aborts its call while b's turn still waits at its gate.
    await until(async () => (running.get("taken") ?? 0) === 1);
    gate.resolve();
    expect(await handle.result({ timeoutMs: 5_000 })).toMatchObject({
      status: "completed",
      output: "b:taken",
    });
    expect(overlaps).toBeLessThanOrEqual(1);
    const turns = await sql<{ attempt: number; outcome: string }>(
      `SELECT attempt, outcome FROM "${schema}".turns`,
    );
    expect(turns).toEqual([{ attempt: 2, outcome: expect.stringContaining("b:taken") }]);
  });
});

/**
 * Waits until `processId` holds the session: `runtime.session()` of a new session takes its lease
 * once the session's row is in, which it does not wait for.
 */
async function heldBy(schema: string, sessionId: string, processId: string): Promise<void> {
  await until(
    async () =>
      (await sql(`SELECT 1 FROM "${schema}".sessions WHERE id = $1 AND owner = $2`, [sessionId, processId]))
        .length === 1,
  );
}

/** Polls `condition` every 20 ms for up to 10 s. */
async function until(condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("gave up waiting");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
