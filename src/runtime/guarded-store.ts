/**
 * The store as the runtime's parts see it: the adapter, with every call that can fail watched, so a
 * failure reaches the store's health (`store-health.ts`) wherever it happens — in a send, a turn's
 * checkpoint in a dispatcher job, a child's completion, a commit — and not only where someone
 * catches it (the delegation and event logs included). The caller gets the failure as an `OffstageError` (`STORE_FAILED`, or the store's own
 * `STORE_*` code) whose `cause` is what the adapter threw.
 *
 * `InvalidInputError` is the caller's mistake (a duplicate key the store refused), not a failure of
 * the store. `open()` and `close()` are not watched: boot and the health's probe own their errors.
 *
 * @packageDocumentation
 */
import { CapacityError, InvalidInputError, isOffstageError } from "../errors.js";
import type { Message } from "../kernel/messages.js";
import type { RuntimeParts } from "./parts.js";
import type { DelegationLog, DelegationRecord, DeliveryPlan } from "./ports/delegation-log.js";
import type { EventLog } from "./ports/event-log.js";
import type { SessionLeases } from "./ports/session-leases.js";
import type {
  InputEnd,
  InputRecord,
  InputSnapshot,
  OpenOptions,
  Receipt,
  RecoveredState,
  SessionRecord,
  Steer,
  StepCheckpoint,
  Store,
  TurnEnd,
  TurnStart,
} from "./ports/store.js";

export class GuardedStore implements Store {
  readonly #store: Store;
  readonly #parts: RuntimeParts;
  readonly delegations?: DelegationLog;
  readonly eventLog?: EventLog;
  /**
   * Passed through as it is: the lease keeper owns what lease calls throw (a lost connection pauses
   * the process's sessions; it is not a failed write).
   */
  readonly leases?: SessionLeases;
  readonly queuedSessions?: Required<Store>["queuedSessions"];
  readonly queuedOf?: Required<Store>["queuedOf"];
  /** Not watched, as `close()`: the stop that calls it has failed the store already. */
  readonly abandon?: Required<Store>["abandon"];

  constructor(store: Store, parts: RuntimeParts) {
    this.#store = store;
    this.#parts = parts;
    if (store.delegations !== undefined) this.delegations = guardLog(store.delegations, this);
    if (store.eventLog !== undefined) this.eventLog = guardEventLog(store.eventLog, this);
    if (store.leases !== undefined) this.leases = store.leases;
    if (store.abandon !== undefined) this.abandon = store.abandon.bind(store);
    // Paged recovery is offered only when the adapter offers it (boot asks whether it is there).
    if (store.queuedSessions !== undefined && store.queuedOf !== undefined) {
      const { queuedSessions, queuedOf } = store;
      this.queuedSessions = (after, sessionsMax) =>
        this.#guard(() => queuedSessions.call(store, after, sessionsMax));
      this.queuedOf = (sessionId) => this.#call(queuedOf, sessionId);
    }
  }

  get kind(): string {
    return this.#store.kind;
  }

  get receipt(): Receipt {
    return this.#store.receipt;
  }

  open(options?: OpenOptions): Promise<RecoveredState> {
    return this.#store.open(options);
  }

  createSession(session: SessionRecord): void {
    try {
      this.#store.createSession(session);
    } catch (error) {
      throw this.failed(error);
    }
  }

  accept(input: InputRecord): void {
    try {
      this.#store.accept(input);
    } catch (error) {
      throw this.failed(error);
    }
  }

  steer(steer: Steer): void {
    try {
      this.#store.steer(steer);
    } catch (error) {
      throw this.failed(error);
    }
  }

  endInput(end: InputEnd): void {
    try {
      this.#store.endInput(end);
    } catch (error) {
      throw this.failed(error);
    }
  }

  startTurn(turn: TurnStart): void {
    try {
      this.#store.startTurn(turn);
    } catch (error) {
      throw this.failed(error);
    }
  }

  checkpoint(checkpoint: StepCheckpoint): void {
    try {
      this.#store.checkpoint(checkpoint);
    } catch (error) {
      throw this.failed(error);
    }
  }

