/**
 * Faults between a runtime and its PostgreSQL server. The connection lost mid-run goes through a
 * TCP proxy the test cuts, so that the shared server is left alone: while it is down, `send()`
 * refuses with STORE_UNAVAILABLE, the running turn's end waits, and once the connection is back
 * every accepted input ends exactly once. The server ending the store's connections
 * (`pg_terminate_backend`, what a restart does to its clients) is the default stand-in for a
 * restart; with `OFFSTAGE_PG_RESTART=1` (which `.ci/run` sets for this file, run last) the same
 * case restarts the real server with `pg_ctlcluster`.
 */
import { execFileSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { createRuntime, isOffstageError, type Runtime, type TurnHandle } from "../../src/index.js";
import { createPostgresStore } from "../../src/store/postgres/index.js";
import { deferred, eventually, polled } from "../support/async.js";
import { onServer } from "./on-server.js";
import { PG_URL, sql } from "./server.js";
import { startProxy, type TcpProxy } from "./tcp-proxy.js";

const server = onServer();

const proxies: TcpProxy[] = [];

// Runs before the fixture disposes the test's runtime (after-hooks run last-registered first): a
// runtime that cannot reach the server at its stop drops what it had not committed.
afterEach(async () => {
  for (const proxy of proxies.splice(0)) await proxy.restore();
});

const gates = new Map<string, Promise<void>>();
const runs = new Map<string, number>();

async function start(
  url: string,
  processId: string,
  schema = server.schema("flt"),
  pollIntervalMs = 50,
): Promise<{ runtime: Runtime; schema: string }> {
  const runtime = createRuntime({
    agents: {
      echo: {
        run: async (input: unknown) => {
          runs.set(String(input), (runs.get(String(input)) ?? 0) + 1);
          await gates.get(String(input));
          return `done ${String(input)}`;
        },
      },
    },
    store: createPostgresStore({ connectionString: url, schema, processId, readTimeoutMs: 2_000 }),
    pollIntervalMs,
  });
  server.keep(runtime);
  await runtime.start();
  return { runtime, schema };
}

/** A runtime whose every connection to the server goes through a proxy the test can cut. */
async function startBehindProxy(
  processId: string,
  pollIntervalMs?: number,
): Promise<{ proxy: TcpProxy; runtime: Runtime; schema: string }> {
  const proxy = await startProxy(5432);
  proxies.push(server.keep(proxy));
  const url = `postgres://postgres@127.0.0.1:${proxy.port}/test`;
  return { proxy, ...(await start(url, processId, undefined, pollIntervalMs)) };
}

/** Sends until the store refuses with STORE_UNAVAILABLE; returns what it accepted meanwhile. */
async function sendUntilRefused(send: (n: number) => TurnHandle): Promise<TurnHandle[]> {
  const accepted: TurnHandle[] = [];
  for (let n = 0; n < 400; n++) {
    try {
      accepted.push(send(n));
    } catch (error) {
      if (isOffstageError(error, "STORE_UNAVAILABLE")) return accepted;
      throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error("send() never refused while the connection was down");
}

async function expectEveryInputOnce(schema: string, handles: readonly TurnHandle[]): Promise<void> {
  const results = await Promise.all(handles.map((h) => h.result({ timeoutMs: 15_000 })));
  expect(results.every((r) => r.status === "completed")).toBe(true);
  const rows = await sql<{ id: string; status: string }>(`SELECT id, status FROM "${schema}".inputs`);
  expect(rows.map((row) => row.id).sort()).toEqual(handles.map((h) => h.id).sort());
  expect(rows.every((row) => row.status === "completed")).toBe(true);
}

describe("postgres: faults", () => {
  it("connection lost mid-run: send() refuses, the running turn pauses and resumes, nothing accepted is lost", async () => {
    const { proxy, runtime, schema } = await startBehindProxy("faulty");
    const s = runtime.session("s", { agent: "echo" });
    const gate = deferred();
    gates.set("running", gate.promise);
    const running = s.send("running");
    const before = [s.send("queued 1"), s.send("queued 2")];
    await Promise.all([running, ...before].map((h) => h.stored()));
    // A new session's first turn begins once its row is in: it runs before the connection drops.
    await eventually(() => running.status === "running", "the first turn to run");
    await proxy.cut();
    const during = await sendUntilRefused((n) => s.send(`during ${n}`));
    // The turn ends while the connection is down: its end waits for the store, nothing settles.
    gate.resolve();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(running.status).toBe("running");
    await proxy.restore();
    await expectEveryInputOnce(schema, [running, ...before, ...during]);
    expect(runs.get("running")).toBe(1);
    // And the store takes input again.
    expect(await s.send("after").result({ timeoutMs: 5_000 })).toMatchObject({ status: "completed" });
  });

  it(process.env.OFFSTAGE_PG_RESTART === "1"
    ? "PostgreSQL restarted during a run (pg_ctlcluster): the runtime recovers by itself"
    : "the server ends the store's connections during a run (pg_terminate_backend, standing in for a restart): the runtime recovers by itself", async () => {
    const { runtime, schema } = await start(PG_URL, `outage-${process.pid}`);
    const s = runtime.session("s", { agent: "echo" });
    const gate = deferred();
    gates.set("long", gate.promise);
    const handles = [s.send("long"), s.send("next 1"), s.send("next 2")];
    await Promise.all(handles.map((h) => h.stored()));
    if (process.env.OFFSTAGE_PG_RESTART === "1") {
      const cluster = execFileSync("ls", ["/etc/postgresql"], { encoding: "utf8" }).trim().split("\n")[0]!;
      execFileSync("pg_ctlcluster", ["--skip-systemctl-redirect", cluster, "main", "restart"]);
    } else {
      await sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [
        `offstage outage-${process.pid}`,
      ]);
    }
    gate.resolve();
    const later: TurnHandle[] = [];
    for (let n = 0; later.length < 3 && n < 200; n++) {
      try {
        later.push(s.send(`later ${n}`));
      } catch (error) {
        if (!isOffstageError(error, "STORE_UNAVAILABLE")) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(later).toHaveLength(3);
    await expectEveryInputOnce(schema, [...handles, ...later]);
  }, 30_000);

  it("a stop whose server took the last commit but never answered reports that input in doubt; it runs after the next start", async () => {
    // No recovery poll: its claim's commit would be another COMMIT on the wire.
    const { proxy, runtime, schema } = await startBehindProxy("in-doubt", 60_000);
    const s = runtime.session("s", { agent: "echo" });
    const first = s.send("first");
    await first.result();
    // The commit of the next input reaches the server and commits there; its answer never comes.
    await proxy.deafenAtCommit();
    const doubtful = s.send("in doubt");
    await polled(
      async () => (await sql(`SELECT 1 FROM "${schema}".inputs WHERE id = $1`, [doubtful.id])).length === 1,
    );
    await proxy.cut();
    expect(await runtime.stop({ timeoutMs: 200 })).toBe("store_failed");
    expect([doubtful.poll()?.status, doubtful.poll()?.outcome.reason.code]).toEqual([
      "interrupted",
      "store_in_doubt",
    ]);
    await expect(doubtful.stored()).rejects.toMatchObject({ code: "STORE_UNAVAILABLE" });

    await proxy.restore();
    const again = await start(PG_URL, "in-doubt", schema);
    const found = [first, doubtful].map((h) => again.runtime.handle(h.id)!);
    expect(found.every((h) => h !== undefined)).toBe(true);
    await expectEveryInputOnce(schema, found);
  }, 30_000);

  it("stop() while the server does not answer returns by its deadline (store_failed) and settles every handle; the next start runs what was committed", async () => {
    const { proxy, runtime, schema } = await startBehindProxy("unanswered");
    const s = runtime.session("s", { agent: "echo" });
    const gate = deferred();
    gates.set("cut off", gate.promise);
    const handles = [s.send("cut off"), s.send("waiting")];
    await Promise.all(handles.map((h) => h.stored()));
    await eventually(() => handles[0]!.status === "running", "the first turn to run");
    await proxy.cut();
    // The turn ends while the server is gone: its end is written but never committed.
    gate.resolve();
    const stopped = runtime.stop({ timeoutMs: 200 });
    const outcome = await Promise.race([
      stopped,
      new Promise((resolve) => setTimeout(resolve, 10_000, "still stopping after 10 s")),
    ]);
    expect(outcome).toBe("store_failed");
    // Both were committed before the cut: they are kept, and say so.
    expect(handles.map((h) => [h.poll()?.status, h.poll()?.outcome.reason?.code])).toEqual([
      ["interrupted", "store_failed"],
      ["interrupted", "store_failed"],
    ]);

    await proxy.restore();
    const again = await start(PG_URL, "unanswered", schema);
    const found = handles.map((h) => again.runtime.handle(h.id)!);
    expect(found.every((h) => h !== undefined)).toBe(true);
    await expectEveryInputOnce(schema, found);
    // The first turn's end was dropped with the rest: it ran again, as after a crash.
    expect(runs.get("cut off")).toBe(2);
    expect(runs.get("waiting")).toBe(1);
  }, 30_000);
});
