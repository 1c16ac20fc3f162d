/**
 * `offstage inspect` on real SQLite store files: a live store (a runtime holds it, a turn runs,
 * input waits), a stopped one with work left behind (queued with no turn, a completion held for
 * confirmation), every file it must refuse with a clear error, and proof that it never writes — the
 * file's bytes are unchanged and nothing is created beside it. One test runs the real command line.
 */
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type InspectReport, runInspect } from "../../src/cli/commands/inspect.js";
import { createRuntime, type ModelRequest, type Runtime, silentLogger } from "../../src/index.js";
import { createSqliteStore } from "../../src/store/sqlite/index.js";
import { APPLICATION_ID } from "../../src/store/sqlite/migrations.js";
import { createScriptedModel } from "../../src/testing/index.js";
import { freshPath, removeFiles, sha256, siblings } from "../store/sqlite-files.js";
import { deferred } from "../support/async.js";
import { text } from "../support/models.js";

/** Waits on the wall clock: these flows cross real commits, which a loaded machine slows down. */
async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

const runtimes: Runtime[] = [];
/** What a "block" input waits for; fresh for each test. */
let gate = deferred<string>();

beforeEach(() => {
  gate = deferred<string>();
});

afterEach(async () => {
  for (const runtime of runtimes.splice(0)) {
    await runtime.stop({ timeoutMs: 50 });
    await runtime[Symbol.asyncDispose]();
  }
  removeFiles();
});

/** A runtime on `path`: `f` answers at once unless told to "block"; `lead` is a model for children. */
function runtimeOn(path: string, extra: { staleAfterMs?: number } = {}): Runtime {
  const blocked = gate.promise;
  const lead = createScriptedModel((request: ModelRequest) => {
    const last = request.prompt[request.prompt.length - 1]!;
    return text(last.role === "user" && JSON.stringify(last).includes("sub task") ? "child done" : "ok");
  });
  const runtime = createRuntime({
    store: createSqliteStore({ path, durability: "normal" }),
    logger: silentLogger,
    agents: {
      f: { run: async (input) => (input === "block" ? blocked : `did ${String(input)}`) },
      lead: { model: lead },
    },
    delegation: extra.staleAfterMs === undefined ? {} : { staleAfterMs: extra.staleAfterMs },
  });
  runtimes.push(runtime);
  return runtime;
}

/** Runs the real command line (`src/cli/main.ts` under Node's type stripping). */
function offstage(...args: string[]) {
  const root = join(import.meta.dirname, "..", "..");
  const hook = join(root, "test/crash/ts-hook.ts");
  return spawnSync(process.execPath, ["--import", hook, join(root, "src/cli/main.ts"), ...args], {
    encoding: "utf8",
    timeout: 30_000,
  });
}

/** A store file whose runtime ran one turn of `session` and stopped. */
async function storeWithOneTurn(session: string): Promise<string> {
  const path = freshPath();
  const runtime = runtimeOn(path);
  await runtime.start();
  await runtime.session(session, { agent: "f" }).send("x").result();
  await runtime.stop();
  await runtime[Symbol.asyncDispose]();
  return path;
}

async function inspect(target: string, options: Partial<Parameters<typeof runInspect>[0]> = {}) {
  let out = "";
  let err = "";
  const sink = (write: (s: string) => void) =>
    ({
      write: (s: string) => {
        write(s);
        return true;
      },
    }) as never;
  const code = await runInspect({
    target,
    json: true,
    out: sink((s) => {
      out += s;
    }),
    err: sink((s) => {
      err += s;
    }),
    busyTimeoutMs: 100,
    ...options,
  });
  return {
    code,
    out,
    err,
    report: code === 0 && options.json !== false ? (JSON.parse(out) as InspectReport) : undefined,
  };
}

