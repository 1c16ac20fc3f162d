/**
 * The SQLite store: the conformance suite on real files, then what is particular to it — group
 * commit, durability settings, the receipt, constraint errors, and values JSON cannot hold.
 */
import { DatabaseSync, StatementSync } from "node:sqlite";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Store } from "../../src/index.js";
import { createSqliteStore, type SqliteStore } from "../../src/store/sqlite/index.js";
import { runStoreConformance } from "../../src/testing/conformance/index.js";
import { freshPath, removeFiles } from "./sqlite-files.js";

runStoreConformance("sqlite", {
  create: () => createSqliteStore({ path: freshPath() }),
  reopen: (store) => createSqliteStore({ path: (store as SqliteStore).path }),
  crash: (store) => (store as Store as SqliteStore).crash(),
  cleanup: removeFiles,
});

const open: SqliteStore[] = [];

afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
  removeFiles();
});

async function opened(options: Parameters<typeof createSqliteStore>[0] = {}): Promise<SqliteStore> {
  const store = createSqliteStore({ path: freshPath(), ...options });
  open.push(store);
  await store.open();
  return store;
}

/** Accepts `n` inputs in each of `sessions` sessions, from seq `from` on. */
function acceptMany(store: Store, sessions: number, n: number, from = 1): void {
  let seq = from;
  for (let s = 0; s < sessions; s++) {
    store.createSession({ id: `s${s}`, agent: "a", createdAtMs: 1 });
    for (let i = 0; i < n; i++) {
      store.accept({
        id: `i${seq}`,
        sessionId: `s${s}`,
        seq,
        payload: { seq },
        policy: "enqueue",
        acceptedAtMs: seq,
      });
      seq += 1;
    }
  }
}

/** Counts committed inputs through a second connection: what another process, or a restart, would see. */
function committedInputs(path: string): number {
  const reader = new DatabaseSync(path, { readOnly: true });
  try {
    return (reader.prepare("SELECT count(*) AS n FROM inputs").get() as { n: number }).n;
  } finally {
    reader.close();
  }
}

