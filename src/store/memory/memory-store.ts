/**
 * The memory store: keeps everything in this process. Commits are immediate and the receipt is
 * `stored`: work survives `stop()`/`start()` of the same runtime object, not the process. Meant for
 * tests, simulations and ephemeral use.
 *
 * It is also the reference the simulation trusts, so it is written to be obviously right: plain maps
 * and arrays, one statement of each rule of the store port, no tricks for speed.
 *
 * @packageDocumentation
 */
import { DEFAULTS } from "../../kernel/limits.js";
import type { Message } from "../../kernel/messages.js";
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
import { checkObject, checkPositiveInteger, optionsOf } from "../../validate.js";
import { MemoryDelegationLog } from "./memory-delegation-log.js";

/** An input and where it stands. */
interface StoredInput {
  readonly record: InputRecord;
  status: InputSnapshot["status"];
  turnId: string | undefined;
  outcome: InputSnapshot["outcome"];
  /** The checkpointed step of its turn when it was steered into it; `undefined` unless steered. */
  steerStep: number | undefined;
}

interface StoredTurn {
  readonly turnId: string;
  attempt: number;
  /** The inputs it started (or resumed) with. */
  inputIds: string[];
  /** Inputs steered into it since it started. */
  steered: string[];
  step: number;
  messages: readonly Message[];
}

interface StoredSession {
  /** `undefined` for a session written to without `createSession` (the port allows it). */
  record: SessionRecord | undefined;
  readonly history: Message[];
  /** Running turns, by id. */
  readonly turns: Map<string, StoredTurn>;
}

const COMMITTED = Promise.resolve();
const NO_MESSAGES: readonly Message[] = [];

/** Options of {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Ended inputs kept for `input(id)` and idempotency look-ups (default 10 000); older ones are
   * forgotten, oldest first, so a long-lived process does not grow without bound.
   */
  readonly endedInputsMax?: number;
}

/** Creates an in-process store. Throws `BootError` `INVALID_OPTIONS` for bad options. */
export function createMemoryStore(options: MemoryStoreOptions = {}): Store {
  const subject = optionsOf("createMemoryStore()");
  checkObject(subject, "options", options);
  const endedInputsMax = options.endedInputsMax ?? DEFAULTS.memoryStore.endedInputsMax;
  checkPositiveInteger(subject, "endedInputsMax", endedInputsMax);
  return new MemoryStore(endedInputsMax);
}

class MemoryStore implements Store {
  readonly kind = "memory";
  readonly receipt = "stored" as const;
  readonly delegations = new MemoryDelegationLog();
  readonly #endedInputsMax: number;
  readonly #sessions = new Map<string, StoredSession>();
  /** Every input not yet forgotten: those not ended, and the latest `endedInputsMax` ended ones. */
  readonly #inputs = new Map<string, StoredInput>();
  /** Input ids by session and idempotency key. */
  readonly #keys = new Map<string, string>();
  /** Ids of ended inputs, oldest first. */
  readonly #ended: string[] = [];
  #nextSeq = 1;

  constructor(endedInputsMax: number) {
    this.#endedInputsMax = endedInputsMax;
  }

