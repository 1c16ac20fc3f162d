/**
 * The PostgreSQL store: the conformance suite against the real server (one schema per store, so
 * files and cases run in parallel), then what is particular to it — migrations under the advisory
 * lock, boot errors, and values JSON cannot hold.
 */
import { describe, expect, it } from "vitest";
import type { Store } from "../../src/index.js";
import { createPostgresStore, type PostgresStore } from "../../src/store/postgres/index.js";
import { MIGRATIONS } from "../../src/store/postgres/migrations.js";
import { runStoreConformance } from "../../src/testing/conformance/index.js";
import { onServer } from "./on-server.js";
import { dropSchemas, PG_URL, sql, uniqueSchema } from "./server.js";

const server = onServer();

const conformanceSchemas: string[] = [];

runStoreConformance("postgres", {
  create: () => {
    const schema = uniqueSchema("conf");
    conformanceSchemas.push(schema);
    return createPostgresStore({ connectionString: PG_URL, schema, processId: `p-${schema}` });
  },
  reopen: (store) => {
    const { schema, processId } = store as PostgresStore;
    return createPostgresStore({ connectionString: PG_URL, schema, processId });
  },
  crash: async (store) => void (await (store as Store as PostgresStore).abandon()),
  cleanup: () => dropSchemas(conformanceSchemas.splice(0)),
});

const OK = { status: "completed", reason: { code: "ok", message: "ok" } } as const;
const NO_USAGE = { inputTokens: 0, outputTokens: 0 };

describe("postgres store: boot", () => {
  it("two stores booting at once on a new schema migrate it once", async () => {
    const schema = server.schema("pgs");
    const stores = [0, 1, 2].map(() => server.store(schema));
    await Promise.all(stores.map((store) => store.open()));
    const rows = await sql<{ version: number }>(`SELECT version FROM "${schema}".migrations`);
    expect(rows.map((row) => row.version)).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it("refuses a schema a newer release migrated with STORE_TOO_NEW, writing nothing", async () => {
    const schema = server.schema("pgs");
    await server.store(schema).open();
    await sql(`INSERT INTO "${schema}".migrations (version, name) VALUES (99, 'from the future')`);
    const before = await sql(`SELECT count(*)::int AS n FROM "${schema}".processes`);
    await expect(server.store(schema).open()).rejects.toMatchObject({
      name: "BootError",
      code: "STORE_TOO_NEW",
    });
    expect(await sql(`SELECT count(*)::int AS n FROM "${schema}".processes`)).toEqual(before);
  });

  it("refuses an unreachable server with STORE_UNREACHABLE naming host and port", async () => {
    const port = await closedPort();
    const store = createPostgresStore({ connectionString: `postgres://postgres@127.0.0.1:${port}/test` });
    const error = await store.open().catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "BootError", code: "STORE_UNREACHABLE" });
    expect((error as Error).message).toContain(`127.0.0.1:${port}`);
  });

  it("refuses bad options with INVALID_OPTIONS, quoting the value", () => {
    const bad: unknown[] = [
      {},
      { connectionString: "" },
      { connectionString: PG_URL, schema: "no-dashes" },
      { connectionString: PG_URL, leaseMs: 5 },
      { connectionString: PG_URL, processId: 7 },
      { connectionString: PG_URL, nope: true },
      null,
    ];
    for (const options of bad) {
      expect(() => createPostgresStore(options as never)).toThrow(
        expect.objectContaining({ code: "INVALID_OPTIONS" }),
      );
    }
  });
});

