/**
 * Where a runtime is in its lifecycle, and the two questions every part asks of it: may a caller
 * hand it work, and may it start turns.
 *
 * @packageDocumentation
 */
import { OffstageError } from "../errors.js";

/**
 * Where the runtime is in its lifecycle:
 * - `created`: made by `createRuntime`; nothing is open and nothing runs. `start()` moves it on.
 * - `starting`: the boot chain runs (open and migrate the store, recover stored work). It ends in
 *   `running`, or back in `stopped` with a `BootError`.
 * - `running`: sends are accepted and turns run.
 * - `degraded`: the store failed (a full disk, an I/O error, its file deleted). Entered from
 *   `running` when a write or a commit fails: every live handle settles at once (see
 *   `store-health.ts`), sends are refused with the store's error, nothing runs, and the store is
 *   probed with a growing interval. When a probe succeeds, what the store kept is recovered as at a
 *   start and the runtime is `running` again, without a restart. `stop()` leaves it for `stopped`.
 * - `stopping`: `stop()` is draining or interrupting; no new work is accepted.
 * - `stopped`: everything in this process has settled; queued work stays stored. `start()` again works.
 */
export type RuntimeState = "created" | "starting" | "running" | "degraded" | "stopping" | "stopped";

/** The lifecycle state, shared by the parts of one runtime. */
export class RunState {
  /** See {@link RuntimeState}; only the runtime's start and stop change it. */
  state: RuntimeState = "created";
  /** True while a draining `stop()` may still start queued turns; once it cancels, nothing starts. */
  draining = false;
  /** Why the store failed, from its failure until it works again (`degraded`, or a stop since). */
  storeError: OffstageError | undefined = undefined;

  /** Turns may start: the runtime runs, or a stop is draining. */
  get driving(): boolean {
    return this.state === "running" || this.draining;
  }

  /**
   * Throws `OffstageError` `NOT_RUNNING` or `STOPPING` unless the runtime accepts work; while it is
   * `degraded`, the store's error (`STORE_FAILED`, `STORE_FILE_GONE`).
   */
  assertAccepting(): void {
    if (this.state === "running") return;
    if (this.state === "degraded" && this.storeError !== undefined)
      throw new OffstageError(
        this.storeError.code,
        `the store failed and accepts no work until it works again: ${this.storeError.message}`,
        { cause: this.storeError, details: this.storeError.details },
      );
    if (this.state === "stopping")
      throw new OffstageError("STOPPING", "the runtime is stopping and accepts no new work");
    throw new OffstageError("NOT_RUNNING", `the runtime is ${this.state}; call start() first`);
  }
}
