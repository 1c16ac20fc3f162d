/**
 * The SQLite store holds new sessions, inputs, turn starts, turn ends that meet their start, and history back
 * until its group commits, then writes them in multi-row statements (src/store/sqlite/held-writes.ts):
 * whatever the calls between, the file must end up exactly as when every write is made at its call.
 * Each scenario runs twice — once with a commit after every call (nothing held ever waits for a later
 * call), once with every call in one group — and the rows must be the same.
 */
import { DatabaseSync, StatementSync } from "node:sqlite";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { TurnEnd, TurnStart } from "../../src/runtime/ports/store.js";
import { createSqliteStore, type SqliteStore } from "../../src/store/sqlite/index.js";
import { freshPath, removeFiles } from "./sqlite-files.js";

const open: SqliteStore[] = [];

afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
  removeFiles();
});

type Call = (store: SqliteStore) => void;

/** A store with inputs i1 to i`inputs` queued in session s, and whatever `setup` committed. */
async function opened(inputs = 3, setup: Call = () => {}): Promise<SqliteStore> {
  const store = createSqliteStore({ path: freshPath(), groupCommitMs: 0 });
  open.push(store);
  await store.open();
  for (let n = 1; n <= inputs; n++) {
    store.accept({ id: `i${n}`, sessionId: "s", seq: n, payload: n, policy: "enqueue", acceptedAtMs: n });
  }
  setup(store);
  await store.commit();
  return store;
}

function start(turnId: string, inputIds: string[], attempt = 1): TurnStart {
  return { turnId, sessionId: "s", inputIds, attempt, startedAtMs: 10 * attempt };
}

function end(turnId: string, inputIds: string[], more: Partial<TurnEnd> = {}): TurnEnd {
  return {
    turnId,
    sessionId: "s",
    attempt: 1,
    outcome: { status: "completed", reason: { code: "ok", message: "done" }, output: turnId },
    messages: [
      { role: "user", content: [{ type: "text", text: "q" }] },
      { role: "assistant", content: [{ type: "text", text: turnId }] },
    ],
    inputIds,
    requeued: [],
    usage: { inputTokens: 1, outputTokens: 2 },
    endedAtMs: 100,
    ...more,
  };
}

/**
 * Every committed row, read through a second connection: what a restart would find. Inputs by seq and
 * turns by id: their rowids tell only when they were written, which holding changes; history's id is
 * its order.
 */
const ORDER = { sessions: "rowid", inputs: "seq", turns: "id", history: "id" } as const;

function committedRows(path: string): unknown {
  const reader = new DatabaseSync(path, { readOnly: true });
  try {
    return Object.fromEntries(
      (["sessions", "inputs", "turns", "history"] as const).map((table) => [
        table,
        reader.prepare(`SELECT * FROM ${table} ORDER BY ${ORDER[table]}`).all(),
      ]),
    );
  } finally {
    reader.close();
  }
}

/** The committed rows after `calls`, with a commit after each call or one commit after all. */
async function rowsAfter(
  calls: Call[],
  { commitEach, inputs, setup }: { commitEach: boolean; inputs?: number; setup?: Call },
): Promise<unknown> {
  const store = await opened(inputs, setup);
  for (const call of calls) {
    call(store);
    if (commitEach) await store.commit();
  }
  await store.commit();
  return committedRows(store.path);
}

