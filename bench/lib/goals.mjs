// The goals the issues set for the benchmarks, in one place: the logs and RESULTS.md judge a
// number against these and nothing else.

/**
 * Issue #2's goal for a core ratio named `system/peer`: at least 2× p-queue, at least 0.5× the naive
 * chain; `undefined` for the reference floor, which is no peer and has none.
 */
export function coreGoal(pair) {
  if (pair.includes("/floor")) return undefined;
  return pair.includes("/p-queue") ? 2 : 0.5;
}

/** Issue #2: an idle Offstage session costs less than this many heap bytes. */
export const IDLE_SESSION_BYTES_MAX = 2048;

/**
 * Issue #3's goal for a durable ratio named `system/peer`: Offstage at least 5× each durable peer;
 * none for the store alone (a ceiling, not a system) or for BullMQ without persistence (not durable).
 */
export function durableGoal(pair) {
  const [system, peer] = pair.split("/");
  return system.startsWith("offstage-") && peer !== "bullmq-none" ? 5 : undefined;
}

/** Issue #3: durable no-op turns per second with SQLite durability "normal", at least this. */
export const DURABLE_NORMAL_PER_S_MIN = 50_000;

/** Issue #3: start() → the first recovered turn, with 100 000 inputs queued, in less than this. */
export const RECOVERY_FIRST_TURN_MS_MAX = 1000;

/**
 * Issue #16's goal for a `models` ratio named `system / ai-sdk` (conversations/s beside the AI SDK's
 * streamText loop): at least 1× on the memory store, at least 0.8× on SQLite "normal".
 */
export function modelsGoal(pair) {
  return pair.startsWith("offstage-memory") ? 1 : 0.8;
}

/** Issue #17: the frame loop's p99 overrun with the runtime in a worker thread, below this. */
export const FRAME_OVERRUN_P99_MS_MAX = 1;

/** Issue #17: in-thread p99 overrun over worker p99 overrun, at least this (in the same run). */
export const FRAME_WORKER_VS_IN_THREAD_MIN = 10;

/**
 * Issue #18's goal for a `fleet` ratio named `system/other` (turns/s): Offstage at least 2× each
 * PostgreSQL peer at the same process count, and Offstage on 2 processes at least 1.5× on one;
 * none for the peers' own scaling, which is shown for comparison.
 */
export function fleetGoal(pair) {
  const [system, other] = pair.split("/");
  if (!system.startsWith("offstage-")) return undefined;
  return other.startsWith("offstage-") ? 1.5 : 2;
}

/** Issue #20: `offstage serve`'s accepted inputs/s at least this times the floor's (a bare Hono + SQLite handler). */
export const SERVE_VS_FLOOR_MIN = 0.5;

/** Issue #20: `offstage serve`'s POST p99 at 50 % of its peak rate, below this. */
export const SERVE_PACED_P99_MS_MAX = 10;
