/**
 * The process `takeover.test.ts` kills: a runtime on the PostgreSQL store whose function agent
 * records each run of its step (a row in `effects`, through a connection of its own) and then
 * hangs, so the parent can SIGKILL it mid-step. Argv: schema, process id, lease in ms.
 */
import pg from "pg";
import { createRuntime } from "../../src/index.js";
import { createPostgresStore } from "../../src/store/postgres/index.js";

const [schema, processId, leaseMs] = process.argv.slice(2) as [string, string, string];
const url = process.env.OFFSTAGE_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/test";
// A pool: the sessions' steps record their runs at once, and one client must not run two queries.
const effects = new pg.Pool({ connectionString: url, max: 1 });

const runtime = createRuntime({
  agents: {
    step: {
      run: async (input: unknown) => {
        await effects.query(`INSERT INTO "${schema}".effects (input, by) VALUES ($1, $2)`, [
          String(input),
          processId,
        ]);
        await new Promise(() => {});
      },
    },
  },
  store: createPostgresStore({ connectionString: url, schema, processId, leaseMs: Number(leaseMs) }),
  pollIntervalMs: 50,
});
await runtime.start();
const sessions = 5;
for (let n = 0; n < sessions; n++) runtime.session(`k${n}`, { agent: "step" }).send(`work ${n}`);
process.stdout.write("started\n");
