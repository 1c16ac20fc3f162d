/**
 * The fleet test (issue #18): 4 processes share one PostgreSQL schema and 2,000 sessions under the
 * crash test's mixed workload, while one after another is SIGKILLed and restarted
 * (`fleet-campaign.ts`); then one process drains everything. Checked from the database afterwards:
 * no two turns of a session overlapped in time, every input the senders were told was durably
 * accepted (their reports, kept in the ledger and `reports.log`) is in exactly one terminal state,
 * no history message is lost or written twice, every background child's completion is delivered once
 * (`fleet-checks.ts` and the crash test's checks). Prints lease takeover latency p50/p99.
 *
 * Environment:
 * - `OFFSTAGE_FLEET_SECONDS=N` how long processes are killed and restarted (default 60; longer for a soak).
 * - `OFFSTAGE_FLEET_SEED=0x…` the seed (default: a fresh one, printed).
 * - `OFFSTAGE_FLEET_KEEP=1` keeps the run's directory and schema even when it passes.
 * - `OFFSTAGE_TEST_PG` the server (default postgres://postgres@127.0.0.1:5432/test).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { createPostgresStore } from "../../src/store/postgres/index.js";
import { checkFinalState } from "../crash/checks.js";
import { dropSchemas, PG_URL, requireServer, uniqueSchema } from "../postgres/server.js";
import { campaignSummary, failOnViolations } from "../support/campaign-report.js";
import { envInteger } from "../support/env.js";
import { runFleet } from "./fleet-campaign.js";
import { checkSchema, readDelegationRows } from "./fleet-checks.js";

const PROCESSES = 4;
const SESSIONS = 2_000;
/** Short, so a killed process's sessions move within the run many times over. */
const LEASE_MS = 2_000;

const seconds = envInteger("OFFSTAGE_FLEET_SECONDS", 60);
const seed = envInteger("OFFSTAGE_FLEET_SEED", Math.floor(Math.random() * 0x100000000));
const keep = process.env.OFFSTAGE_FLEET_KEEP === "1";
const seedText = `0x${seed.toString(16)}`;
const replay = `OFFSTAGE_FLEET_SEED=${seedText} OFFSTAGE_FLEET_SECONDS=${seconds} npm test -- test/fleet/fleet.test.ts`;

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

describe("fleet: 4 processes on one PostgreSQL schema, SIGKILLed and restarted", () => {
  beforeAll(requireServer);

  it(`${seconds} s of kills on ${SESSIONS} sessions (seed ${seedText}): turns never overlap, every accepted input ends once, history and completions exact`, {
    timeout: (seconds + 240) * 1000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "offstage-fleet-"));
    const schema = uniqueSchema("fleet");
    const result = await runFleet({
      seed,
      seconds,
      processes: PROCESSES,
      sessions: SESSIONS,
      dir,
      connectionString: PG_URL,
      schema,
      leaseMs: LEASE_MS,
      log: (line) => console.log(line),
    });
    const { ledger } = result;
    const violations = [...ledger.violations];
    const counts: Record<string, number> = { ...ledger.counts };
    const count = (what: string, n = 1) => {
      counts[what] = (counts[what] ?? 0) + n;
    };
    if (violations.length === 0) {
      const final = await checkFinalState({
        dir,
        sessions: SESSIONS,
        ledger,
        // It reads every input back: its own sweeps must forget none (as the fleet's).
        store: createPostgresStore({
          connectionString: PG_URL,
          schema,
          processId: "fleet-checker",
          endedInputsMax: Number.MAX_SAFE_INTEGER,
          idempotencyKeysMax: Number.MAX_SAFE_INTEGER,
        }),
        shared: { rows: await readDelegationRows(PG_URL, schema) },
      });
      violations.push(...final.violations);
      for (const [what, n] of Object.entries(final.counts)) count(what, n);
      await checkSchema({ connectionString: PG_URL, schema, fail: (m) => violations.push(m), count });
    }
    for (const id of result.notTakenOver)
      violations.push(`session ${id} had live input and no new holder ${30} s after its holder was killed`);
    const takeovers = [...result.takeoversMs].sort((a, b) => a - b);
    const summary = campaignSummary(
      [
        `fleet: ${result.kills} kills (${result.sameName} restarted under the same name) in ${(result.elapsedMs / 1000).toFixed(1)} s, seed ${seedText}, lease ${LEASE_MS} ms`,
        `lease takeover after SIGKILL: ${takeovers.length} sessions, p50 ${percentile(takeovers, 50)} ms, p99 ${percentile(takeovers, 99)} ms, max ${takeovers.at(-1) ?? Number.NaN} ms`,
      ],
      counts,
    );
    failOnViolations("fleet test", violations, {
      summary,
      replay,
      kept: `${dir} (effects.log, reports.log, stderr.log), schema ${schema} kept`,
    });
    console.log(`${summary}\nreplay: ${replay}${keep ? `\nfiles kept in ${dir}, schema ${schema}` : ""}`);
    if (!keep) {
      rmSync(dir, { recursive: true, force: true });
      await dropSchemas([schema]);
    }
    expect(result.kills).toBeGreaterThan(0);
    expect(ledger.inputs.size, "inputs accepted").toBeGreaterThan(result.kills);
    expect(takeovers.length, "sessions taken over after a kill").toBeGreaterThan(0);
    expect(ledger.delegations.size, "children reported dispatched").toBeGreaterThan(0);
  });
});
