/**
 * Runtime metrics: counters kept as work happens, gauges read on demand, latency percentiles from
 * HDR histograms. `runtime.metrics()` returns a plain snapshot.
 *
 * @packageDocumentation
 */
import type { TerminalStatus } from "../kernel/outcome.js";
import type { Clock } from "./clock.js";
import { LatencyRecorder, type LatencyStats } from "./latency-stats.js";

/** A snapshot of the runtime's health. */
export interface RuntimeMetrics {
  readonly state: string;
  readonly sessions: number;
  /** Inputs waiting in inboxes. */
  readonly queuedInputs: number;
  /** Sessions with queued input waiting for a turn slot. */
  readonly readySessions: number;
  readonly runningTurns: number;
  /** Model, tool and function calls in flight. */
  readonly outstandingCalls: number;
  readonly dispatcherDepth: number;
  /** Post→run lag of dispatcher jobs. */
  readonly dispatcherLag: LatencyStats;
  /** Time from `send()` to the turn that answers it starting. */
  readonly sendToStart: LatencyStats;
  readonly inputsAccepted: number;
  readonly turnsStarted: number;
  /** Inputs that reached each terminal status. */
  readonly ended: Readonly<Record<TerminalStatus, number>>;
  /** Inputs ended per second since the runtime was created. */
  readonly throughputPerSecond: number;
  readonly uptimeMs: number;
}

export interface Gauges {
  readonly state: string;
  readonly sessions: number;
  readonly queuedInputs: number;
  readonly readySessions: number;
  readonly runningTurns: number;
  readonly outstandingCalls: number;
  readonly dispatcherDepth: number;
  readonly dispatcherLag: LatencyStats;
}

export class MetricsCounters {
  readonly #clock: Clock;
  readonly #createdAtMs: number;
  readonly #sendToStart = new LatencyRecorder();
  #accepted = 0;
  #started = 0;
  #ended: Record<TerminalStatus, number> = {
    completed: 0,
    failed: 0,
    cancelled: 0,
    interrupted: 0,
    max_iterations: 0,
    withdrawn: 0,
  };

  constructor(clock: Clock) {
    this.#clock = clock;
    this.#createdAtMs = clock.monotonicMs();
  }

  accepted(): void {
    this.#accepted += 1;
  }

  started(sendToStartMs: number): void {
    this.#started += 1;
    this.#sendToStart.record(sendToStartMs);
  }

  ended(status: TerminalStatus): void {
    this.#ended[status] += 1;
  }

  snapshot(gauges: Gauges): RuntimeMetrics {
    const uptimeMs = this.#clock.monotonicMs() - this.#createdAtMs;
    let total = 0;
    for (const n of Object.values(this.#ended)) total += n;
    return {
      ...gauges,
      sendToStart: this.#sendToStart.stats(),
      inputsAccepted: this.#accepted,
      turnsStarted: this.#started,
      ended: { ...this.#ended },
      throughputPerSecond: uptimeMs > 0 ? (total * 1000) / uptimeMs : 0,
      uptimeMs,
    };
  }
}
