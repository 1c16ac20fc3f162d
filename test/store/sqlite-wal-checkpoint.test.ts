/**
 * WAL checkpoints off the event loop (`wal-checkpointer.ts`), on a real file: under turns that keep
 * coming (bursts of 400, as fast as the loop goes), the worker's passes copy the WAL back and the
 * WAL starts over, so the file stays bounded however much is written; the store's close, the last connection, still deletes the
 * WAL; and a store reopened after that finds every turn. The WAL's length read from the wal-index
 * is SQLite's own.
 */
import { existsSync, statSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import { createRuntime, type Runtime, type Session, silentLogger } from "../../src/index.js";
import { createSqliteStore, type SqliteStore } from "../../src/store/sqlite/index.js";
import { WAL_BACKSTOP_PAGES } from "../../src/store/sqlite/wal-checkpointer.js";
import { WalIndex } from "../../src/store/sqlite/wal-index.js";
import { freshPath, removeFiles } from "./sqlite-files.js";

const PAGE_BYTES = 4096;
/** A WAL frame: its 24-byte header and the page; the file also has a 32-byte header. */
const FRAME_BYTES = PAGE_BYTES + 24;
/**
 * The longest WAL allowed: twice the backstop length. The backstop's checkpoint (SQLite's own, at a
 * commit past it) gives way to a pass in flight, so the WAL can pass it by what commits meanwhile.
 */
const WAL_BOUND_BYTES = 2 * (32 + WAL_BACKSTOP_PAGES * FRAME_BYTES);

/** Rounds of 400 turns: enough that what goes through the WAL is several times its bound. */
const ROUNDS = 75;

const runtimes: Runtime[] = [];

afterEach(async () => {
  for (const runtime of runtimes.splice(0)) await runtime[Symbol.asyncDispose]();
  removeFiles();
});

function runtimeOn(store: SqliteStore): Runtime {
  const runtime = createRuntime({
    agents: { f: { run: async (input) => `did ${String(input).length}` } },
    store,
    logger: silentLogger,
  });
  runtimes.push(runtime);
  return runtime;
}

/** Sends `count` turns over the sessions, `inFlight` at a time, so that commits never pause long. */
async function turns(sessions: readonly Session[], count: number, inFlight: number): Promise<void> {
  for (let sent = 0; sent < count; sent += inFlight) {
    const batch = [];
    for (let i = sent; i < Math.min(count, sent + inFlight); i++)
      batch.push(sessions[i % sessions.length]!.send(`turn ${i} ${"p".repeat(1_000)}`));
    for (const handle of batch) expect((await handle.result({ timeoutMs: 30_000 })).status).toBe("completed");
  }
}

describe.each(["normal", "full"] as const)("WAL checkpoints on a worker, durability %s", (durability) => {
  it("keep the WAL bounded through 30 000 turns, and start it over", async () => {
    const path = freshPath();
    const store = createSqliteStore({ path, durability });
    const runtime = runtimeOn(store);
    await runtime.start();
    const sessions = Array.from({ length: 64 }, (_, i) => runtime.session(`s${i}`, { agent: "f" }));
    let walMaxBytes = 0;
    for (let round = 0; round < ROUNDS; round++) {
      await turns(sessions, 400, 400);
      walMaxBytes = Math.max(walMaxBytes, statSync(`${path}-wal`).size);
    }
    const stats = store.stats();
    const databaseBytes = statSync(path).size;
    expect({
      // A WAL that never started over holds every page ever written: more than the database. The
      // margin stays clear of the bound, which a loaded machine may reach (90 MB against 49 MB).
      databaseOverTheWal: databaseBytes > 1.5 * walMaxBytes,
      walUnderBound: walMaxBytes <= WAL_BOUND_BYTES,
      passes: stats.walPasses > 0,
    }).toEqual({ databaseOverTheWal: true, walUnderBound: true, passes: true });

    expect(await runtime.stop()).toBe("clean");
    // The store's connection closed last: it checkpointed everything and deleted the WAL.
    expect(existsSync(`${path}-wal`)).toBe(false);

    const again = runtimeOn(createSqliteStore({ path, durability }));
    await again.start();
    const last = again.session("s7", { agent: "f" });
    expect((await last.send("after").result({ timeoutMs: 30_000 })).status).toBe("completed");
    // Each round sent 7 turns to s7 (of turns 0 to 399, those 7 modulo 64), then one more: a question and an answer each.
    expect(last.history().length).toBe(2 * (ROUNDS * 7 + 1));
  });
});

describe("the WAL's length from the wal-index", () => {
  it("is the length SQLite reports, before and after the WAL starts over; unknown without a wal-index", () => {
    const path = freshPath();
    const db = new DatabaseSync(path);
    const other = new DatabaseSync(path);
    const index = new WalIndex(path);
    try {
      db.exec("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (x BLOB)");
      const insert = db.prepare("INSERT INTO t VALUES (randomblob(3000))");
      for (let i = 0; i < 50; i++) insert.run();
      const log = () => (other.prepare("PRAGMA wal_checkpoint(PASSIVE)").get() as { log: number }).log;
      const before = index.frames();
      expect(before).toBeGreaterThan(50);
      // The checkpoint reports the WAL's length and copies it all, so the next write starts it over.
      expect(log()).toBe(before);
      insert.run();
      expect(index.frames()).toBeLessThan(5);
      expect(index.frames()).toBe(log());
    } finally {
      other.close();
      db.close();
      index.close();
    }
    expect(new WalIndex(`${path}-none`).frames()).toBeUndefined();
  });
});
