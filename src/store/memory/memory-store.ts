/**
 * The memory store: keeps everything in this process. Commits are immediate and the receipt is
 * `stored`: work survives `stop()`/`start()` of the same runtime object, not the process. Meant for
 * tests, simulations and ephemeral use.
 *
 * It is also the reference the simulation trusts, so it is written to be obviously right: plain
 * arrays, one statement of each rule of the store port, no tricks for speed. Each session keeps its
 * live (queued and running) inputs in acceptance order and its running turns; ended inputs move to
 * one list, oldest first, bounded by `endedInputsMax`. A look-up by input id alone (`input(id)`,
 * which hosts call rarely) searches those lists, so that no write pays for an index of every input.
 *
 * @packageDocumentation
 */
import { DEFAULTS } from "../../kernel/limits.js";
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
import { checkOptions, checkPositiveInteger, optionsOf } from "../../validate.js";
import { MemoryDelegationLog } from "./memory-delegation-log.js";
import { MemoryEventLog } from "./memory-event-log.js";

/**
 * An input and where it stands: a copy of the record it was accepted with (the record stays the
 * runtime's), and its status.
 */
interface StoredInput extends InputRecord {
  status: InputSnapshot["status"];
  turnId: string | undefined;
  outcome: TurnOutcome | undefined;
  /** The checkpointed step of its turn when it was steered into it; `undefined` unless steered. */
  steerStep: number | undefined;
}

interface StoredTurn {
  readonly turnId: string;
  attempt: number;
  /** The inputs it started (or resumed) with. */
  inputs: StoredInput[];
  /** Inputs steered into it since it started. */
  steered: readonly StoredInput[];
  step: number;
  messages: readonly Message[];
}

interface StoredSession {
  /** `undefined` for a session written to without `createSession` (the port allows it). */
  record: SessionRecord | undefined;
  readonly history: Message[];
  /** Queued and running inputs, in acceptance order. */
  readonly live: StoredInput[];
  /** Running turns (a new array on each change: it holds one turn, rarely more). */
  turns: readonly StoredTurn[];
}

const COMMITTED = Promise.resolve();
const NO_MESSAGES: readonly Message[] = Object.freeze([]);
/** A turn's steered inputs until one is steered into it; frozen, so nothing is pushed to it. */
const NO_STEERED: readonly StoredInput[] = Object.freeze([]);

/** Options of {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Ended inputs kept for `input(id)` and idempotency look-ups (default 10 000); older ones are
   * forgotten, oldest first, so a long-lived process does not grow without bound.
   */
  readonly endedInputsMax?: number;
}

const MEMORY_STORE_KEYS = Object.keys({ endedInputsMax: true } satisfies Record<
  keyof MemoryStoreOptions,
  true
>);

/** Creates an in-process store. Throws `BootError` `INVALID_OPTIONS` for bad options. */
export function createMemoryStore(options: MemoryStoreOptions = {}): Store {
  const subject = optionsOf("createMemoryStore()");
  const given = checkOptions(subject, "options", options, MEMORY_STORE_KEYS);
  const endedInputsMax = given.endedInputsMax ?? DEFAULTS.memoryStore.endedInputsMax;
  checkPositiveInteger(subject, "endedInputsMax", endedInputsMax);
  return new MemoryStore(endedInputsMax);
}

