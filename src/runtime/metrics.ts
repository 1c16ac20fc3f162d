/**
 * Runtime metrics: counters kept as work happens, gauges read on demand, latency percentiles from
 * HDR histograms (dispatcher lag, send→start, cancel→settled) and bucket histograms per model and
 * per tool (see `duration-histogram.ts`). `runtime.metrics()` returns a plain snapshot;
 * `renderPrometheus` (src/observability) turns one into the Prometheus text format.
 *
 * @packageDocumentation
 */
import type { TerminalStatus, Usage } from "../kernel/outcome.js";
import type { CancelMode } from "../kernel/turn/turn-machine.js";
import type { Clock } from "./clock.js";
import { DurationHistogram, type HistogramStats } from "./duration-histogram.js";
import { LatencyRecorder, type LatencyStats } from "./latency-stats.js";
import type { RuntimeParts } from "./parts.js";
import type { HostQueueMetrics } from "./ports/host-executor.js";
import type { StoreHealthMetrics } from "./store-health.js";

/** Calls of one model (by id) or one tool (by name). */
export interface CallMetrics {
  readonly name: string;
  readonly count: number;
  /** Calls that failed: a model that threw or streamed an error, a tool result that is an error. */
  readonly errors: number;
  readonly latency: HistogramStats;
}

/** Tokens used by one agent on one model. */
export interface TokenMetrics {
  readonly agent: string;
  readonly model: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
}

/** Work done again. */
export interface RetryMetrics {
  /** Turns resumed after a crash (each is another attempt of the turn). */
  readonly resumedTurns: number;
  /** Probes of a failed store that failed too, so the store was tried again later. */
  readonly commits: number;
  /** Model calls that failed transiently and were tried again (an agent's `retry`). */
  readonly modelCalls: number;
}

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
  /** Model calls by model id, with their latency. */
  readonly modelCalls: readonly CallMetrics[];
  /** Tool calls by tool name, with their latency (argument checks included). */
  readonly toolCalls: readonly CallMetrics[];
  /** Token usage by agent and model, as the models reported it. */
  readonly tokens: readonly TokenMetrics[];
  readonly retries: RetryMetrics;
  /** From `handle.cancel()` to the input settled, by cancel mode (P7: prompt cancellation). */
  readonly cancelToSettled: Readonly<Record<CancelMode, LatencyStats>>;
  /** The host queue (`options.host`): depth, waits and the longest hold of the host thread, by tool. */
  readonly host: HostQueueMetrics | undefined;
  /** Whether the store is failing now, and what its failures cost (see `StoreHealthMetrics`). */
  readonly store: StoreHealthMetrics;
}

/** The gauges `runtime.metrics()` reads from the runtime's parts. */
export interface Gauges {
  readonly state: string;
  readonly sessions: number;
  readonly queuedInputs: number;
  readonly readySessions: number;
  readonly runningTurns: number;
  readonly outstandingCalls: number;
  readonly dispatcherDepth: number;
  readonly dispatcherLag: LatencyStats;
  readonly host: HostQueueMetrics | undefined;
  readonly store: StoreHealthMetrics;
}

interface CallCell {
  count: number;
  errors: number;
  readonly latency: DurationHistogram;
}

interface TokenCell {
  inputTokens: number;
  outputTokens: number;
}

