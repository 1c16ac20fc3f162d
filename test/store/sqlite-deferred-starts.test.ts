/**
 * The SQLite store holds a turn's start back until its group commits (src/store/sqlite/deferred-starts.ts):
 * whatever the calls between, the file must end up exactly as when every start is written at once.
 * Each scenario runs twice — once with a commit after every call (no start ever waits for its end),
 * once with every call in one group — and the rows must be the same.
 */
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import { createSqliteStore, type SqliteStore } from "../../src/index.js";
import type { TurnEnd, TurnStart } from "../../src/runtime/ports/store.js";
import { freshPath, removeFiles } from "./sqlite-files.js";

const open: SqliteStore[] = [];

afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
  removeFiles();
});

async function opened(): Promise<SqliteStore> {
  const store = createSqliteStore({ path: freshPath(), groupCommitMs: 0 });
  open.push(store);
  await store.open();
  for (let n = 1; n <= 3; n++) {
    store.accept({ id: `i${n}`, sessionId: "s", seq: n, payload: n, policy: "enqueue", acceptedAtMs: n });
  }
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

/** Every committed row, read through a second connection: what a restart would find. */
function committedRows(path: string): unknown {
  const reader = new DatabaseSync(path, { readOnly: true });
  try {
    return Object.fromEntries(
      ["inputs", "turns", "history"].map((table) => [
        table,
        reader.prepare(`SELECT * FROM ${table} ORDER BY rowid`).all(),
      ]),
    );
  } finally {
    reader.close();
  }
}

type Call = (store: SqliteStore) => void;

/** The committed rows after `calls`, with a commit after each call or one commit after all. */
async function rowsAfter(calls: Call[], commitEach: boolean): Promise<unknown> {
  const store = await opened();
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
];

describe("a start held in its group", () => {
  it.each(scenarios)("leaves the rows a start written at once leaves: %s", async (_, calls) => {
    expect(await rowsAfter(calls, false)).toEqual(await rowsAfter(calls, true));
  });

  it("reads see it before its group commits", async () => {
    const store = await opened();
    store.startTurn(start("t1", ["i1"]));
    expect(store.input("i1")).toMatchObject({ status: "running", turnId: "t1" });
    store.endTurn(end("t1", ["i1"]));
    expect(store.input("i1")).toMatchObject({ status: "completed", turnId: "t1" });
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
    store.abandon();
    const next = createSqliteStore({ path: store.path });
    open.push(next);
    const state = await next.open();
    expect([state.interrupted, state.queued.map((input) => input.id)]).toEqual([[], ["i1", "i2", "i3"]]);
  });
});
