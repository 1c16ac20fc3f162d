/**
 * The runner `event-follow.test.ts` kills and restarts: a runtime on the PostgreSQL store with the
 * event log on, which sends its payloads to session `f` in order and runs them; the input named
 * `hangs` hangs in its turn, so the parent can SIGKILL it mid-turn. Argv: schema, process id, lease
 * in ms, the payload that hangs (`-` for none), the payloads.
 */
import { createRuntime } from "../../src/index.js";
import { createPostgresStore } from "../../src/store/postgres/index.js";

const [schema, processId, leaseMs, hangs, ...payloads] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  ...string[],
];
const url = process.env.OFFSTAGE_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/test";

const runtime = createRuntime({
  agents: {
    step: {
      run: async (input: unknown) => {
        if (input === hangs) await new Promise(() => {});
        await new Promise((resolve) => setTimeout(resolve, 5));
        return `${processId}: ${String(input)}`;
      },
    },
  },
  store: createPostgresStore({ connectionString: url, schema, processId, leaseMs: Number(leaseMs) }),
  eventLog: true,
  pollIntervalMs: 50,
});
await runtime.start();
const session = runtime.session("f", { agent: "step" });
for (const payload of payloads) session.send(payload);
process.stdout.write("started\n");
