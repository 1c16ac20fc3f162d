// The ceiling of Offstage's PostgreSQL schema on this machine (issue #18): the SQL a no-op turn costs
// the store — create the session, accept the input, start the turn, end it — run straight from one
// connection with no runtime around it, in groups of --group turns (two transactions per group: the
// accepts and starts, then the ends), with the adapter's own statements (src/store/postgres/
// statements.ts, from the build), taking turns:
//   per-row   one statement per turn and kind (a group of one turn each), parsed afresh each time;
//   per-row prepared  the same, each statement prepared once (pg's named queries), as the adapter's
//             connection worker sends them, so the server parses and plans it once per connection;
//   multi-row one statement per kind and group, rows passed as arrays (`unnest`), as the adapter
//             writes a group's held inputs, starts and ends (held-writes.ts);
//   multi-row, once  the same, but each turn written once, already ended (`runTurns`), as the adapter
//             writes a turn that starts and ends in one group (one transaction per group).
// Reports turns/s and the CPU of the backend serving the connection (from /proc), so a shared
// machine's other work stays out of the per-CPU figure.
//
//   npm run build && npm exec -- node bench/lab/pg-ceiling.mjs --turns 20000 --group 500 --reps 3
import { pathToFileURL } from "node:url";
import pg from "pg";
import { count } from "../lib/args.mjs";
import { fmtRate } from "../lib/format.mjs";
import { log } from "../lib/log.mjs";
import { median } from "../lib/meters.mjs";
import { PG_URL, postgresCpuMeter } from "../lib/postgres.mjs";

const TURNS = count("turns", 20_000);
const GROUP = count("group", 500);
const REPS = count("reps", 3);
const SCHEMA = "offstage_bench_ceiling";
const APP = "offstage-bench-ceiling";
const OWNER = "ceiling";

const dist = new URL("../../dist/", import.meta.url);
const { statementsFor } = await import(
  pathToFileURL(new URL("store/postgres/statements.js", dist).pathname).href
);
const { createPostgresStore } = await import(
  pathToFileURL(new URL("store/postgres/index.js", dist).pathname).href
);
const S = `"${SCHEMA}"`;
const sql = statementsFor(S);

/** A fresh schema, migrated by the store itself, and this connection registered as a live owner. */
async function fresh(db) {
  await db.query(`DROP SCHEMA IF EXISTS ${S} CASCADE`);
  const store = createPostgresStore({ connectionString: PG_URL, schema: SCHEMA, processId: "ceiling-boot" });
  await store.open();
  await store.close();
  await db.query(sql.registerProcess, [OWNER, "here", process.pid, 3_600_000]);
}

const payload = JSON.stringify({ t: 1 });
const outcome = JSON.stringify({ status: "completed", reason: { code: "ok", message: "function returned" } });
const usage = JSON.stringify({ inputTokens: 0, outputTokens: 0 });
const messages = (i) =>
  JSON.stringify([
    { role: "user", content: [{ type: "text", text: payload }] },
    { role: "assistant", content: [{ type: "text", text: `out ${i}` }] },
  ]);

/** The parameters of each statement for turns `from` to `to`: arrays, one element per turn. */
function rows(from, to) {
  const ids = [];
  for (let i = from; i < to; i++) ids.push(i);
  const each = (f) => ids.map(f);
  const inputs = [
    each((i) => `i${i}`),
    each((i) => `s${i}`),
    ids,
    each(() => payload),
    each(() => "enqueue"),
  ];
  const start = [each((i) => `t${i}`), each((i) => `s${i}`), each(() => 1), each((i) => `["i${i}"]`), ids];
  const end = [each(() => outcome), each(() => usage), ids, each(() => "completed"), each(() => "[]")];
  return {
    ids,
    inputs: [...inputs, ids, each(() => null), OWNER],
    starts: [...start, each(() => 1), OWNER],
    ends: [start[0], start[2], ...end, start[1], each(messages), each(() => 1), OWNER],
    runs: [...start, each(() => 1), ...end, each(messages), OWNER],
  };
}

