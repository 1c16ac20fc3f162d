/**
 * The PostgreSQL event log across processes (each runtime or store here on connections of its own,
 * as a process has): appends are fenced by the session's lease, a new holder numbers on from the
 * last event committed, and a runtime follows a session another one holds — replay, then live, each
 * event once and in order. The crash case, with real processes, is `event-follow.test.ts`.
 */
import { describe, expect, it } from "vitest";
import { createRuntime, type Runtime } from "../../src/index.js";
import type { SessionEvent } from "../../src/runtime/ports/event-log.js";
import { createPostgresStore, type PostgresStore } from "../../src/store/postgres/index.js";
import { deferred } from "../support/async.js";
import { onServer } from "./on-server.js";
import { PG_URL, sql } from "./server.js";

const server = onServer();

function event(sessionId: string, seq: number, by: string): SessionEvent {
  return { sessionId, seq, atMs: seq, event: { type: "model.text", sessionId, turnId: by, delta: by } };
}

/** The store of process `processId` on `schema`, open. */
async function opened(schema: string, processId: string): Promise<PostgresStore> {
  const store = server.store(schema, { processId });
  await store.open();
  return store;
}

async function loggedOf(schema: string, sessionId: string): Promise<{ seq: number; by: string }[]> {
  const rows = await sql<{ seq: string; event: string }>(
    `SELECT seq, event FROM "${schema}".events WHERE session_id = $1 ORDER BY seq`,
    [sessionId],
  );
  return rows.map((row) => ({
    seq: Number(row.seq),
    by: (JSON.parse(row.event) as { turnId: string }).turnId,
  }));
}

describe("postgres event log: leases", () => {
  it("keeps out the appends of a process whose lease moved; the new holder numbers on from the last committed", async () => {
    const schema = server.schema("pgev");
    const a = await opened(schema, "a");
    a.createSession({ id: "s1", agent: "x", createdAtMs: 1 });
    a.accept({ id: "i1", sessionId: "s1", seq: 1, payload: "hi", policy: "enqueue", acceptedAtMs: 1 });
    // Being created here: the row's answer says whether this process holds it (and numbers its events).
    expect(a.eventLog.recordsHere("s1")).toBe(true);
    a.eventLog.append(event("s1", 1, "a"));
    a.eventLog.append(event("s1", 2, "a"));
    await a.commit();
    expect(a.eventLog.lastSeq("s1")).toBe(2);
    // a pauses past its lease, and b takes the session over (it has live input).
    await sql(`DELETE FROM "${schema}".processes WHERE id = 'a'`);
    const b = await opened(schema, "b");
    expect(b.holds("s1")).toBe(true);
    expect(b.eventLog.recordsHere("s1")).toBe(true);
    expect(b.eventLog.lastSeq("s1")).toBe(2);
    // a wakes up and appends on under its old epoch: the database keeps none of it.
    a.eventLog.append(event("s1", 3, "a"));
    await a.commit();
    b.eventLog.append(event("s1", 3, "b"));
    await b.commit();
    expect(await loggedOf(schema, "s1")).toEqual([
      { seq: 1, by: "a" },
      { seq: 2, by: "a" },
      { seq: 3, by: "b" },
    ]);
    // A process that neither holds nor creates the session reads what is committed.
    const c = await opened(schema, "c");
    expect(c.eventLog.recordsHere("s1")).toBe(false);
    expect(c.eventLog.lastSeq("s1")).toBe(3);
    expect(c.eventLog.read("s1", 1, 10).map((e) => e.seq)).toEqual([2, 3]);
  });
});