  async open(): Promise<RecoveredState> {
    const sessions: SessionRecord[] = [];
    const interrupted: InterruptedTurn[] = [];
    for (const [sessionId, session] of this.#sessions) {
      if (session.record !== undefined) sessions.push(session.record);
      for (const turn of session.turns.values()) {
        this.#settleSteered(turn);
        interrupted.push({
          turnId: turn.turnId,
          sessionId,
          inputIds: [...turn.inputIds],
          attempt: turn.attempt,
          step: turn.step,
          messages: turn.messages,
          inputs: turn.inputIds.map((id) => this.#inputs.get(id)!.record),
        });
      }
    }
    const queued = [...this.#inputs.values()]
      .filter((input) => input.status === "queued")
      .map((input) => input.record)
      .sort((x, y) => x.seq - y.seq);
    return { sessions, queued, interrupted, nextSeq: this.#nextSeq };
  }

  createSession(record: SessionRecord): void {
    const session = this.#session(record.id);
    session.record ??= record;
  }

  accept(record: InputRecord): void {
    this.#session(record.sessionId);
    this.#inputs.set(record.id, {
      record,
      status: "queued",
      turnId: undefined,
      outcome: undefined,
      steerStep: undefined,
    });
    if (record.idempotencyKey !== undefined)
      this.#keys.set(keyOf(record.sessionId, record.idempotencyKey), record.id);
    this.#nextSeq = Math.max(this.#nextSeq, record.seq + 1);
  }

  steer(steer: Steer): void {
    const input = this.#inputs.get(steer.inputId);
    const turn = this.#current(steer.sessionId, steer.turnId, steer.attempt);
    if (input?.status !== "queued" || turn === undefined) return;
    input.status = "running";
    input.turnId = steer.turnId;
    input.steerStep = turn.step;
    turn.steered.push(steer.inputId);
  }

  endInput(end: InputEnd): void {
    const input = this.#inputs.get(end.inputId);
    if (input === undefined || (input.status !== "queued" && input.status !== "running")) return;
    if (input.status === "running") {
      // Only a steered input the model never saw ends on its own; it leaves its turn, which must
      // not recover it.
      if (input.steerStep === undefined) return;
      const turn = this.#sessions.get(end.sessionId)?.turns.get(input.turnId!);
      if (turn !== undefined) turn.steered = turn.steered.filter((id) => id !== end.inputId);
      input.steerStep = undefined;
      input.turnId = undefined;
    }
    this.#end(end.inputId, input, { status: end.status, reason: end.reason });
  }

  startTurn(start: TurnStart): void {
    const session = this.#session(start.sessionId);
    const stored = session.turns.get(start.turnId);
    if (stored !== undefined && start.attempt <= stored.attempt) return;
    const inputIds = start.inputIds.filter((id) => {
      const status = this.#inputs.get(id)?.status;
      return status === "queued" || status === "running";
    });
    for (const id of inputIds) {
      const input = this.#inputs.get(id)!;
      input.status = "running";
      input.turnId = start.turnId;
      input.steerStep = undefined;
    }
    if (stored === undefined) {
      session.turns.set(start.turnId, {
        turnId: start.turnId,
        attempt: start.attempt,
        inputIds,
        steered: [],
        step: 0,
        messages: NO_MESSAGES,
      });
    } else {
      // A resumed attempt keeps the checkpoint, so a second crash resumes from it too.
      stored.attempt = start.attempt;
      stored.inputIds = inputIds;
      stored.steered = [];
    }
  }

  checkpoint(checkpoint: StepCheckpoint): void {
    const turn = this.#current(checkpoint.sessionId, checkpoint.turnId, checkpoint.attempt);
    if (turn === undefined) return;
    turn.step = checkpoint.step;
    turn.messages = [...checkpoint.messages];
  }

  endTurn(end: TurnEnd): void {
    const turn = this.#current(end.sessionId, end.turnId, end.attempt);
    if (turn === undefined) return;
    const session = this.#sessions.get(end.sessionId)!;
    session.turns.delete(end.turnId);
    for (const message of end.messages) session.history.push(message);
    for (const id of [...turn.inputIds, ...turn.steered]) {
      const input = this.#inputs.get(id);
      // Ended on its own meanwhile (a steered input cancelled unseen).
      if (input?.status !== "running" || input.turnId !== end.turnId) continue;
      input.steerStep = undefined;
      if (end.requeued.includes(id)) {
        input.status = "queued";
        input.turnId = undefined;
      } else {
        this.#end(id, input, end.outcome);
      }
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
    const id = this.#keys.get(keyOf(sessionId, key));
    return id === undefined ? undefined : this.input(id);
  }

  input(inputId: string): InputSnapshot | undefined {
    const input = this.#inputs.get(inputId);
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

  /**
   * Recovery of a turn's steered inputs (see the port): those its checkpoint holds become inputs of
   * the turn, the others go back to the queue.
   */
  #settleSteered(turn: StoredTurn): void {
    for (const id of turn.steered) {
      const input = this.#inputs.get(id)!;
      if (input.steerStep! < turn.step) turn.inputIds.push(id);
      else {
        input.status = "queued";
        input.turnId = undefined;
      }
      input.steerStep = undefined;
    }
    turn.steered = [];
  }

  /** The session, made on first use. */
  #session(sessionId: string): StoredSession {
    let session = this.#sessions.get(sessionId);
    if (session === undefined) {
      session = { record: undefined, history: [], turns: new Map() };
      this.#sessions.set(sessionId, session);
    }
    return session;
  }

  /** The turn, if `attempt` is its current one. */
  #current(sessionId: string, turnId: string, attempt: number): StoredTurn | undefined {
    const turn = this.#sessions.get(sessionId)?.turns.get(turnId);
    return turn?.attempt === attempt ? turn : undefined;
  }

  /** Ends an input, and forgets the oldest ended input beyond the bound of those kept. */
  #end(id: string, input: StoredInput, outcome: NonNullable<InputSnapshot["outcome"]>): void {
    input.status = outcome.status;
    input.outcome = outcome;
    this.#ended.push(id);
    if (this.#ended.length <= this.#endedInputsMax) return;
    const oldest = this.#ended.shift()!;
    const { record } = this.#inputs.get(oldest)!;
    this.#inputs.delete(oldest);
    if (record.idempotencyKey !== undefined)
      this.#keys.delete(keyOf(record.sessionId, record.idempotencyKey));
  }
}

function keyOf(sessionId: string, key: string): string {
  return `${sessionId}\u0000${key}`;
}
