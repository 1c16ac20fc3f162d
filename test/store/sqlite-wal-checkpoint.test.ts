/**
 * Checkpoints on the worker thread (`wal-checkpointer.ts`): under turns that keep coming, the WAL
 * stays under its bound (the worker's checkpoints, and the store's fallback past
 * `WAL_FALLBACK_PAGES`), the worker's copies land in the database file while the store runs, and
 * closing the store ends the worker's thread. Real files, a real worker.
 */
import { readdirSync, statSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import type { Session } from "../../src/index.js";
import { createSqliteStore } from "../../src/store/sqlite/index.js";
import { WAL_SIZE_LIMIT_BYTES } from "../../src/store/sqlite/open-database.js";
import { WAL_CHECKPOINT_INTERVAL_MS } from "../../src/store/sqlite/wal-checkpointer.js";
import { freshPath, removeFiles } from "./sqlite-files.js";
import { disposeRuntimes, runtimeOn } from "./sqlite-runtimes.js";

afterEach(async () => {
  await disposeRuntimes();
  removeFiles();
});

const threads = () => readdirSync("/proc/self/task").length;
const sizeOf = (file: string) => statSync(file, { throwIfNoEntry: false })?.size ?? 0;

/** Runs `count` turns spread over the sessions, 100 at a time, and waits for them all. */
async function turns(sessions: readonly Session[], count: number): Promise<void> {
  for (let sent = 0; sent < count; sent += 100) {
    const batch = [];
    for (let i = sent; i < Math.min(count, sent + 100); i++)
      batch.push(sessions[i % sessions.length]!.send(`turn ${i} ${"p".repeat(300)}`));
    for (const handle of batch) expect((await handle.result({ timeoutMs: 30_000 })).status).toBe("completed");
  }
}

describe("WAL checkpoints on a worker thread", () => {
  it("keep the WAL under its bound through 3 000 turns without a pause", async () => {
    const path = freshPath();
    const runtime = runtimeOn(path);
    await runtime.start();
    const sessions = Array.from({ length: 8 }, (_, i) => runtime.session(`s${i}`, { agent: "f" }));
    let largest = 0;
    for (let done = 0; done < 3_000; done += 200) {
      await turns(sessions, 200);
      largest = Math.max(largest, sizeOf(`${path}-wal`));
    }
    expect(largest).toBeGreaterThan(0);
    expect(largest).toBeLessThanOrEqual(WAL_SIZE_LIMIT_BYTES);
    // The database file grew while the store was open: the worker's checkpoints copied into it.
    const before = sizeOf(path);
    await turns(sessions, 300);
    await new Promise((resolve) => setTimeout(resolve, 5 * WAL_CHECKPOINT_INTERVAL_MS));
    expect(sizeOf(path)).toBeGreaterThan(before);
    expect(await runtime.stop()).toBe("clean");
  });

  it("ends its thread when the store closes, and the close checkpoints the whole WAL away", async () => {
    const path = freshPath();
    const before = threads();
    const store = createSqliteStore({ path, durability: "normal" });
    await store.open();
    expect(threads()).toBe(before + 1);
    await store.close();
    expect(threads()).toBe(before);
    expect(sizeOf(`${path}-wal`)).toBe(0);
    // Reopened, it starts a worker again; disposing it ends that one too.
    await store.open();
    expect(threads()).toBe(before + 1);
    await store[Symbol.asyncDispose]();
    expect(threads()).toBe(before);
  });
});
