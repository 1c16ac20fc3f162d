/**
 * The memory store: keeps everything in this process. Commits are immediate and the receipt is
 * `stored`: work survives `stop()`/`start()` of the same runtime object, not the process. Meant for
 * tests, simulations and ephemeral use.
 *
 * @packageDocumentation
 */
import type { Message } from "../../kernel/messages.js";
import type {
  InputEnd,
  InputRecord,
  InputSnapshot,
  InterruptedTurn,
  RecoveredState,
  SessionRecord,
  SessionSlot,
  Steer,
  StepCheckpoint,
  Store,
  TurnEnd,
  TurnStart,
} from "../../runtime/ports/store.js";
import { MemoryDelegationLog } from "./memory-delegation-log.js";

/** An input and where it stands; mutated in place (a snapshot is built only when asked for). */
interface StoredInput {
  /** `record.id`, here too: finding an input in its session's list then reads no record. */
  readonly id: string;
  readonly record: InputRecord;
  status: InputSnapshot["status"];
  turnId: string | undefined;
  outcome: InputSnapshot["outcome"];
  /** The checkpointed step of its turn when it was steered into it; `undefined` unless steered. */
  steerStep: number | undefined;
  /** In the id index (see `MemoryStore.#byId`); else in the list of inputs it has not taken in. */
  indexed: boolean;
  /**
   * The next input of the one list it is in: its session's live inputs while queued or running,
   * the ended inputs once it ended. Lists linked through their inputs, not arrays, so that a
   * backlog is no array of pointers to young objects, which every scavenge would have to visit.
   */
  next: StoredInput | undefined;
  /**
   * Its neighbours in the list of inputs the id index has not taken in yet, accepted before and
   * after it. Linked both ways so that an input forgotten before the index took it in leaves the
   * list at once: its record (and payload) must not outlive the bound of ended inputs kept.
   */
  prevUnindexed: StoredInput | undefined;
  nextUnindexed: StoredInput | undefined;
}

interface StoredTurn {
  readonly turnId: string;
  attempt: number;
  /** The inputs it started with (or resumed with). */
  inputs: StoredInput[];
  /** Inputs steered into it since it started. */
  steered: StoredInput[];
  step: number;
  messages: readonly Message[];
}

/**
 * A session's record, history, inputs not yet ended and running turns. Writes find an input or a
 * turn through its session (which runs one turn at a time, though the port does not insist): the
 * session map only grows, where maps of every live input or running turn would be written and
 * shrunk (and rehashed) with every input.
 */
interface StoredSession {
  /** `undefined` for a session written to without `createSession` (the port allows it). */
  record: SessionRecord | undefined;
  /** These two are `undefined` until first used: idle sessions are the common case. */
  history: Message[] | undefined;
  turns: StoredTurn[] | undefined;
  /** Queued and running inputs, in acceptance order, linked through `next`. */
  firstLive: StoredInput | undefined;
  lastLive: StoredInput | undefined;
}

/** A list of inputs linked through `next`, oldest first. */
interface InputList {
  first: StoredInput | undefined;
  last: StoredInput | undefined;
}

const COMMITTED = Promise.resolve();
const NO_MESSAGES: readonly Message[] = [];
const NO_TURNS: readonly StoredTurn[] = [];
/** A turn's steered inputs until it has some; frozen, so a write to it would throw. */
const NO_STEERED = Object.freeze([]) as unknown as StoredInput[];

/** Options of {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Ended inputs kept for `input(id)` and idempotency look-ups (default 10 000); older ones are
   * forgotten, oldest first, so a long-lived process does not grow without bound.
   */
  readonly endedInputsMax?: number;
}

/** Creates an in-process store. */
export function createMemoryStore(options: MemoryStoreOptions = {}): Store {
  return new MemoryStore(options.endedInputsMax ?? 10_000);
}