describe("postgres store: leases", () => {
  it("a process whose lease was taken over writes nothing: the database refuses its epoch", async () => {
    const schema = server.schema("pgs");
    const a = server.store(schema, { processId: "a" });
    await a.open();
    a.createSession({ id: "s1", agent: "x", createdAtMs: 1 });
    a.accept({ id: "i1", sessionId: "s1", seq: 1, payload: "hi", policy: "enqueue", acceptedAtMs: 1 });
    a.startTurn({ turnId: "t1", sessionId: "s1", inputIds: ["i1"], attempt: 1, startedAtMs: 2 });
    await a.commit();
    // a pauses past its lease: to the server it looks gone (its heartbeat, which runs on, renews no
    // row), and b takes the session over.
    await sql(`DELETE FROM "${schema}".processes WHERE id = 'a'`);
    const b = server.store(schema, { processId: "b" });
    const { interrupted } = await b.open();
    expect(interrupted.map((turn) => turn.turnId)).toEqual(["t1"]);
    expect(b.holds("s1")).toBe(true);
    // a wakes up and goes on with its turn: every write is refused.
    a.checkpoint({ turnId: "t1", sessionId: "s1", attempt: 1, step: 1, messages: [] });
    a.endTurn({
      turnId: "t1",
      sessionId: "s1",
      attempt: 1,
      outcome: OK,
      messages: [{ role: "assistant", content: [{ type: "text", text: "late" }] }],
      inputIds: ["i1"],
      requeued: [],
      usage: NO_USAGE,
      endedAtMs: 3,
    });
    await a.commit();
    const [turn] = await sql(`SELECT step, ended_at_ms FROM "${schema}".turns WHERE id = 't1'`);
    expect(turn).toEqual({ step: 0, ended_at_ms: null });
    expect(await sql(`SELECT * FROM "${schema}".history`)).toEqual([]);
    expect(b.input("i1")?.status).toBe("running");
    // b, the holder, resumes it and its writes land.
    b.startTurn({ turnId: "t1", sessionId: "s1", inputIds: ["i1"], attempt: 2, startedAtMs: 4 });
    b.endTurn({
      turnId: "t1",
      sessionId: "s1",
      attempt: 2,
      outcome: OK,
      messages: [],
      inputIds: ["i1"],
      requeued: [],
      usage: NO_USAGE,
      endedAtMs: 5,
    });
    await b.commit();
    expect(a.input("i1")?.status).toBe("completed");
  });

  it("a live holder's sessions are not taken; a clean close hands them back at once", async () => {
    const schema = server.schema("pgs");
    const a = server.store(schema, { processId: "a" });
    await a.open();
    a.createSession({ id: "s1", agent: "x", createdAtMs: 1 });
    a.accept({ id: "i1", sessionId: "s1", seq: 1, payload: "hi", policy: "enqueue", acceptedAtMs: 1 });
    await a.commit();
    const b = server.store(schema, { processId: "b" });
    expect((await b.open()).queued).toEqual([]);
    expect(b.holds("s1")).toBe(false);
    await a.close();
    expect(await sql(`SELECT owner FROM "${schema}".sessions`)).toEqual([{ owner: null }]);
    const c = server.store(schema, { processId: "c" });
    expect((await c.open()).queued.map((input) => input.id)).toEqual(["i1"]);
    expect(c.holds("s1")).toBe(true);
  });

  it("a killed process's sessions are taken over once its lease lapses, not before", async () => {
    const schema = server.schema("pgs");
    const a = server.store(schema, { processId: "a", leaseMs: 3_000 });
    await a.open();
    a.createSession({ id: "s1", agent: "x", createdAtMs: 1 });
    a.accept({ id: "i1", sessionId: "s1", seq: 1, payload: "hi", policy: "enqueue", acceptedAtMs: 1 });
    await a.commit();
    await a.abandon();
    const early = server.store(schema, { processId: "b" });
    expect((await early.open()).queued).toEqual([]);
    await early.close();
    // The lease lapses by the server's clock: wait for it there.
    for (;;) {
      const [row] = await sql<{ lapsed: boolean }>(
        `SELECT alive_until_ms < (extract(epoch FROM clock_timestamp()) * 1000) AS lapsed FROM "${schema}".processes WHERE id = 'a'`,
      );
      if (row?.lapsed === true) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const late = server.store(schema, { processId: "c" });
    expect((await late.open()).queued.map((input) => input.id)).toEqual(["i1"]);
  });

  it("stores opening at once split the free sessions: none is claimed twice", async () => {
    const schema = server.schema("pgs");
    const seed = server.store(schema, { processId: "seed" });
    await seed.open();
    for (let n = 0; n < 40; n++) {
      seed.createSession({ id: `s${n}`, agent: "x", createdAtMs: n });
      seed.accept({
        id: `i${n}`,
        sessionId: `s${n}`,
        seq: n + 1,
        payload: n,
        policy: "enqueue",
        acceptedAtMs: n,
      });
    }
    await seed.close();
    const stores = ["p", "q", "r"].map((processId) => server.store(schema, { processId }));
    const states = await Promise.all(stores.map((store) => store.open()));
    const claimed = states.flatMap((state) => state.queued.map((input) => input.sessionId));
    expect(claimed.sort()).toEqual(Array.from({ length: 40 }, (_, n) => `s${n}`).sort());
  });
});

/** A TCP port nothing listens on. */
async function closedPort(): Promise<number> {
  const { createServer } = await import("node:net");
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
