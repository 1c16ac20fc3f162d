/**
 * Ids and keys that are not well-formed text never reach the SQLite file, which keeps text as UTF-8:
 * there a lone surrogate becomes U+FFFD, so sessions `"user-\uD83C"` and `"user-\uD83D"` would share
 * one history (and after a restart merge into `"user-\uFFFD"`), and keys `"\uD800"` and `"\uDFFF"`
 * would be one key. Each is refused with `INVALID_ARGUMENT` and the file's rows are unchanged.
 */
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import { InvalidInputError } from "../../src/index.js";
import { freshPath, removeFiles } from "./sqlite-files.js";
import { disposeRuntimes, runtimeOn } from "./sqlite-runtimes.js";

afterEach(async () => {
  await disposeRuntimes();
  removeFiles();
});

/** Every row of the tables a send or a new session writes, read on a connection of its own. */
function rows(path: string): unknown {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const all = (sql: string) =>
      db
        .prepare(sql)
        .all()
        .map((row) => ({ ...row }));
    return {
      sessions: all("SELECT id, agent FROM sessions ORDER BY id"),
      inputs: all("SELECT id, session_id, idempotency_key, status FROM inputs ORDER BY seq"),
      turns: all("SELECT id, session_id FROM turns ORDER BY rowid"),
      history: all("SELECT session_id, messages FROM history ORDER BY id"),
    };
  } finally {
    db.close();
  }
}

function refusedWith(call: () => unknown, quoted: string): void {
  let error: unknown;
  try {
    call();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(InvalidInputError);
  expect(error).toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining(quoted) });
}

describe("ids that are not well-formed text, on a SQLite store", () => {
  it('sessions "user-\\uD83C" and "user-\\uD83D" are refused; keys "\\uD800" and "\\uDFFF" too; nothing is written', async () => {
    const path = freshPath();
    const runtime = runtimeOn(path);
    await runtime.start();
    const known = runtime.session("user-\uD83C\uDF89", { agent: "f" });
    await known.send("first", { idempotencyKey: "k1" }).result({ timeoutMs: 5_000 });
    await runtime.stop();
    await runtime.start();
    const before = rows(path);

    refusedWith(() => runtime.session("user-\uD83C", { agent: "f" }), '"user-\\ud83c"');
    refusedWith(() => runtime.session("user-\uD83D", { agent: "f" }), '"user-\\ud83d"');
    const session = runtime.session("user-\uD83C\uDF89");
    refusedWith(() => session.send("a", { idempotencyKey: "\uD800" }), '"\\ud800"');
    refusedWith(() => session.send("b", { idempotencyKey: "\uDFFF" }), '"\\udfff"');
    refusedWith(() => session.send("c", { idempotencyKey: "k\u2029" }), '"k\\u2029"');
    refusedWith(() => runtime.handle("x\uDC00"), '"x\\udc00"');
    expect(runtime.sessionIds()).toEqual(["user-\uD83C\uDF89"]);
    expect(await runtime.stop()).toBe("clean");
    expect(rows(path)).toEqual(before);

    // After a restart nothing merged: the one session, its one input, and U+FFFD names a new one.
    await runtime.start();
    expect(runtime.sessionIds()).toEqual(["user-\uD83C\uDF89"]);
    const replacement = runtime.session("user-\uFFFD", { agent: "f" });
    const answer = await replacement.send("own").result({ timeoutMs: 5_000 });
    expect(answer.status).toBe("completed");
    expect(await runtime.stop()).toBe("clean");
    // In SQLite's order, by UTF-8 bytes: U+FFFD (EF BF BD) before U+1F389 (F0 9F 8E 89).
    expect((rows(path) as { sessions: unknown[] }).sessions).toEqual([
      { id: "user-\uFFFD", agent: "f" },
      { id: "user-\uD83C\uDF89", agent: "f" },
    ]);
  });
});