const scenarios: [string, Call[]][] = [
  [
    "a turn that starts and ends",
    [(s) => s.startTurn(start("t1", ["i1"])), (s) => s.endTurn(end("t1", ["i1"]))],
  ],
  [
    "a turn of two inputs, then the next turn",
    [
      (s) => s.startTurn(start("t1", ["i2", "i1"])),
      (s) => s.endTurn(end("t1", ["i2", "i1"])),
      (s) => s.startTurn(start("t2", ["i3"])),
      (s) =>
        s.endTurn(
          end("t2", ["i3"], { outcome: { status: "failed", reason: { code: "model_error", message: "y" } } }),
        ),
    ],
  ],
  [
    "a resumed turn: a checkpointed attempt, then a higher one that ends",
    [
      (s) => s.startTurn(start("t1", ["i1"])),
      (s) => s.checkpoint({ turnId: "t1", sessionId: "s", attempt: 1, step: 2, messages: [] }),
      (s) => s.startTurn(start("t1", ["i1"], 2)),
      (s) => s.endTurn(end("t1", ["i1"], { attempt: 2 })),
    ],
  ],
  [
    "a start that is not higher than the stored attempt, then an end of the stored attempt",
    [
      (s) => s.startTurn(start("t1", ["i1"], 2)),
      (s) => s.startTurn(start("t1", ["i1"], 2)),
      (s) => s.endTurn(end("t1", ["i1"], { attempt: 2 })),
    ],
  ],
  [
    "an end of another attempt than the start's",
    [(s) => s.startTurn(start("t1", ["i1"])), (s) => s.endTurn(end("t1", ["i1"], { attempt: 2 }))],
  ],
  [
    "a steered input the model never saw goes back to the queue",
    [
      (s) => s.startTurn(start("t1", ["i1"])),
      (s) => s.steer({ inputId: "i2", sessionId: "s", turnId: "t1", attempt: 1 }),
      (s) => s.endTurn(end("t1", ["i1", "i2"], { requeued: ["i2"] })),
    ],
  ],
  [
    "a steered input cancelled before the model saw it",
    [
      (s) => s.startTurn(start("t1", ["i1"])),
      (s) => s.steer({ inputId: "i2", sessionId: "s", turnId: "t1", attempt: 1 }),
      (s) =>
        s.endInput({
          inputId: "i2",
          sessionId: "s",
          status: "cancelled",
          reason: { code: "cancel_requested", message: "c" },
          endedAtMs: 50,
        }),
      (s) => s.endTurn(end("t1", ["i1"])),
    ],
  ],
  [
    "two starts naming one input",
    [
      (s) => s.startTurn(start("t1", ["i1"])),
      (s) => s.startTurn(start("t2", ["i1"])),
      (s) => s.endTurn(end("t1", ["i1"])),
      (s) => s.endTurn(end("t2", ["i1"])),
    ],
  ],
  [
    "a start naming an input accepted after it",
    [
      (s) => s.startTurn(start("t1", ["i9"])),
      (s) => s.accept({ id: "i9", sessionId: "s", seq: 9, payload: 9, policy: "enqueue", acceptedAtMs: 9 }),
      (s) => s.endTurn(end("t1", ["i9"])),
    ],
  ],
  [
    "a turn ended twice",
    [
      (s) => s.startTurn(start("t1", ["i1"])),
      (s) => s.endTurn(end("t1", ["i1"])),
      (s) => s.endTurn(end("t1", ["i1"], { endedAtMs: 200 })),
    ],
  ],
  ["a turn still running at the commit", [(s) => s.startTurn(start("t1", ["i1", "i2"]))]],
  [
    "a session created twice keeps its first record",
    [
      (s) => s.createSession({ id: "s2", agent: "first", createdAtMs: 1 }),
      (s) => s.createSession({ id: "s2", agent: "second", createdAtMs: 2 }),
      (s) => s.createSession({ id: "s3", agent: "third", createdAtMs: 3 }),
    ],
  ],
  [
    "history in call order: a held turn's end, then an end written at once",
    [
      (s) => s.startTurn(start("t1", ["i1"])),
      (s) => s.startTurn(start("t2", ["i2"])),
      // The checkpoint writes t2's start, so t2's end is written at once; t1's is held.
      (s) => s.checkpoint({ turnId: "t2", sessionId: "s", attempt: 1, step: 1, messages: [] }),
      (s) => s.endTurn(end("t1", ["i1"])),
      (s) => s.endTurn(end("t2", ["i2"])),
      (s) => s.startTurn(start("t3", ["i3"])),
      (s) => s.endTurn(end("t3", ["i3"], { messages: [] })),
    ],
  ],
];

