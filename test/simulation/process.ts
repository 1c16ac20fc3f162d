/**
 * A simulated process: one runtime object with its own view of the shared store and clock. A crash
 * kills the process at a quiescent point: from then on its store writes are dropped and its commits
 * never resolve (a dead process writes nothing and waits forever), its timers never fire and its
 * fakes freeze, so nothing it still had in flight can reach the shared store. A new process then
 * recovers from that store, as after `kill -9` with a store whose every write was committed.
 */
import type { Clock, TimerToken } from "../../src/runtime/clock.js";
import type { Store } from "../../src/runtime/ports/store.js";
import type { VirtualClock } from "../../src/testing/virtual-clock.js";

const NEVER = new Promise<never>(() => {});

/** The shared store as one process sees it: writes and commits stop when the process dies. */
export function fencedStore(store: Store, alive: () => boolean): Store {
  return {
    kind: store.kind,
    receipt: store.receipt,
    open: () => store.open(),
    createSession: (session) => {
      if (alive()) store.createSession(session);
    },
    accept: (input) => {
      if (alive()) store.accept(input);
    },
    steer: (steer) => {
      if (alive()) store.steer(steer);
    },
    endInput: (end) => {
      if (alive()) store.endInput(end);
    },
    startTurn: (turn) => {
      if (alive()) store.startTurn(turn);
    },
    checkpoint: (checkpoint) => {
      if (alive()) store.checkpoint(checkpoint);
    },
    endTurn: (end) => {
      if (alive()) store.endTurn(end);
    },
    commit: () => (alive() ? store.commit() : NEVER),
    history: (sessionId) => store.history(sessionId),
    findByIdempotencyKey: (sessionId, key) => store.findByIdempotencyKey(sessionId, key),
    input: (inputId) => store.input(inputId),
    close: () => (alive() ? store.close() : NEVER),
  };
}

/** The shared virtual clock as one process sees it: its timers do nothing once it died. */
export function fencedClock(clock: VirtualClock, alive: () => boolean): Clock {
  return {
    monotonicMs: () => clock.monotonicMs(),
    epochMs: () => clock.epochMs(),
    setTimeout: (callback: () => void, delayMs: number): TimerToken =>
      clock.setTimeout(() => {
        if (alive()) callback();
      }, delayMs),
    clearTimeout: (token: TimerToken) => clock.clearTimeout(token),
  };
}

/** A promise that never settles: what a call into a dead process returns. */
export function frozen<T>(): Promise<T> {
  return NEVER;
}
