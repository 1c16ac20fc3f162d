/**
 * The other process of `idempotency.test.ts`, as a process that does not hold session `s1` writes
 * an input for it: it inserts input `i-a` with key `K` and its wake in one transaction, says
 * `accepted`, and commits only `HOLD_MS` later, so a send in the test process looks the key up
 * before it is visible and its own insert waits on this one. Argv: schema.
 */
import pg from "pg";

const HOLD_MS = 500;
const [schema] = process.argv.slice(2) as [string];
const url = process.env.OFFSTAGE_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/test";
const db = new pg.Client({ connectionString: url });
await db.connect();
await db.query("BEGIN");
await db.query(
  `INSERT INTO "${schema}".inputs (id, session_id, seq, payload, policy, idempotency_key, accepted_at_ms, status)
   VALUES ('i-a', 's1', 1, '"same"', 'enqueue', 'K', 1, 'queued')`,
);
await db.query("SELECT pg_notify($1, 's1')", [`offstage_${schema}`]);
process.stdout.write("accepted\n");
await new Promise((resolve) => setTimeout(resolve, HOLD_MS));
await db.query("COMMIT");
await db.end();
