/**
 * `offstage unlock <db>` on real store files: it clears a holder left by a runtime on another host
 * (which boot refuses to take over, naming this command), refuses while a runtime holds the file —
 * in another process or in this one — and leaves that runtime unharmed. Holders are real child
 * processes killed with SIGKILL; one test runs the real command line.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import { runUnlock } from "../../src/cli/commands/unlock.js";
import type { OffstageError } from "../../src/index.js";
import { freshPath, removeFiles } from "../store/sqlite-files.js";
import { disposeRuntimes, runtimeOn } from "../store/sqlite-runtimes.js";
import { capturedOutput } from "../support/captured-output.js";
import { firstLine, keepChild, killChildren } from "../support/child-processes.js";
import { inspect, offstage, ROOT } from "./inspect-harness.js";

const HOOK = join(ROOT, "test/crash/ts-hook.ts");
const HOLDER = join(ROOT, "test/store/lock-holder.ts");

afterEach(async () => {
  await disposeRuntimes();
  await killChildren();
  removeFiles();
});

/** A store file with one completed input, stopped cleanly. */
async function storeFile(): Promise<string> {
  const path = freshPath();
  const runtime = runtimeOn(path);
  await runtime.start();
  await runtime.session("s", { agent: "f" }).send("first").result({ timeoutMs: 5_000 });
  expect(await runtime.stop()).toBe("clean");
  return path;
}

/** Writes the holder row a runtime on another host leaves when it dies. */
function leaveOtherHostRow(path: string): void {
  const db = new DatabaseSync(path);
  db.prepare(
    "INSERT INTO store_lock (id, token, pid, host, since_ms) VALUES (1, 'gone', 7, 'elsewhere', 0)",
  ).run();
  db.close();
}

function holderRows(path: string): unknown[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return db
      .prepare("SELECT pid, host FROM store_lock")
      .all()
      .map((row) => ({ ...row }));
  } finally {
    db.close();
  }
}

async function unlock(target: string) {
  const io = capturedOutput();
  const code = await runUnlock({ target, out: io.out, err: io.err });
  return { code, ...io.written };
}

/** What `inspect --json` says of the holder. */
async function inspectedHolder(path: string): Promise<unknown> {
  const { code, report } = await inspect(path);
  expect(code).toBe(0);
  return report!.store.lock;
}

/** Starts `lock-holder.ts` as a runtime on `path` and waits for its `ready`. */
async function holder(path: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", HOOK, HOLDER, path, "runtime"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  keepChild(child);
  expect(await firstLine(child)).toBe("ready");
  return child;
}

describe("offstage unlock", () => {
  it("clears a holder another host left, which boot names with this command (the real command line)", async () => {
    const path = await storeFile();
    leaveOtherHostRow(path);
    const refused = (await runtimeOn(path)
      .start()
      .catch((e: unknown) => e)) as OffstageError;
    expect(refused.code).toBe("STORE_LOCKED");
    expect(refused.message).toContain(`offstage unlock ${path}`);
    expect(await inspectedHolder(path)).toMatchObject({ host: "elsewhere", holder: "unknown" });

    const run = offstage("unlock", path);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(
      `cleared: ${path} was held by pid 7 on host elsewhere since 1970-01-01T00:00:00.000Z`,
    );
    expect(holderRows(path)).toEqual([]);

    const runtime = runtimeOn(path);
    await runtime.start();
    const again = await runtime.session("s", { agent: "f" }).send("second").result({ timeoutMs: 5_000 });
    expect(again.status).toBe("completed");
    expect(await runtime.stop()).toBe("clean");
  });

  it("refuses while a runtime in another process holds the file; clears at once after that process is SIGKILLed", async () => {
    const path = await storeFile();
    const child = await holder(path);
    expect(await inspectedHolder(path)).toMatchObject({ pid: child.pid, holder: "live" });
    const refused = await unlock(path);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("[STORE_LOCKED]");
    expect(refused.err).toContain(`pid ${child.pid}`);
    expect(holderRows(path)).toEqual([expect.objectContaining({ pid: child.pid })]);

    child.kill("SIGKILL");
    await once(child, "exit");
    expect(await inspectedHolder(path)).toMatchObject({ pid: child.pid, holder: "dead" });
    const cleared = await unlock(path);
    expect(cleared).toMatchObject({ code: 0, err: "" });
    expect(cleared.out).toContain(`was held by pid ${child.pid}`);
    expect(await inspectedHolder(path)).toBeUndefined();
  });

  it("refuses while a runtime of this process holds the file, which runs on unharmed", async () => {
    const path = await storeFile();
    const runtime = runtimeOn(path);
    await runtime.start();
    const refused = await unlock(path);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`[STORE_LOCKED]`);
    expect(refused.err).toContain(`pid ${process.pid}`);
    const handle = runtime.session("s", { agent: "f" }).send("during");
    expect((await handle.result({ timeoutMs: 5_000 })).status).toBe("completed");
    expect(await handle.stored()).toBe("durable");
    expect(await runtime.stop()).toBe("clean");
  });

  it("a store nobody holds: nothing to clear; a missing file is refused and not created", async () => {
    const path = await storeFile();
    expect(await unlock(path)).toEqual({
      code: 0,
      out: `${path} is not locked: nothing to clear\n`,
      err: "",
    });
    const missing = join(path, "..", "missing.db");
    const refused = await unlock(missing);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("[STORE_NOT_SQLITE]");
    expect(existsSync(missing)).toBe(false);
  });
});
