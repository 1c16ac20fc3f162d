/**
 * The deterministic simulation (DESIGN §5): seeds `0..N-1` with N = `OFFSTAGE_SIM_SEEDS` (default
 * 2000), every invariant of `invariants.ts` checked after every step. A failing seed prints the one
 * command that replays it.
 *
 * Environment:
 * - `OFFSTAGE_SIM_SEEDS=N` runs N seeds; `OFFSTAGE_SIM_FIRST=K` starts at seed K.
 * - `OFFSTAGE_SIM_SEED=0x4d2` runs that one seed (what `npm run sim -- --seed` sets).
 * - `OFFSTAGE_SIM_STEPS=N` driver steps per seed.
 * - `OFFSTAGE_SIM_TRACE=1` keeps the whole trace of a single seed and prints it (to
 *   `OFFSTAGE_SIM_TRACE_FILE` when set, which `npm run sim` reads back).
 */
import { writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DEFAULT_STEPS } from "./config.js";
import { replayCommand, runSeed, seedLabel } from "./harness.js";

function parseSeed(text: string): number {
  const value =
    text.startsWith("0x") || text.startsWith("0X") ? Number.parseInt(text.slice(2), 16) : Number(text);
  if (!Number.isSafeInteger(value) || value < 0 || value > 0xffffffff)
    throw new Error(`OFFSTAGE_SIM_SEED must be an integer in [0, 2^32), got ${JSON.stringify(text)}`);
  return value;
}

function positive(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0)
    throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(text)}`);
  return value;
}

const single = process.env.OFFSTAGE_SIM_SEED;
const steps = positive("OFFSTAGE_SIM_STEPS", DEFAULT_STEPS);
const verbose = process.env.OFFSTAGE_SIM_TRACE === "1";

if (single !== undefined && single !== "") {
  const seed = parseSeed(single);
  describe("simulation, one seed", () => {
    it(`seed ${seedLabel(seed)} holds every invariant`, async () => {
      let text: string;
      try {
        const report = await runSeed(seed, { steps, verbose });
        text = [
          report.trace,
          `seed ${seedLabel(seed)} passed: ${report.inputs} inputs, ${report.turns} turns, ${report.virtualMs}ms virtual, ` +
            `stops ${report.stops.join(",") || "-"}, statuses ${JSON.stringify(report.statuses)}, trace ${report.traceHash}`,
        ].join("\n");
      } catch (error) {
        text = error instanceof Error ? error.message : String(error);
        emit(text);
        throw error;
      }
      emit(text);
    });
  });
} else {
  const count = positive("OFFSTAGE_SIM_SEEDS", 2000);
  const first = positive("OFFSTAGE_SIM_FIRST", 0);
  const chunk = 250;
  const coverage: Record<string, number> = {};
  let seedsRun = 0;
  describe(`simulation, seeds ${first}..${first + count - 1}`, () => {
    for (let from = first; from < first + count; from += chunk) {
      const to = Math.min(from + chunk, first + count);
      it(`seeds ${from}..${to - 1} hold every invariant`, {
        timeout: 60_000 + (to - from) * 200,
      }, async () => {
        const failures: string[] = [];
        for (let seed = from; seed < to; seed++) {
          try {
            const report = await runSeed(seed, { steps });
            seedsRun += 1;
            for (const [what, n] of Object.entries(report.coverage))
              coverage[what] = (coverage[what] ?? 0) + n;
          } catch (error) {
            failures.push(error instanceof Error ? error.message : String(error));
            if (failures.length >= 3) break;
          }
        }
        if (failures.length > 0) {
          throw new Error(
            `${failures.length} seed(s) failed; the first:\n\n${failures[0]}\n\nreplay each with:\n${failures.map((f) => `  ${replayCommand(Number(/seed (\d+)/.exec(f)?.[1] ?? -1))}`).join("\n")}`,
          );
        }
      });
    }

    it("a seed replays exactly (same trace hash, or the same failure, twice)", async () => {
      const outcome = (seed: number) =>
        runSeed(seed, { steps }).then(
          (r) => `${r.traceHash} ${r.traceLines} lines`,
          (error: unknown) => `failed: ${error instanceof Error ? error.message : String(error)}`,
        );
      for (const seed of [first, first + 1, first + 7, 0xdeadbeef]) {
        expect(await outcome(seed), `seed ${seedLabel(seed)}`).toBe(await outcome(seed));
      }
    });

    // The faults and outcomes the invariants are about must actually happen across the seeds.
    it.runIf(count >= 1000)("the seeds reach every fault and outcome", () => {
      const summary = Object.entries(coverage)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([what, n]) => `${what}: ${n}`)
        .join(", ");
      console.log(`simulation coverage over ${seedsRun} seeds: ${summary}`);
      for (const what of MUST_HAPPEN) expect(coverage[what] ?? 0, what).toBeGreaterThan(0);
    });
  });
}

const MUST_HAPPEN = [
  "completed/ok",
  "failed/model_error",
  "failed/function_error",
  "cancelled/cancel_requested",
  "interrupted/interrupted_by_input",
  "interrupted/runtime_stopped",
  "max_iterations/model_call_limit",
  "withdrawn/withdrawn",
  "stop clean",
  "stop drained_with_discards",
  "stop timeout",
  "stop force_killed",
  "send queued",
  "send steered",
  "send same",
  "send refused SESSION_BUSY",
  "send refused INBOX_FULL",
  "send refused IDEMPOTENCY_CONFLICT",
  "send refused STOPPING",
  "send refused NOT_RUNNING",
  "merged turn",
  "input steered into a running turn",
  "steered input re-queued unseen",
  "unseen steered input cancelled alone",
  "wake dropped",
  "nested send from a turn",
  "model call ignoring abort",
  "tool call ignoring abort",
  "result() timed out",
  "withdraw of a queued input",
  "process crashed",
  "turn resumed after a crash",
  "turn failed after a crash",
  "steered input recovered with its turn",
  "steered input re-queued by recovery",
  "delegation dispatched",
  "grandchild dispatched",
  "host delegate throws INVALID_ARGUMENT",
  "delegation rejected DELEGATION_CAP_GLOBAL",
  "delegation rejected DELEGATION_CAP_PARENT",
  "delegation rejected DELEGATION_DEPTH",
  "completion delivered",
  "completions merged",
  "completion dropped parent_stopped",
  "completion input withdrawn before its turn",
  "child completed",
  "child failed",
  "child cancelled",
  "child interrupted",
  "child timed_out",
  "failed/budget_exceeded",
  "delegations.cancel",
  "delegations.interruptAll",
  "delegations.stopChildren",
  "children running across a crash",
  "child turn resumed after a crash",
  "child turn failed after a crash",
  "child timeout re-armed after a crash",
  "completion written during recovery",
  "held completion delivered by the host",
  "held completion dropped by the host",
];

function emit(text: string): void {
  const file = process.env.OFFSTAGE_SIM_TRACE_FILE;
  if (file !== undefined && file !== "") writeFileSync(file, `${text}\n`);
  else console.log(text);
}
