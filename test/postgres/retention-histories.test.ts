/**
 * The PostgreSQL store's retention and the histories and turns it runs beside: a session's history
 * trimmed by another process's sweep is never served stale by its holder's cache
 * (`held-histories.ts`), a lowered bound trims every session, and two runtimes' turns run while
 * both sweep.
 */
import { describe, expect, it } from "vitest";
import { createMemoryStore, createRuntime } from "../../src/index.js";
import { onServer } from "./on-server.js";
import { count, turn, twoProcesses } from "./retention-kit.js";
import { sql } from "./server.js";

const server = onServer();

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

describe("postgres retention: histories", () => {
  it("a history another process's sweep trimmed is served as the memory store serves it, by its holder and by the next", async () => {
    const { schema, a, b } = await twoProcesses(server, { historyTurnsMax: 2 });
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
