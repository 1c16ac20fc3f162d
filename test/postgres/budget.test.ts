/**
 * Per-tree budgets across processes sharing a PostgreSQL store: the tree's account is charged by
 * deltas in the database and a model call is admitted in one statement, so a budget of N model calls
 * is N across every process running the tree's children. While the connection is down the admission
 * cannot be asked: the child's model call waits for it, then runs.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { ChildCompletion } from "../../src/index.js";
import { createRuntime, type Runtime, type TreeBudget } from "../../src/index.js";
import { createPostgresStore } from "../../src/store/postgres/index.js";
import { deferred, polled } from "../support/async.js";
import { callTools, scriptedModel, text, toolCall } from "../support/models.js";
import { tool } from "../support/tools.js";
import { onServer } from "./on-server.js";
import { PG_URL, sql } from "./server.js";
import { startProxy } from "./tcp-proxy.js";

const server = onServer();

/** Model calls the children made, by process. */
const calls = new Map<string, number>();

async function bothCalled(): Promise<string> {
  do await sleep(2);
  while (calls.size < 2);
  return "seen";
}

async function start(processId: string, schema: string, budget: TreeBudget): Promise<Runtime> {
  // Every step asks for a tool that yields, so the two processes' children take turns at the budget;
  // the tool waits until both have made a call (a child's first turn begins once its session's row is
  // in), so neither spends the whole budget before the other starts.
  const looping = scriptedModel(() => {
    calls.set(processId, (calls.get(processId) ?? 0) + 1);
    return callTools(toolCall("c", "look", {}));
  });
  const runtime = createRuntime({
    agents: {
      parent: { model: scriptedModel(() => text("noted")) },
      worker: { model: looping, tools: [tool("look", bothCalled)] },
    },
    store: createPostgresStore({ connectionString: PG_URL, schema, processId }),
    delegation: { runningMax: 16, perParentRunningMax: 8, budget },
    pollIntervalMs: 50,
  });
  server.keep(runtime);
  await runtime.start();
  return runtime;
}

async function completions(schema: string, count: number): Promise<ChildCompletion[]> {
  let rows: { completion: string }[] = [];
  await polled(async () => {
    rows = await sql(`SELECT completion FROM "${schema}".delegations WHERE completion IS NOT NULL`);
    return rows.length === count;
  });
  return rows.map((row) => JSON.parse(row.completion) as ChildCompletion);
}

describe("postgres: tree budgets across processes", () => {
  it("a tree whose children run in two processes spends exactly its modelCallsMax", async () => {
    const schema = server.schema("bdg");
    const budget = { modelCallsMax: 15 };
    const a = await start("a", schema, budget);
    const b = await start("b", schema, budget);
    calls.clear();
    // One tree, named by its top-level session: children dispatched from each process run there.
    const goals = (p: string) => [1, 2, 3].map((n) => ({ goal: `${p}${n}`, agent: "worker" }));
    expect(a.session("root", { agent: "parent" }).delegateAll(goals("a")).status).toBe("dispatched");
    expect(b.session("root", { agent: "parent" }).delegateAll(goals("b")).status).toBe("dispatched");

    const ended = await completions(schema, 6);
    // Both processes ran the tree, and together made exactly its budget of calls.
    expect(calls.get("a")).toBeGreaterThan(0);
    expect(calls.get("b")).toBeGreaterThan(0);
    expect((calls.get("a") ?? 0) + (calls.get("b") ?? 0)).toBe(15);
    expect(ended.reduce((sum, c) => sum + c.modelCalls, 0)).toBe(15);
    for (const completion of ended)
      expect(completion).toMatchObject({ status: "failed", exitReason: "budget_exceeded" });
    const spend = await sql(`SELECT root_session_id, model_calls FROM "${schema}".delegation_spend`);
    expect(spend).toEqual([{ root_session_id: "root", model_calls: 15 }]);
  });

  it("a child's model call admitted while the connection is down waits for it, then runs (not stalled until a takeover)", async () => {
    const proxy = server.keep(await startProxy(5432));
    const schema = server.schema("bdg");
    const looked = deferred();
    let modelCalls = 0;
    // Step 1 asks for a tool the test holds; step 2, admitted while the connection is down, ends.
    const worker = scriptedModel((_request, call) => {
      modelCalls += 1;
      return call === 0 ? callTools(toolCall("c", "look", {})) : text("found");
    });
    const runtime = server.keep(
      createRuntime({
        agents: {
          parent: { model: scriptedModel(() => text("noted")) },
          worker: { model: worker, tools: [tool("look", () => looked.promise.then(() => "seen"))] },
        },
        store: createPostgresStore({
          connectionString: `postgres://postgres@127.0.0.1:${proxy.port}/test`,
          schema,
          processId: "cut",
          readTimeoutMs: 2_000,
        }),
        delegation: { budget: { modelCallsMax: 10 } },
        pollIntervalMs: 50,
      }),
    );
    await runtime.start();
    const parent = runtime.session("root", { agent: "parent" });
    expect(parent.delegate({ goal: "look", agent: "worker" }).status).toBe("dispatched");
    while (modelCalls === 0) await sleep(10);
    await proxy.cut();
    try {
      // Down once a send is refused.
      for (;;) {
        try {
          parent.send("probe");
        } catch (error) {
          if ((error as { code?: string }).code === "STORE_UNAVAILABLE") break;
          throw error;
        }
        await sleep(10);
      }
      looked.resolve();
      await sleep(300);
      expect(modelCalls).toBe(1);
    } finally {
      await proxy.restore();
    }
    const [completion] = await completions(schema, 1);
    expect(completion).toMatchObject({ status: "completed", summary: "found", modelCalls: 2 });
    expect(modelCalls).toBe(2);
    expect(await sql(`SELECT model_calls FROM "${schema}".delegation_spend`)).toEqual([{ model_calls: 2 }]);
  }, 30_000);
});