class MemoryStore implements Store {
  readonly kind = "memory";
  readonly receipt = "stored" as const;
  readonly delegations = new MemoryDelegationLog();
  readonly eventLog = new MemoryEventLog();
  readonly #endedInputsMax: number;
  readonly #sessions = new Map<string, StoredSession>();
  /**
   * Ended inputs, oldest first, from `#endedHead` on; beyond `endedInputsMax`, the oldest is
   * forgotten. A queue read from a head index: `shift()` on a long array moves every element.
   * Beside each, its key in `#keys`, so that forgetting an input long ended reads nothing of it.
   */
  #ended: (StoredInput | undefined)[] = [];
  #endedKeys: (string | undefined)[] = [];
  #endedHead = 0;
  /** Inputs by session and idempotency key, until they are forgotten. */
  readonly #keys = new Map<string, StoredInput>();
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
      for (const turn of session.turns) {
        settleSteered(turn);
        interrupted.push({
          turnId: turn.turnId,
          sessionId,
          inputIds: turn.inputs.map((input) => input.id),
          attempt: turn.attempt,
          step: turn.step,
          messages: turn.messages,
          inputs: turn.inputs.map(recordOf),
        });
      }
      for (const input of session.live) if (input.status === "queued") queued.push(recordOf(input));
    }
    queued.sort((x, y) => x.seq - y.seq);
    return { sessions, queued, interrupted, nextSeq: this.#nextSeq };
  }

  createSession(record: SessionRecord): void {
    const session = this.#session(record.id);
    session.record ??= record;
  }

  accept(record: InputRecord): void {
    const input: StoredInput = {
      id: record.id,
      sessionId: record.sessionId,
      seq: record.seq,
      payload: record.payload,
      policy: record.policy,
      idempotencyKey: record.idempotencyKey,
      acceptedAtMs: record.acceptedAtMs,
      delegationId: record.delegationId,
      status: "queued",
      turnId: undefined,
      outcome: undefined,
      steerStep: undefined,
    };
    this.#session(record.sessionId).live.push(input);
    if (record.idempotencyKey !== undefined)
      this.#keys.set(keyOf(record.sessionId, record.idempotencyKey), input);
    this.#nextSeq = Math.max(this.#nextSeq, record.seq + 1);
  }

  steer(steer: Steer): void {
    const session = this.#sessions.get(steer.sessionId);
    const input = session === undefined ? undefined : find(session.live, steer.inputId);
    const turn = this.#current(steer.sessionId, steer.turnId, steer.attempt);
    if (input?.status !== "queued" || turn === undefined) return;
    input.status = "running";
    input.turnId = steer.turnId;
    input.steerStep = turn.step;
    turn.steered = [...turn.steered, input];
  }

  endInput(end: InputEnd): void {
    const session = this.#sessions.get(end.sessionId);
    const input = session === undefined ? undefined : find(session.live, end.inputId);
    if (input === undefined) return;
    if (input.status === "running") {
      // Only a steered input the model never saw ends on its own; it leaves its turn, which must
      // not recover it.
      if (input.steerStep === undefined) return;
      const turn = turnOf(session!, input.turnId!);
      if (turn !== undefined) turn.steered = turn.steered.filter((steered) => steered !== input);
      input.steerStep = undefined;
      input.turnId = undefined;
    }
    this.#end(session!, input, { status: end.status, reason: end.reason });
  }

  startTurn(start: TurnStart): void {
    const session = this.#session(start.sessionId);
    const stored = turnOf(session, start.turnId);
    if (stored !== undefined && start.attempt <= stored.attempt) return;
    // The inputs it names that are still live: usually all of them.
    const found = start.inputIds.map((id) => find(session.live, id));
    const inputs = found.every(isStored) ? found : found.filter(isStored);
    for (const input of inputs) {
      input.status = "running";
      input.turnId = start.turnId;
      input.steerStep = undefined;
    }
    if (stored === undefined) {
      session.turns = [
        ...session.turns,
        {
          turnId: start.turnId,
          attempt: start.attempt,
          inputs,
          steered: NO_STEERED,
          step: 0,
          messages: NO_MESSAGES,
        },
      ];
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
    const session = this.#sessions.get(end.sessionId);
    const turn = session === undefined ? undefined : current(session, end.turnId, end.attempt);
    if (session === undefined || turn === undefined) return;
    session.turns = session.turns.filter((t) => t !== turn);
    for (const message of end.messages) session.history.push(message);
    for (const input of turn.inputs) this.#endTurnInput(session, input, end);
    for (const input of turn.steered) this.#endTurnInput(session, input, end);
  }

  /** Ends an input of an ending turn with its outcome, or queues it again if the end requeues it. */
  #endTurnInput(session: StoredSession, input: StoredInput, end: TurnEnd): void {
    // Ended on its own meanwhile (a steered input cancelled unseen).
    if (input.status !== "running" || input.turnId !== end.turnId) return;
    input.steerStep = undefined;
    if (end.requeued.includes(input.id)) {
      input.status = "queued";
      input.turnId = undefined;
    } else {
      this.#end(session, input, end.outcome);
    }
  }

  /** Everything here is committed as soon as it is written. */
  commit(): Promise<void> {
    return COMMITTED;
  }

  history(sessionId: string): readonly Message[] {
    return this.#sessions.get(sessionId)?.history ?? NO_MESSAGES;
  }

  findByIdempotencyKey(sessionId: string, key: string): InputSnapshot | undefined {
    const input = this.#keys.get(keyOf(sessionId, key));
    return input === undefined ? undefined : snapshotOf(input);
  }

  input(inputId: string): InputSnapshot | undefined {
    for (const session of this.#sessions.values()) {
      const input = find(session.live, inputId);
      if (input !== undefined) return snapshotOf(input);
    }
    const ended = this.#ended.find((input) => input?.id === inputId);
    return ended === undefined ? undefined : snapshotOf(ended);
  }

  async close(): Promise<void> {}

  /** The session, made on first use. */
  #session(sessionId: string): StoredSession {
    let session = this.#sessions.get(sessionId);
    if (session === undefined) {
      session = { record: undefined, history: [], live: [], turns: [] };
      this.#sessions.set(sessionId, session);
    }
    return session;
  }

  /** The turn, if `attempt` is its current one. */
  #current(sessionId: string, turnId: string, attempt: number): StoredTurn | undefined {
    const session = this.#sessions.get(sessionId);
    return session === undefined ? undefined : current(session, turnId, attempt);
  }

  /**
   * Ends an input: it leaves its session's live inputs for the ended ones, and the oldest ended
   * input is forgotten beyond the bound of those kept.
   */
  #end(session: StoredSession, input: StoredInput, outcome: TurnOutcome): void {
    input.status = outcome.status;
    input.outcome = outcome;
    remove(session.live, input);
    this.#ended.push(input);
    this.#endedKeys.push(
      input.idempotencyKey === undefined ? undefined : keyOf(input.sessionId, input.idempotencyKey),
    );
    if (this.#ended.length - this.#endedHead <= this.#endedInputsMax) return;
    const key = this.#endedKeys[this.#endedHead];
    if (key !== undefined) this.#keys.delete(key);
    this.#ended[this.#endedHead] = undefined;
    this.#endedHead += 1;
    if (this.#endedHead >= this.#endedInputsMax) {
      this.#ended = this.#ended.slice(this.#endedHead);
      this.#endedKeys = this.#endedKeys.slice(this.#endedHead);
      this.#endedHead = 0;
    }
  }
}

