/**
 * `offstage inspect <postgres-url>` on the real server (see test/postgres/server.ts: it fails with a
 * clear message when the server is missing, never skips), each test in a schema of its own: a live
 * runtime on the PostgreSQL store (a turn runs, input waits, a delegation was delivered), the leases
 * (holder, epoch, a process whose lease lapsed), every schema it must refuse, and proof that it never
 * writes — a checksum of every table of the schema is unchanged, and its connection is a read-only
 * snapshot. One test runs the real command line, one the README's command as written.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { openPostgresReader } from "../../src/cli/inspect/postgres-reader.js";
import type { InspectReport } from "../../src/cli/inspect/render-report.js";
import { createRuntime, type Runtime, silentLogger } from "../../src/index.js";
import { createPostgresStore } from "../../src/store/postgres/index.js";
import { SCHEMA_VERSION } from "../../src/store/postgres/migrations.js";
import type { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import { dropSchemas, PG_URL, requireServer, sql, uniqueSchema } from "../postgres/server.js";
import { deferred, eventually } from "../support/async.js";
import { expectFilled, fillStore, inspect, inspectAgents, offstage, ROOT } from "./inspect-harness.js";

beforeAll(requireServer);

const schemas: string[] = [];
const runtimes: Runtime[] = [];
let gate = deferred<string>();

afterEach(async () => {
  gate.resolve("released");
  for (const runtime of runtimes.splice(0)) {
    await runtime.stop({ timeoutMs: 50 }).catch(() => undefined);
    await runtime[Symbol.asyncDispose]().catch(() => undefined);
  }
  gate = deferred<string>();
});
afterAll(() => dropSchemas(schemas));

function freshSchema(): string {
  const schema = uniqueSchema("insp");
  schemas.push(schema);
  return schema;
}

/** A runtime on the PostgreSQL store: `f` answers at once unless told to "block"; `lead` has a model. */
function runtimeOn(
  schema: string,
  processId: string,
  leaseMs: number,
): { runtime: Runtime; store: PostgresStore } {
  const store = createPostgresStore({ connectionString: PG_URL, schema, processId, leaseMs });
  const runtime = createRuntime({
    store,
    logger: silentLogger,
    pollIntervalMs: 50,
    agents: inspectAgents(gate.promise),
  });
  runtimes.push(runtime);
  return { runtime, store };
}

/**
 * An md5 of every row of every table of the schema, by table — but `retention_marks`, which the live
 * runtime's retention sweep rewrites every round, about once a second.
 */
async function checksums(schema: string): Promise<Record<string, string>> {
  const tables = await sql<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_name <> 'retention_marks' ORDER BY table_name",
    [schema],
  );
  const out: Record<string, string> = {};
  for (const { table_name } of tables) {
    const [row] = await sql<{ sum: string }>(
      `SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS sum FROM "${schema}"."${table_name}" t`,
    );
    out[table_name] = row!.sum;
  }
  return out;
}

