/**
 * A process that paused past its lease and woke before its heartbeat noticed: its held turn writes
 * are fenced out by the database (the lease epoch), and the store tells the runtime so before the
 * group's commit resolves — the sessions are held no more, and their handles settle with what the
 * store holds, never with the stale process's own outcome.
 */
import { describe, expect, it } from "vitest";
import { createRuntime, type Runtime } from "../../src/index.js";
import { createPostgresStore, type PostgresStore } from "../../src/store/postgres/index.js";
import { deferred, polled } from "../support/async.js";
import { onServer } from "./on-server.js";
import { PG_URL, sql } from "./server.js";

const server = onServer();

/** A heartbeat that never notices within a test: the lease moved behind the process's back. */
const LONG_LEASE_MS = 120_000;

describe("postgres: writes fenced out by a moved lease", () => {
  it("a turn that ends after its lease moved settles with what the store holds, not its own output", async () => {
    const schema = server.schema("fenced");
    const gate = deferred();
    const runtimeOf = (name: string, leaseMs: number, gated: boolean): Runtime => {
      const runtime = createRuntime({
        agents: {
          echo: {
            run: async (input: unknown, context: { signal: AbortSignal }) => {
              if (gated)
                await Promise.race([
                  gate.promise,
                  new Promise((_, reject) =>
                    context.signal.addEventListener("abort", () => reject(context.signal.reason), {
                      once: true,
                    }),
                  ),
                ]);
              return `${name}:${String(input)}`;
            },
          },
        },
        store: createPostgresStore({ connectionString: PG_URL, schema, processId: name, leaseMs }),
        pollIntervalMs: 50,
      });
      server.keep(runtime);
      return runtime;
    };
    const a = runtimeOf("a", LONG_LEASE_MS, true);
    await a.start();
    const handle = a.session("s", { agent: "echo" }).send("x");
    await polled(async () => (await sql(`SELECT 1 FROM "${schema}".turns`)).length === 1);
    const b = runtimeOf("b", 10_000, false);
    await b.start();
    // The lease moves while a is "paused" in its turn: to the server a looks dead (its heartbeat
    // renews no row), and b takes the session over under a new epoch and runs the turn again.
    await sql(`DELETE FROM "${schema}".processes WHERE id = 'a'`);
    await polled(async () => {
      const rows = await sql<{ outcome: string | null }>(`SELECT outcome FROM "${schema}".turns`);
      return rows[0]?.outcome?.includes("b:x") === true;
    });
    // a wakes: its turn ends, the end is fenced out, the commit succeeds.
    gate.resolve();
    expect(await handle.result({ timeoutMs: 10_000 })).toMatchObject({ status: "completed", output: "b:x" });
    const turns = await sql<{ outcome: string }>(`SELECT outcome FROM "${schema}".turns`);
    expect(turns).toEqual([{ outcome: expect.stringContaining("b:x") }]);
  });

  it("the store gives up a session whose turn start the database fenced out, and only that one", async () => {
    const schema = server.schema("fenced");
    const store = createPostgresStore({
      connectionString: PG_URL,
      schema,
      processId: "a",
      leaseMs: LONG_LEASE_MS,
    }) as PostgresStore;
    server.keep(store);
    await store.open();
    const lost: string[] = [];
    const unlisten = store.leases.listen(
      () => undefined,
      (ids) => lost.push(...ids),
    );
    for (const id of ["moved", "kept"]) {
      store.createSession({ id, agent: "echo", createdAtMs: 1 });
      store.accept({
        id: `${id}-in`,
        sessionId: id,
        seq: id === "moved" ? 1 : 2,
        payload: "x",
        policy: "enqueue",
        acceptedAtMs: 1,
      });
    }
    await store.commit();
    await sql(`UPDATE "${schema}".sessions SET owner = 'other', epoch = epoch + 1 WHERE id = 'moved'`);
    for (const id of ["moved", "kept"])
      store.startTurn({
        turnId: `${id}-t`,
        sessionId: id,
        attempt: 1,
        inputIds: [`${id}-in`],
        startedAtMs: 2,
      });
    await store.commit();
    expect(store.holds("moved")).toBe(false);
    expect(store.holds("kept")).toBe(true);
    expect(lost).toEqual(["moved"]);
    const turns = await sql<{ id: string }>(`SELECT id FROM "${schema}".turns ORDER BY id`);
    expect(turns).toEqual([{ id: "kept-t" }]);
    // A single-row turn write (a checkpoint) kept out tells the same.
    await sql(`UPDATE "${schema}".sessions SET owner = 'other', epoch = epoch + 1 WHERE id = 'kept'`);
    store.checkpoint({ turnId: "kept-t", sessionId: "kept", attempt: 1, step: 1, messages: [] });
    await store.commit();
    expect(store.holds("kept")).toBe(false);
    expect(lost).toEqual(["moved", "kept"]);
    unlisten();
  });
});
