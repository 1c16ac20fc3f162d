/**
 * The WAL's size with an outside reader: while another process holds a read transaction open, no
 * checkpoint may pass its snapshot and the WAL grows with every turn; once it lets go, a few more
 * turns bring the file back under `WAL_SIZE_LIMIT_BYTES` (without the limit SQLite kept it at its
 * largest until the runtime closed). The reader is a real second process on the real file.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { statSync } from "node:fs";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import type { Session } from "../../src/index.js";
import { WAL_SIZE_LIMIT_BYTES } from "../../src/store/sqlite/open-database.js";
import { freshPath, removeFiles } from "./sqlite-files.js";
import { disposeRuntimes, runtimeOn } from "./sqlite-runtimes.js";

/** Opens the file read-only, reads in a transaction it keeps open, prints the count, commits on a line of input. */
const READER = `
const { DatabaseSync } = require("node:sqlite");
const db = new DatabaseSync(process.argv[1], { readOnly: true });
db.exec("BEGIN");
const read = () => db.prepare("SELECT count(*) AS n FROM inputs").get().n;
process.stdout.write("holding " + read() + "\\n");
process.stdin.once("data", () => {
  process.stdout.write("still " + read() + "\\n");
  db.exec("COMMIT");
  db.close();
  process.exit(0);
});
`;

const children: ChildProcess[] = [];

afterEach(async () => {
  await disposeRuntimes();
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
  removeFiles();
});

/** The reader's lines, one at a time (one iterator, so the stream stays open between lines). */
function lines(child: ChildProcess): () => Promise<string> {
  const iterator = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return async () => {
    const next = await iterator.next();
    if (next.done === true) throw new Error(`the reader ended without a line (exit ${child.exitCode})`);
    return next.value;
  };
}

/** Runs `count` turns spread over the sessions, 100 at a time, and waits for them all. */
async function turns(sessions: readonly Session[], count: number): Promise<void> {
  for (let sent = 0; sent < count; sent += 100) {
    const batch = [];
    for (let i = sent; i < Math.min(count, sent + 100); i++)
      batch.push(sessions[i % sessions.length]!.send(`turn ${i} ${"p".repeat(300)}`));
    for (const handle of batch) expect((await handle.result({ timeoutMs: 30_000 })).status).toBe("completed");
  }
}

describe("the WAL with an outside reader", () => {
  it("grows while a reader holds a snapshot through 4 000 turns, and is back under the bound a few turns after it leaves", async () => {
    const path = freshPath();
    const wal = () => statSync(`${path}-wal`).size;
    const runtime = runtimeOn(path);
    await runtime.start();
    const sessions = Array.from({ length: 8 }, (_, i) => runtime.session(`s${i}`, { agent: "f" }));
    await turns(sessions, 100);

    const reader = spawn(process.execPath, ["-e", READER, path], { stdio: ["pipe", "pipe", "inherit"] });
    children.push(reader);
    const line = lines(reader);
    expect(await line()).toBe("holding 100");
    await turns(sessions, 4_000);
    const grown = wal();
    expect(grown).toBeGreaterThan(2 * WAL_SIZE_LIMIT_BYTES);

    reader.stdin!.write("go\n");
    // Its snapshot held throughout: it still sees the 100 inputs of before.
    expect(await line()).toBe("still 100");
    await once(reader, "exit");
    let after = 0;
    while (wal() > WAL_SIZE_LIMIT_BYTES && after < 50) {
      await turns(sessions, 5);
      after += 5;
    }
    expect({ walBytes: wal(), turnsAfterRelease: after }).toEqual({
      walBytes: expect.toSatisfy((bytes: number) => bytes <= WAL_SIZE_LIMIT_BYTES),
      turnsAfterRelease: expect.toSatisfy((n: number) => n <= 10),
    });
    expect(await runtime.stop()).toBe("clean");
  });
});
