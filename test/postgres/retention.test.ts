/**
 * The PostgreSQL store's retention across the fleet (`fleet-sweep.ts`): processes sweep the one
 * database in turn, under the schema's sweep lock — a lock held elsewhere stops every sweep, two
 * stores sweeping at once delete each row once and never a live input — one round an interval for
 * the whole fleet, never holding a row lock between statements, in the background about once a
 * second, on a connection of their own that a cut makes again and `close()` ends. Histories and
 * runtimes are in `retention-histories.test.ts`; the parity with the memory store is in
 * `test/store/retention.test.ts`.
 */
import { describe, expect, it } from "vitest";
import { DEFAULTS } from "../../src/kernel/limits.js";
import { quoteIdent } from "../../src/store/postgres/migrations.js";
import { RetentionSweep } from "../../src/store/postgres/retention-sweep.js";
import { statementsFor } from "../../src/store/postgres/statements.js";
import { retentionOf } from "../../src/store/retention.js";
import { optionsOf } from "../../src/validate.js";
import { onServer } from "./on-server.js";
import {
  connected,
  count,
  endInputs,
  holdSweepLock,
  settlesAt,
  sweepBackends,
  twoProcesses,
} from "./retention-kit.js";
import { sql } from "./server.js";
import { startProxy } from "./tcp-proxy.js";

const server = onServer();

describe("postgres retention: one process of the fleet sweeps at a time", () => {
  it("while another connection holds the sweep lock no process sweeps; once it is free, one does", async () => {
    const { schema, a, b } = await twoProcesses(server, { endedInputsMax: 5 });
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
    const { schema, a, b } = await twoProcesses(server, { endedInputsMax: 10, idempotencyKeysMax: 3 });
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
    // The sampler saw the connection (between statements above all, where a transaction would show).
    expect(states.size).toBeGreaterThan(0);
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

  it("close() while the sweep's connection is still starting ends once the server answers, leaving no connection", async () => {
    const schema = server.schema("pgr");
    const proxy = server.keep(await startProxy(5432));
    const a = server.store(schema, {
      connectionString: `postgres://postgres@127.0.0.1:${proxy.port}/test`,
      processId: `slow-${schema}`,
    });
    await a.open();
    // The store's own connections are up; the sweep's, made at its first try, waits for the server.
    await proxy.hold();
    await settlesAt(() => proxy.held(), 1);
    const closing = a.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await proxy.release();
    const closed = await Promise.race([
      closing.then(() => "closed"),
      new Promise((resolve) => setTimeout(resolve, 10_000, "still closing after 10 s")),
    ]);
    expect(closed).toBe("closed");
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
