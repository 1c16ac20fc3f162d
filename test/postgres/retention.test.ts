/**
 * The PostgreSQL store's retention across the fleet (`fleet-sweep.ts`): processes sweep the one
 * database in turn, under the schema's sweep lock — a lock held elsewhere stops every sweep, two
 * stores sweeping at once delete each row once and never a live input — in the background about once
 * a second, on a connection of their own that a cut makes again and `close()` ends. And a session's
 * history trimmed by another process's sweep is never served stale by its holder's cache. (The
 * parity with the memory store is in `test/store/retention.test.ts`.)
 */
import pg from "pg";
import { describe, expect, it } from "vitest";
import { createMemoryStore, createRuntime, type Store } from "../../src/index.js";
import { DEFAULTS } from "../../src/kernel/limits.js";
import type { PostgresStore } from "../../src/store/postgres/index.js";
import { quoteIdent } from "../../src/store/postgres/migrations.js";
import { RetentionSweep } from "../../src/store/postgres/retention-sweep.js";
import { statementsFor } from "../../src/store/postgres/statements.js";
import { type RetentionOptions, retentionOf } from "../../src/store/retention.js";
import { optionsOf } from "../../src/validate.js";
import { answeredTurn } from "../support/turns.js";
import { onServer } from "./on-server.js";
import { PG_URL, sql } from "./server.js";

const server = onServer();

const CANCELLED = { code: "cancel_requested", message: "no" } as const;

let seq = 0;

/**
 * Ends `count` inputs of a new session of `store` without a turn (every `keyEvery`-th with an
 * idempotency key, each ending one millisecond after the last), and leaves `queued` more queued,
 * spread among them; commits. Returns the ids of both, the ended in end order.
 */
async function endInputs(
  store: Store,
  session: string,
  count: number,
  { queued = 0, keyEvery = 0 }: { queued?: number; keyEvery?: number } = {},
): Promise<{ live: string[]; ended: string[] }> {
  store.createSession({ id: session, agent: "a", createdAtMs: 1 });
  const live: string[] = [];
  const ended: string[] = [];
  const total = count + queued;
  const every = Math.floor(total / (queued + 1));
  for (let n = 1; n <= total; n++) {
    seq += 1;
    const id = `${session}-i${n}`;
    const idempotencyKey = keyEvery > 0 && n % keyEvery === 0 ? `k${n}` : undefined;
    store.accept({
      id,
      sessionId: session,
      seq,
      payload: n,
      policy: "enqueue",
      idempotencyKey,
      acceptedAtMs: seq,
    });
    if (live.length < queued && n % every === 0) {
      live.push(id);
      continue;
    }
    ended.push(id);
    store.endInput({
      inputId: id,
      sessionId: session,
      status: "cancelled",
      reason: CANCELLED,
      endedAtMs: seq,
    });
  }
  await store.commit();
  return { live, ended };
}

/** Runs one turn of `session` that adds a question and an answer to its history. */
function turn(store: Store, session: string, n: number): void {
  seq += 1;
  const id = `${session}-t${n}`;
  store.accept({ id, sessionId: session, seq, payload: n, policy: "enqueue", acceptedAtMs: seq });
  answeredTurn(store, { sessionId: session, turnId: id, inputId: id, n, atMs: seq });
}

async function count(schema: string, where: string): Promise<number> {
  const [row] = await sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".inputs WHERE ${where}`);
  return row!.n;
}

/** Polls `read` until it gives `expected` (the background sweep's pace is the wall clock's). */
async function settlesAt<T>(read: () => Promise<T>, expected: T, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = await read();
  while (JSON.stringify(last) !== JSON.stringify(expected) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    last = await read();
  }
  expect(last).toEqual(expected);
}

/** Two stores on a new schema with the same retention, as two processes of a fleet, opened. */
async function twoProcesses(
  retention: RetentionOptions,
): Promise<{ schema: string; a: PostgresStore; b: PostgresStore }> {
  const schema = server.schema("pgr");
  const [a, b] = ["a", "b"].map((processId) => server.store(schema, { processId, ...retention }));
  await Promise.all([a!.open(), b!.open()]);
  return { schema, a: a!, b: b! };
}

/** A connection of the test's own, ended as a kept item is. */
async function connected(): Promise<pg.Client & AsyncDisposable> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  return Object.assign(client, { [Symbol.asyncDispose]: () => client.end() });
}

/** Holds the schema's sweep lock on a connection of its own until `release()`. */
async function holdSweepLock(schema: string): Promise<{ release(): Promise<void> }> {
  const client = await connected();
  await client.query("SELECT pg_advisory_lock(hashtextextended($1, 0))", [`offstage-retention:${schema}`]);
  return {
    async release() {
      await client.end();
    },
  };
}

