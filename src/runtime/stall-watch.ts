/**
 * Sees the time the thread is held while tools or function agents are in flight, past what any
 * dispatcher job or `Dispatcher.timed` call brackets — typically their code after its first
 * `await`. While such calls are in flight a timer ticks every `tickMs`; a tick that comes more than
 * `thresholdMs` late means something held the thread. The report names the calls that were in flight
 * during that time (`one of: …` when several), and says it is a stall seen while they ran: code
 * cannot be attributed after the fact, and the host's own code may have been the one running. A
 * stall already reported by a job or a timed call is not reported again.
 *
 * It measures the real thread, so it reads the process's clock and timers, never the runtime's
 * (a virtual clock does not move while code spins).
 *
 * @packageDocumentation
 */

export interface StallWatchOptions {
  readonly thresholdMs: number;
  /** Reports a stall; `lastReportAtMs` is read to skip stalls reported otherwise. */
  readonly onStall: (label: string, durationMs: number) => void;
  /** When the dispatcher last reported a hog (performance.now() time), or -Infinity. */
  readonly lastReportAtMs: () => number;
}

export class StallWatch {
  readonly #options: StallWatchOptions;
  readonly #tickMs: number;
  /** Calls in flight by label, with how many of each. */
  readonly #calls = new Map<string, number>();
  /** Labels in flight at any time since the last tick (a call may end before the late tick runs). */
  #seen = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #lastTickMs = 0;

  constructor(options: StallWatchOptions) {
    this.#options = options;
    // Ticks often enough that a stall just over the threshold is not hidden inside one period.
    this.#tickMs = Math.max(1, Math.floor(options.thresholdMs / 2));
  }

  /** A call labelled `label` is in flight until the returned function is called (once). */
  enter(label: string): () => void {
    this.#calls.set(label, (this.#calls.get(label) ?? 0) + 1);
    this.#seen.add(label);
    if (this.#timer === undefined) {
      this.#lastTickMs = performance.now();
      this.#schedule();
    }
    let left = false;
    return () => {
      if (left) return;
      left = true;
      const count = this.#calls.get(label)! - 1;
      if (count > 0) this.#calls.set(label, count);
      else this.#calls.delete(label);
    };
  }

  #schedule(): void {
    this.#timer = setTimeout(this.#tick, this.#tickMs);
    // Watching must never keep the host process alive on its own.
    this.#timer.unref();
  }

  readonly #tick = (): void => {
    const now = performance.now();
    const lateMs = now - this.#lastTickMs - this.#tickMs;
    const { thresholdMs, onStall, lastReportAtMs } = this.#options;
    if (lateMs > thresholdMs && this.#seen.size > 0 && lastReportAtMs() < this.#lastTickMs) {
      const labels = [...this.#seen];
      onStall(labels.length === 1 ? labels[0]! : `one of: ${labels.join(", ")}`, lateMs);
    }
    this.#lastTickMs = now;
    this.#seen = new Set(this.#calls.keys());
    if (this.#calls.size > 0) this.#schedule();
    else this.#timer = undefined;
  };
}
