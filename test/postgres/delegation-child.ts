/**
 * The process `delegation.test.ts` kills: a runtime on the PostgreSQL store whose session `p`
 * dispatches one background child, whose model never answers, so the parent can SIGKILL this
 * process while the child's turn runs. Argv: schema, process id, lease in ms.
 */
import { createRuntime } from "../../src/index.js";
import { createPostgresStore } from "../../src/store/postgres/index.js";
import { GatedModel, scriptedModel, text } from "../support/models.js";

const [schema, processId, leaseMs] = process.argv.slice(2) as [string, string, string];
const url = process.env.OFFSTAGE_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/test";

const runtime = createRuntime({
  agents: { parent: { model: scriptedModel(() => text("noted")) }, worker: { model: new GatedModel() } },
  store: createPostgresStore({ connectionString: url, schema, processId, leaseMs: Number(leaseMs) }),
  pollIntervalMs: 50,
});
await runtime.start();
const dispatched = runtime.session("p", { agent: "parent" }).delegate({ goal: "look", agent: "worker" });
process.stdout.write(`${dispatched.status}\n`);
