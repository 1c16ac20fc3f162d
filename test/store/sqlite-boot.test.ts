/**
 * The SQLite store's boot chain: the gate that keeps a second live runtime off a file (tested with
 * real second processes, a worker thread and a second runtime in this process), the takeover of a
 * dead holder's file, and the bad files it refuses — each with its own
 * `BootError` code, and each left byte for byte as it was.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { afterEach, describe, expect, it } from "vitest";
import { BootError, type OffstageError } from "../../src/index.js";
import { createSqliteStore, type SqliteStoreOptions } from "../../src/store/sqlite/index.js";
import { SCHEMA_VERSION } from "../../src/store/sqlite/migrations.js";
import { missingSqliteFeatures } from "../../src/store/sqlite/open-database.js";
import { lockIsLive } from "../../src/store/sqlite/store-lock.js";
import { eventually } from "../support/async.js";
import { firstLine, keepChild, killChildren } from "../support/child-processes.js";
import { freshDir, freshPath, removeFiles, sha256, siblings } from "./sqlite-files.js";
import { disposeRuntimes, runtimeOn } from "./sqlite-runtimes.js";

const HOOK = join(import.meta.dirname, "..", "crash", "ts-hook.ts");
const HOLDER = join(import.meta.dirname, "lock-holder.ts");
/** The unprivileged user of Debian and most Linux systems. */
const NOBODY = { uid: 65534, gid: 65534 };
/** As root, the unwritable-folder test needs a checkout that nobody may read (a clone in /root is not). */
const nobodyReadsCheckout =
  process.getuid?.() !== 0 ||
  spawnSync(process.execPath, ["-e", `require("node:fs").accessSync(${JSON.stringify(HOLDER)})`], NOBODY)
    .status === 0;

afterEach(async () => {
  await disposeRuntimes();
  await killChildren();
  removeFiles();
});

/** The `BootError` that `starting` rejects with (the test fails if it resolves or throws another). */
async function bootError(starting: Promise<unknown>): Promise<OffstageError> {
  const error = await starting.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BootError);
  return error as OffstageError;
}

/** Starts a runtime on `path` expecting a `BootError`, and returns it. */
function runtimeRefusal(path: string): Promise<OffstageError> {
  return bootError(runtimeOn(path).start());
}

/** Opens a store on `path` expecting a `BootError`, and returns it. */
function refusal(path: string, options: SqliteStoreOptions = {}): Promise<OffstageError> {
  return bootError(createSqliteStore({ path, ...options }).open());
}

/**
 * Starts `lock-holder.ts` on `path` and resolves with its first line of output; `as` runs it as
 * another user (this process must be root).
 */
async function holder(
  path: string,
  {
    as,
    runtime = false,
    pidNamespace = false,
  }: { as?: { uid: number; gid: number }; runtime?: boolean; pidNamespace?: boolean } = {},
): Promise<{ child: ChildProcess; line: string }> {
  const node = [process.execPath, "--import", HOOK, HOLDER, path, ...(runtime ? ["runtime"] : [])];
  // A PID namespace of its own, as a container has: the holder runs as pid 1 there, and dies with
  // `unshare` (SIGKILL), as a container's processes die with it.
  const [command, ...args] = pidNamespace
    ? ["unshare", "--pid", "--fork", "--kill-child=SIGKILL", ...node]
    : node;
  const child = spawn(command!, args, {
    stdio: ["ignore", "pipe", "inherit"],
    ...as,
  });
  keepChild(child);
  return { child, line: await firstLine(child) };
}

/** A real Offstage file with some data in it, closed cleanly. */
async function offstageFile(): Promise<string> {
  const path = freshPath();
  const store = createSqliteStore({ path });
  await store.open();
  store.createSession({ id: "s1", agent: "a", createdAtMs: 1 });
  for (let seq = 1; seq <= 200; seq++) {
    store.accept({
      id: `i${seq}`,
      sessionId: "s1",
      seq,
      payload: "x".repeat(200),
      policy: "enqueue",
      acceptedAtMs: seq,
    });
  }
  await store.close();
  return path;
}

