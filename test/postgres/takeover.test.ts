/**
 * A process SIGKILLed mid-step: its sessions are taken over by another process within the lease
 * time (plus one recovery poll), and the step it was running runs again at most once — the turn
 * resumes with its next attempt, and the dead process's writes, were it only paused, are fenced.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRuntime } from "../../src/index.js";
import { createPostgresStore } from "../../src/store/postgres/index.js";
import { polled } from "../support/async.js";
import { dropSchemas, PG_URL, requireServer, sql, uniqueSchema } from "./server.js";

beforeAll(requireServer);

const schema = uniqueSchema("tko");
afterAll(() => dropSchemas([schema]));

const HOOK = join(import.meta.dirname, "..", "crash", "ts-hook.ts");
const CHILD = join(import.meta.dirname, "takeover-child.ts");
const LEASE_MS = 1_500;
const POLL_MS = 50;

async function effectsOf(): Promise<{ input: string; by: string }[]> {
  return sql(`SELECT input, by FROM "${schema}".effects ORDER BY id`);
}

describe("postgres: a process killed with SIGKILL", () => {
  it("has its sessions taken over within the lease time, each in-flight step repeated at most once", async () => {
    await sql(`CREATE SCHEMA "${schema}"`);
    await sql(
      `CREATE TABLE "${schema}".effects (id serial PRIMARY KEY, input text NOT NULL, by text NOT NULL)`,
    );
    const child = spawn(process.execPath, ["--import", HOOK, CHILD, schema, "doomed", String(LEASE_MS)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = new Promise((resolve) => child.on("exit", resolve));
    await polled(async () => (await effectsOf()).length === 5, 20_000);
    child.kill("SIGKILL");
    await exited;
    const killedAt = Date.now();

    const runtime = createRuntime({
      agents: {
        step: {
          run: async (input: unknown) => {
            await sql(`INSERT INTO "${schema}".effects (input, by) VALUES ($1, 'heir')`, [String(input)]);
            return `finished ${String(input)}`;
          },
        },
      },
      store: createPostgresStore({ connectionString: PG_URL, schema, processId: "heir", leaseMs: LEASE_MS }),
      pollIntervalMs: POLL_MS,
    });
    await runtime.start();
    try {
      await polled(
        async () => (await sql(`SELECT 1 FROM "${schema}".inputs WHERE status = 'completed'`)).length === 5,
        LEASE_MS + 10_000,
      );
      const takeoverMs = Date.now() - killedAt;
      // The lease lapses LEASE_MS after the last heartbeat, which came at most LEASE_MS / 3 before the kill.
      expect(takeoverMs).toBeLessThan(LEASE_MS + 2_000);
      const effects = await effectsOf();
      for (let n = 0; n < 5; n++) {
        const runs = effects.filter((e) => e.input === `work ${n}`).map((e) => e.by);
        expect(runs).toEqual(["doomed", "heir"]);
      }
      const turns = await sql<{ attempt: number; outcome: string }>(
        `SELECT attempt, outcome FROM "${schema}".turns ORDER BY id`,
      );
      expect(turns.map((t) => t.attempt)).toEqual([2, 2, 2, 2, 2]);
      expect(await sql(`SELECT DISTINCT owner FROM "${schema}".sessions`)).toEqual([{ owner: "heir" }]);
      console.log(`takeover after SIGKILL: ${takeoverMs} ms (lease ${LEASE_MS} ms, poll ${POLL_MS} ms)`);
    } finally {
      await runtime[Symbol.asyncDispose]();
    }
  }, 40_000);
});
