/**
 * `offstage inspect` on real SQLite store files: a live store (a runtime holds it, a turn runs,
 * input waits), a stopped one with work left behind (queued with no turn, a completion held for
 * confirmation), every file it must refuse with a clear error, and proof that it never writes — the
 * file's bytes are unchanged and nothing is created beside it. One test runs the real command line.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { InspectReport } from "../../src/cli/inspect/render-report.js";
import { createRuntime, type Runtime, silentLogger } from "../../src/index.js";
import { createSqliteStore } from "../../src/store/sqlite/index.js";
import { APPLICATION_ID, SCHEMA_VERSION } from "../../src/store/sqlite/migrations.js";
import { freshPath, removeFiles, sha256, siblings } from "../store/sqlite-files.js";
import { deferred, eventually } from "../support/async.js";
import {
  expectFilled,
  fillStore,
  inspectAgents,
  inspect as inspectWith,
  offstage,
} from "./inspect-harness.js";

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
  const runtime = createRuntime({
    store: createSqliteStore({ path, durability: "normal" }),
    logger: silentLogger,
    agents: inspectAgents(gate.promise),
    delegation: extra.staleAfterMs === undefined ? {} : { staleAfterMs: extra.staleAfterMs },
  });
  runtimes.push(runtime);
  return runtime;
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

/** Waits at most 100 ms for a connection that holds the file exclusively. */
function inspect(target: string, options: Parameters<typeof inspectWith>[1] = {}) {
  return inspectWith(target, { busyTimeoutMs: 100, ...options });
}

describe("offstage inspect", () => {
  it("reads a live store without writing: sessions, a running turn, waiting input, delegations, stuck work", async () => {
    const path = freshPath();
    const runtime = runtimeOn(path);
    await runtime.start();
    const waiting = await fillStore(runtime);

    const before = { db: sha256(path), wal: sha256(`${path}-wal`), files: siblings(path) };
    const later = Date.now() + 120_000;
    const { code, report, err } = await inspect(path, { nowMs: later });
    expect(err).toBe("");
    expect(code).toBe(0);
    expect({ db: sha256(path), wal: sha256(`${path}-wal`), files: siblings(path) }).toEqual(before);

    await expectFilled(report!, (o) => inspect(path, o), waiting, {
      store: { kind: "sqlite", schemaVersion: SCHEMA_VERSION, lock: { pid: process.pid, holder: "live" } },
      session: {},
    });

    const human = await inspect(path, { json: false, nowMs: later });
    expect(human.out).toMatch(new RegExp(`^store {6}.+ \\(sqlite, schema ${SCHEMA_VERSION}\\)$`, "m"));
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
    await eventually(() => blocked.status === "running", "the parent's turn");
    expect(parent.delegate({ goal: "sub task", agent: "lead" }).status).toBe("dispatched");
    await eventually(() => runtime.delegations.list()[0]?.delivery === "pending", "the completion");
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
