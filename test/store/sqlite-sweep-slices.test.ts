/**
 * The SQLite store's retention sweep runs on the host's event loop, so it is cut into slices: a
 * count bound's cut-off is found by a walk of at most `CUTOFF_WALK_ROWS` index entries a step, and a
 * sweep deletes about as many rows as inputs ended since the last one, and a batch more
 * (`retention-sweep.ts`). Before, one sweep deleted a thousand rows and searched 100 000 index
 * entries, 7 to 22 ms on the loop at a server's steady load.
 */
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DEFAULTS } from "../../src/kernel/limits.js";
import { CountCutoff, CUTOFF_WALK_ROWS } from "../../src/store/sqlite/count-cutoff.js";
import { createSqliteStore, type SqliteStore } from "../../src/store/sqlite/index.js";
import { freshPath, removeFiles } from "./sqlite-files.js";

const CANCELLED = { code: "cancel_requested", message: "no" } as const;
const BATCH = DEFAULTS.sqliteStore.sweepBatchRows;

const open: SqliteStore[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const store of open.splice(0)) await store.close();
  removeFiles();
});

describe("a count bound's cut-off, walked a step at a time", () => {
  // The inputs table's columns and the two partial indexes the walk reads (migrations.ts).
  const db = new DatabaseSync(":memory:");
  db.exec(`CREATE TABLE inputs (seq INTEGER NOT NULL, idempotency_key TEXT, ended_at_ms INTEGER);
    CREATE INDEX inputs_ended ON inputs (ended_at_ms, seq) WHERE ended_at_ms IS NOT NULL;
    CREATE INDEX inputs_ended_keyed ON inputs (ended_at_ms, seq)
      WHERE ended_at_ms IS NOT NULL AND idempotency_key IS NOT NULL;`);
  const insert = db.prepare("INSERT INTO inputs VALUES (?, ?, ?)");
  const ROWS = 2 * CUTOFF_WALK_ROWS + 500;
  db.exec("BEGIN");
  // Ends share milliseconds (four to one), every third input has a key, and some never ended.
  for (let seq = 1; seq <= ROWS; seq++)
    insert.run(seq, seq % 3 === 0 ? `k${seq}` : null, seq % 50 === 0 ? null : 1_000 + (seq >> 2));
  db.exec("COMMIT");
  const oneQuery = (countMax: number, keyed: boolean) =>
    db
      .prepare(`SELECT ended_at_ms AS ms, seq FROM inputs WHERE ended_at_ms IS NOT NULL
        ${keyed ? "AND idempotency_key IS NOT NULL" : ""}
        ORDER BY ended_at_ms DESC, seq DESC LIMIT 1 OFFSET ?`)
      .get(countMax) as { ms: number; seq: number } | undefined;

  for (const keyed of [false, true])
    for (const countMax of [
      1,
      CUTOFF_WALK_ROWS - 1,
      CUTOFF_WALK_ROWS,
      CUTOFF_WALK_ROWS + 1,
      13_333,
      30_000,
    ]) {
      it(`finds what one OFFSET query finds (${keyed ? "keyed" : "all"}, countMax ${countMax})`, () => {
        const cutoff = new CountCutoff(db, countMax, keyed);
        let steps = 1;
        let found = cutoff.step();
        while (found === undefined) {
          found = cutoff.step();
          steps++;
        }
        const expected = oneQuery(countMax, keyed);
        expect(found).toEqual(expected === undefined ? null : { ms: expected.ms, seq: expected.seq });
        // No step passes more than CUTOFF_WALK_ROWS entries.
        expect(steps).toBeLessThanOrEqual(Math.ceil(countMax / CUTOFF_WALK_ROWS) + 1);
        // Kept until reset; after it, found again from the newest end.
        expect(cutoff.step()).toEqual(found);
        cutoff.reset();
        let again = cutoff.step();
        while (again === undefined) again = cutoff.step();
        expect(again).toEqual(found);
      });
    }

  it("a cut-off found earlier stays safe: ends since only add newer entries", () => {
    const countMax = CUTOFF_WALK_ROWS + 7;
    const cutoff = new CountCutoff(db, countMax, false);
    expect(cutoff.step()).toBeUndefined();
    // Inputs end while the walk is half-way.
    db.exec("BEGIN");
    for (let seq = ROWS + 1; seq <= ROWS + 300; seq++) insert.run(seq, null, 100_000 + seq);
    db.exec("COMMIT");
    const found = cutoff.step()!;
    const newer = db
      .prepare(
        "SELECT count(*) AS n FROM inputs WHERE ended_at_ms IS NOT NULL AND (ended_at_ms, seq) > (?, ?)",
      )
      .get(found.ms, found.seq) as { n: number };
    expect(newer.n).toBeGreaterThanOrEqual(countMax);
  });
});

describe("a sweep deletes about what ended since the last one, and a batch more", () => {
  /** Accepts and cancels `n` inputs, seq from `from`. */
  function endInputs(store: SqliteStore, from: number, n: number): void {
    for (let seq = from; seq < from + n; seq++) {
      store.accept({
        id: `i${seq}`,
        sessionId: `s${seq % 7}`,
        seq,
        payload: seq,
        policy: "enqueue",
        acceptedAtMs: seq,
      });
      store.endInput({
        inputId: `i${seq}`,
        sessionId: `s${seq % 7}`,
        status: "cancelled",
        reason: CANCELLED,
        endedAtMs: seq,
      });
    }
  }

  it("works off a backlog a batch a sweep, and keeps pace with what ends meanwhile", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setImmediate", "clearImmediate"] });
    const store = createSqliteStore({ path: freshPath(), groupCommitMs: 0, endedInputsMax: 10 });
    open.push(store);
    await store.open();
    endInputs(store, 1, 2_000);
    vi.advanceTimersByTime(0);
    expect(store.stats().swept.inputs).toBe(0);
    // The round starts after the sweep's interval: one batch.
    vi.advanceTimersByTime(DEFAULTS.sqliteStore.sweepIntervalMs);
    expect(store.stats().swept.inputs).toBe(BATCH);
    // The next sweep follows at once: a batch again, nothing having ended since.
    vi.advanceTimersByTime(1);
    expect(store.stats().swept.inputs).toBe(2 * BATCH);
    // 500 end meanwhile: the next sweep deletes as many, and a batch.
    endInputs(store, 2_001, 500);
    vi.advanceTimersByTime(1);
    expect(store.stats().swept.inputs).toBe(3 * BATCH + 500);
    // Left alone, the sweeps work off the rest down to this round's cut-off, found before those 500
    // ended; the next round, an interval later, takes them too, down to the bound.
    vi.advanceTimersByTime(100);
    expect(store.stats().swept.inputs).toBe(2_000 - 10);
    vi.advanceTimersByTime(DEFAULTS.sqliteStore.sweepIntervalMs + 100);
    expect(store.stats().swept.inputs).toBe(2_500 - 10);
    expect(store.input("i2490")).toBeUndefined();
    expect(store.input("i2491")).toMatchObject({ status: "cancelled" });
  });
});
