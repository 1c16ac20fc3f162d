/**
 * The heartbeat runs off the main thread (found by the fleet test, `test/fleet/`): a process whose
 * main thread is held — blocked in the store's synchronous reads, which wait on `Atomics.wait`, or
 * busy running turns — still renews its leases, so no other process takes its sessions over and
 * runs their turns beside it. A watcher on a connection of its own (another process: this thread is
 * the one held) samples the lease by the server's clock the whole time. And the sessions it reports
 * taken over are those the database moved past this process's epoch: the heartbeat's own connection
 * does not see a claim of this process not yet committed, and must not take it for a loss.
 */
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { createPostgresStore } from "../../src/store/postgres/index.js";
import { record } from "../../src/testing/conformance/fixtures.js";
import { onServer } from "./on-server.js";
import { PG_URL, sql } from "./server.js";
import { startProxy } from "./tcp-proxy.js";

const server = onServer();

const LEASE_MS = 1_500;
const HELD_MS = 3 * LEASE_MS;

/** Samples, every 25 ms for `ms`, whether `processId` is alive by the server's clock; prints `alive lapsed`. */
const WATCHER = `
import pg from "pg";
const [url, schema, id, ms] = process.argv.slice(1);
const client = new pg.Client({ connectionString: url });
await client.connect();
let alive = 0, lapsed = 0;
const until = Date.now() + Number(ms);
while (Date.now() < until) {
  const { rows } = await client.query(
    'SELECT alive_until_ms > (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS alive FROM "' + schema + '".processes WHERE id = $1', [id]);
  if (rows[0]?.alive === true) alive++; else lapsed++;
  await new Promise((r) => setTimeout(r, 25));
}
await client.end();
console.log(alive + " " + lapsed);
`;

describe("postgres store: the heartbeat", () => {
  it("keeps the leases of a process whose main thread is held for several leases", async () => {
    const schema = server.schema("beat");
    const a = createPostgresStore({ connectionString: PG_URL, schema, processId: "a", leaseMs: LEASE_MS });
    server.keep(a);
    await a.open();
    a.createSession({ id: "s1", agent: "x", createdAtMs: 1 });
    a.accept(record("i1", 1));
    await a.commit();
    const [before] = await sql(`SELECT owner, epoch FROM "${schema}".sessions WHERE id = 's1'`);
    const watcher = spawn(
      process.execPath,
      ["--input-type=module", "-e", WATCHER, PG_URL, schema, "a", String(HELD_MS)],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    watcher.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    const exited = new Promise((resolve) => watcher.on("exit", resolve));
    // Give the watcher time to connect, then hold this thread as a synchronous read does.
    await new Promise((resolve) => setTimeout(resolve, 300));
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, HELD_MS);
    await exited;
    const [alive, lapsed] = out.trim().split(" ").map(Number);
    expect(alive).toBeGreaterThan(10);
    expect(lapsed).toBe(0);
    expect(a.holds("s1")).toBe(true);
    expect(await sql(`SELECT owner, epoch FROM "${schema}".sessions WHERE id = 's1'`)).toEqual([before]);
  });

  it("takes a session for lost only once the database has moved past its epoch, not before its own claim commits", async () => {
    const schema = server.schema("beat");
    const a = createPostgresStore({ connectionString: PG_URL, schema, processId: "a", leaseMs: LEASE_MS });
    server.keep(a);
    await a.open();
    a.createSession({ id: "s1", agent: "x", createdAtMs: 1 });
    await a.commit();
    const rows = await sql<{ epoch: number }>(`SELECT epoch FROM "${schema}".sessions WHERE id = 's1'`);
    const epoch = rows[0]!.epoch;
    // What the heartbeat sees while a claim of a's is not committed yet: the dead holder's row, at
    // the epoch before a's.
    await sql(`UPDATE "${schema}".sessions SET owner = 'dead', epoch = $1 WHERE id = 's1'`, [epoch - 1]);
    // Two beats and more.
    await new Promise((resolve) => setTimeout(resolve, LEASE_MS));
    expect(a.holds("s1")).toBe(true);
    // Another process took it over: a lets it go.
    await sql(`UPDATE "${schema}".sessions SET owner = 'b', epoch = $1 WHERE id = 's1'`, [epoch + 1]);
    const deadline = Date.now() + 5_000;
    while (a.holds("s1") && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(a.holds("s1")).toBe(false);
  });

  it("a lapse holds at once, before the main thread hears of it: a busy process runs nothing on a lease that may be gone", async () => {
    const proxy = await startProxy(5432);
    try {
      const schema = server.schema("beat");
      const a = createPostgresStore({
        connectionString: `postgres://postgres@127.0.0.1:${proxy.port}/test`,
        schema,
        processId: "a",
        leaseMs: LEASE_MS,
      });
      await a.open();
      a.createSession({ id: "s1", agent: "x", createdAtMs: 1 });
      await a.commit();
      expect(a.holds("s1")).toBe(true);
      await proxy.cut();
      // Busy past most of the lease: the heartbeat thread gives the leases up meanwhile.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2 * LEASE_MS);
      const held = a.holds("s1");
      await a.abandon();
      expect(held).toBe(false);
    } finally {
      await proxy.close();
    }
  });
});
