/**
 * Retention (#15 item 6): what each store forgets, by count and by age, and that the SQLite and
 * PostgreSQL stores forget it in the background exactly as the memory store (the reference) does as
 * inputs end. The same seeded run of writes goes to each; then every input, key and history agrees.
 * The PostgreSQL cases need the server (`test/postgres/server.ts`): without it this file fails,
 * saying so.
 */
import { StatementSync } from "node:sqlite";
import { afterEach, describe, expect, it, vi } from "vitest";
import { BootError, createMemoryStore, type Store } from "../../src/index.js";
import { createPostgresStore } from "../../src/store/postgres/index.js";
import type { RetentionOptions, SweepCounts } from "../../src/store/retention.js";
import { createSqliteStore, type SqliteStore } from "../../src/store/sqlite/index.js";
import { SeededRandom } from "../../src/testing/index.js";
import { onServer } from "../postgres/on-server.js";
import { PG_URL } from "../postgres/server.js";
import { testRuntime } from "../support/runtime.js";
import { answeredTurn } from "../support/turns.js";
import { freshPath, removeFiles } from "./sqlite-files.js";

const OK = { status: "completed", reason: { code: "ok", message: "ok" } } as const;
const CANCELLED = { status: "cancelled", reason: { code: "cancel_requested", message: "no" } } as const;
const NO_USAGE = { inputTokens: 0, outputTokens: 0 };

const open: SqliteStore[] = [];
afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  for (const store of open.splice(0)) await store.close();
  removeFiles();
});

function sqlite(options: Parameters<typeof createSqliteStore>[0] = {}): SqliteStore {
  const store = createSqliteStore({ path: freshPath(), groupCommitMs: 0, ...options });
  open.push(store);
  return store;
}

const server = onServer();

/** A store that sweeps in the background, and can be told to sweep now. */
type SweepingStore = Store & { sweepNow(): Promise<SweepCounts> };

/** The stores whose background sweeps must forget what the memory store forgets. */
interface Sweeping {
  readonly name: string;
  /** A new store over new data, opened. */
  open(retention: RetentionOptions): Promise<SweepingStore>;
  /** Closes `store` and opens its data again, as a restarted process would. */
  reopen(store: SweepingStore, retention: RetentionOptions): Promise<SweepingStore>;
}

const SWEEPING: readonly Sweeping[] = [
  {
    name: "SQLite",
    async open(retention) {
      const store = sqlite(retention);
      await store.open();
      return store;
    },
    async reopen(store, retention) {
      await store.close();
      const again = sqlite({ path: (store as SqliteStore).path, ...retention });
      await again.open();
      return again;
    },
  },
  {
    name: "PostgreSQL",
    async open(retention) {
      const schema = server.schema("ret");
      const store = server.store(schema, { processId: `p-${schema}`, ...retention });
      await store.open();
      return store;
    },
    async reopen(store, retention) {
      await store.close();
      const { schema, processId } = store as unknown as { schema: string; processId: string };
      const again = server.store(schema, { processId, ...retention });
      await again.open();
      return again;
    },
  },
];

/** A seeded run of accepts and ends over 4 sessions; every end one time unit after the last. */
interface Driven {
  readonly id: string;
  readonly sessionId: string;
  readonly key: string | undefined;
}

function drive(store: Store, seed: number, inputs: number): Driven[] {
  const random = new SeededRandom(seed);
  const ids: Driven[] = [];
  let clock = 1_000;
  // The PostgreSQL store writes a session's turns only under its lease, taken as it creates it.
  for (const s of [0, 1, 2, 3]) store.createSession({ id: `s${s}`, agent: "a", createdAtMs: clock });
  for (let n = 1; n <= inputs; n++) {
    const sessionId = `s${random.int(0, 3)}`;
    const id = `i${n}`;
    const keyed = random.int(0, 2) === 0;
    ids.push({ id, sessionId, key: keyed ? `k${n}` : undefined });
    store.accept({
      id,
      sessionId,
      seq: n,
      payload: { n },
      policy: "enqueue",
      idempotencyKey: keyed ? `k${n}` : undefined,
      acceptedAtMs: clock,
    });
    // Most inputs run at once; some are left queued, some withdrawn without a turn.
    const fate = random.int(0, 9);
    if (fate === 0) continue;
    clock += random.int(1, 3);
    if (fate === 1) {
      store.endInput({
        inputId: id,
        sessionId,
        status: "cancelled",
        reason: CANCELLED.reason,
        endedAtMs: clock,
      });
      continue;
    }
    answeredTurn(store, { sessionId, turnId: `t${n}`, inputId: id, n, atMs: clock });
  }
  return ids;
}

/** What a store remembers: each input (or its absence), each key, each history. */
function remembered(store: Store, ids: readonly Driven[]) {
  return {
    inputs: ids.map(({ id }) => [id, store.input(id)?.status, store.input(id)?.outcome?.status]),
    keys: ids.map(({ sessionId, key }) =>
      key === undefined ? null : (store.findByIdempotencyKey(sessionId, key)?.id ?? null),
    ),
    histories: [0, 1, 2, 3].map((s) => store.history(`s${s}`)),
  };
}