/**
 * Recovery of a turn's steered inputs (see the port): those its checkpoint holds become inputs of the
 * turn, the others go back to the queue.
 */
function settleSteered(turn: StoredTurn): void {
  for (const input of turn.steered) {
    if (input.steerStep! < turn.step) turn.inputs = [...turn.inputs, input];
    else {
      input.status = "queued";
      input.turnId = undefined;
    }
    input.steerStep = undefined;
  }
  turn.steered = NO_STEERED;
}

function isStored(input: StoredInput | undefined): input is StoredInput {
  return input !== undefined;
}

function find(inputs: readonly StoredInput[], inputId: string): StoredInput | undefined {
  for (const input of inputs) if (input.id === inputId) return input;
  return undefined;
}

/** The session's turn, if `attempt` is its current one. */
function current(session: StoredSession, turnId: string, attempt: number): StoredTurn | undefined {
  const turn = turnOf(session, turnId);
  return turn?.attempt === attempt ? turn : undefined;
}

function turnOf(session: StoredSession, turnId: string): StoredTurn | undefined {
  for (const turn of session.turns) if (turn.turnId === turnId) return turn;
  return undefined;
}

/** Removes `item` from `items`, keeping the order of the others. */
function remove<T>(items: T[], item: T): void {
  const at = items.indexOf(item);
  if (at === 0) items.shift();
  else if (at === items.length - 1) items.pop();
  else if (at > 0) items.splice(at, 1);
}

function recordOf(input: StoredInput): InputRecord {
  const { id, sessionId, seq, payload, policy, idempotencyKey, acceptedAtMs, delegationId } = input;
  return { id, sessionId, seq, payload, policy, idempotencyKey, acceptedAtMs, delegationId };
}

function snapshotOf(input: StoredInput): InputSnapshot {
  return {
    id: input.id,
    sessionId: input.sessionId,
    payload: input.payload,
    status: input.status,
    turnId: input.turnId,
    outcome: input.outcome,
  };
}

function keyOf(sessionId: string, key: string): string {
  return `${sessionId}\u0000${key}`;
}