class MemoryStore implements Store {
  readonly kind = "memory";
  readonly receipt = "stored" as const;
  readonly delegations = new MemoryDelegationLog();
  readonly #sessions = new Map<string, StoredSession>();
  /**
   * Inputs by id, for look-ups by id alone (`input`, idempotency keys). Built lazily: inputs
   * accepted since the last look-up wait in `#unindexed`, so a host that keeps its handles never
   * pays for an index of every input in flight.
   */
  readonly #byId = new Map<string, StoredInput>();
  /** Accepted inputs the index has not taken in, linked through `nextUnindexed`. */
  #unindexedFirst: StoredInput | undefined;
  #unindexedLast: StoredInput | undefined;
  readonly #keys = new Map<string, string>();
  readonly #endedInputsMax: number;
  /** Ended inputs, oldest first, forgotten beyond the bound. */
  readonly #ended: InputList = { first: undefined, last: undefined };
  #endedCount = 0;
  #nextSeq = 1;

  constructor(endedInputsMax: number) {
    this.#endedInputsMax = endedInputsMax;
  }

  async open(): Promise<RecoveredState> {
    const sessions: SessionRecord[] = [];
    const interrupted: InterruptedTurn[] = [];
    const queued: InputRecord[] = [];
    for (const [sessionId, session] of this.#sessions) {
      if (session.record !== undefined) sessions.push(session.record);
      for (const turn of session.turns ?? NO_TURNS) {
        this.#settleSteered(turn);
        interrupted.push({
          turnId: turn.turnId,
          sessionId,
          inputIds: turn.inputs.map((input) => input.record.id),
          attempt: turn.attempt,
          step: turn.step,
          messages: turn.messages,
          inputs: turn.inputs.map((input) => input.record),
        });
      }
      for (let input = session.firstLive; input !== undefined; input = input.next)
        if (input.status === "queued") queued.push(input.record);
    }
    queued.sort((x, y) => x.seq - y.seq);
    return { sessions, queued, interrupted, nextSeq: this.#nextSeq };
  }

  /**
   * Recovery of a turn's steered inputs (see the port): those its checkpoint holds become inputs of
   * the turn, the others go back to the queue.
   */
  #settleSteered(turn: StoredTurn): void {
    if (turn.steered.length === 0) return;
    const held: StoredInput[] = [];
    for (const input of turn.steered) {
      if (input.steerStep! < turn.step) held.push(input);
      else {
        input.status = "queued";
        input.turnId = undefined;
      }
      input.steerStep = undefined;
    }
    turn.inputs = [...turn.inputs, ...held];
    turn.steered = NO_STEERED;
  }