/** The backends of `store`'s sweep connection. */
async function sweepBackends(store: PostgresStore): Promise<number[]> {
  const rows = await sql<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1", [
    `offstage ${store.processId} sweep`,
  ]);
  return rows.map((row) => row.pid);
}

describe("postgres retention: one process of the fleet sweeps at a time", () => {
  it("while another connection holds the sweep lock no process sweeps; once it is free, one does", async () => {
    const { schema, a, b } = await twoProcesses({ endedInputsMax: 5 });
    const lock = await holdSweepLock(schema);
    const live = [
      ...(await endInputs(a, "sa", 30, { queued: 3 })).live,
      ...(await endInputs(b, "sb", 30, { queued: 3 })).live,
    ];
    // Both processes try at least twice meanwhile (about once a second each), and get nothing.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(await count(schema, "ended_at_ms IS NOT NULL")).toBe(60);
    await lock.release();
    await settlesAt(() => count(schema, "ended_at_ms IS NOT NULL"), 5);
    // Each row was deleted once, by whichever process had the lock; the queued are all there.
    const [sweptA, sweptB] = [await a.sweepNow(), await b.sweepNow()];
    expect(sweptA.inputs + sweptB.inputs).toBe(55);
    expect(await count(schema, "status = 'queued'")).toBe(6);
    expect(live.map((id) => a.input(id)?.status)).toEqual(live.map(() => "queued"));
  });

  it("two stores sweeping at once delete each ended input once, keep the bounds exactly and every live input", async () => {
    const { schema, a, b } = await twoProcesses({ endedInputsMax: 10, idempotencyKeysMax: 3 });
    const live: string[] = [];
    const ended: string[] = [];
    for (let round = 1; round <= 4; round++) {
      for (const made of await Promise.all([
        endInputs(a, `a${round}`, 60, { queued: 2, keyEvery: 4 }),
        endInputs(b, `b${round}`, 60, { queued: 2, keyEvery: 3 }),
      ])) {
        live.push(...made.live);
        ended.push(...made.ended);
      }
      // The background sweeps of both run too.
      await Promise.all([a.sweepNow(), b.sweepNow()]);
      expect(await count(schema, "ended_at_ms IS NOT NULL")).toBe(10);
      expect(
        await count(schema, "ended_at_ms IS NOT NULL AND idempotency_key IS NOT NULL"),
      ).toBeLessThanOrEqual(3);
    }
    const [sweptA, sweptB] = await Promise.all([a.sweepNow(), b.sweepNow()]);
    expect(sweptA.inputs + sweptB.inputs).toBe(ended.length - 10);
    expect(await count(schema, "status = 'queued'")).toBe(live.length);
    expect(live.map((id) => b.input(id)?.status)).toEqual(live.map(() => "queued"));
    // The newest ten ended inputs are left: the oldest went first.
    const kept = await sql<{ id: string }>(
      `SELECT id FROM "${schema}".inputs WHERE ended_at_ms IS NOT NULL ORDER BY ended_at_ms, ord`,
    );
    expect(kept.map((row) => row.id)).toEqual(ended.slice(-10));
  });

  it("a running turn's inputs stay however far past the bounds the ended ones are", async () => {
    const schema = server.schema("pgr");
    const a = server.store(schema, { processId: "a", endedInputsMax: 1, endedInputAgeMaxMs: 1 });
    await a.open();
    a.createSession({ id: "run", agent: "a", createdAtMs: 1 });
    a.accept({ id: "r1", sessionId: "run", seq: 1, payload: 1, policy: "enqueue", acceptedAtMs: 1 });
    a.startTurn({ turnId: "rt", sessionId: "run", inputIds: ["r1"], attempt: 1, startedAtMs: 1 });
    await a.commit();
    await endInputs(a, "done", 50);
    await a.sweepNow();
    expect(a.input("r1")?.status).toBe("running");
    expect(await sql(`SELECT id FROM "${schema}".turns WHERE ended_at_ms IS NULL`)).toEqual([{ id: "rt" }]);
    expect(await count(schema, "ended_at_ms IS NOT NULL")).toBe(1);
  });
});

