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
  Steer,
  StepCheckpoint,
  Store,
  TurnEnd,
  TurnStart,
} from "../../runtime/ports/store.js";
import { MemoryDelegationLog } from "./memory-delegation-log.js";

/** An input and where it stands; mutated in place (a snapshot is built only when asked for). */
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
  readonly sessionId: string;
  attempt: number;
  /** The inputs it started with (or resumed with). */
  inputIds: readonly string[];
  /** Inputs steered into it since it started. */
  steered: string[];
  step: number;
  messages: readonly Message[];
}

const COMMITTED = Promise.resolve();

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
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #inputs = new Map<string, StoredInput>();
  readonly #keys = new Map<string, string>();
  readonly #turns = new Map<string, StoredTurn>();
  readonly #histories = new Map<string, Message[]>();
  readonly #endedInputsMax: number;
  #ended: string[] = [];
  #endedHead = 0;
  #nextSeq = 1;

  constructor(endedInputsMax: number) {
    this.#endedInputsMax = endedInputsMax;
  }

  async open(): Promise<RecoveredState> {
    const interrupted: InterruptedTurn[] = [];
    for (const turn of this.#turns.values()) {
      this.#settleSteered(turn);
      interrupted.push({
        turnId: turn.turnId,
        sessionId: turn.sessionId,
        inputIds: turn.inputIds,
        attempt: turn.attempt,
        step: turn.step,
        messages: turn.messages,
        inputs: turn.inputIds.map((id) => this.#inputs.get(id)!.record),
      });
    }
    const queued: InputRecord[] = [];
    for (const input of this.#inputs.values()) if (input.status === "queued") queued.push(input.record);
    queued.sort((x, y) => x.seq - y.seq);
    return { sessions: [...this.#sessions.values()], queued, interrupted, nextSeq: this.#nextSeq };
  }

  /**
   * Recovery of a turn's steered inputs (see the port): those its checkpoint holds become inputs of
   * the turn, the others go back to the queue.
   */
  #settleSteered(turn: StoredTurn): void {
    if (turn.steered.length === 0) return;
    const held: string[] = [];
    for (const id of turn.steered) {
      const input = this.#inputs.get(id)!;
      if (input.steerStep! < turn.step) held.push(id);
      else {
        input.status = "queued";
        input.turnId = undefined;
      }
      input.steerStep = undefined;
    }
    turn.inputIds = [...turn.inputIds, ...held];
    turn.steered = [];
  }

  createSession(session: SessionRecord): void {
    if (!this.#sessions.has(session.id)) this.#sessions.set(session.id, session);
  }

  accept(input: InputRecord): void {
    this.#inputs.set(input.id, {
      record: input,
      status: "queued",
      turnId: undefined,
      outcome: undefined,
      steerStep: undefined,
    });
    if (input.idempotencyKey !== undefined)
      this.#keys.set(keyOf(input.sessionId, input.idempotencyKey), input.id);
    if (input.seq >= this.#nextSeq) this.#nextSeq = input.seq + 1;
  }

  steer(steer: Steer): void {
    const turn = this.#current(steer.turnId, steer.attempt);
    const input = this.#inputs.get(steer.inputId);
    if (turn === undefined || input === undefined || input.status !== "queued") return;
    input.status = "running";
    input.turnId = steer.turnId;
    input.steerStep = turn.step;
    turn.steered.push(steer.inputId);
  }

  endInput(end: InputEnd): void {
    const input = this.#inputs.get(end.inputId);
    if (input === undefined) return;
    if (input.status === "running" && input.steerStep !== undefined) {
      // Steered and never seen: it leaves its turn, which must not recover it.
      const turn = input.turnId === undefined ? undefined : this.#turns.get(input.turnId);
      if (turn !== undefined) turn.steered = turn.steered.filter((id) => id !== end.inputId);
      input.steerStep = undefined;
      input.turnId = undefined;
    } else if (input.status !== "queued") return;
    input.status = end.status;
    input.outcome = { status: end.status, reason: end.reason };
    this.#retire(end.inputId);
  }

  startTurn(turn: TurnStart): void {
    const stored = this.#turns.get(turn.turnId);
    if (stored === undefined) {
      this.#turns.set(turn.turnId, {
        turnId: turn.turnId,
        sessionId: turn.sessionId,
        attempt: turn.attempt,
        inputIds: turn.inputIds,
        steered: [],
        step: 0,
        messages: [],
      });
    } else if (turn.attempt > stored.attempt) {
      // A resumed attempt keeps the checkpoint, so a second crash resumes from it too.
      stored.attempt = turn.attempt;
      stored.inputIds = turn.inputIds;
      stored.steered = [];
    } else return;
    for (const id of turn.inputIds) {
      const input = this.#inputs.get(id);
      if (input === undefined || (input.status !== "queued" && input.status !== "running")) continue;
      input.status = "running";
      input.turnId = turn.turnId;
      input.steerStep = undefined;
    }
  }

  checkpoint(checkpoint: StepCheckpoint): void {
    const turn = this.#current(checkpoint.turnId, checkpoint.attempt);
    if (turn === undefined) return;
    turn.step = checkpoint.step;
    turn.messages = [...checkpoint.messages];
  }

  endTurn(end: TurnEnd): void {
    if (this.#current(end.turnId, end.attempt) === undefined) return;
    this.#turns.delete(end.turnId);
    if (end.messages.length > 0) {
      const history = this.#histories.get(end.sessionId);
      if (history === undefined) this.#histories.set(end.sessionId, [...end.messages]);
      else for (const m of end.messages) history.push(m);
    }
    for (const id of end.inputIds) {
      const input = this.#inputs.get(id);
      if (input === undefined || input.status !== "running" || input.turnId !== end.turnId) continue;
      input.steerStep = undefined;
      if (end.requeued.length > 0 && end.requeued.includes(id)) {
        input.status = "queued";
        input.turnId = undefined;
      } else {
        input.status = end.outcome.status;
        input.turnId = end.turnId;
        input.outcome = end.outcome;
        this.#retire(id);
      }
    }
  }

  /** Remembers an ended input, forgetting the oldest beyond the bound. */
  #retire(inputId: string): void {
    this.#ended.push(inputId);
    while (this.#ended.length - this.#endedHead > this.#endedInputsMax) {
      const old = this.#inputs.get(this.#ended[this.#endedHead]!);
      this.#endedHead += 1;
      if (old === undefined) continue;
      this.#inputs.delete(old.record.id);
      const key = old.record.idempotencyKey;
      if (key !== undefined) this.#keys.delete(keyOf(old.record.sessionId, key));
    }
    if (this.#endedHead > 4096 && this.#endedHead * 2 > this.#ended.length) {
      this.#ended = this.#ended.slice(this.#endedHead);
      this.#endedHead = 0;
    }
  }

  /** Everything here is committed as soon as it is written. */
  commit(): Promise<void> {
    return COMMITTED;
  }

  history(sessionId: string): readonly Message[] {
    return this.#histories.get(sessionId) ?? [];
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

  #current(turnId: string, attempt: number): StoredTurn | undefined {
    const turn = this.#turns.get(turnId);
    return turn !== undefined && turn.attempt === attempt ? turn : undefined;
  }
}

function keyOf(sessionId: string, key: string): string {
  return `${sessionId}\u0000${key}`;
}
