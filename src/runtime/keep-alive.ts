/**
 * Keeps the host process alive while the runtime holds accepted, unsettled work, and only then.
 *
 * Node ends a process when nothing ref'd is left to wait for. The runtime's own timers (the recovery
 * poll, a result's deadline, a tool's timeout) are unref'd, so that an idle runtime never keeps its
 * host running. Without a hold, a host whose only remaining work is the runtime's — a script that
 * ends with `await handle.result({ timeoutMs })` on a turn whose model awaits nothing ref'd — would
 * exit with code 13 (unsettled top-level await), and an input whose wake was lost would never be
 * driven. So the runtime holds one ref'd timer from the moment it accepts work until it is idle
 * again (no queued input, no running turn) or stopped; a `stop()` holds it until it returns.
 *
 * Only on the real clock: on a `VirtualClock` time passes when a test says so, and whether the
 * process stays alive is the test's business.
 *
 * @packageDocumentation
 */
import { TIMER_DELAY_MAX_MS } from "../kernel/limits.js";
import { systemClock } from "./clock.js";
import type { RuntimeParts } from "./parts.js";

export class KeepAlive {
  readonly #parts: RuntimeParts;
  readonly #enabled: boolean;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(parts: RuntimeParts) {
    this.#parts = parts;
    this.#enabled = parts.clock === systemClock;
  }

  /** The process is held alive now. */
  get held(): boolean {
    return this.#timer !== undefined;
  }

  /** Work was accepted: hold the process until the runtime is idle. Cheap when held already. */
  busy(): void {
    if (this.#timer !== undefined || !this.#enabled) return;
    // Does nothing when it fires; being pending (and ref'd) is its whole purpose.
    this.#timer = setInterval(noop, TIMER_DELAY_MAX_MS);
  }

  /** Work settled: let the process go if nothing is queued or running any more. */
  settled(): void {
    // A stop holds the process until it returns, whatever settles meanwhile.
    if (this.#timer === undefined || this.#parts.run.state === "stopping") return;
    const { driver, sessions, leaseKeeper } = this.#parts;
    if (driver.runningTurns === 0 && sessions.queuedCount() === 0 && (leaseKeeper?.watching ?? 0) === 0)
      this.release();
  }

  /** The runtime stopped (or never started): nothing of it keeps the process alive. */
  release(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

function noop(): void {}