describe("boot gate: one live runtime per file, by a lock the OS drops with its holder", () => {
  it("a live holder in another process → STORE_LOCKED naming its pid, host and start time", async () => {
    const path = freshPath();
    const { child, line } = await holder(path, { runtime: true });
    expect(line).toBe("ready");
    const error = await runtimeRefusal(path);
    expect(error.code).toBe("STORE_LOCKED");
    expect(error.message).toContain(`pid ${child.pid} on host ${hostname()}, since 20`);
    expect(error.message).toContain(`whose lock on ${path}-lock is live`);
    expect(error.details).toMatchObject({ pid: child.pid, host: hostname(), live: true });
  });

  it("a holder killed with SIGKILL: the file opens at once, no wait and no clean-up", async () => {
    const path = freshPath();
    const { child } = await holder(path, { runtime: true });
    child.kill("SIGKILL");
    await once(child, "exit");
    const runtime = runtimeOn(path);
    await runtime.start();
    await runtime.session("s", { agent: "f" }).send("after").result({ timeoutMs: 5_000 });
    const second = await refusal(path);
    expect(second.message).toContain(`pid ${process.pid}`);
    expect(await runtime.stop()).toBe("clean");
  });

  it("a holder whose row says it is this very process, but which died, is taken over (pid 1 in a new container)", async () => {
    // A container that restarts runs its runtime as pid 1 again, on the same host name: the row of
    // the dead one then names a pid that is alive (this one). Only the lock decides.
    const path = await offstageFile();
    const db = new DatabaseSync(path);
    db.prepare("INSERT INTO store_lock (id, token, pid, host, since_ms) VALUES (1, 'dead', ?, ?, 0)").run(
      process.pid,
      hostname(),
    );
    db.close();
    const store = createSqliteStore({ path });
    await store.open();
    await store.close();
  });

  it("two runtimes in PID namespaces of their own, both pid 1 on one host (two containers sharing the file): the second is refused", async () => {
    const path = freshPath();
    const first = await holder(path, { runtime: true, pidNamespace: true });
    expect(first.line, "the holder runs under `unshare --pid`, which needs root").toBe("ready");
    const second = await holder(path, { runtime: true, pidNamespace: true });
    expect(second.line).toBe("refused STORE_LOCKED");
    expect((await runtimeRefusal(path)).message).toContain(`pid 1 on host ${hostname()}`);
    first.child.kill("SIGKILL");
    await once(first.child, "exit");
    // The namespace's pid 1 gets its SIGKILL from the kernel as `unshare` dies: the lock goes with it.
    // A killed process dies in its own time.
    await eventually(() => lockIsLive(path) === false, "the killed holder's lock to go", 10_000);
    const third = await holder(path, { runtime: true, pidNamespace: true });
    expect(third.line).toBe("ready");
  });

  it("two processes booting at once on a new file: exactly one wins", async () => {
    const path = freshPath();
    const lines = (await Promise.all([holder(path), holder(path)])).map((h) => h.line).sort();
    expect(lines).toEqual(["ready", "refused STORE_LOCKED"]);
  });

  it("a second runtime in this process → BootError STORE_LOCKED naming this process; stop() releases the file", async () => {
    const path = freshPath();
    const first = runtimeOn(path);
    await first.start();
    const error = await runtimeRefusal(path);
    expect(error.code).toBe("STORE_LOCKED");
    expect(error.message).toContain(`pid ${process.pid} on host ${hostname()}`);
    expect(await first.stop()).toBe("clean");
    const second = runtimeOn(path);
    await second.start();
    await second.session("s", { agent: "f" }).send("x").result({ timeoutMs: 5_000 });
    expect(await second.stop()).toBe("clean");
  });

  it("a runtime in a worker_threads worker on the file the main thread holds is refused; the main thread's store is unharmed", async () => {
    const path = freshPath();
    const main = runtimeOn(path);
    await main.start();
    const session = main.session("main", { agent: "f" });
    const before = [session.send("a"), session.send("b")];
    const worker = new Worker(new URL("./lock-worker.mjs", import.meta.url), {
      workerData: {
        path,
        hook: pathToFileURL(HOOK).href,
        src: new URL("../../src/index.ts", import.meta.url).href,
        sqlite: new URL("../../src/store/sqlite/index.ts", import.meta.url).href,
      },
    });
    const [answer] = (await once(worker, "message")) as [
      { started: boolean; code?: string; message?: string; details?: Record<string, unknown> },
    ];
    await once(worker, "exit");
    expect(answer).toMatchObject({ started: false, code: "STORE_LOCKED" });
    expect(answer.message).toContain(`pid ${process.pid} on host ${hostname()}`);
    const after = [session.send("c"), session.send("d")];
    for (const handle of [...before, ...after]) {
      expect((await handle.result({ timeoutMs: 5_000 })).status).toBe("completed");
      expect(await handle.stored()).toBe("durable");
    }
    expect(await main.stop()).toBe("clean");
    const db = new DatabaseSync(path, { readOnly: true });
    const rows = db.prepare("SELECT session_id, status, count(*) AS n FROM inputs GROUP BY 1, 2").all();
    db.close();
    expect(rows).toEqual([{ session_id: "main", status: "completed", n: 4 }]);
  });

  it("a second store in this process is refused until the first closes", async () => {
    const path = freshPath();
    const first = createSqliteStore({ path });
    await first.open();
    expect((await refusal(path)).code).toBe("STORE_LOCKED");
    await first.close();
    const second = createSqliteStore({ path });
    await second.open();
    await second.close();
  });

  it("a store dropped without close (as by kill -9) leaves a stale lock the next open takes over", async () => {
    const path = freshPath();
    const first = createSqliteStore({ path });
    await first.open();
    first.crash();
    const second = createSqliteStore({ path });
    await second.open();
    await second.close();
  });

  it("a holder on another host is never taken over: STORE_LOCKED names that host and the unlock command", async () => {
    const path = await offstageFile();
    const db = new DatabaseSync(path);
    db.prepare(
      "INSERT INTO store_lock (id, token, pid, host, since_ms) VALUES (1, 'x', 1, 'elsewhere', 0)",
    ).run();
    db.close();
    const error = await refusal(path);
    expect(error.code).toBe("STORE_LOCKED");
    expect(error.message).toContain("pid 1 on host elsewhere, since 1970-01-01T00:00:00.000Z");
    expect(error.message).toContain(`run: offstage unlock ${path}`);
    expect(error.details).toMatchObject({
      host: "elsewhere",
      live: false,
      unlock: `offstage unlock ${path}`,
    });
    // Refused without a trace: the row is still there, and the lock is free for the next try.
    expect((await refusal(path)).message).toContain("host elsewhere");
  });
});

