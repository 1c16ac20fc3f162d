/**
 * How `stop()` reports what happened. Pure.
 *
 * - `clean`: everything the stop waited for settled in time; no accepted work was cut short that the
 *   caller asked to drain (without `drain`, running turns are interrupted by design and that is clean).
 * - `drained_with_discards`: `drain` was asked, but the deadline passed with work unfinished; that work
 *   was interrupted (running turns) or left stored for the next start (queued inputs).
 * - `timeout`: model or tool calls ignored their abort signal and were still outstanding at the
 *   deadline; they were abandoned (their late results are dropped).
 * - `force_killed`: as `timeout`, and `force` was set, so executors that can be killed were terminated.
 * - `store_failed`: the store could not write what the stop (or the run before it) had to keep; the
 *   inputs whose writes were lost settled `failed` (`store_failed`), and what the store did keep runs
 *   after the next start. Named first: lost writes matter more than anything the stop cut short.
 */
export type StopStatus = "clean" | "drained_with_discards" | "timeout" | "force_killed" | "store_failed";

export interface StopFacts {
  readonly drain: boolean;
  /** Turns or queued inputs the drain could not finish before the deadline. */
  readonly discarded: number;
  /** Model/tool/function calls still outstanding when the deadline passed. */
  readonly abandonedCalls: number;
  readonly force: boolean;
  /** The store failed during the run or the stop's final commit, and has not worked since. */
  readonly storeFailed: boolean;
}

export function stopStatus(facts: StopFacts): StopStatus {
  if (facts.storeFailed) return "store_failed";
  if (facts.abandonedCalls > 0) return facts.force ? "force_killed" : "timeout";
  if (facts.drain && facts.discarded > 0) return "drained_with_discards";
  return "clean";
}
