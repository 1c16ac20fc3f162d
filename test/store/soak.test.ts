/**
 * The soak (#15 item 6): a long run of turns on one SQLite file, with retention set, must keep the
 * file, the heap and the process's resident memory flat. 100 000 turns here (the CI run);
 * `OFFSTAGE_SOAK_TURNS=1000000 npx vitest run test/store/soak.test.ts` for the long one.
 *
 * The cheapest workload that grows everything the issue found growing: a function agent (no model
 * machinery), 64 sessions kept busy, every fourth input sent with an idempotency key, so each turn
 * writes an input, a turn, a history row and sometimes a key, and retention must delete as much as
 * is written. Bounds, checked against the first sample after a warm-up of a fifth of the run:
 * file (database + WAL) at most 1.5× + 4 MB, heap at most + 16 MB, RSS at most + 128 MB, and RSS
 * without V8's young generation at most + 32 MB. RSS first climbs because V8 grows its young
 * generation to its maximum under this allocation rate (about 130 MB with Node 24 on this machine;
 * `node --max-semi-space-size=8` keeps it near 16 MB): see README "Retention".
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { createRuntime, silentLogger, type TurnHandle } from "../../src/index.js";
import { createSqliteStore } from "../../src/store/sqlite/index.js";
import { freshDir, removeFiles } from "./sqlite-files.js";

const TURNS = Number(process.env.OFFSTAGE_SOAK_TURNS ?? 100_000);
const SESSIONS = 64;
const BATCH = 2_048;
const SAMPLES = 10;
const MB = 1024 * 1024;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

interface Sample {
  readonly turns: number;
  readonly fileMb: number;
  readonly heapMb: number;
  readonly rssMb: number;
  /** What V8's young generation holds of RSS: it grows to its maximum under a high allocation rate. */
  readonly youngMb: number;
}

function fileBytes(path: string): number {
  let bytes = 0;
  for (const file of [path, `${path}-wal`]) {
    try {
      bytes += statSync(file).size;
    } catch {
      // No WAL right after a checkpoint that truncated it.
    }
  }
  return bytes;
}

describe("soak", () => {
  it(`${TURNS} turns keep the file, the heap and RSS flat`, {
    timeout: Math.max(120_000, TURNS * 2),
  }, async () => {
    const path = join(freshDir(), "soak.db");
    const store = createSqliteStore({
      path,
      durability: "normal",
      groupCommitMs: 0,
      endedInputsMax: 5_000,
      idempotencyKeysMax: 1_000,
      historyTurnsMax: 20,
    });
    const runtime = createRuntime({
      agents: { echo: { run: (input: unknown) => input } },
      store,
      logger: silentLogger,
    });
    await runtime.start();
    const sessions = Array.from({ length: SESSIONS }, (_, i) => runtime.session(`s${i}`, { agent: "echo" }));
    const samples: Sample[] = [];
    let sent = 0;
    try {
      while (sent < TURNS) {
        const handles: TurnHandle[] = [];
        for (let i = 0; i < BATCH && sent < TURNS; i++, sent++) {
          const session = sessions[sent % SESSIONS]!;
          handles.push(session.send(sent, sent % 4 === 0 ? { idempotencyKey: `k${sent}` } : {}));
        }
        await Promise.all(handles.map((handle) => handle.result()));
        if (Math.floor(sent / (TURNS / SAMPLES)) > samples.length || sent === TURNS) {
          gc();
          const memory = process.memoryUsage();
          samples.push({
            turns: sent,
            fileMb: fileBytes(path) / MB,
            heapMb: memory.heapUsed / MB,
            rssMb: memory.rss / MB,
            youngMb:
              getHeapSpaceStatistics().find((space) => space.space_name === "new_space")!
                .physical_space_size / MB,
          });
        }
      }
      const swept = store.stats().swept;
      console.log(
        `soak: ${TURNS} turns; swept ${JSON.stringify(swept)}\n` +
          samples
            .map(
              (s) =>
                `  ${s.turns} turns: file ${s.fileMb.toFixed(1)} MB, heap ${s.heapMb.toFixed(1)} MB, rss ${s.rssMb.toFixed(0)} MB (V8 young generation ${s.youngMb.toFixed(0)} MB)`,
            )
            .join("\n"),
      );
      // Retention kept up: all but the bounds' worth (and what ended since the last sweep) is gone.
      expect(swept.inputs).toBeGreaterThan(TURNS / 2);
      // History grows by what a session adds between two sweeps, then goes back to its bound.
      await store.sweepNow();
      expect(sessions[0]!.history().length).toBe(40);
      const warm = samples[Math.floor(SAMPLES / 5) - 1]!;
      const last = samples[samples.length - 1]!;
      expect(last.fileMb).toBeLessThanOrEqual(warm.fileMb * 1.5 + 4);
      expect(last.heapMb).toBeLessThanOrEqual(warm.heapMb + 16);
      expect(last.rssMb).toBeLessThanOrEqual(warm.rssMb + 128);
      // Beside V8's young generation (bounded by --max-semi-space-size), native memory stays flat.
      expect(last.rssMb - last.youngMb).toBeLessThanOrEqual(warm.rssMb - warm.youngMb + 32);
    } finally {
      await runtime.stop();
      await store.close();
      removeFiles();
    }
  });
});