describe("bad files are refused, each with its own code, and left untouched", () => {
  async function untouched(path: string, code: string, options: SqliteStoreOptions = {}): Promise<string> {
    const before = { hash: sha256(path), files: siblings(path) };
    const error = await refusal(path, options);
    expect(error.code).toBe(code);
    expect(error.message).toContain(path);
    expect(sha256(path)).toBe(before.hash);
    expect(siblings(path)).toEqual(before.files);
    return error.message;
  }

  it("a text file → STORE_NOT_SQLITE", async () => {
    const path = freshPath();
    writeFileSync(path, "these are my notes, not a database\n".repeat(20));
    expect(await untouched(path, "STORE_NOT_SQLITE")).toContain("is not a SQLite database");
  });

  it("a file shorter than SQLite's header → STORE_NOT_SQLITE", async () => {
    const path = freshPath();
    writeFileSync(path, "SQLite format 3\u0000");
    await untouched(path, "STORE_NOT_SQLITE");
  });

  it("a damaged first page → STORE_CORRUPT", async () => {
    const path = await offstageFile();
    const bytes = readFileSync(path);
    for (let i = 100; i < 4096; i++) bytes[i] = (i * 13) & 0xff;
    writeFileSync(path, bytes);
    expect(await untouched(path, "STORE_CORRUPT")).toContain("is damaged");
  });

  it("a damaged page boot does not read → STORE_CORRUPT with checkIntegrity", async () => {
    const path = await offstageFile();
    const bytes = readFileSync(path);
    for (let i = bytes.length - 4096; i < bytes.length; i++) bytes[i] = (i * 7) & 0xff;
    writeFileSync(path, bytes);
    await untouched(path, "STORE_CORRUPT", { checkIntegrity: true });
  });

  it("a schema newer than this code → STORE_TOO_NEW", async () => {
    const path = await offstageFile();
    const db = new DatabaseSync(path);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    const message = await untouched(path, "STORE_TOO_NEW");
    expect(message).toContain(`schema version ${SCHEMA_VERSION + 1}`);
    expect(message).toContain(`up to ${SCHEMA_VERSION}`);
  });

  it("another application's SQLite database → STORE_NOT_OFFSTAGE", async () => {
    const path = freshPath();
    const db = new DatabaseSync(path);
    db.exec("CREATE TABLE recipes (name TEXT); INSERT INTO recipes VALUES ('bread')");
    db.close();
    expect(await untouched(path, "STORE_NOT_OFFSTAGE")).toContain("another application");
  });

  it("a path under a file, or a directory → STORE_UNWRITABLE", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "plain"), "x");
    expect((await refusal(join(dir, "plain", "store.db"))).code).toBe("STORE_UNWRITABLE");
    mkdirSync(join(dir, "folder.db"));
    const error = await refusal(join(dir, "folder.db"));
    expect(error.code).toBe("STORE_UNWRITABLE");
    expect(error.message).toContain("is a directory");
  });

  it("a directory where the lock file goes → STORE_UNWRITABLE naming it", async () => {
    const path = await offstageFile();
    rmSync(`${path}-lock`);
    mkdirSync(`${path}-lock`);
    const message = await untouched(path, "STORE_UNWRITABLE");
    expect(message).toContain(`its lock file ${path}-lock cannot be opened and locked`);
  });

  it.runIf(nobodyReadsCheckout)(
    `a folder without write permission → STORE_UNWRITABLE${nobodyReadsCheckout ? "" : " (skipped: running as root in a checkout the user nobody cannot read)"}`,
    async () => {
      const dir = freshDir();
      const path = join(dir, "store.db");
      if (process.getuid?.() !== 0) {
        chmodSync(dir, 0o500);
        try {
          expect((await refusal(path)).code).toBe("STORE_UNWRITABLE");
        } finally {
          chmodSync(dir, 0o700);
        }
        return;
      }
      // Root may write anywhere, so the store is opened by a second process running as nobody, in a
      // folder root owns and others may only enter.
      chmodSync(dir, 0o755);
      const { line } = await holder(path, { as: NOBODY });
      expect(line).toBe("refused STORE_UNWRITABLE");
      expect(siblings(path)).toEqual([]);
    },
  );
});

