/**
 * The child of `crash-resume.test.ts`: a runtime on a real SQLite file whose agent's model is named
 * `openai-compatible:<the parent's loopback server>:m` and whose `record` tool appends to an effect
 * log. It sends one input (idempotency key `K`: a restarted child finds the same input), prints
 * `{"accepted": id}` once it is durable and `{"result": …}` when its turn ends, then stops.
 *
 * Run as `node --import test/crash/ts-hook.ts test/models/crash-resume-child.ts <db> <baseURL> <log>`.
 *
 * @packageDocumentation
 */
import { appendFileSync, writeSync } from "node:fs";
import { z } from "zod";
import { createRuntime, defineTool, silentLogger } from "../../src/index.js";
import { createSqliteStore } from "../../src/store/sqlite/index.js";

const [path = "", baseURL = "", log = ""] = process.argv.slice(2);
const record = defineTool({
  name: "record",
  description: "Records a note.",
  schema: z.object({ note: z.string() }),
  execute: ({ note }, { turnId, toolCallId }) => {
    appendFileSync(log, `${JSON.stringify({ note, turnId, toolCallId, pid: process.pid })}\n`);
    return `recorded ${note}`;
  },
});
const runtime = createRuntime({
  store: createSqliteStore({ path, durability: "normal" }),
  logger: silentLogger,
  agents: { a: { model: `openai-compatible:${baseURL}:m`, tools: [record], retry: { backoffMs: 10 } } },
});
await runtime.start();
const handle = runtime.session("s", { agent: "a" }).send("remember this", { idempotencyKey: "K" });
await handle.stored();
writeSync(1, `${JSON.stringify({ accepted: handle.id })}\n`);
const result = await handle
  .result({ timeoutMs: 30_000 })
  .catch((error: unknown) => ({ error: String(error) }));
writeSync(1, `${JSON.stringify({ result })}\n`);
await runtime.stop();