/** Counters the runtime's parts update as work happens. */
export class MetricsCounters {
  readonly #clock: Clock;
  readonly #createdAtMs: number;
  readonly #sendToStart = new LatencyRecorder();
  readonly #cancelToSettled: Record<CancelMode, LatencyRecorder> = {
    immediate: new LatencyRecorder(),
    after_step: new LatencyRecorder(),
  };
  readonly #models = new Map<string, CallCell>();
  readonly #tools = new Map<string, CallCell>();
  /** Tokens by agent, then model. */
  readonly #tokens = new Map<string, Map<string, TokenCell>>();
  // The last cell each map answered: a run of calls of one model (or one agent) skips the look-up.
  #lastModel: string | undefined;
  #lastModelCell: CallCell | undefined;
  #lastAgent: string | undefined;
  #lastTokenModel: string | undefined;
  #lastTokenCell: TokenCell | undefined;
  #resumedTurns = 0;
  #commitRetries = 0;
  #modelRetries = 0;
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

  /** A model call ended (failed: it threw or streamed an error). */
  modelCall(modelId: string, durationMs: number, failed: boolean): void {
    let cell = this.#lastModelCell;
    if (modelId !== this.#lastModel || cell === undefined) {
      cell = cellOf(this.#models, modelId);
      this.#lastModel = modelId;
      this.#lastModelCell = cell;
    }
    cell.count += 1;
    if (failed) cell.errors += 1;
    cell.latency.record(durationMs);
  }

  /** A tool call ended (its result went back to the model). */
  toolCall(toolName: string, durationMs: number, isError: boolean): void {
    const cell = cellOf(this.#tools, toolName);
    cell.count += 1;
    if (isError) cell.errors += 1;
    cell.latency.record(durationMs);
  }

  /** Tokens a model call of `agent` on `modelId` reported. */
  tokens(agent: string, modelId: string, usage: Usage): void {
    let cell = this.#lastTokenCell;
    if (agent !== this.#lastAgent || modelId !== this.#lastTokenModel || cell === undefined) {
      let byModel = this.#tokens.get(agent);
      if (byModel === undefined) {
        byModel = new Map();
        this.#tokens.set(agent, byModel);
      }
      cell = byModel.get(modelId);
      if (cell === undefined) {
        cell = { inputTokens: 0, outputTokens: 0 };
        byModel.set(modelId, cell);
      }
      this.#lastAgent = agent;
      this.#lastTokenModel = modelId;
      this.#lastTokenCell = cell;
    }
    cell.inputTokens += usage.inputTokens;
    cell.outputTokens += usage.outputTokens;
  }

  /** A turn resumed after a crash. */
  turnResumed(): void {
    this.#resumedTurns += 1;
  }

  /** A probe of a failed store failed; the store will be tried again. */
  commitRetried(): void {
    this.#commitRetries += 1;
  }

  /** A model call failed transiently and will be tried again. */
  modelCallRetried(): void {
    this.#modelRetries += 1;
  }

  /** A cancelled input settled `ms` after `cancel()` was called. */
  cancelSettled(mode: CancelMode, ms: number): void {
    this.#cancelToSettled[mode].record(ms);
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
      modelCalls: callsOf(this.#models),
      toolCalls: callsOf(this.#tools),
      tokens: [...this.#tokens].flatMap(([agent, byModel]) =>
        [...byModel].map(([model, cell]) => ({ agent, model, ...cell })),
      ),
      retries: {
        resumedTurns: this.#resumedTurns,
        commits: this.#commitRetries,
        modelCalls: this.#modelRetries,
      },
      cancelToSettled: {
        immediate: this.#cancelToSettled.immediate.stats(),
        after_step: this.#cancelToSettled.after_step.stats(),
      },
    };
  }
}

function cellOf(cells: Map<string, CallCell>, name: string): CallCell {
  let cell = cells.get(name);
  if (cell === undefined) {
    cell = { count: 0, errors: 0, latency: new DurationHistogram() };
    cells.set(name, cell);
  }
  return cell;
}

function callsOf(cells: Map<string, CallCell>): CallMetrics[] {
  return [...cells].map(([name, { count, errors, latency }]) => ({
    name,
    count,
    errors,
    latency: latency.stats(),
  }));
}

/** The runtime's metrics now: its counters plus the gauges read from its parts. */
export function snapshotMetrics(parts: RuntimeParts): RuntimeMetrics {
  const { metrics, run, sessions, scheduler, driver, dispatcher, health } = parts;
  return metrics.snapshot({
    state: run.state,
    sessions: sessions.size,
    queuedInputs: sessions.queuedCount(),
    readySessions: scheduler.waiting,
    runningTurns: driver.runningTurns,
    outstandingCalls: driver.outstandingCalls,
    dispatcherDepth: dispatcher.depth,
    dispatcherLag: dispatcher.lag(),
    host: parts.options.host?.metrics(),
    store: health.metrics(),
  });
}