describe("postgres event log: runtimes", () => {
  const gates = new Map<string, Promise<void>>();
  async function start(name: string, schema: string): Promise<Runtime> {
    const runtime = createRuntime({
      agents: {
        echo: {
          run: async (input: unknown) => {
            await gates.get(String(input));
            return `${name}:${String(input)}`;
          },
        },
      },
      store: createPostgresStore({ connectionString: PG_URL, schema, processId: name }),
      eventLog: true,
      pollIntervalMs: 50,
    });
    server.keep(runtime);
    await runtime.start();
    return runtime;
  }

  /** Runtimes `a` and `b` on a fresh schema, and session `s`, made by `a` with one input that ran. */
  async function pair(first: string): Promise<{ schema: string; a: Runtime; b: Runtime }> {
    const schema = server.schema("pgev");
    const a = await start("a", schema);
    const b = await start("b", schema);
    await a.session("s", { agent: "echo" }).send(first).result();
    return { schema, a, b };
  }

  it("a runtime follows a session another holds: what was committed, then live, each event once and in order", async () => {
    const schema = server.schema("pgev");
    const a = await start("a", schema);
    const b = await start("b", schema);
    const gate = deferred();
    gates.set("second", gate.promise);
    const session = a.session("s", { agent: "echo" });
    await session.send("first").result();
    session.send("second");
    // b finds the session a made in the store; a session no process made is still unknown.
    expect(() => b.session("nobody")).toThrow(expect.objectContaining({ code: "UNKNOWN_SESSION" }));
    expect(b.session("s").agent).toBe("echo");
    const seen: SessionEvent[] = [];
    const replayed = deferred();
    const follow = (async () => {
      for await (const e of b.session("s").events({ after: 0 })) {
        seen.push(e);
        const ends = seen.filter((x) => x.event.type === "turn.ended").length;
        if (ends === 1) replayed.resolve();
        if (ends === 3) break;
      }
    })();
    // Live: the second turn ends only once b has replayed the first, and a third input comes after it.
    await replayed.promise;
    gate.resolve();
    await session.send("third").result();
    await follow;
    expect(seen.map((e) => e.seq)).toEqual(seen.map((_, n) => n + 1));
    const logged = await sql<{ seq: string; event: string }>(
      `SELECT seq, event FROM "${schema}".events WHERE session_id = 's' ORDER BY seq`,
    );
    expect(seen.map((e) => e.event)).toEqual(
      logged.slice(0, seen.length).map((row) => JSON.parse(row.event)),
    );
    const turns = seen.filter((e) => e.event.type.startsWith("turn.")).map((e) => e.event.type);
    expect(turns).toEqual([
      "turn.started",
      "turn.ended",
      "turn.started",
      "turn.ended",
      "turn.started",
      "turn.ended",
    ]);
    expect(seen.filter((e) => e.event.type === "input.accepted")).toHaveLength(3);
  }, 20_000);

  it("a session handed over by a clean stop is numbered on by its next holder", async () => {
    const { schema, a, b } = await pair("one");
    // b follows while a holds the session, and goes on following when a stops and b takes over.
    const seen: SessionEvent[] = [];
    const following = (async () => {
      for await (const e of b.session("s").events({ after: 0 })) {
        seen.push(e);
        if (seen.filter((x) => x.event.type === "turn.ended").length === 2) return;
      }
    })();
    await a.stop();
    // Sent from b to a session nobody holds: b takes its lease, runs it and records its events.
    expect((await b.session("s").send("two").result()).output).toBe("b:two");
    await following;
    const logged = await loggedOf(schema, "s");
    expect(logged.map((row) => row.seq)).toEqual(logged.map((_, n) => n + 1));
    expect(seen.map((e) => e.seq)).toEqual(logged.map((row) => row.seq));
    const turn = ["input.accepted", "turn.started", "turn.ended"];
    expect(seen.map((e) => e.event.type)).toEqual([...turn, ...turn]);
  }, 20_000);

  it("input sent from a process that does not hold the session: the holder logs its acceptance once, before its turn", async () => {
    const { schema, a, b } = await pair("warm");
    const fromB = b.session("s").send("from b");
    expect((await fromB.result()).output).toBe("a:from b");
    // And one sent by the holder itself, logged as it is accepted: still once each.
    await a.session("s").send("from a").result();
    // A turn's end is told once committed, and its event recorded then: follow until it is logged.
    let ends = 0;
    for await (const e of a.session("s").events({ after: 0 }))
      if (e.event.type === "turn.ended" && ++ends === 3) break;
    const rows = await sql<{ seq: string; event: string }>(
      `SELECT seq, event FROM "${schema}".events WHERE session_id = 's' ORDER BY seq`,
    );
    const events = rows.map((row) => JSON.parse(row.event) as { type: string; inputId?: string });
    const turn = ["input.accepted", "turn.started", "turn.ended"];
    expect(events.map((e) => e.type)).toEqual([...turn, ...turn, ...turn]);
    expect(events[3]).toMatchObject({ type: "input.accepted", inputId: fromB.id, policy: "enqueue" });
    expect(rows.map((row) => Number(row.seq))).toEqual(rows.map((_, n) => n + 1));
  }, 20_000);

  it("handle.events() of input sent from a process that does not hold the session shows its turn, then ends", async () => {
    const { b } = await pair("warm");
    const handle = b.session("s", { agent: "echo" }).send("from b");
    const types: string[] = [];
    for await (const e of handle.events({ from: "start" })) types.push(e.type);
    expect((await handle.result()).output).toBe("a:from b");
    expect(types).toContain("turn.started");
    expect(types.at(-1)).toBe("turn.ended");
  }, 20_000);
});
