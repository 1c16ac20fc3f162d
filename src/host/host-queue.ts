/**
 * `HostQueue`: the tool calls waiting for the host's own thread. The runtime submits a call of a
 * tool with `executor: "host"`; the host calls `drain()` from its loop (a frame, an idle callback, a
 * DCC's timer) and the waiting calls run there, one after another, in the order they came.
 *
 * A call waits until a drain starts it or its signal fires (the turn was cancelled, the tool's
 * timeout passed): then it is taken out of the queue at once and never runs. The queue measures how
 * long calls waited and how long each held the host thread, by tool name, so a host whose UI froze
 * can see which tool did it.
 *
 * @packageDocumentation
 */
import { HostThreadError } from "../errors.js";
import { type Clock, systemClock } from "../runtime/clock.js";
import { HostCallTally } from "../runtime/host-call-tally.js";
import type { HostCall, HostExecutor, HostQueueMetrics } from "../runtime/ports/host-executor.js";
import { insideTurn } from "../runtime/turn-scope.js";
import {
  argumentsOf,
  checkDurationMs,
  checkOptions,
  checkPositiveInteger,
  fail,
  type Subject,
} from "../validate.js";

/** Options of {@link HostQueue.drain}. */
export interface DrainOptions {
  /**
   * Start no call after this many milliseconds of the drain have passed (default: no limit). A call
   * that has started runs to its end, so a drain can overrun by the longest call.
   */
  readonly budgetMs?: number;
  /** Run at most this many calls (default: every call queued when the drain began). */
  readonly max?: number;
}

/** Options of {@link createHostQueue}. */
export interface HostQueueOptions {
  /** Times waits and holds (default: the process clock); `VirtualClock` in tests. */
  readonly clock?: Clock;
}

interface Waiting {
  readonly call: HostCall;
  readonly queuedAtMs: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (reason: unknown) => void;
  readonly onAbort: () => void;
}

const DRAIN: Subject = argumentsOf("drain()");
const DRAIN_KEYS = Object.keys({ budgetMs: true, max: true } satisfies Record<keyof DrainOptions, true>);
const NO_OPTIONS: DrainOptions = {};
const CREATE: Subject = argumentsOf("createHostQueue()");
const CREATE_KEYS = Object.keys({ clock: true } satisfies Record<keyof HostQueueOptions, true>);

/**
 * Tool calls waiting for the host thread. Pass it as `createRuntime({ host })` and call
 * {@link drain} from the host's loop.
 */
export class HostQueue implements HostExecutor {
  readonly #clock: Clock;
  #waiting: Waiting[] = [];
  #draining = false;
  readonly #tally = new HostCallTally();

  constructor(options: HostQueueOptions = {}) {
    const { clock } = checkOptions(CREATE, "options", options, CREATE_KEYS);
    if (
      clock !== undefined &&
      !["monotonicMs", "epochMs", "setTimeout", "clearTimeout"].every(
        (method) => typeof (clock as unknown as Record<string, unknown>)[method] === "function",
      )
    )
      fail(CREATE, "options.clock", clock, "a Clock (systemClock, or VirtualClock from offstage/testing)");
    this.#clock = clock ?? systemClock;
  }

  /** Calls waiting for {@link drain}. */
  get depth(): number {
    return this.#waiting.length;
  }