describe("offstage inspect on PostgreSQL", () => {
  it("reads a live store without writing: sessions and their leases, a running turn, waiting input, delegations", async () => {
    const schema = freshSchema();
    // A long lease: the heartbeat (every leaseMs / 3) does not rewrite the process row mid-test.
    const { runtime } = runtimeOn(schema, "inspect-a", 600_000);
    await runtime.start();
    const waiting = await fillStore(runtime);
    await new Promise((resolve) => setTimeout(resolve, 200));

    const before = await checksums(schema);
    expect(Object.keys(before)).toEqual(
      expect.arrayContaining(["sessions", "inputs", "turns", "history", "delegations", "processes"]),
    );
    const later = Date.now() + 120_000;
    const { code, report, err } = await inspect(PG_URL, { schema, nowMs: later });
    expect(err).toBe("");
    expect(code).toBe(0);
    expect(await checksums(schema)).toEqual(before);

    await expectFilled(report!, (o) => inspect(PG_URL, { schema, ...o }), waiting, {
      store: {
        kind: "postgres",
        location: `127.0.0.1:5432/test schema ${schema}`,
        schemaVersion: SCHEMA_VERSION,
        processes: [{ id: "inspect-a", pid: process.pid, alive: true, sessions: 4 }],
      },
      session: { lease: { owner: "inspect-a", epoch: expect.any(Number), expired: false } },
    });
    expect(report!.stuck.expiredLeases).toEqual([]);

    const human = await inspect(PG_URL, { schema, json: false, nowMs: later });
    expect(human.out).toMatch(
      new RegExp(
        `^store {6}127\\.0\\.0\\.1:5432/test schema \\S+ \\(postgres, schema ${SCHEMA_VERSION}\\)$`,
        "m",
      ),
    );
    expect(human.out).toMatch(/^processes {2}1 alive, 0 lapsed$/m);
    expect(human.out).toMatch(/^ {2}busy +f +running +2 +inspect-a +\d+ /m);
    expect(human.out).toContain("turns running longer (1):");
    expect(await checksums(schema)).toEqual(before);
  });

  it("reads one snapshot on a read-only connection, while the runtime goes on writing", async () => {
    const schema = freshSchema();
    const { runtime } = runtimeOn(schema, "inspect-b", 600_000);
    await runtime.start();
    await runtime.session("s", { agent: "f" }).send("one").result();
    const clients: pg.Client[] = [];
    const query = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      if (
        (this as unknown as { connectionParameters: { application_name?: string } }).connectionParameters
          .application_name === "offstage inspect" &&
        !clients.includes(this)
      )
        clients.push(this);
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query;
    let reader: Awaited<ReturnType<typeof openPostgresReader>>;
    try {
      reader = await openPostgresReader(PG_URL, { schema });
    } finally {
      pg.Client.prototype.query = query;
    }
    try {
      expect((await reader.overview()).inputs).toEqual({ completed: 1 });
      await runtime.session("s").send("two").result();
      await runtime.session("t", { agent: "f" }).send("three").result();
      // The reader still sees the store as it was when it opened.
      expect((await reader.overview()).inputs).toEqual({ completed: 1 });
      expect((await reader.sessions(10)).map((s) => s.id)).toEqual(["s"]);
      expect(clients).toHaveLength(1);
      const [client] = clients;
      expect((await client!.query("SHOW transaction_read_only")).rows[0]).toEqual({
        transaction_read_only: "on",
      });
      expect((await client!.query("SHOW transaction_isolation")).rows[0]).toEqual({
        transaction_isolation: "repeatable read",
      });
      await expect(client!.query(`DELETE FROM "${schema}".inputs`)).rejects.toMatchObject({ code: "25006" });
    } finally {
      await reader.close();
    }
    const [count] = await sql<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".inputs`);
    expect(Number(count!.n)).toBe(3);
  });

  it("shows a dead process's leases as lapsed, with the work it left", async () => {
    const schema = freshSchema();
    const { runtime, store } = runtimeOn(schema, "inspect-gone", 300);
    await runtime.start();
    const session = runtime.session("orphan", { agent: "f" });
    const running = session.send("block");
    await eventually(() => running.status === "running", "the blocked turn");
    await running.stored();
    const queued = session.send("after");
    await queued.stored();
    // Dropped as kill -9 drops it: nothing hands the leases back; they lapse after leaseMs.
    await store.abandon();
    await new Promise((resolve) => setTimeout(resolve, 600));

    const before = await checksums(schema);
    const later = Date.now() + 120_000;
    const { report, err } = await inspect(PG_URL, { schema, nowMs: later });
    expect(err).toBe("");
    expect(report!.store.processes).toEqual([
      expect.objectContaining({ id: "inspect-gone", alive: false, sessions: 1 }),
    ]);
    expect(report!.sessions).toEqual([
      expect.objectContaining({
        id: "orphan",
        state: "running",
        inboxDepth: 1,
        lease: expect.objectContaining({ owner: "inspect-gone", expired: true }),
      }),
    ]);
    expect(report!.stuck.expiredLeases!.map((s) => s.id)).toEqual(["orphan"]);
    expect(report!.stuck.longRunning.map((t) => t.sessionId)).toEqual(["orphan"]);
    const human = await inspect(PG_URL, { schema, json: false, nowMs: later });
    expect(human.out).toMatch(/^processes {2}0 alive, 1 lapsed$/m);
    expect(human.out).toContain("inspect-gone (pid");
    expect(human.out).toContain("lease lapsed");
    expect(human.out).toContain("sessions whose holder's lease lapsed (1)");
    expect(human.out).toMatch(/orphan +f +running +1 +inspect-gone \(lapsed\)/);
    expect(await checksums(schema)).toEqual(before);
  });

  it("refuses what it cannot read, with a clear error, and changes nothing", async () => {
    const unreachable = await inspect("postgres://someone:secret@127.0.0.1:1/test");
    expect(unreachable).toMatchObject({ code: 1, out: "" });
    expect(unreachable.err).toMatch(/\[STORE_UNREACHABLE\]: cannot reach PostgreSQL at 127\.0\.0\.1:1:/);
    expect(unreachable.err).not.toContain("secret");
    const malformed = await inspect("postgres://someone:secret@127.0.0.1:port/test");
    expect(malformed.err).toMatch(/\[INVALID_ARGUMENT\]: cannot inspect: not a valid PostgreSQL URL/);
    expect(malformed.err).not.toContain("secret");

    const missing = freshSchema();
    expect((await inspect(PG_URL, { schema: missing })).err).toMatch(
      new RegExp(`\\[STORE_SCHEMA_MISSING\\].*"${missing}".*127\\.0\\.0\\.1:5432.*no such schema`),
    );
    const [exists] = await sql("SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1", [missing]);
    expect(exists).toEqual({ n: 0 });

    const hostile = `x"; DROP SCHEMA "${missing}" CASCADE; --`;
    expect((await inspect(PG_URL, { schema: hostile })).err).toMatch(/\[STORE_SCHEMA_MISSING\]/);

    const foreign = freshSchema();
    await sql(
      `CREATE SCHEMA "${foreign}"; CREATE TABLE "${foreign}".notes (x TEXT); INSERT INTO "${foreign}".notes VALUES ('a')`,
    );
    const foreignSums = await checksums(foreign);
    expect((await inspect(PG_URL, { schema: foreign })).err).toMatch(
      /\[STORE_NOT_OFFSTAGE\].*no migrations table/,
    );
    expect(await checksums(foreign)).toEqual(foreignSums);

    const newer = freshSchema();
    const { runtime } = runtimeOn(newer, "inspect-newer", 600_000);
    await runtime.start();
    await runtime.stop();
    await sql(`INSERT INTO "${newer}".migrations (version, name) VALUES (99, 'from the future')`);
    const newerSums = await checksums(newer);
    expect((await inspect(PG_URL, { schema: newer })).err).toMatch(/\[STORE_TOO_NEW\].*version 99/);
    expect(await checksums(newer)).toEqual(newerSums);

    const unmigrated = freshSchema();
    await sql(
      `CREATE SCHEMA "${unmigrated}"; CREATE TABLE "${unmigrated}".migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
    );
    expect((await inspect(PG_URL, { schema: unmigrated })).err).toMatch(/\[STORE_UNSUPPORTED\].*version 0/);
  });

  it("runs as `offstage inspect <url> --schema <name> --json` from the command line, and as the README says", async () => {
    const schema = freshSchema();
    const { runtime } = runtimeOn(schema, "inspect-cli", 600_000);
    await runtime.start();
    await runtime.session("cli", { agent: "f" }).send("x").result();
    const run = offstage("inspect", PG_URL, "--schema", schema, "--json");
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout) as InspectReport;
    expect(report.sessions!.map((s) => [s.id, s.lease?.owner])).toEqual([["cli", "inspect-cli"]]);
    const gone = offstage("inspect", PG_URL, "--schema", `${schema}_none`);
    expect(gone.status).toBe(1);
    expect(gone.stderr).toMatch(/\[STORE_SCHEMA_MISSING\]/);

    // The README's command, as written, on the schema its PostgreSQL example uses.
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const line = readme.split("\n").find((l) => l.startsWith("npx offstage inspect postgres://"));
    expect(line, "README: an `npx offstage inspect postgres://...` line").toBeDefined();
    const args = line!
      .replace(/\s+#.*$/, "")
      .split(/\s+/)
      .slice(2);
    const target = args[1]!;
    const readmeSchema = args[args.indexOf("--schema") + 1]!;
    // What the README's example leaves there: a session of its agent `echo`.
    const example = createRuntime({
      agents: { echo: { run: async (input) => `echo ${String(input)}` } },
      store: createPostgresStore({ connectionString: PG_URL, schema: readmeSchema }),
      logger: silentLogger,
    });
    runtimes.push(example);
    await example.start();
    await example.session(`inspect-${process.pid}`, { agent: "echo" }).send("hello").result();
    await example.stop();
    expect(target).toBe(PG_URL);
    const asWritten = offstage(...args);
    expect(asWritten.stderr).toBe("");
    expect(asWritten.status).toBe(0);
    expect(asWritten.stdout).toContain(`(postgres, schema ${SCHEMA_VERSION})`);
    expect(asWritten.stdout).toContain(`inspect-${process.pid}`);
  });
});