describe("retention: the SQLite and PostgreSQL stores forget what the memory store forgets", () => {
  const cases = [
    { name: "by count", retention: { endedInputsMax: 40, idempotencyKeysMax: 7 } },
    { name: "by age", retention: { endedInputAgeMaxMs: 60, idempotencyKeyAgeMaxMs: 25 } },
    { name: "history by turns", retention: { endedInputsMax: 1_000, historyTurnsMax: 3 } },
    {
      name: "every bound at once",
      retention: { endedInputsMax: 30, endedInputAgeMaxMs: 45, idempotencyKeysMax: 5, historyTurnsMax: 2 },
    },
  ];
  for (const sweeping of SWEEPING)
    for (const { name, retention } of cases) {
      it(`${sweeping.name}: ${name}`, async () => {
        const memory = createMemoryStore(retention);
        await memory.open();
        const store = await sweeping.open(retention);
        const ids = drive(memory, 7, 300);
        drive(store, 7, 300);
        const swept = await store.sweepNow();
        expect(swept.inputs + swept.historyRows).toBeGreaterThan(0);
        const expected = remembered(memory, ids);
        expect(remembered(store, ids)).toEqual(expected);
        // Queued inputs are never forgotten, whatever the bounds.
        expect(expected.inputs.filter(([, status]) => status === "queued").length).toBeGreaterThan(10);
        // And it holds after a restart, which reads it all from the database.
        const again = await sweeping.reopen(store, retention);
        expect(remembered(again, ids)).toEqual(expected);
      });
    }

  for (const sweeping of SWEEPING)
    it(`${sweeping.name}: deletes an ended turn with the last input that takes its outcome from it, not before`, async () => {
      await endedTurnCase(await sweeping.open({ endedInputsMax: 1 }));
    });
});

/** Two inputs end with one turn (one steered in); the turn goes with the second, not the first. */
async function endedTurnCase(store: SweepingStore): Promise<void> {
  store.createSession({ id: "s", agent: "a", createdAtMs: 0 });
  for (const n of [1, 2]) {
    store.accept({ id: `i${n}`, sessionId: "s", seq: n, payload: n, policy: "enqueue", acceptedAtMs: n });
  }
  store.startTurn({ turnId: "t1", sessionId: "s", inputIds: ["i1"], attempt: 1, startedAtMs: 3 });
  // i2 joins t1 and ends with it: its outcome is t1's row.
  store.steer({ inputId: "i2", sessionId: "s", turnId: "t1", attempt: 1 });
  store.checkpoint({ turnId: "t1", sessionId: "s", attempt: 1, step: 1, messages: [] });
  store.endTurn({
    turnId: "t1",
    sessionId: "s",
    attempt: 1,
    outcome: OK,
    messages: [],
    inputIds: ["i1", "i2"],
    requeued: [],
    usage: NO_USAGE,
    endedAtMs: 10,
  });
  expect(await store.sweepNow()).toEqual({ inputs: 1, turns: 0, historyRows: 0 });
  expect(store.input("i1")).toBeUndefined();
  expect(store.input("i2")).toMatchObject({ status: "completed", outcome: OK });
  store.accept({ id: "i3", sessionId: "s", seq: 3, payload: 3, policy: "enqueue", acceptedAtMs: 11 });
  store.endInput({
    inputId: "i3",
    sessionId: "s",
    status: "cancelled",
    reason: CANCELLED.reason,
    endedAtMs: 12,
  });
  expect(await store.sweepNow()).toEqual({ inputs: 2, turns: 1, historyRows: 0 });
  expect(store.input("i3")).toMatchObject({ status: "cancelled" });
}

describe("retention: the SQLite store's sweep runs in the background, never inside a group", () => {
  it("waits for the open group to commit, then deletes in a transaction of its own", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setImmediate", "clearImmediate"] });
    const store = sqlite({ endedInputsMax: 2, groupCommitMs: 5_000 });
    await store.open();
    for (let n = 1; n <= 5; n++) {
      store.accept({ id: `i${n}`, sessionId: "s", seq: n, payload: n, policy: "enqueue", acceptedAtMs: n });
      store.endInput({
        inputId: `i${n}`,
        sessionId: "s",
        status: "cancelled",
        reason: CANCELLED.reason,
        endedAtMs: n,
      });
    }
    // The group of those writes is open past the sweep's interval: the sweep waits for it.
    vi.advanceTimersByTime(1_500);
    expect(store.stats().swept.inputs).toBe(0);
    expect(store.stats().commits).toBe(1);
    // The group commits; the sweep follows at once, as the next transaction.
    vi.advanceTimersByTime(3_500);
    expect(store.stats().commits).toBe(3);
    expect(store.stats().swept.inputs).toBe(3);
    expect(["i1", "i2", "i3", "i4", "i5"].map((id) => store.input(id)?.status)).toEqual([
      undefined,
      undefined,
      undefined,
      "cancelled",
      "cancelled",
    ]);
  });
});