  endTurn(end: TurnEnd): void {
    try {
      this.#store.endTurn(end);
    } catch (error) {
      throw this.failed(error);
    }
  }

  commit(): Promise<void> {
    let committed: Promise<void>;
    try {
      committed = this.#store.commit();
    } catch (error) {
      return Promise.reject(this.failed(error));
    }
    return committed.catch((error: unknown) => {
      throw this.failed(error);
    });
  }

  history(sessionId: string): readonly Message[] {
    try {
      return this.#store.history(sessionId);
    } catch (error) {
      throw this.failed(error);
    }
  }

  findByIdempotencyKey(sessionId: string, key: string): InputSnapshot | undefined {
    return this.#guard(() => this.#store.findByIdempotencyKey(sessionId, key));
  }

  input(inputId: string): InputSnapshot | undefined {
    return this.#call(this.#store.input, inputId);
  }

  close(): Promise<void> {
    return this.#store.close();
  }

  #guard<R>(call: () => R): R {
    return guardedBy(this, call);
  }

  /** Calls a one-argument method of the adapter (no closure per call: sends and turns call these). */
  #call<A, R>(method: (this: Store, arg: A) => R, arg: A): R {
    try {
      return method.call(this.#store, arg);
    } catch (error) {
      throw this.failed(error);
    }
  }

  /**
   * Tells the store's health about a failure (not about a caller's mistake); returns the error to
   * throw: the caller's mistake as it was, a failure as an `OffstageError` (`STORE_FAILED`, ...).
   */
  failed(error: unknown): unknown {
    // A refusal the store made on the caller's behalf (a bad input, a busy session or a full cap seen
    // by another process) is an answer, not a failure of the store.
    // STORE_UNAVAILABLE: a shared store cut off from its server for a while; it pauses its
    // sessions and takes them up again itself (see `ports/session-leases.ts`).
    return error instanceof InvalidInputError ||
      error instanceof CapacityError ||
      (isOffstageError(error) && error.code === "STORE_UNAVAILABLE")
      ? error
      : this.#parts.health.failed(error);
  }
}

/** Runs `call`, telling `store`'s health about a failure. */
function guardedBy<T>(store: GuardedStore, call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw store.failed(error);
  }
}

/** The delegation log of a guarded store: its calls watched the same way. */
function guardLog(log: DelegationLog, store: GuardedStore): DelegationLog {
  const guarded = <T>(call: () => T): T => guardedBy(store, call);
  const { reserve } = log;
  return {
    dispatch: (record: DelegationRecord) => guarded(() => log.dispatch(record)),
    ...(reserve === undefined
      ? {}
      : { reserve: (records, caps) => guarded(() => reserve.call(log, records, caps)) }),
    complete: (completion, delivery: DeliveryPlan) => guarded(() => log.complete(completion, delivery)),
    setDelivery: (delegationId, delivery) => guarded(() => log.setDelivery(delegationId, delivery)),
    get: (delegationId) => guarded(() => log.get(delegationId)),
    list: (parentSessionId) => guarded(() => log.list(parentSessionId)),
    prune: (delegationIds) => guarded(() => log.prune(delegationIds)),
    spend: (rootSessionId) => guarded(() => log.spend(rootSessionId)),
    charge: (rootSessionId, tokens, admit) => guarded(() => log.charge(rootSessionId, tokens, admit)),
  };
}

/** The event log of a guarded store (`options.eventLog`): its calls watched the same way. */
function guardEventLog(log: EventLog, store: GuardedStore): EventLog {
  const { recordsHere } = log;
  return {
    append: (event) => guardedBy(store, () => log.append(event)),
    read: (sessionId, afterSeq, limit) => guardedBy(store, () => log.read(sessionId, afterSeq, limit)),
    lastSeq: (sessionId) => guardedBy(store, () => log.lastSeq(sessionId)),
    trim: (sessionId, throughSeq) => guardedBy(store, () => log.trim(sessionId, throughSeq)),
    // Mostly answered from memory, but a session being created waits for its row's answer.
    ...(recordsHere === undefined
      ? {}
      : { recordsHere: (sessionId) => guardedBy(store, () => recordsHere.call(log, sessionId)) }),
  };
}
