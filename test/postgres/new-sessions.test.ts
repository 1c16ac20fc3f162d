/**
 * A new session costs `runtime.session()` no round trip (`src/store/postgres/new-sessions.ts`): its
 * row goes in with the next group, and the lease is taken once the answer is back. Input sent before
 * then is not run here until a claim hands it back — the store wakes the runtime for that — and a
 * session another process made first is left to it, with the input.
 */
import { describe, expect, it } from "vitest";
import { createRuntime, silentLogger } from "../../src/index.js";
import type { PostgresStore } from "../../src/store/postgres/index.js";
import { record } from "../../src/testing/conformance/fixtures.js";
import { polled } from "../support/async.js";
import { onServer } from "./on-server.js";
import { sql } from "./server.js";

const server = onServer();

/** A store open on `schema` whose wakes are recorded, as a runtime's lease keeper listens. */
async function listening(
  schema: string,
  processId: string,
): Promise<{ store: PostgresStore; woken: string[] }> {
  const store = server.store(schema, { processId });
  await store.open();
  const woken: string[] = [];
  store.leases.listen(
    (sessionId) => woken.push(sessionId),
    () => undefined,
  );
  return { store, woken };
}

describe("postgres store: new sessions", () => {
  it("input sent before the new session's row is in runs here only once a claim hands it back", async () => {
    const schema = server.schema("new");
    const { store, woken } = await listening(schema, "a");
    store.createSession({ id: "s1", agent: "x", createdAtMs: 1 });
    store.accept(record("i1", 1));
    expect(store.holds("s1")).toBe(false);
    await store.commit();
    // The row is in and names a; the input is taken by a, but not handed to the runtime yet.
    expect(await sql(`SELECT owner FROM "${schema}".sessions`)).toEqual([{ owner: "a" }]);
    expect(await sql(`SELECT taken_by FROM "${schema}".inputs`)).toEqual([{ taken_by: "a" }]);
    await polled(async () => woken.includes("s1"));
    expect(store.holds("s1")).toBe(false);
    // Sent while the session waits for its claim: it waits too, behind i1.
    store.accept(record("i2", 2));
    const claimed = await store.leases.claim(["s1"]);
    expect(claimed.queued.map((input) => input.id)).toEqual(["i1", "i2"]);
    expect(store.holds("s1")).toBe(true);
  });

  it("input with an idempotency key sent to a new session is handed back once, by the claim", async () => {
    const schema = server.schema("new");
    const { store, woken } = await listening(schema, "a");
    store.createSession({ id: "s1", agent: "x", createdAtMs: 1 });
    store.accept(record("i1", 1, { idempotencyKey: "k" }));
    store.accept(record("i2", 2));
    await store.commit();
    expect(await sql(`SELECT id, taken_by FROM "${schema}".inputs ORDER BY id`)).toEqual([
      { id: "i1", taken_by: "a" },
      { id: "i2", taken_by: "a" },
    ]);
    await polled(async () => woken.includes("s1"));
    const claimed = await store.leases.claim(["s1"]);
    expect(claimed.queued.map((input) => input.id)).toEqual(["i1", "i2"]);
    store.leases.taken(["i1", "i2"]);
    // A poll's claim, which reads every input not taken, hands neither back again.
    expect((await store.leases.claim()).queued).toEqual([]);
  });

  it("what a claim hands back is committed by the time it does: the runtime takes it as stored", async () => {
    const schema = server.schema("new");
    const { store, woken } = await listening(schema, "a");
    store.createSession({ id: "s1", agent: "x", createdAtMs: 1 });
    store.accept(record("i1", 1));
    // A read writes what is held (the session's row aside, i1 in the open group) without committing.
    expect(store.input("i1")?.status).toBe("queued");
    await polled(async () => woken.includes("s1"));
    store.accept(record("i2", 2));
    const claimed = await store.leases.claim(["s1"]);
    expect(claimed.queued.map((input) => input.id)).toEqual(["i1", "i2"]);
    expect(await sql(`SELECT id FROM "${schema}".inputs ORDER BY id`)).toEqual([{ id: "i1" }, { id: "i2" }]);
    // A poll's claim, which reads the database too, hands back only what is committed as well.
    store.accept(record("i3", 3));
    store.leases.taken(["i1", "i2"]);
    await store.leases.claim();
    expect(await sql(`SELECT id FROM "${schema}".inputs WHERE id = 'i3'`)).toEqual([{ id: "i3" }]);
  });

  it("a runtime's durable receipt for input to new sessions means its row is committed", async () => {
    const schema = server.schema("new");
    const runtime = server.keep(
      createRuntime({
        // Turns that outlast a group's commit window: each session's next group commits on its own.
        agents: { f: { run: async (input) => new Promise((resolve) => setTimeout(resolve, 20, input)) } },
        store: server.store(schema, { processId: "r" }),
        logger: silentLogger,
      }),
    );
    await runtime.start();
    const missing: string[] = [];
    for (let n = 0; n < 80; n++) {
      const session = runtime.session(`s${n}`, { agent: "f" });
      const handles = [session.send("a"), session.send("b")];
      expect(await Promise.all(handles.map((h) => h.stored()))).toEqual(["durable", "durable"]);
      const rows = await sql(`SELECT id FROM "${schema}".inputs WHERE session_id = $1`, [`s${n}`]);
      if (rows.length !== 2) missing.push(`s${n}`);
    }
    expect(missing).toEqual([]);
  });

  it("a session with no input sent meanwhile is held once its row is in", async () => {
    const schema = server.schema("new");
    const { store, woken } = await listening(schema, "a");
    store.createSession({ id: "s1", agent: "x", createdAtMs: 1 });
    expect(store.holds("s1")).toBe(false);
    await store.commit();
    expect(store.holds("s1")).toBe(true);
    expect(woken).toEqual([]);
  });

  it("a session another process made first is left to it: the input sent here waits for its holder, who is woken", async () => {
    const schema = server.schema("new");
    const a = await listening(schema, "a");
    a.store.createSession({ id: "s1", agent: "x", createdAtMs: 1 });
    await a.store.commit();
    const b = await listening(schema, "b");
    b.store.createSession({ id: "s1", agent: "x", createdAtMs: 2 });
    b.store.accept(record("i1", 1));
    await b.store.commit();
    await polled(async () => a.woken.includes("s1"));
    expect(b.store.holds("s1")).toBe(false);
    expect(await sql(`SELECT owner, created_at_ms::int AS created_at_ms FROM "${schema}".sessions`)).toEqual([
      { owner: "a", created_at_ms: 1 },
    ]);
    expect(await sql(`SELECT taken_by FROM "${schema}".inputs`)).toEqual([{ taken_by: null }]);
    expect((await a.store.leases.claim(["s1"])).queued.map((input) => input.id)).toEqual(["i1"]);
  });
});
