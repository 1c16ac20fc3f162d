/**
 * The database file deleted or replaced while the store has it open (issue 15, item 3). The open
 * connection would go on committing to a file nobody can open again, and report each send `durable`
 * and `completed`. The store notices before its next commit: nothing more is acknowledged, the
 * handle waiting on that commit settles `failed` (`store_failed`), sends are refused with
 * `STORE_FILE_GONE`, and the runtime is `degraded` until the file is back.
 */
import { copyFileSync, renameSync, rmSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { createRuntime, type Runtime, type RuntimeEvent, silentLogger } from "../../src/index.js";
import { createSqliteStore, type SqliteStore } from "../../src/store/sqlite/index.js";
import { eventually } from "../support/async.js";
import { freshPath, removeFiles } from "./sqlite-files.js";

const open: { runtime: Runtime; store: SqliteStore }[] = [];

afterEach(async () => {
  for (const { runtime, store } of open.splice(0)) {
    await runtime.stop({ timeoutMs: 100 });
    await store.close().catch(() => undefined);
  }
  removeFiles();
});

async function started(path: string) {
  const store = createSqliteStore({ path });
  const events: RuntimeEvent[] = [];
  const runtime = createRuntime({
    logger: silentLogger,
    store,
    agents: { echo: { run: (input) => `echo ${String(input)}` } },
  });
  open.push({ runtime, store });
  runtime.on((event) => events.push(event));
  await runtime.start();
  return { runtime, store, events, s: runtime.session("s", { agent: "echo" }) };
}

describe("the SQLite file deleted or replaced while open", () => {
  it("deleted: the next send settles failed, later sends are refused, and nothing after the deletion is acknowledged", async () => {
    const path = freshPath();
    const { runtime, store, events, s } = await started(path);
    expect((await s.send("before").result()).output).toBe("echo before");
    rmSync(path);

    const after = s.send("after");
    await expect(after.stored()).rejects.toMatchObject({
      code: "STORE_FILE_GONE",
      message: expect.stringContaining("was deleted"),
    });
    await eventually(() => after.poll() !== undefined, "its handle to settle");
    expect(after.poll()?.outcome).toMatchObject({ status: "failed", reason: { code: "store_failed" } });
    expect(runtime.state).toBe("degraded");
    for (let i = 0; i < 5; i++)
      expect(() => s.send(`later ${i}`)).toThrow(
        expect.objectContaining({ code: "STORE_FILE_GONE", details: { path } }),
      );
    expect(events.find((e) => e.type === "store.failed")).toMatchObject({ code: "STORE_FILE_GONE" });
    expect(runtime.metrics().store.degraded).toBe(true);
    expect(await runtime.stop()).toBe("store_failed");
    await store.close().catch(() => undefined);

    // What the path names now knows nothing of "after": and nobody was told it was kept.
    const next = await started(path);
    expect(next.runtime.handle(after.id)).toBeUndefined();
  });

  it("replaced by another file: refused the same way, naming the replacement", async () => {
    const path = freshPath();
    const other = `${path}.other`;
    const { runtime, s } = await started(path);
    expect((await s.send("before").result()).output).toBe("echo before");
    copyFileSync(path, other);
    renameSync(other, path);

    const after = s.send("after");
    await expect(after.stored()).rejects.toMatchObject({
      code: "STORE_FILE_GONE",
      message: expect.stringContaining("was replaced by another file"),
    });
    expect(runtime.state).toBe("degraded");
    expect(() => s.send("later")).toThrow(expect.objectContaining({ code: "STORE_FILE_GONE" }));
  });

  it("moved away and back: the runtime recovers by itself and runs again", async () => {
    const path = freshPath();
    const aside = `${path}.aside`;
    const { runtime, events, s } = await started(path);
    expect((await s.send("before").result()).output).toBe("echo before");
    renameSync(path, aside);
    const lost = s.send("while away");
    await eventually(() => runtime.state === "degraded", "the runtime to degrade");
    renameSync(aside, path);
    await eventually(() => runtime.state === "running", "the runtime to recover");
    expect(events.filter((e) => e.type === "store.recovered")).toHaveLength(1);
    expect(lost.status).toBe("failed");
    expect((await s.send("back").result({ timeoutMs: 5_000 })).output).toBe("echo back");
  });
});
