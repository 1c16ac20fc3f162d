/**
 * Intake: input on its way in, and out again before it runs. A send is checked, written to the
 * store and queued in its session's inbox (or refused with nothing changed); a repeated idempotency
 * key returns the original handle (`idempotency-keys.ts`); a queued input can be withdrawn or cancelled. Input the runtime
 * makes itself (a child's goal, a completion for a parent) comes in here too.
 *
 * @packageDocumentation
 */
import { CapacityError, InvalidInputError, OffstageError } from "../errors.js";
import type { Reason, TerminalStatus } from "../kernel/outcome.js";
import { type AcceptDecision, accept, POLICIES, type Policy, withdraw } from "../kernel/session/inbox.js";
import type { CancelMode, CancelRequest } from "../kernel/turn/turn-machine.js";
import { argumentsOf, checkId, checkOneOf, checkOptions } from "../validate.js";
import type { ModelAgent } from "./agent.js";
import type { InputEndCause } from "./delegation/children.js";
import type { Stamp } from "./dispatcher.js";
import { encodePayload } from "./encode-payload.js";
import { IdempotencyKeys } from "./idempotency-keys.js";
import { LiveInput } from "./live-input.js";
import type { LiveTurn } from "./live-turn.js";
import type { RuntimeParts } from "./parts.js";
import type { InputRecord } from "./ports/store.js";
import { SEND_KEYS, type SendOptions } from "./session.js";
import type { SessionEntry } from "./session-table.js";
import { storedHandle } from "./stored-handle.js";
import type { TurnHandle } from "./turn-handle.js";
import type { ResultOptions, TurnResult } from "./turn-result.js";

const SEND = argumentsOf("send()");
const NO_SEND_OPTIONS: SendOptions = {};
const NO_INPUTS: readonly LiveInput[] = [];

export class Intake {
  readonly #parts: RuntimeParts;
  /** Live inputs sent with an idempotency key, and the look-up of a repeated key. */
  readonly keys: IdempotencyKeys;
  /** The next input's place in acceptance order across the store. */
  #seq = 1;

  constructor(parts: RuntimeParts) {
    this.#parts = parts;
    this.keys = new IdempotencyKeys(parts);
  }

  /** Where acceptance order goes on from; recovery sets it. */
  get nextSeq(): number {
    return this.#seq;
  }

  set nextSeq(seq: number) {
    this.#seq = seq;
  }