describe("the node:sqlite it needs", () => {
  it("this Node's has everything; one without isTransaction or setReturnArrays is named", () => {
    const db = new DatabaseSync(":memory:");
    expect(missingSqliteFeatures(db, db.prepare("SELECT 1"))).toEqual([]);
    db.close();
    // Shaped as Node 22.13's: a connection without the getter, a statement without the method.
    expect(missingSqliteFeatures({}, {})).toEqual([
      "DatabaseSync#isTransaction",
      "StatementSync#setReturnArrays",
    ]);
  });
});

describe("paths and options", () => {
  it("the default path is ./.offstage/offstage.db; a missing folder is created", async () => {
    expect(createSqliteStore().path).toBe(join(process.cwd(), ".offstage", "offstage.db"));
    const path = join(freshDir(), "a", "b", "store.db");
    const store = createSqliteStore({ path });
    await store.open();
    await store.close();
    expect(siblings(path)).toEqual(["store.db", "store.db-lock"]);
  });

  it.each([
    [{ durability: "fast" }, 'durability must be one of full, normal; got "fast" (string)'],
    [
      { groupCommitMs: -1 },
      "groupCommitMs must be a number of milliseconds from 0 to 2147483647; got -1 (number)",
    ],
    [{ path: "" }, 'path must be a non-empty string; got "" (string)'],
    [
      { busyTimeoutMs: 1.5 },
      "busyTimeoutMs must be an integer number of milliseconds from 0 to 2147483647; got 1.5 (number)",
    ],
    [{ checkIntegrity: "yes" }, 'checkIntegrity must be a boolean; got "yes" (string)'],
  ])("bad options %j → BootError INVALID_OPTIONS quoting the value", (options, message) => {
    expect(() => createSqliteStore(options as SqliteStoreOptions)).toThrow(
      expect.objectContaining({ code: "INVALID_OPTIONS", message: expect.stringContaining(message) }),
    );
  });
});