describe("offstage inspect", () => {
  it("reads a live store without writing: sessions, a running turn, waiting input, delegations, stuck work", async () => {
    const path = freshPath();
    const runtime = runtimeOn(path);
    await runtime.start();
    await runtime.session("s1", { agent: "f" }).send("quick").result();
    const busy = runtime.session("busy", { agent: "f" });
    const running = busy.send("block");
    await until(() => running.status === "running", "the blocked turn");
    const waiting = [busy.send("later 1"), busy.send("later 2")];
    const parent = runtime.session("p", { agent: "lead" });
    const sent = parent.delegate({ goal: "sub task" });
    expect(sent.status).toBe("dispatched");
    await until(() => runtime.delegations.list()[0]?.delivery === "delivered", "the delivery");
    await until(() => runtime.metrics().runningTurns === 1, "quiet");
    await Promise.all([running, ...waiting].map((h) => h.stored()));
    await runtime.session("s1").send("flush").result();

    const before = { db: sha256(path), wal: sha256(`${path}-wal`), files: siblings(path) };
    const later = Date.now() + 120_000;
    const { code, report, err } = await inspect(path, { nowMs: later });
    expect(err).toBe("");
    expect(code).toBe(0);
    expect({ db: sha256(path), wal: sha256(`${path}-wal`), files: siblings(path) }).toEqual(before);

    expect(report!.store).toMatchObject({
      kind: "sqlite",
      schemaVersion: 3,
      lock: { pid: process.pid, holder: "live" },
      inputs: { completed: 4, running: 1, queued: 2 },
      runningTurns: 1,
      delegations: { delivered: 1 },
    });
    const byId = new Map(report!.sessions!.map((s) => [s.id, s]));
    expect(byId.get("s1")).toMatchObject({
      agent: "f",
      state: "idle",
      inboxDepth: 0,
      lastTurn: { status: "completed" },
    });
    expect(byId.get("busy")).toMatchObject({
      state: "running",
      inboxDepth: 2,
      lastTurn: { status: "running" },
    });
    expect(report!.delegations).toEqual([
      expect.objectContaining({
        parentSessionId: "p",
        goal: "sub task",
        status: "completed",
        delivery: "delivered",
      }),
    ]);
    expect(report!.stuck.longRunning.map((t) => t.sessionId)).toEqual(["busy"]);
    expect(report!.stuck.queuedNoTurn).toEqual([]);

    const session = await inspect(path, { session: "busy" });
    expect(session.report!.session).toMatchObject({
      session: { id: "busy", state: "running" },
      liveInputs: [
        { status: "running", policy: "enqueue" },
        { status: "queued", id: waiting[0]!.id },
        { status: "queued", id: waiting[1]!.id },
      ],
    });
    const child = report!.delegations![0]!.childSessionId;
    const childDetail = await inspect(path, { session: child });
    expect(childDetail.report!.session!.history).toEqual([
      expect.objectContaining({ role: "user" }),
      { role: "assistant", content: [{ type: "text", text: "child done" }] },
    ]);
    const queued = await inspect(path, { inputs: "queued" });
    expect(queued.report!.inputs!.items.map((i) => i.id)).toEqual(waiting.map((h) => h.id));
    expect((await inspect(path, { session: "nobody" })).code).toBe(2);

    const human = await inspect(path, { json: false, nowMs: later });
    expect(human.out).toMatch(/^store {6}.+ \(sqlite, schema 3\)$/m);
    expect(human.out).toMatch(/^held by {4}pid \d+ on .+ \(live\)$/m);
    expect(human.out).toMatch(/^ {2}busy +f +running +2 /m);
    expect(human.out).toContain("turns running longer (1):");
    expect({ db: sha256(path), files: siblings(path) }).toEqual({ db: before.db, files: before.files });
    gate.resolve("unblocked");
  });

  it("a stopped store: input queued with no turn to run it, then a completion held at the next start", async () => {
    const path = freshPath();
    let runtime = runtimeOn(path);
    await runtime.start();
    const parent = runtime.session("p2", { agent: "f" });
    const blocked = parent.send("block");
    await until(() => blocked.status === "running", "the parent's turn");
    expect(parent.delegate({ goal: "sub task", agent: "lead" }).status).toBe("dispatched");
    await until(() => runtime.delegations.list()[0]?.delivery === "pending", "the completion");
    // The blocked turn ignores its abort: the stop gives up on it at once.
    await runtime.stop({ timeoutMs: 50 });
    await runtime[Symbol.asyncDispose]();

    const files = siblings(path);
    const before = sha256(path);
    const stopped = await inspect(path, { nowMs: Date.now() + 120_000 });
    expect(stopped.report!.store.lock).toBeUndefined();
    expect(stopped.report!.stuck.queuedNoTurn).toEqual([
      expect.objectContaining({ sessionId: "p2", status: "queued", delegationId: expect.any(String) }),
    ]);
    expect(stopped.report!.store.delegations).toEqual({ pending: 1 });
    // Nobody had the file open: it was read as immutable, and nothing appeared beside it.
    expect(sha256(path)).toBe(before);
    expect(siblings(path)).toEqual(files);

    await new Promise((resolve) => setTimeout(resolve, 5));
    runtime = runtimeOn(path, { staleAfterMs: 1 });
    await runtime.start();
    expect(runtime.delegations.pendingStale()).toHaveLength(1);
    await runtime.stop();
    await runtime[Symbol.asyncDispose]();
    const held = await inspect(path);
    expect(held.report!.held).toEqual([expect.objectContaining({ delivery: "held", goal: "sub task" })]);
    const human = await inspect(path, { json: false });
    expect(human.out).toContain("HELD COMPLETIONS (1)");
    expect(human.out).toContain("deliverStale(id)");
  });

  it("refuses what it cannot read, with a clear error, and changes nothing", async () => {
    const missing = join(freshPath(), "..", "missing.db");
    const r1 = await inspect(missing);
    expect(r1).toMatchObject({ code: 1, out: "" });
    expect(r1.err).toMatch(/\[STORE_NOT_SQLITE\].*there is no such file/);
    expect(existsSync(missing)).toBe(false);

    const textFile = freshPath();
    writeFileSync(textFile, "not a database at all, just some text that is long enough ".repeat(4));
    expect((await inspect(textFile)).err).toMatch(/\[STORE_NOT_SQLITE\]/);

    const other = freshPath();
    const db = new DatabaseSync(other);
    db.exec("CREATE TABLE notes (x TEXT)");
    db.close();
    const otherHash = sha256(other);
    expect((await inspect(other)).err).toMatch(/\[STORE_NOT_OFFSTAGE\]/);
    expect(sha256(other)).toBe(otherHash);

    const newer = freshPath();
    const n = new DatabaseSync(newer);
    n.exec(`PRAGMA application_id = ${APPLICATION_ID}; PRAGMA user_version = 99; CREATE TABLE t (x)`);
    n.close();
    const newerHash = sha256(newer);
    expect((await inspect(newer)).err).toMatch(/\[STORE_TOO_NEW\].*schema 99/);
    expect(sha256(newer)).toBe(newerHash);

    const schemaOnFile = await inspect(newer, { schema: "offstage" });
    expect(schemaOnFile.err).toMatch(/\[INVALID_ARGUMENT\].*--schema/);
  });

  it("a store another connection holds exclusively is reported as locked", async () => {
    const path = await storeWithOneTurn("s");
    const holder = new DatabaseSync(path);
    try {
      holder.exec("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; CREATE TABLE lockme (x); ");
      const locked = await inspect(path);
      expect(locked.code).toBe(1);
      expect(locked.err).toMatch(/\[STORE_LOCKED\].*locked/);
    } finally {
      holder.exec("ROLLBACK");
      holder.close();
    }
  });

  it("runs as `offstage inspect <file> --json` from the command line", async () => {
    const path = await storeWithOneTurn("cli");
    const run = offstage("inspect", path, "--json");
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect((JSON.parse(run.stdout) as InspectReport).sessions!.map((s) => s.id)).toEqual(["cli"]);
    const bad = offstage("inspect", path, "--limit", "0");
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/must be a positive integer; got "0"/);
  });
});
