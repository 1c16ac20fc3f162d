// Recovery (issue #3): how soon work resumes after a restart with a backlog. Each system is left
// with `inputs` queued inputs (Offstage: sent, then the runtime stopped before any ran; the peers:
// waiting jobs) and restarted: start() → the first recovered turn (or job) starting. Goal for
// Offstage: under a second with 100 000 queued. The durable benchmark runs it last.
//
// A recovery system is `{ key, recover({ inputs, sessions, reps, profilePath }) }`, resolving to
// `{ name, startMs, firstTurnMs, recovered, reps? }` or `{ skipped: why }`.
import { fmtMs } from "../lib/format.mjs";
import { RECOVERY_FIRST_TURN_MS_MAX } from "../lib/goals.mjs";
import { log } from "../lib/log.mjs";

/** Runs each system's recovery in turn, logs it; returns the results (saved in the benchmark's JSON). */
export async function recovery({ systems, inputs, sessions, reps, profilePath }) {
  log(
    `recovery: ${inputs} queued inputs over ${sessions} sessions; start → first turn (goal < ${RECOVERY_FIRST_TURN_MS_MAX / 1000} s)`,
  );
  const results = [];
  for (const { key, recover } of systems) {
    const r = await recover({ inputs, sessions, reps, profilePath });
    if (r.skipped) {
      log(`recovery ${key} SKIPPED: ${r.skipped}`);
      results.push({ name: key, skipped: r.skipped });
      continue;
    }
    const goal = r.firstTurnMs < RECOVERY_FIRST_TURN_MS_MAX ? "met" : "NOT met";
    log(
      `recovery ${r.name}: ${r.startMs === undefined ? "" : `start() took ${fmtMs(r.startMs)}, `}` +
        `first turn started ${fmtMs(r.firstTurnMs)} after start, ${r.recovered} inputs recovered` +
        `${key === "offstage" ? ` (goal < ${RECOVERY_FIRST_TURN_MS_MAX / 1000} s: ${goal})` : ""}`,
    );
    results.push(r);
  }
  return results;
}
