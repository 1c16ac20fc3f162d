/**
 * The SQLite store's migrations on files an earlier release wrote: each file here is built the way
 * that release left it (its shipped migrations, then rows as its store wrote them), and this
 * release must open it with every record, every message of history and every piece of recoverable
 * work intact.
 */
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import type { Message } from "../../src/kernel/messages.js";
import { createSqliteStore, type SqliteStore } from "../../src/store/sqlite/index.js";
import { APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION } from "../../src/store/sqlite/migrations.js";
import { freshPath, removeFiles } from "./sqlite-files.js";

const open: SqliteStore[] = [];

afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
  removeFiles();
});

function user(text: string): Message {
  return { role: "user", content: [{ type: "text", text }] };
}

function assistant(text: string): Message {
  return { role: "assistant", content: [{ type: "text", text }] };
}

const OUTCOME = JSON.stringify({ status: "completed", reason: { code: "ok", message: "done" } });

/**
 * A file at schema version 2 (one history row per message): two sessions whose turns ended
 * interleaved, a turn that was running with a checkpoint, and a queued input.
 */
function versionTwoFile(): string {
  const path = freshPath();
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL");
  for (const migration of MIGRATIONS.filter((m) => m.version <= 2)) db.exec(migration.sql);
  db.exec(`PRAGMA user_version = 2; PRAGMA application_id = ${APPLICATION_ID}`);
  const session = db.prepare("INSERT INTO sessions (id, agent, created_at_ms) VALUES (?, 'a', 1)");
  for (const id of ["s1", "s2"]) session.run(id);
  const input = db.prepare(
    `INSERT INTO inputs (id, session_id, seq, payload, policy, accepted_at_ms, status, turn_id, outcome, ended_at_ms)
     VALUES (?, ?, ?, ?, 'enqueue', 1, ?, ?, ?, ?)`,
  );
  input.run("i1", "s1", 1, '"a"', "completed", "t1", OUTCOME, 2);
  input.run("i2", "s2", 2, '"x"', "completed", "t2", OUTCOME, 2);
  input.run("i3", "s1", 3, '"b"', "completed", "t3", OUTCOME, 3);
  input.run("i4", "s2", 4, '"y"', "running", "t4", null, null);
  input.run("i5", "s1", 5, '"c"', "queued", null, null, null);
  const turn = db.prepare(
    `INSERT INTO turns (id, session_id, attempt, input_ids, started_at_ms, step, messages, outcome, usage, ended_at_ms)
     VALUES (?, ?, 1, ?, 1, ?, ?, ?, ?, ?)`,
  );
  const usage = JSON.stringify({ inputTokens: 1, outputTokens: 1 });
  turn.run("t1", "s1", '["i1"]', 0, "[]", OUTCOME, usage, 2);
  turn.run("t2", "s2", '["i2"]', 0, "[]", OUTCOME, usage, 2);
  turn.run("t3", "s1", '["i3"]', 0, "[]", OUTCOME, usage, 3);
  turn.run("t4", "s2", '["i4"]', 1, JSON.stringify([user("y"), assistant("thinking")]), null, null, null);
  const history = db.prepare("INSERT INTO history (session_id, turn_id, message) VALUES (?, ?, ?)");
  const rows: [string, string, Message][] = [
    ["s1", "t1", user("a")],
    ["s2", "t2", user("x")],
    ["s1", "t1", assistant("A")],
    ["s2", "t2", assistant("X")],
    ["s1", "t3", user("b")],
    ["s1", "t3", assistant('B, with "quotes", \\ and \u00e9')],
  ];
  for (const [sessionId, turnId, message] of rows) history.run(sessionId, turnId, JSON.stringify(message));
  db.close();
  return path;
}

async function opened(path: string): Promise<SqliteStore> {
  const store = createSqliteStore({ path, groupCommitMs: 0 });
  open.push(store);
  await store.open();
  return store;
}

