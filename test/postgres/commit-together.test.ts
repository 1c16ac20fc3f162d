/**
 * What must commit in one transaction of the PostgreSQL store, or a process killed between two
 * commits leaves work nobody can finish (found by the fleet test, `test/fleet/`):
 *
 * - a fan-out's reservation and its children's first inputs — a reservation committed alone is a
 *   child that never runs and never reports;
 * - a child's last turn end, its completion and the parent input that carries it — even when the
 *   parent's lease is free, which the input must not claim in a transaction of its own first.
 *
 * Each case writes the group, then drops the store as `kill -9` would (`abandon()`): nothing of it
 * may be left; with a commit instead, all of it is there.
 */
import { describe, expect, it } from "vitest";
import type { ChildCompletion } from "../../src/index.js";
import type { DelegationRecord } from "../../src/runtime/ports/delegation-log.js";
import type { PostgresStore } from "../../src/store/postgres/index.js";
import { end, record, start } from "../../src/testing/conformance/fixtures.js";
import { onServer } from "./on-server.js";
import { sql } from "./server.js";

const server = onServer();

const CAPS = { runningMax: 10, perParentRunningMax: 10 };
const CHILD = "p>d1";

function delegation(): DelegationRecord {
  return {
    id: "d1",
    parentSessionId: "p",
    childSessionId: CHILD,
    rootSessionId: "p",
    depth: 1,
    spec: { goal: "look", tools: ["read_file"], agent: "a" },
    dispatchedAtMs: 1_000,
  };
}

function completion(): ChildCompletion {
  return {
    delegationId: "d1",
    parentSessionId: "p",
    childSessionId: CHILD,
    spec: { goal: "look", tools: ["read_file"] },
    status: "completed",
    summary: "found it",
    exitReason: "ok",
    modelCalls: 1,
    usage: { inputTokens: 1, outputTokens: 1 },
    dispatchedAtMs: 1_000,
    completedAtMs: 2_000,
  };
}

/** Reserves the fan-out of one child of `p`, and writes the child's session and first input. */
function dispatch(store: PostgresStore): void {
  expect(store.delegations.reserve([delegation()], CAPS)).toEqual({ kind: "reserved" });
  store.createSession({ id: CHILD, agent: "a", createdAtMs: 1_000 });
  store.accept(record("first", 2, { sessionId: CHILD }));
}

async function rowsOf(schema: string) {
  const s = `"${schema}"`;
  return {
    delegations: await sql(`SELECT id, completion IS NOT NULL AS complete FROM ${s}.delegations`),
    childSessions: await sql(`SELECT id FROM ${s}.sessions WHERE id = '${CHILD}'`),
    inputs: await sql(`SELECT id, session_id, taken_by FROM ${s}.inputs WHERE id <> 'goal' ORDER BY id`),
  };
}

describe("postgres store: what commits together", () => {
  it("a fan-out's reservation commits with its children's sessions and first inputs, or not at all", async () => {
    const schema = server.schema("together");
    const a = server.store(schema, { processId: "a" });
    await a.open();
    a.createSession({ id: "p", agent: "a", createdAtMs: 1 });
    dispatch(a);
    await a.abandon();
    // The child's session row may be there (a new session's row is written aside): with no input
    // and no delegation it is work for nobody.
    const { delegations, inputs } = await rowsOf(schema);
    expect({ delegations, inputs }).toEqual({ delegations: [], inputs: [] });
    // The same, committed, on a schema of its own (the row left behind above names a living holder).
    const other = server.schema("together");
    const b = server.store(other, { processId: "b" });
    await b.open();
    b.createSession({ id: "p", agent: "a", createdAtMs: 1 });
    dispatch(b);
    await b.commit();
    expect(await rowsOf(other)).toEqual({
      delegations: [{ id: "d1", complete: false }],
      childSessions: [{ id: CHILD }],
      inputs: [{ id: "first", session_id: CHILD, taken_by: "b" }],
    });
  });

  it("a child's last turn end commits with its completion and the input that carries it, when its parent's lease is free", async () => {
    const schema = server.schema("together");
    // The parent's holder stopped cleanly: its lease is free.
    const holder = server.store(schema, { processId: "holder" });
    await holder.open();
    holder.createSession({ id: "p", agent: "a", createdAtMs: 1 });
    await holder.close();
    const a = server.store(schema, { processId: "a" });
    await a.open();
    dispatch(a);
    a.startTurn({ ...start("t1", ["first"]), sessionId: CHILD });
    await a.commit();
    const finish = () => {
      a.endTurn({ ...end("t1", ["first"]), sessionId: CHILD });
      a.accept(record("carrier", 3, { sessionId: "p", delegationId: "d1" }));
      a.delegations.complete(completion(), { state: "pending", inputId: "carrier" });
    };
    finish();
    await a.abandon();
    const turn = `SELECT ended_at_ms IS NOT NULL AS ended FROM "${schema}".turns WHERE id = 't1'`;
    expect(await sql(turn)).toEqual([{ ended: false }]);
    expect((await rowsOf(schema)).delegations).toEqual([{ id: "d1", complete: false }]);
    expect(await sql(`SELECT owner FROM "${schema}".sessions WHERE id = 'p'`)).toEqual([{ owner: null }]);
    // The same group, committed: all of it, and the parent's input waits for whoever claims it.
    const again = server.store(schema, { processId: "a" });
    await again.open();
    again.startTurn({ ...start("t1", ["first"], 2), sessionId: CHILD });
    again.endTurn({ ...end("t1", ["first"], { attempt: 2 }), sessionId: CHILD });
    again.accept(record("carrier", 3, { sessionId: "p", delegationId: "d1" }));
    again.delegations.complete(completion(), { state: "pending", inputId: "carrier" });
    await again.commit();
    expect(await sql(turn)).toEqual([{ ended: true }]);
    expect((await rowsOf(schema)).delegations).toEqual([{ id: "d1", complete: true }]);
    expect((await rowsOf(schema)).inputs).toContainEqual({ id: "carrier", session_id: "p", taken_by: null });
  });
});
