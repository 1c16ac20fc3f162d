/**
 * The simulated world around the runtime: what the fakes of one simulated process share (the seed's
 * streams, the virtual clock, the trace, the checker's hooks) and the tracker of their calls. Faults
 * come from these swapped ports — the fake model (`fake-model.ts`), tools (`fake-tools.ts`), function
 * agent (`fake-function.ts`) and wake channel (`lossy-wakes.ts`) — never from hooks in the runtime.
 * All waiting is on the virtual clock and every choice is drawn from the seed's streams, so a seed
 * replays exactly.
 *
 * Every model, tool and function call that can outlive a microtask is recorded in the
 * {@link CallTracker}, with whether it ignores its abort signal: the invariants compare it with the
 * runtime's own count of outstanding calls and with what `stop()` reports.
 */
import type { Message } from "../../src/kernel/messages.js";
import type { Runtime } from "../../src/runtime/runtime.js";
import type { TurnHandle } from "../../src/runtime/turn-handle.js";
import type { VirtualClock } from "../../src/testing/virtual-clock.js";
import type { SimConfig, SimStreams } from "./config.js";
import type { Trace } from "./trace.js";

export interface CallRecord {
  readonly id: number;
  /** The simulated process that made the call. */
  readonly process: number;
  readonly kind: "model" | "tool" | "function";
  readonly label: string;
  readonly ignoresAbort: boolean;
  readonly startedAtMs: number;
}

/** Calls in flight in the fakes. */
export class CallTracker {
  readonly live = new Map<number, CallRecord>();
  #next = 1;
  /** Called when a call starts (the invariants refuse calls while the runtime is stopped). */
  onBegin: ((call: CallRecord) => void) | undefined;
  readonly #clock: VirtualClock;

  constructor(clock: VirtualClock) {
    this.#clock = clock;
  }

  begin(process: number, kind: CallRecord["kind"], label: string, ignoresAbort: boolean): CallRecord {
    const call = {
      id: this.#next++,
      process,
      kind,
      label,
      ignoresAbort,
      startedAtMs: this.#clock.monotonicMs(),
    };
    this.live.set(call.id, call);
    this.onBegin?.(call);
    return call;
  }

  end(call: CallRecord): void {
    this.live.delete(call.id);
  }

  /** The process died: its calls died with it. */
  crash(process: number): void {
    for (const call of [...this.live.values()]) if (call.process === process) this.live.delete(call.id);
  }
}

/** What the fakes of one simulated process share. */
export interface World {
  /** The simulated process these fakes belong to. */
  readonly process: number;
  /** False once the process crashed: its fakes freeze (a dead process never gets an answer). */
  alive(): boolean;
  readonly config: SimConfig;
  readonly clock: VirtualClock;
  readonly streams: SimStreams;
  readonly calls: CallTracker;
  readonly trace: Trace;
  /** Records an invariant violation found inside a fake (a throw there would be contained). */
  fail(message: string): void;
  /** The runtime, for the function agent's nested sends. */
  runtime(): Runtime;
  /** Keeps a handle the function agent got, so the invariants can check it settles. */
  keepHandle(handle: TurnHandle): void;
  /** Counts a fault or event for the coverage report. */
  count(what: string): void;
  /**
   * The fake model got this prompt (the invariants learn from it which steered input the model saw,
   * and from a child's system prompt which delegation tree the call is charged to).
   */
  prompted(prompt: readonly Message[]): void;
  /** A fresh role for a child spec: unique in the run, so a child's model calls can be told apart. */
  nextRole(): string;
}

/** Waits `ms` of virtual time; rejects with the signal's reason if it fires first. */
export function sleep(clock: VirtualClock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