  /** Accepts a host's input: see `Session.send`. */
  send(entry: SessionEntry, payload: unknown, options: SendOptions = NO_SEND_OPTIONS): TurnHandle {
    const { run, limits, dispatcher, store, metrics, events } = this.#parts;
    run.assertAccepting();
    const given = options === NO_SEND_OPTIONS ? options : checkOptions(SEND, "options", options, SEND_KEYS);
    const policy = given.policy ?? "enqueue";
    checkOneOf(SEND, "policy", policy, POLICIES as ReadonlySet<Policy>);
    const key = given.idempotencyKey;
    if (key !== undefined) checkId(SEND, "idempotencyKey", key);
    // A short string needs no JSON now: it cannot exceed the size limit (JSON escaping at most
    // sextuples a character) and is its own private copy. Its JSON is made if a resend asks.
    const json =
      typeof payload === "string" && payload.length * 6 + 2 <= limits.payloadBytesMax && key === undefined
        ? undefined
        : encodePayload(SEND, payload, this.#parts.limits.payloadBytesMax);
    const sessionId = entry.id;
    // Behind the session's stored queued inputs, and its keys known, before anything is decided.
    this.#parts.recovery.load(entry);
    if (key !== undefined) {
      const existing = this.keys.find(sessionId, key, json!);
      if (existing !== undefined) return existing;
    }
    const stamp = dispatcher.stamp();
    const turn = entry.turn;
    const record: InputRecord = {
      id: this.#parts.options.ids(),
      sessionId,
      seq: this.#seq,
      // A private copy, so the caller mutating its object later cannot change what was accepted.
      payload: typeof payload === "string" ? payload : JSON.parse(json!),
      // A turn that already decided to end (its end awaits the commit) can take no steer: the input
      // would settle with an answer that never saw it. It queues for the next turn instead.
      policy: policy === "steer" && turn?.ended === true ? "enqueue" : policy,
      idempotencyKey: key,
      acceptedAtMs: stamp.epochMs,
      delegationId: undefined,
    };
    const live = new LiveInput(this.#parts, record, "queued", record.policy, stamp);
    const decision = accept(entry, live, limits.inboxLengthMax);
    if (decision.kind === "refused") {
      throw new CapacityError(decision.code, decision.message, { details: { sessionId, policy } });
    }
    try {
      store.accept(record);
    } catch (error) {
      // Refused by the store (unavailable, or busy in another process): nothing changed here either.
      unaccept(entry, live, decision);
      // Another process stored an input with this key after the look-up above: that input answers.
      const stored = key !== undefined && error instanceof InvalidInputError;
      const existing = stored ? this.keys.find(sessionId, key, json!) : undefined;
      if (existing !== undefined) return existing;
      throw error;
    }
    this.#seq += 1;
    this.#parts.gate.holdReceipt(live);
    if (key !== undefined) this.keys.remember(live);
    metrics.accepted();
    this.#parts.keepAlive.busy();
    const keeper = this.#parts.leaseKeeper;
    if (keeper !== undefined && !keeper.holds(sessionId)) {
      // Another process holds the session and runs this input; its handle follows the store.
      unaccept(entry, live, decision);
      keeper.watch(live);
      this.#parts.observer.accepted(live, "host");
      if (events.listening) events.emit({ type: "input.accepted", sessionId, inputId: live.id, policy });
      return live;
    }
    // Accepted: from here on the caller must get its handle whatever fails, or a host that retries
    // a send that "failed" would run the work twice. A failure is reported instead.
    try {
      this.#parts.observer.accepted(live, "host");
      if (events.listening) events.emit({ type: "input.accepted", sessionId, inputId: live.id, policy });
      this.route(entry, live, decision, turn);
    } catch (error) {
      events.report(`send of input ${live.id}`, error, { sessionId, inputId: live.id });
    }
    return live;
  }

  /** Hands an accepted input on: into the running turn (steer), or to the scheduler. */
  route(
    entry: SessionEntry,
    live: LiveInput,
    decision: Exclude<AcceptDecision, { kind: "refused" }>,
    turn: LiveTurn | undefined,
  ): void {
    if (decision.kind === "steered") {
      this.#parts.driver.steer(turn!, live);
      return;
    }
    if (decision.interrupt !== undefined) {
      const request: CancelRequest = {
        mode: "immediate",
        status: "interrupted",
        reason: { code: "interrupted_by_input", message: `interrupted by input ${live.id}` },
      };
      this.#parts.dispatcher.post("interrupt", () =>
        this.#parts.driver.feed(turn!, { type: "cancel", request }),
      );
    }
    this.#parts.scheduler.notify(entry);
  }

  /** Sends, then waits for the result: see `Session.invoke`. */
  async invoke(
    entry: SessionEntry,
    payload: unknown,
    options: SendOptions & ResultOptions,
  ): Promise<TurnResult> {
    this.#parts.waits.check(entry.id, "session.invoke()");
    const { timeoutMs, signal, ...sendOptions } = options;
    return this.send(entry, payload, sendOptions).result({
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      ...(signal === undefined ? {} : { signal }),
    });
  }

  /** Creates a background child's session and queues its first input. */
  startChild(childSessionId: string, baseAgent: string, agent: ModelAgent, input: string): void {
    const entry = this.#parts.sessions.add(childSessionId, baseAgent, agent);
    const createdAtMs = this.#parts.dispatcher.epochNow();
    this.#parts.store.createSession({ id: childSessionId, agent: baseAgent, createdAtMs });
    this.acceptOwn(entry, input, undefined);
  }

  /**
   * Queues input the runtime itself produced (a child's goal, a completion) and returns its id. It
   * skips the inbox length limit: refusing it would lose a result; the delegation caps bound how much
   * there is.
   */
  acceptOwn(entry: SessionEntry, payload: string, delegationId: string | undefined): string {
    const { dispatcher, store, metrics, run } = this.#parts;
    this.#parts.recovery.load(entry);
    const stamp = dispatcher.stamp();
    const record: InputRecord = {
      id: this.#parts.options.ids(),
      sessionId: entry.id,
      seq: this.#seq,
      payload,
      policy: "enqueue",
      idempotencyKey: undefined,
      acceptedAtMs: stamp.epochMs,
      delegationId,
    };
    const live = this.track(record, "queued", "enqueue", stamp);
    this.#seq += 1;
    store.accept(record);
    this.#parts.gate.holdReceipt(live);
    const keeper = this.#parts.leaseKeeper;
    if (keeper !== undefined && !keeper.holds(entry.id)) {
      keeper.watch(live);
      return live.id;
    }
    accept(entry, live, Number.POSITIVE_INFINITY);
    metrics.accepted();
    this.#parts.keepAlive.busy();
    this.#parts.observer.accepted(live, delegationId === undefined ? "delegated" : "completion");
    this.#parts.scheduler.notify(entry);
    // A draining stop runs no recovery poll to make up for a lost wake, and a completion written
    // meanwhile must still drain: drive its session here too.
    if (run.draining) this.#parts.scheduler.wake(entry.id);
    return live.id;
  }

  /** A live input for a record: one just made, or one read back from the store at recovery. */
  track(record: InputRecord, status: "queued" | "running", policy: Policy, stamp: Stamp): LiveInput {
    const live = new LiveInput(this.#parts, record, status, policy, stamp);
    if (record.idempotencyKey !== undefined) this.keys.remember(live);
    return live;
  }

  /**
   * A handle for an input by id: the live handle while it is queued or running (or its end waits
   * for its commit), else a settled handle built from the store. `undefined` when unknown.
   */
  handle(inputId: string): TurnHandle | undefined {
    const snapshot = this.#parts.store.input(inputId);
    const live = snapshot === undefined ? undefined : this.find(snapshot.sessionId, inputId);
    if (live !== undefined) return live;
    // Before the store's answer: a store that keeps few ended inputs may have forgotten this one
    // already, while its end still waits for the commit.
    const ending = this.#parts.gate.endingInput(inputId);
    if (ending !== undefined) return ending;
    return snapshot === undefined ? undefined : storedHandle(this.#parts, snapshot);
  }

  withdraw(handle: TurnHandle): void {
    const reason: Reason = { code: "withdrawn", message: "withdrawn before it started" };
    if (this.#askHolder(handle, "withdrawn", "immediate", reason.message)) return;
    this.endQueued(handle, "withdrawn", reason, "withdraw");
  }

  cancel(handle: TurnHandle, mode: CancelMode, message: string): void {
    if (this.#askHolder(handle, "cancelled", mode, message)) return;
    if (this.find(handle.sessionId, handle.id) === undefined) return;
    const entry = this.#parts.sessions.get(handle.sessionId)!;
    const reason: Reason = { code: "cancel_requested", message };
    const turn = entry.turn;
    if (turn?.inputs.some((live) => live.id === handle.id)) {
      const request: CancelRequest = { mode, status: "cancelled", reason, inputId: handle.id };
      this.#parts.driver.feed(turn, { type: "cancel", request });
      return;
    }
    this.endQueued(handle, "cancelled", reason, "cancel");
  }

  /**
   * An input whose session another process holds is that process's to end: the request goes
   * through the store, and the handle settles with what the holder does. Returns whether it did.
   */
  #askHolder(
    handle: TurnHandle,
    status: "cancelled" | "withdrawn",
    mode: CancelMode,
    message: string,
  ): boolean {
    const keeper = this.#parts.leaseKeeper;
    if (keeper === undefined || keeper.holds(handle.sessionId)) return false;
    const where = keeper.askToEnd({ inputId: handle.id, sessionId: handle.sessionId, status, mode, message });
    if (where === undefined && status === "withdrawn") {
      const now = this.#parts.store.input(handle.id)?.status ?? handle.status;
      throw new OffstageError(
        "NOT_WITHDRAWABLE",
        `cannot withdraw input ${handle.id}: it is ${now}; only queued input can be withdrawn`,
        { details: { inputId: handle.id, status: now } },
      );
    }
    return true;
  }

  /** Ends a queued input without a turn; throws `NOT_WITHDRAWABLE` unless it is queued. */
  endQueued(handle: TurnHandle, status: TerminalStatus, reason: Reason, cause: InputEndCause): void {
    const live = this.find(handle.sessionId, handle.id);
    const entry = this.#parts.sessions.get(handle.sessionId);
    const where = live === undefined || entry === undefined ? "unknown" : withdraw(entry, handle.id);
    if (where !== "withdrawn") {
      // Its end may be decided already and wait for its commit: the handle still says `queued` then.
      const ending = this.#parts.gate.endingStatus(handle.id);
      const status = ending ?? (where === "running" ? "running" : handle.status);
      throw new OffstageError(
        "NOT_WITHDRAWABLE",
        ending === undefined
          ? `cannot ${cause} input ${handle.id}: it is ${status}; only queued input can be withdrawn`
          : `cannot ${cause} input ${handle.id}: it is already ${ending} (its handle settles once that is committed)`,
        { details: { inputId: handle.id, status } },
      );
    }
    this.endAlone(live!, entry!, handle, status, reason, cause);
  }

  /** Ends an input that no turn answers; its handles settle once the end is committed. */
  endAlone(
    live: LiveInput,
    entry: SessionEntry,
    handle: TurnHandle,
    status: TerminalStatus,
    reason: Reason,
    cause: InputEndCause,
  ): void {
    const { store, dispatcher, children, metrics, gate } = this.#parts;
    this.keys.forget(live);
    store.endInput({
      inputId: handle.id,
      sessionId: handle.sessionId,
      status,
      reason,
      endedAtMs: dispatcher.epochNow(),
    });
    // A completion that will never start a turn is dropped, or its record would wait forever.
    const { delegationId } = live;
    if (delegationId !== undefined) children?.inputEnded(delegationId, handle.id, cause);
    // A child left with nothing to run has finished (a stopped child completes through its stop).
    const turn = entry.turn;
    if (cause !== "stop" && entry.queue.length === 0 && (turn === undefined || turn.ended))
      children?.idle(entry.id);
    metrics.ended(status);
    gate.holdInputEnd(live, handle, { status, reason });
  }

  /**
   * The live input (queued, or in the session's running turn) with this id. A scan of one session:
   * cancels and look-ups by id are rare, and an index of every live input would cost each send a
   * write into a map of every input in flight.
   */
  find(sessionId: string, inputId: string): LiveInput | undefined {
    const entry = this.#parts.sessions.get(sessionId);
    if (entry === undefined) return undefined;
    this.#parts.recovery.load(entry);
    for (const live of entry.queue) if (live.id === inputId) return live;
    for (const live of entry.turn?.inputs ?? NO_INPUTS) if (live.id === inputId) return live;
    return undefined;
  }
}

/** Takes an input the inbox accepted back out of it (the store refused it, or another process runs it). */
function unaccept(
  entry: SessionEntry,
  live: LiveInput,
  decision: Exclude<AcceptDecision, { kind: "refused" }>,
): void {
  if (decision.kind !== "steered") {
    withdraw(entry, live.id);
    return;
  }
  const inputs = entry.turn!.inputs;
  inputs.splice(inputs.indexOf(live), 1);
}