  /** {@inheritDoc HostExecutor.submit} */
  submit(call: HostCall): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const { signal } = call;
      if (signal.aborted) {
        this.#tally.removed(call.toolName);
        reject(signal.reason);
        return;
      }
      const waiting: Waiting = {
        call,
        queuedAtMs: this.#clock.monotonicMs(),
        resolve,
        reject,
        onAbort: () => {
          const index = this.#waiting.indexOf(waiting);
          if (index === -1) return;
          this.#waiting.splice(index, 1);
          this.#tally.removed(call.toolName);
          reject(signal.reason);
        },
      };
      signal.addEventListener("abort", waiting.onAbort, { once: true });
      this.#waiting.push(waiting);
      this.#tally.submitted(call.toolName);
    });
  }

  /**
   * Runs waiting calls on this thread, oldest first, and returns how many ran. Call it from the
   * host's own loop. Never waits: a call that returns a promise is started, and its result is sent
   * back when the promise settles (its remaining work runs on this thread's event loop).
   *
   * A queue belongs to the thread that made it (objects do not cross threads; a runtime in a worker
   * forwards its host calls to the queue of the thread that owns its client).
   *
   * @throws {@link HostThreadError} `WRONG_THREAD` when called from the runtime's side rather than
   *   the host's loop: from inside a runtime's turn (a tool or a function agent: the host's work
   *   would run inside the runtime's), or from inside a call this queue is running; nothing runs then.
   * @throws {@link InvalidInputError} `INVALID_ARGUMENT` for a malformed `budgetMs` or `max`.
   */
  drain(options: DrainOptions = NO_OPTIONS): number {
    const { budgetMs = Number.POSITIVE_INFINITY, max } =
      options === NO_OPTIONS ? options : checkOptions(DRAIN, "options", options, DRAIN_KEYS);
    if (budgetMs !== Number.POSITIVE_INFINITY) checkDurationMs(DRAIN, "options.budgetMs", budgetMs);
    if (max !== undefined) checkPositiveInteger(DRAIN, "options.max", max);
    this.#assertHostThread();
    const clock = this.#clock;
    const startMs = clock.monotonicMs();
    // Calls submitted while this drain runs (by a call it ran) wait for the next drain.
    const limit = Math.min(max ?? this.#waiting.length, this.#waiting.length);
    let ran = 0;
    this.#draining = true;
    try {
      while (ran < limit && this.#waiting.length > 0) {
        if (clock.monotonicMs() - startMs >= budgetMs) break;
        this.#runNext();
        ran += 1;
      }
    } finally {
      this.#draining = false;
    }
    return ran;
  }

  /** {@inheritDoc HostExecutor.metrics} */
  metrics(): HostQueueMetrics {
    return this.#tally.metrics(this.#waiting.length);
  }

  #runNext(): void {
    const waiting = this.#waiting.shift()!;
    const { call } = waiting;
    call.signal.removeEventListener("abort", waiting.onAbort);
    const clock = this.#clock;
    const startMs = clock.monotonicMs();
    this.#tally.started(call.toolName, startMs - waiting.queuedAtMs);
    let result: unknown;
    let threw = false;
    try {
      call.started?.();
      result = call.run(call.signal);
    } catch (error) {
      threw = true;
      result = error;
    }
    const holdMs = clock.monotonicMs() - startMs;
    this.#tally.ran(call.toolName, holdMs);
    if (threw) waiting.reject(result);
    else waiting.resolve(result);
  }

  #assertHostThread(): void {
    if (this.#draining) {
      throw new HostThreadError(
        "drain() was called from inside a host call this queue is running; return, and let the host's loop drain again",
        {},
      );
    }
    const turn = insideTurn();
    if (turn !== undefined) {
      throw new HostThreadError(
        `drain() was called from inside turn ${turn.turnId} of session ${JSON.stringify(turn.sessionId)}; ` +
          "only the host's own loop drains host calls (a tool or function agent that drained would run the host's work inside the runtime's)",
        { sessionId: turn.sessionId, turnId: turn.turnId },
      );
    }
  }
}

/**
 * Makes the queue of tool calls that must run on the host's own thread. Pass it to
 * `createRuntime({ host })`; the host calls `host.drain({ budgetMs, max })` from its loop.
 *
 * @example
 * ```ts
 * const host = createHostQueue();
 * const runtime = createRuntime({ host, agents: { npc: { model, tools: [readGameState] } } });
 * // each frame:
 * host.drain({ budgetMs: 2 });
 * ```
 */
export function createHostQueue(options: HostQueueOptions = {}): HostQueue {
  return new HostQueue(options);
}
