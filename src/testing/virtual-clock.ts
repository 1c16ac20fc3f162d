/**
 * `VirtualClock`: a {@link Clock} whose time only moves when a test or simulation says so. Timers
 * fire in due-time order (ties in creation order), so a run replays exactly.
 *
 * @packageDocumentation
 */
import type { Clock, TimerToken } from "../runtime/clock.js";

interface Timer {
  readonly id: number;
  readonly dueMs: number;
  readonly callback: () => void;
}

/** A manually advanced clock for deterministic tests. */
export class VirtualClock implements Clock {
  #nowMs: number;
  #nextId = 1;
  readonly #timers = new Map<number, Timer>();
  readonly #epochOffsetMs: number;

  constructor(options: { startMs?: number; epochMs?: number } = {}) {
    this.#nowMs = options.startMs ?? 0;
    this.#epochOffsetMs = options.epochMs ?? 1_767_225_600_000;
  }

  monotonicMs(): number {
    return this.#nowMs;
  }

  epochMs(): number {
    return this.#epochOffsetMs + this.#nowMs;
  }

  setTimeout(callback: () => void, delayMs: number): TimerToken {
    const id = this.#nextId++;
    this.#timers.set(id, { id, dueMs: this.#nowMs + Math.max(0, delayMs), callback });
    return { id };
  }

  clearTimeout(token: TimerToken): void {
    this.#timers.delete((token as { id: number }).id);
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.#timers.size;
  }

  /** The due time of the next timer, if any. */
  nextDueMs(): number | undefined {
    return this.#next()?.dueMs;
  }

  /** Moves time to the next timer and fires it (and any due at the same time). Returns false if none. */
  fireNext(): boolean {
    const next = this.#next();
    if (next === undefined) return false;
    this.#nowMs = Math.max(this.#nowMs, next.dueMs);
    this.#timers.delete(next.id);
    next.callback();
    return true;
  }

  /** Advances time by `ms`, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const target = this.#nowMs + ms;
    for (;;) {
      const next = this.#next();
      if (next === undefined || next.dueMs > target) break;
      this.#nowMs = Math.max(this.#nowMs, next.dueMs);
      this.#timers.delete(next.id);
      next.callback();
    }
    this.#nowMs = target;
  }

  #next(): Timer | undefined {
    let best: Timer | undefined;
    for (const t of this.#timers.values()) {
      if (best === undefined || t.dueMs < best.dueMs || (t.dueMs === best.dueMs && t.id < best.id)) best = t;
    }
    return best;
  }
}
