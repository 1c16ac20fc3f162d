/**
 * The driver's lifecycle calls: `stop()` with and without drain (random deadlines, sometimes
 * `force`), `start()` in every state, and the final stops of the run. A second `stop()` before
 * the next start must return the first call's promise.
 */
import { isOffstageError } from "../../src/errors.js";
import type { StopStatus } from "../../src/kernel/shutdown/stop-status.js";
import type { DriverParts } from "./driver-parts.js";
import { SimulationFailure } from "./invariants.js";

export class LifecycleDriver {
  readonly #p: DriverParts;
  /** The promise of the `stop()` in progress, until the next start. */
  #stopping: Promise<StopStatus> | undefined;

  constructor(parts: DriverParts) {
    this.#p = parts;
  }

  stop(): void {
    const p = this.#p;
    const r = p.r;
    const drain = r.chance(0.5);
    const force = r.chance(0.1);
    const timeoutMs = r.pick([0, r.int(1, 100), r.int(100, 1000), r.int(1000, 5000)]);
    const state = p.runtime().state;
    p.trace.add(`> stop drain=${drain} timeoutMs=${timeoutMs} force=${force} (${state})`);
    const promise = p.runtime().stop({ drain, timeoutMs, force });
    if (this.#stopping !== undefined) {
      // Until the next start(), every stop() returns the first call's promise.
      if (promise !== this.#stopping)
        p.checker.fail(`stop() after stop() (runtime ${state}) returned a new promise`);
      return;
    }
    if (state !== "running" && state !== "starting") {
      promise.then(
        (status) => {
          if (status !== "clean") p.checker.fail(`stop() of a ${state} runtime returned ${status}`);
        },
        (error: unknown) => p.checker.fail(`stop() of a ${state} runtime rejected: ${String(error)}`),
      );
      return;
    }
    p.checker.stopCalled(drain, force, timeoutMs);
    this.#stopping = promise;
    promise.then(
      (status) => {
        p.trace.add(`  stop -> ${status}`);
        p.checker.stopResolved(status);
      },
      (error: unknown) => p.checker.fail(`stop() rejected: ${String(error)}`),
    );
  }

  /** Starts the runtime; a start that fails is a violation. */
  startRuntime(): void {
    const p = this.#p;
    this.#stopping = undefined;
    p.runtime()
      .start()
      .then(
        () => p.trace.add("  start -> running"),
        (error: unknown) => p.checker.fail(`start() failed: ${String(error)}`),
      );
  }

  start(): void {
    const p = this.#p;
    const state = p.runtime().state;
    p.trace.add(`> start (${state})`);
    if (state === "stopped" || state === "created") {
      this.startRuntime();
      if (p.r.chance(0.1)) this.stop();
      return;
    }
    const want = state === "stopping" ? "STOPPING" : "ALREADY_STARTED";
    p.runtime()
      .start()
      .then(
        () => p.checker.fail(`start() of a ${state} runtime resolved`),
        (error: unknown) => {
          if (!isOffstageError(error, want))
            p.checker.fail(`start() of a ${state} runtime threw ${String(error)}, expected ${want}`);
        },
      );
  }

  /** A stop that must end clean: `until` fires timers until it resolved. */
  async finalStop(
    drain: boolean,
    until: (done: () => boolean, what: string) => Promise<void>,
  ): Promise<void> {
    const p = this.#p;
    const timeoutMs = 600_000;
    p.trace.add(`> final: stop drain=${drain} timeoutMs=${timeoutMs}`);
    p.checker.stopCalled(drain, false, timeoutMs);
    let status: StopStatus | undefined;
    this.#stopping = p.runtime().stop({ drain, timeoutMs });
    this.#stopping.then(
      (s) => {
        status = s;
        p.trace.add(`  stop -> ${s}`);
        p.checker.stopResolved(s);
      },
      (error: unknown) => p.checker.fail(`stop() rejected: ${String(error)}`),
    );
    await until(() => status !== undefined, "the final stop");
    if (status !== "clean")
      throw new SimulationFailure(
        `the final stop (drain=${drain}, ${timeoutMs}ms) returned ${status}, expected clean`,
      );
  }
}