describe("history is read incrementally", () => {
  it("a second read parses only the rows added since the first", async () => {
    const store = sqlite();
    await store.open();
    const ids = drive(store, 3, 60);
    await store.commit();
    const reads = vi.spyOn(StatementSync.prototype, "all");
    const first = store.history("s1");
    const rowsOf = () =>
      reads.mock.results
        .filter((_, i) => (reads.mock.contexts[i] as StatementSync).sourceSQL.includes("FROM history"))
        .map((r) => (r.value as unknown[]).length);
    expect(rowsOf()).toEqual([first.length / 2]);
    expect(store.history("s1")).toEqual(first);
    expect(rowsOf()).toEqual([first.length / 2, 0]);
    expect(ids).toHaveLength(60);
  });

  it("a history read from a group that never committed is not kept past it", async () => {
    const store = sqlite();
    await store.open();
    drive(store, 3, 10);
    await store.commit();
    const committed = [...store.history("s1")];
    store.accept({ id: "x", sessionId: "s1", seq: 100, payload: 0, policy: "enqueue", acceptedAtMs: 1 });
    store.startTurn({ turnId: "tx", sessionId: "s1", inputIds: ["x"], attempt: 1, startedAtMs: 1 });
    store.endTurn({
      turnId: "tx",
      sessionId: "s1",
      attempt: 1,
      outcome: OK,
      messages: [{ role: "user", content: [{ type: "text", text: "lost" }] }],
      inputIds: ["x"],
      requeued: [],
      usage: NO_USAGE,
      endedAtMs: 2,
    });
    expect(store.history("s1")).toHaveLength(committed.length + 1);
    // Dropped as kill -9 drops it: the group rolls back, and so must what was read from it.
    store.crash();
    await store.open();
    expect(store.history("s1")).toEqual(committed);
  });
});

describe("retention options are checked", () => {
  const bad = [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "10", null];
  for (const name of [
    "endedInputsMax",
    "endedInputAgeMaxMs",
    "idempotencyKeysMax",
    "idempotencyKeyAgeMaxMs",
    "historyTurnsMax",
  ]) {
    it(`${name}: a positive integer, in every store`, () => {
      for (const value of bad) {
        for (const make of [
          () => createMemoryStore({ [name]: value }),
          () => createSqliteStore({ path: freshPath(), [name]: value }),
          () => createPostgresStore({ connectionString: PG_URL, [name]: value }),
        ]) {
          expect(make).toThrow(BootError);
          expect(make).toThrow(`${name} must be a positive integer`);
          try {
            make();
          } catch (error) {
            expect((error as BootError).code).toBe("INVALID_OPTIONS");
          }
        }
      }
    });
  }

  it("a misspelt key is refused with the near name", () => {
    expect(() => createSqliteStore({ idempotencyKeyMax: 5 } as never)).toThrow(
      "options.idempotencyKeyMax is not a known key; did you mean idempotencyKeysMax?",
    );
    expect(() => createMemoryStore({ historyTurnMax: 5 } as never)).toThrow("did you mean historyTurnsMax?");
    expect(() => createPostgresStore({ connectionString: PG_URL, endedInputMax: 5 } as never)).toThrow(
      "options.endedInputMax is not a known key; did you mean endedInputsMax?",
    );
  });

  it("the limit that no store could enforce is gone from limits, with the near name of none", async () => {
    const { createRuntime } = await import("../../src/index.js");
    expect(() =>
      createRuntime({ agents: { a: { run: () => 1 } }, limits: { idempotencyKeysMax: 5 } as never }),
    ).toThrow(BootError);
  });
});

describe("a runtime's turns read the history the store keeps", () => {
  it("a session that always has work sees its history bounded as the store bounds it", async () => {
    const seen: number[] = [];
    const { runtime } = testRuntime(
      { f: { run: (_input, { history }) => seen.push(history.length) } },
      { store: createMemoryStore({ historyTurnsMax: 2 }) },
    );
    await runtime.start();
    const session = runtime.session("busy", { agent: "f" });
    const handles = [1, 2, 3, 4, 5, 6].map((n) => session.send(n));
    await Promise.all(handles.map((h) => h.result()));
    // Every input was queued before the first turn ran: the session never went idle.
    expect(seen).toEqual([0, 2, 4, 4, 4, 4]);
    await runtime.stop();
  });

  it("a long session's turns read only the history rows added since the last turn", async () => {
    const store = sqlite();
    const { runtime } = testRuntime({ f: { run: (input) => input } }, { store });
    await runtime.start();
    const session = runtime.session("long", { agent: "f" });
    const reads = vi.spyOn(StatementSync.prototype, "all");
    for (let n = 1; n <= 30; n++) await session.send(n).result();
    const rows = reads.mock.results
      .filter((_, i) => (reads.mock.contexts[i] as StatementSync).sourceSQL.includes("FROM history"))
      .reduce((sum, r) => sum + (r.value as unknown[]).length, 0);
    // One new row per turn after the first (a whole read per turn would be 0 + 1 + ... + 29 = 435).
    expect(rows).toBe(29);
    await runtime.stop();
  });
});