describe("migrating a file of schema version 2", () => {
  it("keeps every history message in order, per session, and recovers the running turn and queue", async () => {
    const path = versionTwoFile();
    const store = await opened(path);
    const state = await store.open();
    expect(store.history("s1")).toEqual([
      user("a"),
      assistant("A"),
      user("b"),
      assistant('B, with "quotes", \\ and \u00e9'),
    ]);
    expect(store.history("s2")).toEqual([user("x"), assistant("X")]);
    expect(state.sessions.map((s) => s.id)).toEqual(["s1", "s2"]);
    expect(state.queued.map((i) => i.id)).toEqual(["i5"]);
    expect(state.interrupted).toMatchObject([
      { turnId: "t4", inputIds: ["i4"], step: 1, messages: [user("y"), assistant("thinking")] },
    ]);
    expect(store.input("i3")).toMatchObject({
      status: "completed",
      turnId: "t3",
      outcome: JSON.parse(OUTCOME),
    });
    const db = new DatabaseSync(path, { readOnly: true });
    expect(db.prepare("PRAGMA user_version").get()).toEqual({ user_version: SCHEMA_VERSION });
    db.close();
  });

  it("the recovered turn resumes and ends; its messages join the migrated history and survive a reopen", async () => {
    const path = versionTwoFile();
    const store = await opened(path);
    store.startTurn({ turnId: "t4", sessionId: "s2", inputIds: ["i4"], attempt: 2, startedAtMs: 5 });
    store.endTurn({
      turnId: "t4",
      sessionId: "s2",
      attempt: 2,
      outcome: { status: "completed", reason: { code: "ok", message: "done" } },
      messages: [user("y"), assistant("Y")],
      inputIds: ["i4"],
      requeued: [],
      usage: { inputTokens: 1, outputTokens: 1 },
      endedAtMs: 6,
    });
    await store.close();
    const again = await opened(path);
    expect(again.history("s2")).toEqual([user("x"), assistant("X"), user("y"), assistant("Y")]);
    expect(again.input("i4")).toMatchObject({ status: "completed", turnId: "t4" });
    expect((await again.open()).interrupted).toEqual([]);
  });
});

describe("migrating a file of schema version 3", () => {
  it("gains the indexes retention and paged recovery read, and both work on its rows", async () => {
    const path = freshPath();
    const db = new DatabaseSync(path);
    db.exec("PRAGMA journal_mode = WAL");
    for (const migration of MIGRATIONS.filter((m) => m.version <= 3)) db.exec(migration.sql);
    db.exec(`PRAGMA user_version = 3; PRAGMA application_id = ${APPLICATION_ID}`);
    db.prepare("INSERT INTO sessions (id, agent, created_at_ms) VALUES ('s1', 'a', 1)").run();
    const input = db.prepare(
      `INSERT INTO inputs (id, session_id, seq, payload, policy, accepted_at_ms, status, outcome, ended_at_ms)
       VALUES (?, 's1', ?, '"p"', 'enqueue', 1, ?, ?, ?)`,
    );
    for (let n = 1; n <= 4; n++) input.run(`i${n}`, n, "withdrawn", OUTCOME, n);
    input.run("i5", 5, "queued", null, null);
    db.close();
    const store = createSqliteStore({ path, groupCommitMs: 0, endedInputsMax: 1 });
    open.push(store);
    const state = await store.open({ paged: true });
    expect(state.queuedCount).toBe(1);
    expect(store.queuedOf("s1").map((i) => i.id)).toEqual(["i5"]);
    expect((await store.sweepNow()).inputs).toBe(3);
    expect(["i1", "i2", "i3", "i4", "i5"].map((id) => store.input(id)?.status)).toEqual([
      undefined,
      undefined,
      undefined,
      "withdrawn",
      "queued",
    ]);
    const check = new DatabaseSync(path, { readOnly: true });
    const indexes = (
      check.prepare("SELECT name FROM sqlite_master WHERE type = 'index'").all() as {
        name: string;
      }[]
    ).map((row) => row.name);
    check.close();
    expect(indexes).toEqual(
      expect.arrayContaining([
        "inputs_ended",
        "inputs_ended_keyed",
        "inputs_by_turn",
        "inputs_queued_by_session",
      ]),
    );
    expect(indexes).not.toContain("inputs_queued");
  });
});