describe("postgres retention: under two runtimes' turns", () => {
  it("their sweeps run beside the turns of both: every handle settles as it would without, and the bounds hold", async () => {
    const schema = server.schema("pgr");
    const retention = { endedInputsMax: 20, idempotencyKeysMax: 5, historyTurnsMax: 3 };
    const seen: number[] = [];
    const runtimes = ["a", "b"].map((processId) => {
      const store = server.store(schema, { processId, ...retention });
      const runtime = createRuntime({
        agents: {
          f: {
            run: async (input, { history }) => {
              seen.push(history.length);
              await new Promise((resolve) => setTimeout(resolve, 1));
              return `${processId}:${String(input)}`;
            },
          },
        },
        store,
        pollIntervalMs: 50,
      });
      return { store, runtime: server.keep(runtime) };
    });
    await Promise.all(runtimes.map(({ runtime }) => runtime.start()));
    const handles = [];
    // Waves over about three seconds: both processes' background sweeps run meanwhile.
    for (let wave = 0; wave < 6; wave++) {
      for (let n = 0; n < 30; n++) {
        const { runtime } = runtimes[n % 2]!;
        const keyed = n % 3 === 0 ? { idempotencyKey: `w${wave}-${n}` } : {};
        handles.push(runtime.session(`s${n % 8}`, { agent: "f" }).send(`${wave}.${n}`, keyed));
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const results = await Promise.all(handles.map((handle) => handle.result()));
    expect(results.map((result) => result.status)).toEqual(handles.map(() => "completed"));
    expect(results.map((result) => String(result.output).split(":")[1])).toEqual(
      handles.map((_, i) => `${Math.floor(i / 30)}.${i % 30}`),
    );
    // A turn saw at most its session's newest three turns (a question and an answer each).
    expect(Math.max(...seen)).toBe(6);
    // The background sweeps deleted meanwhile.
    expect(await count(schema, "ended_at_ms IS NOT NULL")).toBeLessThan(handles.length - 30);
    await Promise.all(runtimes.map(({ store }) => store.sweepNow()));
    expect(await count(schema, "ended_at_ms IS NOT NULL")).toBe(20);
    expect(await count(schema, "status IN ('queued', 'running')")).toBe(0);
    const rows = await sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${schema}".history GROUP BY session_id ORDER BY n DESC LIMIT 1`,
    );
    expect(rows[0]!.n).toBe(3);
    const swept = runtimes.map(({ store }) => store.sweepNow());
    expect((await Promise.all(swept)).reduce((sum, counts) => sum + counts.inputs, 0)).toBe(
      handles.length - 20,
    );
  });
});

describe("postgres retention: rounds", () => {
  it("a round starts once an interval for the whole fleet, not once per process, unless asked for now", async () => {
    const schema = server.schema("pgr");
    // Migrated by a store, then closed: nothing sweeps but the sweeps below.
    await server.store(schema).open();
    await server.disposeKept();
    const client = server.keep(await connected());
    const query = async (text: string, params: readonly unknown[]) =>
      (await client.query(text, params as unknown[])).rows;
    const endMore = (from: number) =>
      client.query(
        `INSERT INTO "${schema}".inputs (id, session_id, seq, payload, policy, accepted_at_ms, status, ended_at_ms)
          SELECT 'i' || n, 's', n, '1', 'enqueue', n, 'cancelled', n FROM generate_series($1::int, $1::int + 19) n`,
        [from],
      );
    const sql = statementsFor(quoteIdent(schema));
    const retention = retentionOf(optionsOf("test"), { endedInputsMax: 5 }, DEFAULTS.postgresStore);
    const sizes = { batchRows: 500, rowsMax: 2_000, walkRows: 10_000, roundEveryMs: 60_000 };
    const [a, b] = [new RetentionSweep(sql, retention, sizes), new RetentionSweep(sql, retention, sizes)];
    await endMore(1);
    expect(await a.sweep(query)).toBe(false);
    expect(a.counts()).toEqual({ inputs: 15, turns: 0, historyRows: 0 });
    await endMore(21);
    // a's round just ended: neither a nor b starts another within the interval.
    for (const sweep of [b, a]) await sweep.sweep(query);
    expect([a.counts().inputs, b.counts().inputs]).toEqual([15, 0]);
    await b.sweep(query, { now: true });
    expect(b.counts().inputs).toBe(20);
    await endMore(41);
    await client.query(
      `UPDATE "${schema}".retention_marks SET round_ended_at = now() - interval '61 seconds'`,
    );
    await a.sweep(query);
    expect(a.counts().inputs).toBe(35);
  });
});

describe("postgres retention: never a row lock held between statements", () => {
  it("the sweep's connection is never idle inside a transaction, so a send waiting on a delete never waits for this thread", async () => {
    const schema = server.schema("pgr");
    const a = server.store(schema, { processId: `idle-${schema}`, endedInputsMax: 1, idempotencyKeysMax: 1 });
    await a.open();
    await endInputs(a, "s", 6_000, { keyEvery: 2 });
    const states = new Set<string>();
    let sweeping = true;
    const sampler = (async () => {
      const client = server.keep(await connected());
      while (sweeping) {
        const { rows } = await client.query(
          "SELECT state FROM pg_stat_activity WHERE application_name = $1",
          [`offstage ${a.processId} sweep`],
        );
        for (const row of rows) states.add(String(row.state));
      }
    })();
    const swept = await a.sweepNow();
    sweeping = false;
    await sampler;
    expect(swept.inputs).toBe(5_999);
    expect(states.has("active")).toBe(true);
    expect([...states].filter((state) => state.includes("transaction"))).toEqual([]);
  });
});

describe("postgres retention: in the background", () => {
  it("sweeps about once a second on its own connection, and close() ends it", async () => {
    const schema = server.schema("pgr");
    const a = server.store(schema, { processId: `bg-${schema}`, endedInputsMax: 3 });
    await a.open();
    await endInputs(a, "s", 40, { queued: 2 });
    await settlesAt(() => count(schema, "ended_at_ms IS NOT NULL"), 3);
    expect(await sweepBackends(a)).toHaveLength(1);
    await a.close();
    await settlesAt(() => sweepBackends(a), []);
  });

  it("a sweep whose connection was cut connects again at the next", async () => {
    const schema = server.schema("pgr");
    const a = server.store(schema, { processId: `cut-${schema}`, endedInputsMax: 3 });
    await a.open();
    await endInputs(a, "s1", 20);
    await settlesAt(() => count(schema, "ended_at_ms IS NOT NULL"), 3);
    const [pid] = await sweepBackends(a);
    await sql("SELECT pg_terminate_backend($1)", [pid]);
    await endInputs(a, "s2", 20);
    await settlesAt(() => count(schema, "ended_at_ms IS NOT NULL"), 3);
    const [again] = await sweepBackends(a);
    expect(again).toBeDefined();
    expect(again).not.toBe(pid);
  });
});

describe("postgres retention: histories", () => {
  it("a history another process's sweep trimmed is served as the memory store serves it, by its holder and by the next", async () => {
    const { schema, a, b } = await twoProcesses({ historyTurnsMax: 2 });
    const memory = createMemoryStore({ historyTurnsMax: 2 });
    await memory.open();
    for (const store of [a, memory]) store.createSession({ id: "s", agent: "a", createdAtMs: 1 });
    const rows = async () =>
      (
        await sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".history WHERE session_id = 's'`)
      )[0]!.n;
    for (let n = 1; n <= 5; n++) {
      for (const store of [a, memory]) turn(store, "s", n);
      // a holds s and keeps its history in memory: read at every turn, as a runtime reads it.
      expect(a.history("s")).toEqual(memory.history("s"));
    }
    await a.commit();
    expect(await rows()).toBe(5);
    // b sweeps: s's rows beyond its newest two turns go, behind the back of a's cache.
    expect((await b.sweepNow()).historyRows).toBe(3);
    expect(await rows()).toBe(2);
    expect(a.history("s")).toEqual(memory.history("s"));
    for (const store of [a, memory]) turn(store, "s", 6);
    expect(a.history("s")).toEqual(memory.history("s"));
    await a.commit();
    expect((await b.sweepNow()).historyRows).toBe(4);
    // A process that does not hold s reads it from the database, as trimmed.
    expect(b.history("s")).toEqual(memory.history("s"));
    expect(memory.history("s").map((m) => (m.content[0] as { text: string }).text)).toEqual([
      "q5",
      "a5",
      "q6",
      "a6",
    ]);
  });

  it("a bound lowered at a restart trims every session's history, those that never grow again too", async () => {
    const schema = server.schema("pgr");
    const a = server.store(schema, { processId: "a", historyTurnsMax: 4 });
    await a.open();
    for (const s of ["x", "y", "z"]) {
      a.createSession({ id: s, agent: "a", createdAtMs: 1 });
      for (let n = 1; n <= 6; n++) turn(a, s, n);
    }
    expect((await a.sweepNow()).historyRows).toBe(6);
    await a.close();
    const lowered = server.store(schema, { processId: "a", historyTurnsMax: 1 });
    await lowered.open();
    expect((await lowered.sweepNow()).historyRows).toBe(9);
    const left = await sql<{ turn_id: string }>(
      `SELECT turn_id FROM "${schema}".history ORDER BY session_id`,
    );
    expect(left.map((row) => row.turn_id)).toEqual(["x-t6", "y-t6", "z-t6"]);
    // Raised again, nothing comes back, and nothing more goes.
    await lowered.close();
    const raised = server.store(schema, { processId: "a", historyTurnsMax: 3 });
    await raised.open();
    expect((await raised.sweepNow()).historyRows).toBe(0);
    expect(raised.history("x").map((m) => (m.content[0] as { text: string }).text)).toEqual(["q6", "a6"]);
  });
});
