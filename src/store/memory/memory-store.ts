/**
 * The memory store: keeps everything in this process. Commits are immediate and the receipt is
 * `stored`: work survives `stop()`/`start()` of the same runtime object, not the process. Meant for
 * tests, simulations and ephemeral use.
 *
 * @packageDocumentation
 */
import type { Message } from "../../kernel/messages.js";
import type { TurnOutcome } from "../../kernel/outcome.js";
import type {
  InputEnd,
  InputRecord,
  InputSnapshot,
  InterruptedTurn,
  RecoveredState,
  SessionRecord,
  Steer,
  StepCheckpoint,
  Store,
  TurnEnd,
  TurnStart,
} from "../../runtime/ports/store.js";
import { MemoryDelegationLog } from "./memory-delegation-log.js";

/**
 * An input that left its queue: running in a turn, or ended. A queued input is only its record, in
 * its session's queue: a backlog then costs the store a pointer per input, not an object the garbage
 * collector copies and promotes while the input waits.
 */
class StoredInput {
  readonly id: string;
  readonly record: InputRecord;
  status: InputSnapshot["status"];
  turnId: string | undefined;
  outcome: InputSnapshot["outcome"] = undefined;
  /** The checkpointed step of its turn when it was steered into it; `undefined` unless steered. */
  steerStep: number | undefined = undefined;
  /** The next ended input, once it is in the list of those kept (see `MemoryStore.#ended`). */
  next: StoredInput | undefined = undefined;

  constructor(record: InputRecord, status: InputSnapshot["status"], turnId: string | undefined) {
    this.id = record.id;
    this.record = record;
    this.status = status;
    this.turnId = turnId;
  }
}

/** Where the id index finds an input: its record while it is queued. */
type Indexed = InputRecord | StoredInput;

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
 * A session's record, history, queued inputs and running turns. Writes find an input or a turn
 * through its session (which runs one turn at a time, though the port does not insist): the session
 * map only grows, where maps of every live input or running turn would be written and shrunk (and
 * rehashed) with every input.
 */
