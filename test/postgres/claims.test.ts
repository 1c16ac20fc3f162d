/**
 * Claiming a session whose holder died takes up its stored work, or does not claim it (found by the
 * fleet test, `test/fleet/`): a send or a `runtime.session()` in another process used to take the
 * lease of a free session on the spot, and its runtime, which knew nothing of the turn the dead
 * holder was running, began a new turn beside it — two turns of one session at once once a later
 * claim resumed the old one. Now only an idle session (no live input) is claimed that way; one with
 * stored work waits for a claim that hands the work back (`leases.claim()`, the recovery poll).
 */
import { describe, expect, it } from "vitest";
import type { PostgresStore } from "../../src/store/postgres/index.js";
import { record, start } from "../../src/testing/conformance/fixtures.js";
import { onServer } from "./on-server.js";
import { sql } from "./server.js";

const server = onServer();

function storeOn(schema: string, processId: string, leaseMs = 10_000): PostgresStore {
  return server.store(schema, { processId, leaseMs });
}

/** Waits until `processId`'s lease has lapsed by the server's clock. */
async function lapsed(schema: string, processId: string): Promise<void> {
  for (;;) {
    const [row] = await sql<{ lapsed: boolean }>(
      `SELECT alive_until_ms < (extract(epoch FROM clock_timestamp()) * 1000) AS lapsed FROM "${schema}".processes WHERE id = $1`,
      [processId],
    );
    if (row?.lapsed === true) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("postgres store: claiming a dead holder's session", () => {
  it("a send does not take the lease of a session with stored work; the claim that does hands the work back", async () => {
    const schema = server.schema("claims");
    // b runs already when a dies (b opens first: its open() would take a lapsed session over
    // itself, with its work, and a's short lease may lapse on a loaded machine before b opened).
    const b = storeOn(schema, "b");
    await b.open();
    const a = storeOn(schema, "a", 300);
    await a.open();
    a.createSession({ id: "s1", agent: "x", createdAtMs: 1 });
    a.accept(record("i1", 1));
    a.startTurn(start("t1", ["i1"]));
    await a.commit();
    await a.abandon();
    await lapsed(schema, "a");
    // The runtime asks for the session, then sends to it.
    b.createSession({ id: "s1", agent: "x", createdAtMs: 1 });
    b.accept(record("i2", 2));
    await b.commit();
    expect(b.holds("s1")).toBe(false);
    expect(await sql(`SELECT taken_by FROM "${schema}".inputs WHERE id = 'i2'`)).toEqual([
      { taken_by: null },
    ]);
    const claimed = await b.leases.claim();
    await b.commit();
    expect(b.holds("s1")).toBe(true);
    expect(claimed.interrupted.map((turn) => turn.turnId)).toEqual(["t1"]);
    expect(claimed.queued.map((input) => input.id)).toEqual(["i2"]);
  });

  it("an idle session is claimed by the send", async () => {
    const schema = server.schema("claims");
    const a = storeOn(schema, "a", 300);
    await a.open();
    a.createSession({ id: "s1", agent: "x", createdAtMs: 1 });
    await a.commit();
    await a.abandon();
    await lapsed(schema, "a");
    const b = storeOn(schema, "b");
    await b.open();
    b.accept(record("i1", 1));
    await b.commit();
    expect(b.holds("s1")).toBe(true);
    expect(await sql(`SELECT owner FROM "${schema}".sessions WHERE id = 's1'`)).toEqual([{ owner: "b" }]);
  });

  it("a claimed session is held only once the claim hands its work back, not while it still reads", async () => {
    const schema = server.schema("claims");
    const a = storeOn(schema, "a", 300);
    await a.open();
    a.createSession({ id: "s1", agent: "x", createdAtMs: 1 });
    a.accept(record("i1", 1));
    a.startTurn(start("t1", ["i1"]));
    await a.commit();
    const b = storeOn(schema, "b");
    await b.open();
    await a.abandon();
    await lapsed(schema, "a");
    // Held while the claim still read, a send would begin a turn beside the unfinished one.
    let done = false;
    let heldEarly = false;
    const watch = (): void => {
      if (done) return;
      if (b.holds("s1")) heldEarly = true;
      setImmediate(watch);
    };
    watch();
    const claimed = await b.leases.claim();
    done = true;
    expect(heldEarly).toBe(false);
    expect(b.holds("s1")).toBe(true);
    expect(claimed.interrupted.map((turn) => turn.turnId)).toEqual(["t1"]);
  });
});