  /** The session, made on first use; kept in the slot, when there is one, for the next call. */
  #session(sessionId: string, slot: SessionSlot | undefined): StoredSession {
    let session = this.#stored(sessionId, slot);
    if (session === undefined) {
      session = {
        record: undefined,
        history: undefined,
        turns: undefined,
        firstLive: undefined,
        lastLive: undefined,
      };
      this.#sessions.set(sessionId, session);
      if (slot !== undefined) slot.storeState = session;
    }
    return session;
  }

  /** The session, if known: from the slot, else by id (and then kept in the slot). */
  #stored(sessionId: string, slot: SessionSlot | undefined): StoredSession | undefined {
    const kept = slot?.storeState as StoredSession | undefined;
    if (kept !== undefined) return kept;
    const session = this.#sessions.get(sessionId);
    if (session !== undefined && slot !== undefined) slot.storeState = session;
    return session;
  }

  createSession(record: SessionRecord, slot?: SessionSlot): void {
    const session = this.#session(record.id, slot);
    session.record ??= record;
  }

  accept(record: InputRecord, slot?: SessionSlot): void {
    const input: StoredInput = {
      id: record.id,
      record,
      status: "queued",
      turnId: undefined,
      outcome: undefined,
      steerStep: undefined,
      indexed: false,
      next: undefined,
      prevUnindexed: this.#unindexedLast,
      nextUnindexed: undefined,
    };
    const session = this.#session(record.sessionId, slot);
    if (session.lastLive === undefined) session.firstLive = input;
    else session.lastLive.next = input;
    session.lastLive = input;
    if (this.#unindexedLast === undefined) this.#unindexedFirst = input;
    else this.#unindexedLast.nextUnindexed = input;
    this.#unindexedLast = input;
    if (record.idempotencyKey !== undefined)
      this.#keys.set(keyOf(record.sessionId, record.idempotencyKey), record.id);
    if (record.seq >= this.#nextSeq) this.#nextSeq = record.seq + 1;
  }

  steer(steer: Steer, slot?: SessionSlot): void {
    const session = this.#stored(steer.sessionId, slot);
    const input = find(session?.firstLive, steer.inputId);
    if (input === undefined || input.status !== "queued") return;
    const turn = this.#current(session!, steer.turnId, steer.attempt);
    if (turn === undefined) return;
    input.status = "running";
    input.turnId = steer.turnId;
    input.steerStep = turn.step;
    if (turn.steered === NO_STEERED) turn.steered = [];
    turn.steered.push(input);
  }

  endInput(end: InputEnd, slot?: SessionSlot): void {
    const session = this.#stored(end.sessionId, slot);
    const input = find(session?.firstLive, end.inputId);
    if (input === undefined) return;
    if (input.status === "running") {
      // Only a steered input the model never saw ends on its own; it leaves its turn, which must
      // not recover it.
      if (input.steerStep === undefined) return;
      const turn = session!.turns?.find((t) => t.turnId === input.turnId);
      if (turn !== undefined) turn.steered = turn.steered.filter((steered) => steered !== input);
      input.steerStep = undefined;
      input.turnId = undefined;
    }
    input.status = end.status;
    input.outcome = { status: end.status, reason: end.reason };
    this.#retire(session!, input);
  }

  startTurn(start: TurnStart, slot?: SessionSlot): void {
    const session = this.#session(start.sessionId, slot);
    const stored = this.#turn(session, start.turnId);
    if (stored !== undefined && start.attempt <= stored.attempt) return;
    const inputs = this.#startInputs(session, start);
    if (stored === undefined) {
      const turn: StoredTurn = {
        turnId: start.turnId,
        attempt: start.attempt,
        inputs,
        steered: NO_STEERED,
        step: 0,
        messages: NO_MESSAGES,
      };
      if (session.turns === undefined) session.turns = [turn];
      else session.turns.push(turn);
    } else {
      // A resumed attempt keeps the checkpoint, so a second crash resumes from it too.
      stored.attempt = start.attempt;
      stored.inputs = inputs;
      stored.steered = NO_STEERED;
    }
  }

  checkpoint(checkpoint: StepCheckpoint, slot?: SessionSlot): void {
    const session = this.#stored(checkpoint.sessionId, slot);
    const turn =
      session === undefined ? undefined : this.#current(session, checkpoint.turnId, checkpoint.attempt);
    if (turn === undefined) return;
    turn.step = checkpoint.step;
    turn.messages = [...checkpoint.messages];
  }

  endTurn(end: TurnEnd, slot?: SessionSlot): void {
    const session = this.#stored(end.sessionId, slot);
    const turn = session === undefined ? undefined : this.#current(session, end.turnId, end.attempt);
    if (session === undefined || turn === undefined) return;
    // Emptied, the array stays: the session's next turn takes its slot instead of a new array.
    const turns = session.turns!;
    if (turns.length === 1) turns.pop();
    else turns.splice(turns.indexOf(turn), 1);
    const messages = end.messages;
    if (messages.length > 0) {
      if (session.history === undefined) session.history = [...messages];
      else for (let i = 0; i < messages.length; i++) session.history.push(messages[i]!);
    }
    this.#endInputs(session, turn.inputs, end);
    if (turn.steered.length > 0) this.#endInputs(session, turn.steered, end);
  }

  /** Ends a turn's inputs with its outcome, or queues them again if the end requeues them. */
  #endInputs(session: StoredSession, inputs: readonly StoredInput[], end: TurnEnd): void {
    const requeued = end.requeued;
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i]!;
      // Ended on its own meanwhile (a steered input cancelled unseen).
      if (input.status !== "running" || input.turnId !== end.turnId) continue;
      input.steerStep = undefined;
      if (requeued.length > 0 && requeued.includes(input.id)) {
        input.status = "queued";
        input.turnId = undefined;
      } else {
        input.status = end.outcome.status;
        input.outcome = end.outcome;
        this.#retire(session, input);
      }
    }
  }

  /**
   * Marks a starting turn's inputs running and returns them (those the session has live). Most
   * turns take one input, the session's oldest: that case looks at nothing else.
   */
  #startInputs(session: StoredSession, start: TurnStart): StoredInput[] {
    const ids = start.inputIds;
    const first = session.firstLive;
    let inputs: StoredInput[];
    if (ids.length === 1 && first !== undefined && first.id === ids[0]) inputs = [first];
    else {
      inputs = [];
      for (let i = 0; i < ids.length; i++) {
        const input = find(first, ids[i]!);
        if (input !== undefined) inputs.push(input);
      }
    }
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i]!;
      input.status = "running";
      input.turnId = start.turnId;
      input.steerStep = undefined;
    }
    return inputs;
  }

  /** Moves an input that just ended out of its session's live inputs into the bounded ended ones. */
  #retire(session: StoredSession, input: StoredInput): void {
    // Usually the oldest: a session's inputs run in order.
    if (session.firstLive === input) {
      session.firstLive = input.next;
      if (session.firstLive === undefined) session.lastLive = undefined;
    } else {
      let before = session.firstLive!;
      while (before.next !== input) before = before.next!;
      before.next = input.next;
      if (session.lastLive === input) session.lastLive = before;
    }
    input.next = undefined;
    const ended = this.#ended;
    if (ended.last === undefined) ended.first = input;
    else ended.last.next = input;
    ended.last = input;
    this.#endedCount += 1;
    if (this.#endedCount > this.#endedInputsMax) this.#forgetOldest();
  }

  /** Forgets the oldest ended input, beyond the bound of those kept. */
  #forgetOldest(): void {
    const ended = this.#ended;
    const old = ended.first!;
    ended.first = old.next;
    if (ended.first === undefined) ended.last = undefined;
    old.next = undefined;
    this.#endedCount -= 1;
    if (old.indexed) this.#byId.delete(old.id);
    else this.#unlinkUnindexed(old);
    const key = old.record.idempotencyKey;
    if (key !== undefined) this.#keys.delete(keyOf(old.record.sessionId, key));
  }

  #unlinkUnindexed(input: StoredInput): void {
    const { prevUnindexed: prev, nextUnindexed: next } = input;
    if (prev === undefined) this.#unindexedFirst = next;
    else prev.nextUnindexed = next;
    if (next === undefined) this.#unindexedLast = prev;
    else next.prevUnindexed = prev;
    input.prevUnindexed = undefined;
    input.nextUnindexed = undefined;
  }

  /** Everything here is committed as soon as it is written. */
  commit(): Promise<void> {
    return COMMITTED;
  }

  history(sessionId: string, slot?: SessionSlot): readonly Message[] {
    return this.#stored(sessionId, slot)?.history ?? NO_MESSAGES;
  }

  findByIdempotencyKey(sessionId: string, key: string): InputSnapshot | undefined {
    const id = this.#keys.get(keyOf(sessionId, key));
    return id === undefined ? undefined : this.input(id);
  }

  input(inputId: string): InputSnapshot | undefined {
    this.#index();
    const input = this.#byId.get(inputId);
    if (input === undefined) return undefined;
    const { record } = input;
    return {
      id: record.id,
      sessionId: record.sessionId,
      payload: record.payload,
      status: input.status,
      turnId: input.turnId,
      outcome: input.outcome,
    };
  }

  async close(): Promise<void> {}

  /** Takes the inputs accepted since the last look-up into the id index. */
  #index(): void {
    let input = this.#unindexedFirst;
    while (input !== undefined) {
      input.indexed = true;
      this.#byId.set(input.id, input);
      const next = input.nextUnindexed;
      input.prevUnindexed = undefined;
      input.nextUnindexed = undefined;
      input = next;
    }
    this.#unindexedFirst = undefined;
    this.#unindexedLast = undefined;
  }

  #turn(session: StoredSession, turnId: string): StoredTurn | undefined {
    const turns = session.turns;
    if (turns === undefined) return undefined;
    for (let i = 0; i < turns.length; i++) if (turns[i]!.turnId === turnId) return turns[i];
    return undefined;
  }

  #current(session: StoredSession, turnId: string, attempt: number): StoredTurn | undefined {
    const turn = this.#turn(session, turnId);
    return turn?.attempt === attempt ? turn : undefined;
  }
}

/** The input with this id in the list that starts at `first`. */
function find(first: StoredInput | undefined, inputId: string): StoredInput | undefined {
  let input = first;
  while (input !== undefined && input.id !== inputId) input = input.next;
  return input;
}

function keyOf(sessionId: string, key: string): string {
  return `${sessionId}\u0000${key}`;
}