interface StoredSession {
  /** `undefined` for a session written to without `createSession` (the port allows it). */
  record: SessionRecord | undefined;
  /** These two are `undefined` until first used: idle sessions are the common case. */
  history: Message[] | undefined;
  turns: StoredTurn[] | undefined;
  /** Queued inputs' records, in acceptance order. */
  queued: InputRecord[];
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
  #recentId: string | undefined;
  #recent: StoredSession | undefined;
  /**
   * Inputs by id, for look-ups by id alone (`input`, idempotency keys). Built by the first such
   * look-up and kept up to date from then on, so a host that keeps its handles never pays for an
   * index of every input in flight.
   */
  #byId: Map<string, Indexed> | undefined;
  readonly #keys = new Map<string, string>();
  readonly #endedInputsMax: number;
  /** Ended inputs, oldest first, linked through `next`; forgotten beyond the bound. */
  #endedFirst: StoredInput | undefined;
  #endedLast: StoredInput | undefined;
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
        this.#settleSteered(session, turn);
        interrupted.push({
          turnId: turn.turnId,
          sessionId,
          inputIds: turn.inputs.map((input) => input.id),
          attempt: turn.attempt,
          step: turn.step,
          messages: turn.messages,
          inputs: turn.inputs.map((input) => input.record),
        });
      }
      for (const record of session.queued) queued.push(record);
    }
    queued.sort((x, y) => x.seq - y.seq);
    return { sessions, queued, interrupted, nextSeq: this.#nextSeq };
  }

  /**
   * Recovery of a turn's steered inputs (see the port): those its checkpoint holds become inputs of
   * the turn, the others go back to the queue.
   */
  #settleSteered(session: StoredSession, turn: StoredTurn): void {
    if (turn.steered.length === 0) return;
    const held: StoredInput[] = [];
    for (const input of turn.steered) {
      if (input.steerStep! < turn.step) {
        input.steerStep = undefined;
        held.push(input);
      } else this.#requeue(session, input);
    }
    turn.inputs = [...turn.inputs, ...held];
    turn.steered = NO_STEERED;
  }

  /** The session, made on first use. */
  #session(sessionId: string): StoredSession {
    let session = this.#stored(sessionId);
    if (session === undefined) {
      session = { record: undefined, history: undefined, turns: undefined, queued: [] };
      this.#sessions.set(sessionId, session);
    }
    return session;
  }

  /**
   * The session, if known. It remembers the last one found: a turn's start, its end and the end of
   * its inputs come one after another for one session, and each would look it up again.
   */
  #stored(sessionId: string): StoredSession | undefined {
    if (sessionId === this.#recentId) return this.#recent;
    const session = this.#sessions.get(sessionId);
    if (session !== undefined) {
      this.#recentId = sessionId;
      this.#recent = session;
    }
    return session;
  }

  createSession(record: SessionRecord): void {
    const session = this.#session(record.id);
    session.record ??= record;
  }

  accept(record: InputRecord): void {
    this.#session(record.sessionId).queued.push(record);
    this.#byId?.set(record.id, record);
    if (record.idempotencyKey !== undefined)
      this.#keys.set(keyOf(record.sessionId, record.idempotencyKey), record.id);
    if (record.seq >= this.#nextSeq) this.#nextSeq = record.seq + 1;
  }

  steer(steer: Steer): void {
    const session = this.#stored(steer.sessionId);
    const turn = this.#current(steer.sessionId, steer.turnId, steer.attempt);
    const at = session === undefined ? -1 : indexOf(session.queued, steer.inputId);
    if (turn === undefined || at < 0) return;
    const input = this.#dequeue(session!, at, steer.turnId);
    input.steerStep = turn.step;
    if (turn.steered === NO_STEERED) turn.steered = [];
    turn.steered.push(input);
  }

  endInput(end: InputEnd): void {
    const session = this.#stored(end.sessionId);
    if (session === undefined) return;
    const at = indexOf(session.queued, end.inputId);
    let input: StoredInput | undefined;
    if (at >= 0) input = this.#dequeue(session, at, undefined);
    else {
      // Only a steered input the model never saw ends on its own; it leaves its turn, which must
      // not recover it.
      for (const turn of session.turns ?? NO_TURNS) {
        const steered = turn.steered.findIndex((s) => s.id === end.inputId);
        if (steered < 0) continue;
        input = turn.steered[steered]!;
        turn.steered = turn.steered.filter((s) => s !== input);
        input.steerStep = undefined;
        input.turnId = undefined;
        break;
      }
      if (input === undefined) return;
    }
    this.#end(input, { status: end.status, reason: end.reason });
  }

  startTurn(start: TurnStart): void {
    const session = this.#session(start.sessionId);
    const stored = this.#turn(session, start.turnId);
    if (stored !== undefined && start.attempt <= stored.attempt) return;
    const inputs = this.#startInputs(session, stored, start);
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

  checkpoint(checkpoint: StepCheckpoint): void {
    const turn = this.#current(checkpoint.sessionId, checkpoint.turnId, checkpoint.attempt);
    if (turn === undefined) return;
    turn.step = checkpoint.step;
    turn.messages = [...checkpoint.messages];
  }

  endTurn(end: TurnEnd): void {
    const session = this.#stored(end.sessionId);
    const turn = this.#current(end.sessionId, end.turnId, end.attempt);
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
      if (requeued.length > 0 && requeued.includes(input.id)) this.#requeue(session, input);
      else this.#end(input, end.outcome);
    }
  }

  /**
   * The inputs of a starting turn, running now: those the session has queued, and for a resumed
   * attempt those the turn already holds. Most turns take one input, the oldest queued one: that
   * case looks at nothing else.
   */
  #startInputs(session: StoredSession, stored: StoredTurn | undefined, start: TurnStart): StoredInput[] {
    const ids = start.inputIds;
    const queued = session.queued;
    if (ids.length === 1 && stored === undefined && queued.length > 0 && queued[0]!.id === ids[0])
      return [this.#dequeue(session, 0, start.turnId)];
    const inputs: StoredInput[] = [];
    for (let i = 0; i < ids.length; i++) {
      const held = stored?.inputs.find((input) => input.id === ids[i]);
      if (held !== undefined) {
        held.turnId = start.turnId;
        held.steerStep = undefined;
        inputs.push(held);
        continue;
      }
      const at = indexOf(queued, ids[i]!);
      if (at >= 0) inputs.push(this.#dequeue(session, at, start.turnId));
    }
    return inputs;
  }

  /** Takes the queued input at `at` out of its session's queue: running in `turnId`, or about to end. */
  #dequeue(session: StoredSession, at: number, turnId: string | undefined): StoredInput {
    const record = at === 0 ? session.queued.shift()! : session.queued.splice(at, 1)[0]!;
    const input = new StoredInput(record, "running", turnId);
    this.#byId?.set(input.id, input);
    return input;
  }

  /** Puts an input that left its queue back in it, in acceptance order. */
  #requeue(session: StoredSession, input: StoredInput): void {
    const { queued } = session;
    let at = queued.length;
    while (at > 0 && queued[at - 1]!.seq > input.record.seq) at -= 1;
    queued.splice(at, 0, input.record);
    this.#byId?.set(input.id, input.record);
  }

  /** Ends an input and keeps it among the ended inputs, within their bound. */
  #end(input: StoredInput, outcome: TurnOutcome): void {
    input.status = outcome.status;
    input.outcome = outcome;
    input.steerStep = undefined;
    if (this.#endedLast === undefined) this.#endedFirst = input;
    else this.#endedLast.next = input;
    this.#endedLast = input;
    this.#endedCount += 1;
    if (this.#endedCount > this.#endedInputsMax) this.#forgetOldest();
  }

  /** Forgets the oldest ended input, beyond the bound of those kept. */
  #forgetOldest(): void {
    const old = this.#endedFirst!;
    this.#endedFirst = old.next;
    if (this.#endedFirst === undefined) this.#endedLast = undefined;
    old.next = undefined;
    this.#endedCount -= 1;
    this.#byId?.delete(old.id);
    const key = old.record.idempotencyKey;
    if (key !== undefined) this.#keys.delete(keyOf(old.record.sessionId, key));
  }

  /** Everything here is committed as soon as it is written. */
  commit(): Promise<void> {
    return COMMITTED;
  }

  history(sessionId: string): readonly Message[] {
    return this.#stored(sessionId)?.history ?? NO_MESSAGES;
  }

  findByIdempotencyKey(sessionId: string, key: string): InputSnapshot | undefined {
    const id = this.#keys.get(keyOf(sessionId, key));
    return id === undefined ? undefined : this.input(id);
  }

  input(inputId: string): InputSnapshot | undefined {
    this.#byId ??= this.#index();
    const found = this.#byId.get(inputId);
    if (found === undefined) return undefined;
    if (!(found instanceof StoredInput)) {
      const { id, sessionId, payload } = found;
      return { id, sessionId, payload, status: "queued", turnId: undefined, outcome: undefined };
    }
    const { record } = found;
    return {
      id: record.id,
      sessionId: record.sessionId,
      payload: record.payload,
      status: found.status,
      turnId: found.turnId,
      outcome: found.outcome,
    };
  }

  async close(): Promise<void> {}

  /** The id index of every input the store holds, built by the first look-up by id. */
  #index(): Map<string, Indexed> {
    const byId = new Map<string, Indexed>();
    for (const session of this.#sessions.values()) {
      for (const record of session.queued) byId.set(record.id, record);
      for (const turn of session.turns ?? NO_TURNS) {
        for (const input of turn.inputs) byId.set(input.id, input);
        for (const input of turn.steered) byId.set(input.id, input);
      }
    }
    for (let input = this.#endedFirst; input !== undefined; input = input.next) byId.set(input.id, input);
    return byId;
  }

  #turn(session: StoredSession, turnId: string): StoredTurn | undefined {
    const turns = session.turns;
    if (turns === undefined) return undefined;
    for (let i = 0; i < turns.length; i++) if (turns[i]!.turnId === turnId) return turns[i];
    return undefined;
  }

  #current(sessionId: string, turnId: string, attempt: number): StoredTurn | undefined {
    const session = this.#stored(sessionId);
    const turn = session === undefined ? undefined : this.#turn(session, turnId);
    return turn?.attempt === attempt ? turn : undefined;
  }
}

/** Where the queued input with this id is in its session's queue, or -1. */
function indexOf(queued: readonly InputRecord[], inputId: string): number {
  for (let i = 0; i < queued.length; i++) if (queued[i]!.id === inputId) return i;
  return -1;
}

function keyOf(sessionId: string, key: string): string {
  return `${sessionId}\u0000${key}`;
}