/** Starts and ends turns t1 to t`n`, each of the input of its number. */
function turns(n: number): Call[] {
  return Array.from({ length: n }, (_, i) => [
    (s: SqliteStore) => s.startTurn(start(`t${i + 1}`, [`i${i + 1}`])),
    (s: SqliteStore) => s.endTurn(end(`t${i + 1}`, [`i${i + 1}`])),
  ]).flat();
}

describe("writes held in their group", () => {
  it.each(scenarios)("leave the rows writes made at their calls leave: %s", async (_, calls) => {
    expect(await rowsAfter(calls, { commitEach: false })).toEqual(
      await rowsAfter(calls, { commitEach: true }),
    );
  });

  it("reads see it before its group commits", async () => {
    const store = await opened();
    store.accept({ id: "i9", sessionId: "s", seq: 9, payload: 9, policy: "enqueue", acceptedAtMs: 9 });
    expect(store.input("i9")).toMatchObject({ status: "queued", payload: 9 });
    store.startTurn(start("t1", ["i1"]));
    expect(store.input("i1")).toMatchObject({ status: "running", turnId: "t1" });
    store.endTurn(end("t1", ["i1"]));
    expect(store.input("i1")).toMatchObject({ status: "completed", turnId: "t1" });
    store.startTurn(start("t2", ["i2"]));
    store.endTurn(end("t2", ["i2"]));
    expect(store.history("s")).toEqual([...end("t1", []).messages, ...end("t2", []).messages]);
    store.createSession({ id: "s2", agent: "a", createdAtMs: 1 });
    expect((await store.open()).sessions.map((session) => session.id)).toEqual(["s2"]);
  });

  it("more inputs than one statement takes, one with a key amid them, then their turns", async () => {
    const accept =
      (n: number, idempotencyKey?: string): Call =>
      (s) =>
        s.accept({
          id: `i${n}`,
          sessionId: "s",
          seq: n,
          payload: { n },
          policy: "enqueue",
          acceptedAtMs: n,
          idempotencyKey,
        });
    const calls = [
      ...Array.from({ length: 40 }, (_, i) => accept(i + 10, i === 20 ? "k" : undefined)),
      (s: SqliteStore) => s.startTurn(start("t1", ["i12"])),
      (s: SqliteStore) => s.endTurn(end("t1", ["i12"])),
      (s: SqliteStore) => s.startTurn(start("t2", ["i45"])),
    ];
    expect(await rowsAfter(calls, { commitEach: false })).toEqual(
      await rowsAfter(calls, { commitEach: true }),
    );
  });

  it.each([
    ["ended", true],
    ["still running at the commit", false],
  ])("an input accepted and taken by a turn in one group is written once, %s", async (_, ends) => {
    const calls: Call[] = [
      (s) => s.accept({ id: "i9", sessionId: "s", seq: 9, payload: 9, policy: "enqueue", acceptedAtMs: 9 }),
      (s) => s.startTurn(start("t1", ["i9", "i1"])),
      ...(ends ? [(s: SqliteStore) => s.endTurn(end("t1", ["i9", "i1"]))] : []),
    ];
    const updates = vi.spyOn(StatementSync.prototype, "run");
    const held = await rowsAfter(calls, { commitEach: false });
    const inputUpdates = updates.mock.contexts.filter((statement) =>
      (statement as StatementSync).sourceSQL.startsWith("UPDATE inputs"),
    );
    updates.mockRestore();
    expect(inputUpdates).toHaveLength(1);
    expect(held).toEqual(await rowsAfter(calls, { commitEach: true }));
  });

  it("an input taken by a turn a stored one refuses, or resumes, is left as writes at their calls leave it", async () => {
    // t5 is stored with attempt 2 (attempt 1 is refused); t6 running attempt 1 (attempt 2 resumes it).
    const setup: Call = (s) => {
      s.startTurn(start("t5", ["i1"], 2));
      s.startTurn(start("t6", ["i2"]));
    };
    const accept =
      (n: number): Call =>
      (s) =>
        s.accept({ id: `i${n}`, sessionId: "s", seq: n, payload: n, policy: "enqueue", acceptedAtMs: n });
    const calls: Call[] = [
      accept(8),
      accept(9),
      (s) => s.startTurn(start("t5", ["i8"])),
      (s) => s.endTurn(end("t5", ["i8"])),
      (s) => s.startTurn(start("t6", ["i9"], 2)),
      (s) => s.endTurn(end("t6", ["i9"], { attempt: 2 })),
    ];
    const held = await rowsAfter(calls, { commitEach: false, setup });
    expect(held).toEqual(await rowsAfter(calls, { commitEach: true, setup }));
    const { inputs } = held as { inputs: { id: string; status: string }[] };
    expect(inputs.filter((i) => i.id === "i8" || i.id === "i9").map((i) => i.status)).toEqual([
      "queued",
      "completed",
    ]);
  });

  it("an input whose id is stored already fails its group, naming it, when the group is written", async () => {
    const store = await opened();
    store.accept({ id: "i1", sessionId: "s", seq: 7, payload: 7, policy: "enqueue", acceptedAtMs: 7 });
    await expect(store.commit()).rejects.toMatchObject({
      code: "STORE_FAILED",
      message: expect.stringContaining('input "i1" (seq 7) was accepted but cannot be stored'),
    });
    expect(() => store.createSession({ id: "s2", agent: "a", createdAtMs: 8 })).toThrow(
      expect.objectContaining({ code: "STORE_FAILED" }),
    );
    open.splice(open.indexOf(store), 1);
    await expect(store.close()).rejects.toMatchObject({ code: "STORE_FAILED" });
  });

  it("more turns than one statement takes leave the rows of turns written one by one", async () => {
    const calls = turns(70);
    const inputs = 70;
    expect(await rowsAfter(calls, { commitEach: false, inputs })).toEqual(
      await rowsAfter(calls, { commitEach: true, inputs }),
    );
  });

  it("a turn already stored, amid a statement's rows, is written as its start and end alone would be", async () => {
    // t35 is stored with a higher attempt: its start and end of attempt 1 are refused. t36 is stored
    // running attempt 1: its start of attempt 2 resumes it, and the end of attempt 2 ends it.
    const setup: Call = (s) => {
      s.startTurn(start("t35", ["i35"], 2));
      s.startTurn(start("t36", ["i36"]));
    };
    const calls = turns(70).map((call, at): Call => {
      if (at !== 71 && at !== 70) return call;
      return at === 70
        ? (s) => s.startTurn(start("t36", ["i36"], 2))
        : (s) => s.endTurn(end("t36", ["i36"], { attempt: 2 }));
    });
    const held = await rowsAfter(calls, { commitEach: false, inputs: 70, setup });
    expect(held).toEqual(await rowsAfter(calls, { commitEach: true, inputs: 70, setup }));
    const { turns: rows } = held as { turns: { id: string; attempt: number; ended_at_ms: number | null }[] };
    expect(rows.filter((t) => t.id === "t35" || t.id === "t36")).toMatchObject([
      { id: "t35", attempt: 2, ended_at_ms: null },
      { id: "t36", attempt: 2, ended_at_ms: 100 },
    ]);
  });

  it("is stored as it was made, though the caller changes its array later", async () => {
    const store = await opened();
    const inputIds = ["i1"];
    store.startTurn(start("t1", inputIds));
    // The runtime's inbox adds an input steered into the turn to the array it passed.
    inputIds.push("i2");
    store.steer({ inputId: "i2", sessionId: "s", turnId: "t1", attempt: 1 });
    await store.commit();
    const state = await store.open();
    expect(state.interrupted.map((turn) => turn.inputIds)).toEqual([["i1"]]);
    expect(state.queued.map((input) => input.id)).toEqual(["i2", "i3"]);
  });

  it("is lost with its group when the process dies before the commit", async () => {
    const store = await opened();
    store.startTurn(start("t1", ["i1"]));
    store.crash();
    const next = createSqliteStore({ path: store.path });
    open.push(next);
    const state = await next.open();
    expect([state.interrupted, state.queued.map((input) => input.id)]).toEqual([[], ["i1", "i2", "i3"]]);
  });
});
