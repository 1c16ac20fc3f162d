/**
 * Two processes sending one idempotency key to one session at the same instant make one input (found
 * by the fleet test, `test/fleet/`): the second looked the key up before the first had committed,
 * its own insert then waited on the first's and wrote nothing, and its send threw. Now the send
 * answers with the input the other process stored, and that input runs once.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createRuntime } from "../../src/index.js";
import { createPostgresStore } from "../../src/store/postgres/index.js";
import { firstLine, keepChild, killChildren } from "../support/child-processes.js";
import { onServer } from "./on-server.js";
import { PG_URL, sql } from "./server.js";

const server = onServer();
afterEach(killChildren);

const CHILD = join(import.meta.dirname, "key-race-child.ts");

describe("postgres: one idempotency key sent from two processes at once", () => {
  it("makes one input; the later send answers with the other process's input", async () => {
    const schema = server.schema("keyrace");
    const runtime = createRuntime({
      agents: { echo: { run: (input: unknown) => `echo ${String(input)}` } },
      store: createPostgresStore({ connectionString: PG_URL, schema, processId: "b", leaseMs: 10_000 }),
      pollIntervalMs: 50,
    });
    await runtime.start();
    try {
      const session = runtime.session("s1", { agent: "echo" });
      const other = keepChild(
        spawn(process.execPath, [CHILD, schema], { stdio: ["ignore", "pipe", "inherit"] }),
      );
      expect(await firstLine(other)).toBe("accepted");
      const handle = session.send("same", { idempotencyKey: "K" });
      expect(handle.id).toBe("i-a");
      const result = await handle.result({ timeoutMs: 15_000 });
      expect(result.status).toBe("completed");
      expect(await sql(`SELECT id, status FROM "${schema}".inputs`)).toEqual([
        { id: "i-a", status: "completed" },
      ]);
    } finally {
      await runtime[Symbol.asyncDispose]();
    }
  }, 30_000);
});
