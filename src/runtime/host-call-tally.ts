/**
 * What host calls cost, by tool: how many ran or were removed, how long each waited for the host's
 * `drain()`, and the longest any held the host thread. Kept by the host queue, and by a worker
 * runtime's forwarder for the calls it sends to the host thread; both report it as
 * `HostQueueMetrics`.
 *
 * @packageDocumentation
 */
import { LatencyRecorder } from "./latency-stats.js";
import type { HostQueueMetrics, HostToolMetrics } from "./ports/host-executor.js";

interface ToolTally {
  ran: number;
  removed: number;
  holdMaxMs: number;
  readonly wait: LatencyRecorder;
}

export class HostCallTally {
  readonly #tools = new Map<string, ToolTally>();
  #ran = 0;
  #longest: { name: string; holdMs: number } | undefined;

  /** A call of `name` was submitted: the tool is listed from now on, in the order tools first came. */
  submitted(name: string): void {
    this.#tool(name);
  }

  /** A call of `name` started after waiting `waitMs` for the host thread. */
  started(name: string, waitMs: number): void {
    this.#tool(name).wait.record(waitMs);
  }

  /** A call of `name` ran, holding the host thread `holdMs`. */
  ran(name: string, holdMs: number): void {
    const tally = this.#tool(name);
    tally.ran += 1;
    this.#ran += 1;
    if (holdMs > tally.holdMaxMs) tally.holdMaxMs = holdMs;
    if (this.#longest === undefined || holdMs > this.#longest.holdMs) this.#longest = { name, holdMs };
  }

  /** A call of `name` was removed before it ran (cancelled, or its timeout passed). */
  removed(name: string): void {
    this.#tool(name).removed += 1;
  }

  /** The figures, with `depth` calls waiting now. */
  metrics(depth: number): HostQueueMetrics {
    const tools: HostToolMetrics[] = [];
    for (const [name, tally] of this.#tools) {
      tools.push({
        name,
        ran: tally.ran,
        removed: tally.removed,
        wait: tally.wait.stats(),
        holdMaxMs: tally.holdMaxMs,
      });
    }
    return {
      depth,
      ran: this.#ran,
      longest: this.#longest === undefined ? undefined : { ...this.#longest },
      tools,
    };
  }

  #tool(name: string): ToolTally {
    let tally = this.#tools.get(name);
    if (tally === undefined) {
      tally = { ran: 0, removed: 0, holdMaxMs: 0, wait: new LatencyRecorder() };
      this.#tools.set(name, tally);
    }
    return tally;
  }
}
