/**
 * The crash test (DESIGN §5): a child process runs a steady mixed workload — background children
 * and their control verbs included — on a real SQLite file and is `kill -9`ed at random moments,
 * then restarted; a last run drains everything and stops cleanly, and the file is checked (rules in
 * `checks.ts`, `delegation-checks.ts` and `ledger.ts`). Unlike the simulation this runs on
 * real time, a real file system and real process death; the seed fixes the workload and the kill
 * schedule, not the timing, so a replay reaches the same kind of run but not the same interleaving.
 *
 * Environment:
 * - `OFFSTAGE_CRASH_KILLS=N` kills per run (default 50; `500` for a soak).
 * - `OFFSTAGE_CRASH_SEED=0x…` the seed (default: a fresh one, printed).
 * - `OFFSTAGE_CRASH_KEEP=1` keeps the run's directory (database, effect log, reports, stderr) even
 *   when it passes; a failing run always keeps it.
 *
 * Durations on a 2-core machine: about 30 s for the default 50 kills, 5–6 min for 500.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createSqliteStore } from "../../src/store/sqlite/index.js";
import { campaignSummary, failOnViolations } from "../support/campaign-report.js";
import { envInteger } from "../support/env.js";
import { runCampaign } from "./campaign.js";
import { checkFinalState } from "./checks.js";
import { pathsOf } from "./protocol.js";

const SESSIONS = 10;

const kills = envInteger("OFFSTAGE_CRASH_KILLS", 50);
const seed = envInteger("OFFSTAGE_CRASH_SEED", Math.floor(Math.random() * 0x100000000));
const keep = process.env.OFFSTAGE_CRASH_KEEP === "1";
const seedText = `0x${seed.toString(16)}`;
const steerCancel = process.env.OFFSTAGE_CRASH_STEER_CANCEL === "1" ? "OFFSTAGE_CRASH_STEER_CANCEL=1 " : "";
const replay = `${steerCancel}OFFSTAGE_CRASH_SEED=${seedText} OFFSTAGE_CRASH_KILLS=${kills} npm test -- test/crash/crash.test.ts`;

// The child runs on the same binary as this test; without node:sqlite there is no store to crash.
const sqliteMissing = await import("node:sqlite").then(
  () => undefined,
  () => `node:sqlite is missing in Node ${process.version}; run through npm so the pinned Node 24 is used`,
);

describe.skipIf(sqliteMissing !== undefined)(
  `crash: kill -9 on a real SQLite file${sqliteMissing === undefined ? "" : ` (skipped: ${sqliteMissing})`}`,
  () => {
    it(`${kills} kills (seed ${seedText}): every accepted input ends exactly once, nothing completes twice, every child reports once`, {
      timeout: 120_000 + kills * 3_000,
    }, async () => {
      const dir = mkdtempSync(join(tmpdir(), "offstage-crash-"));
      const result = await runCampaign({
        seed,
        kills,
        dir,
        sessions: SESSIONS,
        log: (line) => console.log(line),
      });
      const { ledger } = result;
      const final =
        ledger.violations.length === 0
          ? await checkFinalState({
              dir,
              sessions: SESSIONS,
              ledger,
              store: createSqliteStore({ path: pathsOf(dir).database }),
            })
          : { violations: [], counts: {} };
      const violations = [...ledger.violations, ...final.violations];
      const counts = { ...ledger.counts, ...final.counts };
      const summary = campaignSummary(
        [
          `crash: ${result.kills} kills (${result.earlyKills} during start-up) in ${(result.elapsedMs / 1000).toFixed(1)} s, seed ${seedText}`,
        ],
        counts,
      );
      failOnViolations("crash test", violations, {
        summary,
        replay,
        kept: `${dir} (store.sqlite, effects.log, reports.log, stderr.log)`,
      });
      console.log(`${summary}\nreplay: ${replay}${keep ? `\nfiles kept in ${dir}` : ""}`);
      if (!keep) rmSync(dir, { recursive: true, force: true });
      expect(result.kills).toBe(kills);
      expect(ledger.inputs.size).toBeGreaterThan(kills);
      // The kills must land mid-turn, or recovery was never put to work.
      if (kills >= 50) {
        expect(counts["turns resumed"] ?? 0, "turns resumed after a kill").toBeGreaterThan(0);
        expect(counts["final failed/crashed"] ?? 0, "turns failed by onCrash: fail").toBeGreaterThan(0);
        // And some while children ran, or "every child reports after a kill" was never put to the test.
        expect(counts["children running at a restart"] ?? 0, "children running at a restart").toBeGreaterThan(
          0,
        );
        expect(ledger.delegations.size, "children reported dispatched").toBeGreaterThan(0);
      }
    });
  },
);
