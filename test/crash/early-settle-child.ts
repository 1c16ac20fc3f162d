/**
 * The child of `early-settle.test.ts`: withdraws a queued input, asks for it again at once — by id
 * and by idempotency key — while the withdrawal still waits for its commit (a 300 ms group-commit
 * window), prints what those handles say, and kills itself with SIGKILL before the commit.
 *
 * @packageDocumentation
 */
import { writeSync } from "node:fs";
import { createRuntime, type FunctionContext, silentLogger } from "../../src/index.js";
import { createSqliteStore } from "../../src/store/sqlite/index.js";

const path = process.argv[2] ?? "";
// Long enough that nothing below the withdrawal commits before the kill, which follows at once.
const store = createSqliteStore({ path, groupCommitMs: 300 });
/** Holds the session's turn open, so the second input waits in the queue. */
const hold = (_input: unknown, { signal }: FunctionContext) =>
  new Promise((resolve) => signal.addEventListener("abort", () => resolve("aborted"), { once: true }));
const runtime = createRuntime({ agents: { hold: { run: hold } }, store, logger: silentLogger });
await runtime.start();
const session = runtime.session("s", { agent: "hold" });
const first = session.send("first");
const second = session.send("second", { idempotencyKey: "K" });
// A commit before the withdrawal: both inputs are durable, so only the withdrawal is pending below.
await Promise.all([first.stored(), second.stored()]);
second.withdraw();
const byId = runtime.handle(second.id);
const byKey = session.send("second", { idempotencyKey: "K" });
const told = { id: second.id, byId: byId?.poll()?.status, byKey: byKey.poll()?.status };
writeSync(1, `${JSON.stringify(told)}\n`);
process.kill(process.pid, "SIGKILL");
