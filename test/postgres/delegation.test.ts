/**
 * Delegation across processes sharing a PostgreSQL store: the running caps are counted in the
 * database, so a global cap of N is N across every process, and a child's completion reaches its
 * parent once, in whichever process holds the parent.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createRuntime, type Model, type Runtime } from "../../src/index.js";
import { createPostgresStore } from "../../src/store/postgres/index.js";
import { GatedModel, scriptedModel, text } from "../support/models.js";
import { onServer } from "./on-server.js";
import { PG_URL, sql } from "./server.js";

const HOOK = join(import.meta.dirname, "..", "crash", "ts-hook.ts");
const CHILD = join(import.meta.dirname, "delegation-child.ts");

const server = onServer();

async function start(processId: string, schema: string, worker: Model = new GatedModel()): Promise<Runtime> {
  const runtime = createRuntime({
    agents: { parent: { model: scriptedModel(() => text("noted")) }, worker: { model: worker } },
    store: createPostgresStore({ connectionString: PG_URL, schema, processId }),
    delegation: { runningMax: 3, perParentRunningMax: 2 },
    pollIntervalMs: 50,
  });
  server.keep(runtime);
  await runtime.start();
  return runtime;
}

describe("postgres: delegation across processes", () => {
  it("a global cap of N is N across the processes, counted in the database", async () => {
    const schema = server.schema("dlg");
    const a = await start("a", schema);
    const b = await start("b", schema);
    const pa = a.session("pa", { agent: "parent" });
    const pb = b.session("pb", { agent: "parent" });
    expect(pa.delegateAll([1, 2].map((n) => ({ goal: `a${n}`, agent: "worker" }))).status).toBe("dispatched");
    // b's own ledger is empty; the database knows a runs two.
    const refused = pb.delegateAll([1, 2].map((n) => ({ goal: `b${n}`, agent: "worker" })));
    expect(refused).toMatchObject({ status: "rejected", code: "DELEGATION_CAP_GLOBAL" });
    expect(refused.status === "rejected" && refused.reason).toMatch(
      /processes sharing this store are running 2/,
    );
    expect(pb.delegate({ goal: "b3", agent: "worker" }).status).toBe("dispatched");
    expect(pa.delegate({ goal: "a3", agent: "worker" })).toMatchObject({ status: "rejected" });
    const rows = await sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".delegations`);
    expect(rows).toEqual([{ n: 3 }]);
  });

  it("two processes dispatching at once never pass the global cap together", async () => {
    const schema = server.schema("dlg");
    const a = await start("a", schema);
    const b = await start("b", schema);
    const results = [];
    for (let n = 0; n < 4; n++) {
      results.push(a.session(`a${n}`, { agent: "parent" }).delegate({ goal: `a${n}`, agent: "worker" }));
      results.push(b.session(`b${n}`, { agent: "parent" }).delegate({ goal: `b${n}`, agent: "worker" }));
    }
    expect(results.filter((r) => r.status === "dispatched")).toHaveLength(3);
    const rows = await sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${schema}".delegations WHERE completion IS NULL`,
    );
    expect(rows).toEqual([{ n: 3 }]);
  });

  it("a child taken over by a process that never saw its parent reports to the parent there", async () => {
    const schema = server.schema("dlg");
    // a dispatches a child whose model never answers, then is SIGKILLed mid-turn.
    const a = spawn(process.execPath, ["--import", HOOK, CHILD, schema, "a", "1000"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = new Promise((resolve) => a.on("exit", resolve));
    try {
      await until(async () => (await sql(`SELECT 1 FROM "${schema}".turns`).catch(() => [])).length === 1);
    } finally {
      a.kill("SIGKILL");
      await exited;
    }
    // b knows nothing of p: it takes the child over, runs it to its end, and the completion goes to p.
    await start(
      "b",
      schema,
      scriptedModel(() => text("found it")),
    );
    await until(async () => {
      const rows = await sql<{ delivery: string | null }>(`SELECT delivery FROM "${schema}".delegations`);
      return rows[0]?.delivery === "delivered";
    });
    const carried = await sql<{ session_id: string; status: string }>(
      `SELECT session_id, status FROM "${schema}".inputs WHERE delegation_id IS NOT NULL`,
    );
    expect(carried).toEqual([{ session_id: "p", status: "completed" }]);
  });
});

/** Polls `condition` every 20 ms for up to 20 s. */
async function until(condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("gave up waiting");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
