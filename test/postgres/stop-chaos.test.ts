/**
 * Connection cuts and stops, at random, on one schema: a runtime sends to 40 sessions (new ones and
 * known ones) for a second while its connection goes down and comes back, then stops, half the time
 * with the connection down, and a new runtime under the same name starts. What must hold whatever
 * the timing: `stop()` returns, every handle and every `stored()` settles, and what each said is
 * what the database holds — a `durable` receipt or an input kept (`interrupted`, `store_failed`) is
 * there, an input reported lost (`failed`, `store_failed`) is not, one in doubt (`interrupted`,
 * `store_in_doubt`: the connection dropped under the commit that held it) may be, and none of those
 * two was told `durable` — and once the connection stays up, everything there runs to its end. `OFFSTAGE_CHAOS_SEED` repeats a run (its seed is printed).
 */
import { expect, it } from "vitest";
import { createRuntime, type Receipt, silentLogger, type TurnHandle } from "../../src/index.js";
import { createPostgresStore } from "../../src/store/postgres/index.js";
import { SeededRandom } from "../../src/testing/seeded-random.js";
import { envInteger } from "../support/env.js";
import { onServer } from "./on-server.js";
import { PG_URL, sql } from "./server.js";
import { startProxy } from "./tcp-proxy.js";

const server = onServer();
const seed = envInteger("OFFSTAGE_CHAOS_SEED", Math.floor(Math.random() * 0x100000000));
const ROUNDS = 6;
const LEASE_MS = 1_500;
/** Input statuses a runtime's stop or end leaves: a turn a stop interrupted is ended too. */
const ENDED = new Set(["completed", "interrupted"]);

it(`connection cuts and stops (seed 0x${seed.toString(16)}): every handle settles, and says what the database holds`, async () => {
  const random = new SeededRandom(seed);
  const proxy = server.keep(await startProxy(5432));
  const schema = server.schema("chaos");
  const handles: TurnHandle[] = [];
  const receipts = new Map<string, Receipt | "rejected">();
  const runtimeOn = (url: string) =>
    createRuntime({
      agents: {
        f: { run: (input) => new Promise((resolve) => setTimeout(resolve, random.int(0, 30), input)) },
      },
      store: createPostgresStore({
        connectionString: url,
        schema,
        processId: "chaos",
        readTimeoutMs: 1_000,
        leaseMs: LEASE_MS,
      }),
      pollIntervalMs: 50,
      logger: silentLogger,
    });

  for (let round = 0; round < ROUNDS; round++) {
    const runtime = runtimeOn(`postgres://postgres@127.0.0.1:${proxy.port}/test`);
    await runtime.start();
    let down = false;
    for (const until = Date.now() + 1_000; Date.now() < until; ) {
      try {
        const handle = runtime
          .session(`s${random.int(0, 39)}`, { agent: "f" })
          .send(`${round}:${handles.length}`);
        handles.push(handle);
        handle.stored().then(
          (receipt) => receipts.set(handle.id, receipt),
          () => receipts.set(handle.id, "rejected"),
        );
      } catch {
        // Refused while the connection is down (STORE_UNAVAILABLE): nothing was accepted.
      }
      if (random.chance(0.01)) {
        down = !down;
        await (down ? proxy.cut() : proxy.restore());
      }
      await new Promise((resolve) => setTimeout(resolve, random.int(0, 5)));
    }
    if (!down && random.chance(0.5)) {
      down = true;
      await proxy.cut();
    }
    const stopped = await Promise.race([
      runtime.stop({ timeoutMs: 200 }),
      new Promise((resolve) => setTimeout(resolve, 10_000, "still stopping after 10 s")),
    ]);
    // With the connection back, the store may still be waiting out its reconnect back-off (up to
    // a second) when the stop's last commit is due: it may fail too. Down, it must.
    expect(down ? ["store_failed"] : ["clean", "store_failed"]).toContain(stopped);
    await runtime[Symbol.asyncDispose]();
    await new Promise((resolve) => setImmediate(resolve));
    expect(handles.filter((h) => h.poll() === undefined).map((h) => h.id)).toEqual([]);
    expect(handles.filter((h) => !receipts.has(h.id)).map((h) => h.id)).toEqual([]);
    await proxy.restore();
  }

  // The last leases lapse; then a runtime on a steady connection runs what is left.
  await new Promise((resolve) => setTimeout(resolve, LEASE_MS + 100));
  const last = server.keep(runtimeOn(PG_URL));
  await last.start();
  let rows: { id: string; status: string }[] = [];
  for (const until = Date.now() + 30_000; Date.now() < until; ) {
    rows = await sql(`SELECT id, status FROM "${schema}".inputs`);
    if (rows.every((row) => ENDED.has(row.status))) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(rows.filter((row) => !ENDED.has(row.status))).toEqual([]);
  const stored = new Set(rows.map((row) => row.id));
  const said = (h: TurnHandle) => `${h.poll()!.status}/${h.poll()!.outcome.reason?.code ?? ""}`;
  const lost = handles.filter((h) => said(h) === "failed/store_failed");
  const inDoubt = handles.filter((h) => said(h) === "interrupted/store_in_doubt");
  // Reported lost: not there. In doubt: there or not. Anything else: there. Never told durable
  // unless there.
  expect(lost.filter((h) => stored.has(h.id)).map((h) => h.id)).toEqual([]);
  const missing = handles.filter((h) => !lost.includes(h) && !inDoubt.includes(h) && !stored.has(h.id));
  expect(missing.map((h) => [h.id, said(h), receipts.get(h.id)])).toEqual([]);
  expect([...lost, ...inDoubt].filter((h) => receipts.get(h.id) !== "rejected").map((h) => h.id)).toEqual([]);
  console.log(
    `chaos (seed 0x${seed.toString(16)}): ${handles.length} accepted, ${rows.length} stored, ` +
      `${lost.length} reported lost, ${inDoubt.length} in doubt (${inDoubt.filter((h) => stored.has(h.id)).length} of them there)`,
  );
}, 120_000);