/** The sessions, one statement each, as the adapter creates them. */
async function sessions(q, ids) {
  for (const i of ids) await q("insertSession", sql.insertSession, [`s${i}`, "bench", i, OWNER]);
}

/** One statement per turn and kind; `named` prepares each once on the server. */
function perRow(named) {
  return async (db, from, to) => {
    const q = (name, text, values) => db.query(named ? { name, text, values } : { text, values });
    await db.query("BEGIN");
    await sessions(q, rows(from, to).ids);
    for (let i = from; i < to; i++) {
      const one = rows(i, i + 1);
      await q("insertInputs", sql.insertInputs, one.inputs);
      await q("startTurns", sql.startTurns, one.starts);
    }
    await db.query("COMMIT");
    await db.query("BEGIN");
    for (let i = from; i < to; i++) await q("endTurns", sql.endTurns, rows(i, i + 1).ends);
    await db.query("COMMIT");
  };
}

/** One statement per kind and group; `once`: each turn written once, already ended. */
function multiRow(once) {
  return async (db, from, to) => {
    const q = (name, text, values) => db.query({ name, text, values });
    const group = rows(from, to);
    await db.query("BEGIN");
    await sessions(q, group.ids);
    await q("insertInputs", sql.insertInputs, group.inputs);
    if (once) await q("runTurns", sql.runTurns, group.runs);
    else {
      await q("startTurns", sql.startTurns, group.starts);
      await db.query("COMMIT");
      await db.query("BEGIN");
      await q("endTurns", sql.endTurns, group.ends);
    }
    await db.query("COMMIT");
  };
}

/** Checks both ways wrote the same thing: every input completed, one history row per turn. */
async function verify(db) {
  const { rows } = await db.query(
    `SELECT (SELECT count(*) FROM ${S}.inputs WHERE status = 'completed')::int AS done,
            (SELECT count(*) FROM ${S}.history)::int AS history`,
  );
  if (rows[0].done !== TURNS || rows[0].history !== TURNS)
    throw new Error(`expected ${TURNS} completed inputs and history rows, got ${JSON.stringify(rows[0])}`);
}

const db = new pg.Client({ connectionString: PG_URL, application_name: APP });
await db.connect();
const ways = {
  "per-row": perRow(false),
  "per-row prepared": perRow(true),
  "multi-row": multiRow(false),
  "multi-row, once": multiRow(true),
};
const results = Object.fromEntries(Object.keys(ways).map((k) => [k, []]));
log(`pg-ceiling: ${TURNS} no-op turns' SQL in groups of ${GROUP}, ${REPS} rep(s)`);
try {
  for (let rep = 0; rep < REPS; rep++) {
    for (const [name, run] of Object.entries(ways)) {
      await fresh(db);
      const backend = await postgresCpuMeter(APP);
      const t0 = performance.now();
      for (let i = 0; i < TURNS; i += GROUP) await run(db, i, Math.min(TURNS, i + GROUP));
      const ms = performance.now() - t0;
      const cpuMs = await backend.end();
      await verify(db);
      results[name].push({ perSecond: (TURNS * 1000) / ms, perCpuSecond: (TURNS * 1000) / cpuMs });
      log(
        `rep ${rep + 1} ${name}: ${fmtRate((TURNS * 1000) / ms)}, ${fmtRate((TURNS * 1000) / cpuMs)} per backend CPU-second`,
      );
    }
  }
  for (const [name, r] of Object.entries(results))
    log(
      `${name}: median ${fmtRate(median(r.map((x) => x.perSecond)))} turns/s, ${fmtRate(median(r.map((x) => x.perCpuSecond)))} per backend CPU-second`,
    );
} finally {
  await db.query(`DROP SCHEMA IF EXISTS ${S} CASCADE`);
  await db.end();
}