describe("group commit", () => {
  it("writes from many sessions in one window commit in one transaction", async () => {
    const store = await opened({ groupCommitMs: 50 });
    const before = store.stats();
    acceptMany(store, 20, 50);
    await Promise.all([store.commit(), store.commit()]);
    const after = store.stats();
    expect(after.commits - before.commits).toBe(1);
    expect(after.writes - before.writes).toBe(20 + 20 * 50);
    expect(after.groupWritesMax).toBe(1020);
    expect(committedInputs(store.path)).toBe(1000);
  });

  it("commit() resolves once another connection can read the writes, not before", async () => {
    const store = await opened({ groupCommitMs: 30 });
    acceptMany(store, 1, 3);
    expect(store.input("i3")?.status).toBe("queued");
    expect(committedInputs(store.path)).toBe(0);
    await store.commit();
    expect(committedInputs(store.path)).toBe(3);
  });

  it("a group commits without anyone waiting on it (checkpoints need no commit() call)", async () => {
    const store = await opened({ groupCommitMs: 1 });
    acceptMany(store, 1, 1);
    await vi.waitFor(() => expect(committedInputs(store.path)).toBe(1), { interval: 5 });
  });

  it("groupCommitMs 0 commits at the next turn of the event loop", async () => {
    const store = await opened({ groupCommitMs: 0 });
    acceptMany(store, 1, 2);
    expect(committedInputs(store.path)).toBe(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(committedInputs(store.path)).toBe(2);
  });

  it("a waited-for group of 64 writes or more commits once a turn of the loop adds nothing to it", async () => {
    const store = await opened({ groupCommitMs: 60_000 });
    const before = store.stats().commits;
    acceptMany(store, 1, 70);
    // It grows during the next turn of the loop, so it waits for the turn after that.
    const grown = new Promise((resolve) => setImmediate(() => resolve(acceptMany(store, 1, 1, 71))));
    const committed = store.commit();
    await grown;
    expect(committedInputs(store.path)).toBe(0);
    await committed;
    expect([committedInputs(store.path), store.stats().commits - before]).toEqual([71, 1]);
  });

  it("a smaller group, or one nobody waits for, waits for its window", async () => {
    const small = await opened({ groupCommitMs: 60_000 });
    acceptMany(small, 1, 62); // and its session: 63 writes
    void small.commit();
    const unwaited = await opened({ groupCommitMs: 60_000 });
    acceptMany(unwaited, 1, 100);
    for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect([committedInputs(small.path), committedInputs(unwaited.path)]).toEqual([0, 0]);
  });

  it("with durability normal (no fsync to share), a waited-for group of any size commits once the loop is idle", async () => {
    const store = await opened({ groupCommitMs: 60_000, durability: "normal" });
    const unwaited = await opened({ groupCommitMs: 60_000, durability: "normal" });
    acceptMany(store, 1, 1);
    acceptMany(unwaited, 1, 1);
    await store.commit();
    await new Promise((resolve) => setImmediate(resolve));
    expect([committedInputs(store.path), committedInputs(unwaited.path)]).toEqual([1, 0]);
  });

  it("a write after a group committed starts the next group", async () => {
    const store = await opened({ groupCommitMs: 0 });
    const before = store.stats().commits;
    acceptMany(store, 1, 1);
    const first = store.commit();
    await first;
    acceptMany(store, 1, 1, 2);
    const second = store.commit();
    expect(second).not.toBe(first);
    await second;
    expect(store.stats().commits - before).toBe(2);
  });
});

describe("durability and receipt", () => {
  it.each([
    ["full", 1],
    ["normal", 0],
  ] as const)(
    "durability %s: WAL mode, synchronous NORMAL, and %i fsync of the WAL per commit (off the loop)",
    async (durability, fsyncs) => {
      const exec = vi.spyOn(DatabaseSync.prototype, "exec");
      const store = await opened({ durability, groupCommitMs: 0 });
      expect(exec).toHaveBeenCalledWith("PRAGMA synchronous = NORMAL");
      exec.mockRestore();
      const reader = new DatabaseSync(store.path, { readOnly: true });
      expect(reader.prepare("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
      reader.close();
      const before = store.stats();
      acceptMany(store, 1, 1);
      await store.commit();
      acceptMany(store, 1, 1, 2);
      await store.commit();
      const after = store.stats();
      expect([after.commits - before.commits, after.walSyncs - before.walSyncs]).toEqual([2, 2 * fsyncs]);
    },
  );

  it("its kind is sqlite and its receipt durable", async () => {
    const store = await opened();
    expect([store.kind, store.receipt]).toEqual(["sqlite", "durable"]);
  });

  it("close() releases the file and is idempotent; open() after close() reopens it", async () => {
    const store = await opened();
    acceptMany(store, 1, 1);
    await Promise.all([store.close(), store.close()]);
    const other = createSqliteStore({ path: store.path });
    expect((await other.open()).queued.map((input) => input.id)).toEqual(["i1"]);
    await other.close();
    expect((await store.open()).queued.map((input) => input.id)).toEqual(["i1"]);
  });

  it("a closed store refuses writes with CLOSED", async () => {
    const store = await opened();
    await store.close();
    expect(() => acceptMany(store, 1, 1)).toThrow(expect.objectContaining({ code: "CLOSED" }));
  });
});

describe("what SQL enforces", () => {
  it("a second input with the same idempotency key in a session is refused; the store goes on", async () => {
    const store = await opened();
    acceptMany(store, 1, 1);
    const dup = {
      id: "dup",
      sessionId: "s0",
      seq: 9,
      payload: 1,
      policy: "enqueue",
      acceptedAtMs: 1,
    } as const;
    store.accept({ ...dup, id: "k1", seq: 2, idempotencyKey: "k" });
    expect(() => store.accept({ ...dup, idempotencyKey: "k" })).toThrow(
      expect.objectContaining({ code: "INVALID_ARGUMENT" }),
    );
    store.accept({ ...dup, id: "other-session", seq: 3, sessionId: "s1", idempotencyKey: "k" });
    await store.commit();
    expect(committedInputs(store.path)).toBe(3);
  });

  it("an input a turn ended keeps no copy of the turn's outcome; reads take the turn's", async () => {
    const store = await opened();
    acceptMany(store, 1, 2);
    const outcome = { status: "failed", reason: { code: "model_error", message: "boom" } } as const;
    for (const n of [1, 2]) {
      store.startTurn({ turnId: `t${n}`, sessionId: "s0", inputIds: [`i${n}`], attempt: 1, startedAtMs: 1 });
      if (n === 2) await store.commit();
      store.endTurn({
        turnId: `t${n}`,
        sessionId: "s0",
        attempt: 1,
        outcome,
        messages: [],
        inputIds: [`i${n}`],
        requeued: [],
        usage: { inputTokens: 0, outputTokens: 0 },
        endedAtMs: 2,
      });
    }
    await store.commit();
    const reader = new DatabaseSync(store.path, { readOnly: true });
    expect(reader.prepare("SELECT id, status, outcome FROM inputs ORDER BY seq").all()).toEqual([
      { id: "i1", status: "failed", outcome: null },
      { id: "i2", status: "failed", outcome: null },
    ]);
    reader.close();
    expect([store.input("i1")?.outcome, store.input("i2")?.outcome]).toEqual([outcome, outcome]);
  });

  it("a function output JSON cannot hold is stored as a description; the turn still ends", async () => {
    const store = await opened();
    acceptMany(store, 1, 1);
    store.startTurn({ turnId: "t1", sessionId: "s0", inputIds: ["i1"], attempt: 1, startedAtMs: 1 });
    store.endTurn({
      turnId: "t1",
      sessionId: "s0",
      attempt: 1,
      outcome: { status: "completed", reason: { code: "ok", message: "function returned" }, output: 10n },
      messages: [],
      inputIds: ["i1"],
      requeued: [],
      usage: { inputTokens: 0, outputTokens: 0 },
      endedAtMs: 2,
    });
    const { status, outcome } = store.input("i1")!;
    expect(status).toBe("completed");
    expect(outcome?.output).toMatch(/^\[output not storable as JSON: .*BigInt/);
  });
});

describe("history of sessions this store created", () => {
  const answer = (sessionId: string, turnId: string, inputId: string) =>
    ({
      turnId,
      sessionId,
      attempt: 1,
      outcome: { status: "completed", reason: { code: "ok", message: "done" } },
      messages: [{ role: "assistant", content: [{ type: "text", text: turnId }] }],
      inputIds: [inputId],
      requeued: [],
      usage: { inputTokens: 0, outputTokens: 0 },
      endedAtMs: 2,
    }) as const;

  /** Counts the history reads that reach SQLite. */
  function historyReads(): { count(): number } {
    const all = vi.spyOn(StatementSync.prototype, "all");
    return {
      count: () =>
        all.mock.contexts.filter((s) =>
          (s as StatementSync).sourceSQL.startsWith("SELECT id, messages FROM history"),
        ).length,
    };
  }

  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("is empty without a read until a turn end adds to it, in its group or after", async () => {
    const store = await opened({ groupCommitMs: 0 });
    const reads = historyReads();
    acceptMany(store, 1, 1);
    expect(store.history("s0")).toEqual([]);
    await store.commit();
    expect(store.history("s0")).toEqual([]);
    expect(reads.count()).toBe(0);
    store.startTurn({ turnId: "t1", sessionId: "s0", inputIds: ["i1"], attempt: 1, startedAtMs: 1 });
    store.endTurn(answer("s0", "t1", "i1"));
    expect(store.history("s0")).toEqual(answer("s0", "t1", "i1").messages);
    await store.commit();
    expect(store.history("s0")).toEqual(answer("s0", "t1", "i1").messages);
    expect(reads.count()).toBe(2);
  });

  it("is read for a session stored before, or whose history has rows already", async () => {
    const store = await opened({ groupCommitMs: 0 });
    // History of a session not created yet (the store does not require it), then its creation.
    acceptMany(store, 1, 1);
    store.accept({ id: "i2", sessionId: "late", seq: 2, payload: 2, policy: "enqueue", acceptedAtMs: 2 });
    store.startTurn({ turnId: "t2", sessionId: "late", inputIds: ["i2"], attempt: 1, startedAtMs: 1 });
    store.endTurn(answer("late", "t2", "i2"));
    await store.commit();
    store.createSession({ id: "late", agent: "a", createdAtMs: 3 });
    expect(store.history("late")).toEqual(answer("late", "t2", "i2").messages);
    await store.close();
    const again = await opened({ path: store.path, groupCommitMs: 0 });
    const reads = historyReads();
    again.createSession({ id: "s0", agent: "a", createdAtMs: 4 });
    expect(again.history("s0")).toEqual([]);
    expect(reads.count()).toBe(1);
  });
});
