// A server for the serve benchmark, in its own process so that the load generator does not share
// its thread: `node serve-child.mjs offstage|floor <dir>` prints `READY <url>` once listening, its
// memory and CPU time (`MEMORY <json>`) on SIGUSR2, and exits on SIGTERM.
//   offstage  `offstage serve`'s app (startServer) on the SQLite store, durability "normal", an echo
//             function agent, the event log on;
//   floor     a bare Hono handler on @hono/node-server that parses the same body and inserts the same
//             row into the same table (Offstage's inputs table with its indexes) in SQLite (WAL,
//             synchronous NORMAL, one autocommit per request) before it answers 202: no runtime, no
//             auth, no validation beyond JSON.parse — the least any server of inputs can do.

import http from "node:http";
import { dirname, join } from "node:path";
import { constants, createHistogram, monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath, pathToFileURL } from "node:url";
import { serve } from "@hono/node-server";
import { Hono } from "hono";

export const TOKEN = "bench-token-0123456789abcdef";
const [system, dir] = process.argv.slice(2);

/** Starts the Offstage server with its database in `dir`; resolves with its URL, stop and stats. */
export async function startOffstage(dir) {
  // The build OFFSTAGE_DIST names (bench/run.mjs --clean-build sets it), else the work tree's dist/.
  const given = process.env.OFFSTAGE_DIST ?? new URL("../../dist/index.js", import.meta.url).href;
  const index = given.startsWith("file:") ? fileURLToPath(given) : given;
  const entry = (file) => pathToFileURL(join(dirname(index), file)).href;
  const { serveConfig } = await import(entry("server/index.js"));
  const { createSqliteStore } = await import(entry("store/sqlite/index.js"));
  const store = createSqliteStore({ path: join(dir, "offstage.db"), durability: "normal" });
  const served = await serveConfig({
    runtime: {
      agents: { echo: { run: async (input) => input } },
      store,
      // BENCH_EVENT_LOG=0: without the event log, to see what recording costs under load.
      eventLog: process.env.BENCH_EVENT_LOG !== "0",
      logger: { warn: () => {}, error: (fields, message) => console.error(message, fields) },
    },
    defaultAgent: "echo",
    port: 0,
    tokens: [{ token: TOKEN }],
  });
  return { url: served.server.url, stop: () => served.stop(), stats: () => store.stats() };
}

/** Starts the floor with its database in `dir`; resolves with its URL and stop. */
export async function startFloor(dir) {
  const db = new DatabaseSync(join(dir, "floor.db"));
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
  // Offstage's inputs table and its indexes (store/sqlite/migrations.ts, as migrated), so the row
  // and the index entries it makes are the same.
  db.exec(`CREATE TABLE inputs (id TEXT PRIMARY KEY, session_id TEXT NOT NULL, seq INTEGER NOT NULL UNIQUE,
    payload TEXT NOT NULL, policy TEXT NOT NULL, idempotency_key TEXT, accepted_at_ms INTEGER NOT NULL,
    delegation_id TEXT, status TEXT NOT NULL, turn_id TEXT, steer_step INTEGER, outcome TEXT, ended_at_ms INTEGER);
    CREATE UNIQUE INDEX inputs_by_key ON inputs (session_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
    CREATE INDEX inputs_ended ON inputs (ended_at_ms, seq) WHERE ended_at_ms IS NOT NULL;
    CREATE INDEX inputs_ended_keyed ON inputs (ended_at_ms, seq)
      WHERE ended_at_ms IS NOT NULL AND idempotency_key IS NOT NULL;
    CREATE INDEX inputs_by_turn ON inputs (turn_id) WHERE turn_id IS NOT NULL;
    CREATE INDEX inputs_queued_by_session ON inputs (session_id, seq) WHERE status = 'queued';`);
  const insert = db.prepare(
    "INSERT INTO inputs (id, session_id, seq, payload, policy, accepted_at_ms, status) VALUES (?, ?, ?, ?, ?, ?, 'queued')",
  );
  let seq = 0;
  const app = new Hono();
  app.post("/v1/sessions/:id/inputs", async (c) => {
    const body = JSON.parse(await c.req.text());
    seq += 1;
    const inputId = `i${seq}`;
    insert.run(
      inputId,
      c.req.param("id"),
      seq,
      JSON.stringify(body.payload),
      body.policy ?? "enqueue",
      Date.now(),
    );
    return c.json({ inputId, receipt: "durable" }, 202);
  });
  const server = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stop: () => new Promise((resolve) => server.close(() => resolve(db.close()))),
  };
}

// Imported by the scenario for TOKEN only; run as a process, it serves.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // Each request's time in the server, from Node handing it to the app to the last byte of its
  // answer written: set beside the client's latency, it says whether a tail is the handler's or the
  // queue in front of it (the loop busy, the socket unread).
  const handled = createHistogram();
  const emit = http.Server.prototype.emit;
  http.Server.prototype.emit = function (type, ...args) {
    if (type === "request") {
      const at = process.hrtime.bigint();
      args[1].once("finish", () => handled.record(process.hrtime.bigint() - at || 1n));
    }
    return emit.call(this, type, ...args);
  };
  const running = system === "floor" ? await startFloor(dir) : await startOffstage(dir);
  // How late the event loop ran its timers since the last report: what a request waits behind.
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  // Young-generation collections: how many, and the longest since the last report.
  const gc = { scavenges: 0, scavengeMsMax: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries())
      if (entry.detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) {
        gc.scavenges += 1;
        gc.scavengeMsMax = Math.max(gc.scavengeMsMax, entry.duration);
      }
  }).observe({ entryTypes: ["gc"] });
  process.on("SIGUSR2", () => {
    const loopMs = { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 };
    loop.reset();
    const handledMs = {
      p50: handled.percentile(50) / 1e6,
      p99: handled.percentile(99) / 1e6,
      max: handled.max / 1e6,
    };
    handled.reset();
    const young = { ...gc };
    gc.scavengeMsMax = 0;
    globalThis.gc?.();
    const report = {
      ...process.memoryUsage(),
      cpu: process.cpuUsage(),
      loopMs,
      handledMs,
      gc: young,
      store: running.stats?.(),
    };
    process.stdout.write(`MEMORY ${JSON.stringify(report)}\n`);
  });
  process.once("SIGTERM", async () => {
    await running.stop();
    process.exit(0);
  });
  process.stdout.write(`READY ${running.url}\n`);
}
