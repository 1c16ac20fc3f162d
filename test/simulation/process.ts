/**
 * A simulated process: one runtime object with its own view of the shared store and clock. A crash
 * kills the process at a quiescent point: from then on its store writes are dropped and its commits
 * never resolve (a dead process writes nothing and waits forever), its timers never fire and its
 * fakes freeze, so nothing it still had in flight can reach the shared store. A new process then
 * recovers from that store, as after `kill -9` with a store whose every write was committed.
 */
import type { DeliveryState } from "../../src/kernel/delegation/completion-delivery.js";
import { createTreeSpend } from "../../src/kernel/delegation/delegation-budget.js";
import type { Clock, TimerToken } from "../../src/runtime/clock.js";
import type { DelegationLog } from "../../src/runtime/ports/delegation-log.js";
import type { InputEnd, InputRecord, Steer, Store } from "../../src/runtime/ports/store.js";
import type { VirtualClock } from "../../src/testing/virtual-clock.js";

const NEVER = new Promise<never>(() => {});

/**
 * Writes the invariants watch as they reach the store: the runtime reports no event for input it
 * queues itself (a child's goal, a completion), and whether a completion was ever steered into a
 * running turn is only visible here.
 */
export interface StoreWatch {
  accepted(input: InputRecord): void;
  steered(steer: Steer): void;
  inputEnded(end: InputEnd): void;
  /** A completion's delivery state was written (retention may prune the record before any check). */
  delivery(delegationId: string, state: DeliveryState): void;
}

/** The shared store as one process sees it: writes and commits stop when the process dies. */
export function fencedStore(store: Store, alive: () => boolean, watch: StoreWatch): Store {
  const log = store.delegations;
  return {
    kind: store.kind,
    receipt: store.receipt,
    ...(log === undefined ? {} : { delegations: fencedLog(log, alive, watch) }),
    open: () => store.open(),
    createSession: (session) => {
      if (alive()) store.createSession(session);
    },
    accept: (input) => {
      if (!alive()) return;
      store.accept(input);
      watch.accepted(input);
    },
    steer: (steer) => {
      if (!alive()) return;
      store.steer(steer);
      watch.steered(steer);
    },
    endInput: (end) => {
      if (!alive()) return;
      store.endInput(end);
      watch.inputEnded(end);
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

/** The shared delegation log as one process sees it: its writes stop when the process dies. */
function fencedLog(log: DelegationLog, alive: () => boolean, watch: StoreWatch): DelegationLog {
  return {
    dispatch: (record) => {
      if (alive()) log.dispatch(record);
    },
    complete: (completion, delivery) => {
      if (!alive() || !log.complete(completion, delivery)) return false;
      watch.delivery(completion.delegationId, delivery.state);
      return true;
    },
    setDelivery: (id, delivery) => {
      if (!alive()) return;
      log.setDelivery(id, delivery);
      watch.delivery(id, delivery.state);
    },
    get: (id) => log.get(id),
    list: (parent) => log.list(parent),
    prune: (ids) => {
      if (alive()) log.prune(ids);
    },
    spend: (root) => log.spend(root),
    // A dead process charges nothing, and its calls are refused: it makes none.
    charge: (root, tokens, admit) =>
      alive()
        ? log.charge(root, tokens, admit)
        : { spend: log.spend(root) ?? createTreeSpend(), admitted: false },
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
