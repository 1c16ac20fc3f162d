// The ceiling of Offstage's PostgreSQL schema on this machine (issue #18): the SQL a no-op turn costs
// the store — create the session, accept the input, start the turn, end it — run straight from one
// connection with no runtime around it, in groups of --group turns (two transactions per group: the
// accepts and starts, then the ends), two ways, taking turns:
//   per-row   the adapter's own statements (src/store/postgres/statements.ts, from the build), one
//             per turn and kind, as its connection worker sends them;
//   per-row prepared  the same, each statement prepared once (pg's named queries), so the server
//             parses and plans it once per connection instead of at every call;
//   multi-row one statement per kind and group, rows passed as arrays (`unnest`), with the same
//             lease fence (owner and epoch checked FOR SHARE) and the same rows written.
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

/** The adapter's statements, one per turn and kind; `named` prepares each once on the server. */
function perRow(named) {
  return async (db, from, to) => {
    const q = (name, text, values) => db.query(named ? { name, text, values } : { text, values });
    await db.query("BEGIN");
    for (let i = from; i < to; i++) {
      await q("createSession", sql.createSession, [`s${i}`, "bench", i, OWNER]);
      await q("insertInput", sql.insertInput, [`i${i}`, `s${i}`, i, payload, "enqueue", null, i, null]);
      const started = [`t${i}`, `s${i}`, 1, JSON.stringify([`i${i}`]), i, [`i${i}`], OWNER, 1];
      await q("startTurn", sql.startTurn, started);
    }
    await db.query("COMMIT");
    await db.query("BEGIN");
    for (let i = from; i < to; i++) {
      const ended = [`t${i}`, 1, outcome, usage, i, "completed", [], `s${i}`, messages(i), OWNER, 1];
      await q("endTurn", sql.endTurn, ended);
    }
    await db.query("COMMIT");
  };
}

const FENCED = `SELECT s.id FROM ${S}.sessions s JOIN unnest($1::text[], $2::bigint[]) AS u(id, epoch)
  ON s.id = u.id AND s.owner = $3 AND s.epoch = u.epoch FOR SHARE OF s`;

/** One statement per kind and group. */
async function multiRow(db, from, to) {
  const ids = [];
  for (let i = from; i < to; i++) ids.push(i);
  const sessions = ids.map((i) => `s${i}`);
  const inputs = ids.map((i) => `i${i}`);
  const turns = ids.map((i) => `t${i}`);
  const epochs = ids.map(() => 1);
  await db.query("BEGIN");
  await db.query(
    `INSERT INTO ${S}.sessions (id, agent, created_at_ms, owner, epoch)
       SELECT id, 'bench', at, $3, 1 FROM unnest($1::text[], $2::bigint[]) AS u(id, at) ON CONFLICT (id) DO NOTHING`,
    [sessions, ids, OWNER],
  );
  await db.query(
    `INSERT INTO ${S}.inputs (id, session_id, seq, payload, policy, accepted_at_ms, status)
       SELECT id, sid, seq, $4, 'enqueue', seq, 'queued' FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(id, sid, seq)
       ON CONFLICT DO NOTHING`,
    [inputs, sessions, ids, payload],
  );
  await db.query(
    `WITH f AS (${FENCED}),
     t AS (INSERT INTO ${S}.turns (id, session_id, attempt, input_ids, started_at_ms)
       SELECT u.tid, u.sid, 1, json_build_array(u.iid)::text, u.at
         FROM unnest($4::text[], $1::text[], $5::text[], $6::bigint[]) AS u(tid, sid, iid, at)
        WHERE u.sid IN (SELECT id FROM f) ON CONFLICT (id) DO NOTHING RETURNING id, session_id)
     UPDATE ${S}.inputs i SET status = 'running', turn_id = t.id
       FROM t, unnest($4::text[], $5::text[]) AS m(tid, iid)
      WHERE m.tid = t.id AND i.id = m.iid AND i.session_id = t.session_id AND i.status = 'queued'`,
    [sessions, epochs, OWNER, turns, inputs, ids],
  );
  await db.query("COMMIT");
  await db.query("BEGIN");
  await db.query(
    `WITH f AS (${FENCED}),
     t AS (UPDATE ${S}.turns x SET outcome = $5, usage = $6, ended_at_ms = u.at, messages = '[]'
       FROM unnest($4::text[], $1::text[], $7::bigint[]) AS u(tid, sid, at)
      WHERE x.id = u.tid AND x.attempt = 1 AND x.ended_at_ms IS NULL AND u.sid IN (SELECT id FROM f)
      RETURNING x.id, x.session_id, x.ended_at_ms),
     ended AS (UPDATE ${S}.inputs i SET status = 'completed', ended_at_ms = t.ended_at_ms
       FROM t WHERE i.turn_id = t.id AND i.status = 'running')
     INSERT INTO ${S}.history (session_id, turn_id, messages)
       SELECT t.session_id, t.id, m.messages FROM t JOIN unnest($4::text[], $8::text[]) AS m(tid, messages) ON m.tid = t.id
     ON CONFLICT (turn_id) DO NOTHING`,
    [sessions, epochs, OWNER, turns, outcome, usage, ids, ids.map(messages)],
  );
  await db.query("COMMIT");
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
const ways = { "per-row": perRow(false), "per-row prepared": perRow(true), "multi-row": multiRow };
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
