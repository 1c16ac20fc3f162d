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
  StepCheckpoint,
  Store,
  TurnEnd,
  TurnStart,
} from "../../runtime/ports/store.js";

/** An input and where it stands; mutated in place (a snapshot is built only when asked for). */
interface StoredInput {
  readonly record: InputRecord;
  status: InputSnapshot["status"];
  turnId: string | undefined;
  outcome: InputSnapshot["outcome"];
}

interface StoredTurn {
  readonly start: TurnStart;
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
    const queued: InputRecord[] = [];
    const interrupted: InterruptedTurn[] = [];
    for (const input of this.#inputs.values()) if (input.status === "queued") queued.push(input.record);
    queued.sort((x, y) => x.seq - y.seq);
    for (const turn of this.#turns.values()) {
      interrupted.push({
        turnId: turn.start.turnId,
        sessionId: turn.start.sessionId,
        inputIds: turn.start.inputIds,
        attempt: turn.start.attempt,
        step: turn.step,
        messages: turn.messages,
        inputs: turn.start.inputIds.map((id) => this.#inputs.get(id)!.record),
      });
    }
    return { sessions: [...this.#sessions.values()], queued, interrupted, nextSeq: this.#nextSeq };
  }

  createSession(session: SessionRecord): void {
    if (!this.#sessions.has(session.id)) this.#sessions.set(session.id, session);
  }

  accept(input: InputRecord): void {
    this.#inputs.set(input.id, { record: input, status: "queued", turnId: undefined, outcome: undefined });
    if (input.idempotencyKey !== undefined)
      this.#keys.set(keyOf(input.sessionId, input.idempotencyKey), input.id);
    if (input.seq >= this.#nextSeq) this.#nextSeq = input.seq + 1;
  }

  steer(inputId: string, turnId: string): void {
    const input = this.#inputs.get(inputId);
    if (input === undefined) return;
    input.status = "running";
    input.turnId = turnId;
  }

  endInput(end: InputEnd): void {
    const input = this.#inputs.get(end.inputId);
    if (input === undefined || input.status !== "queued") return;
    input.status = end.status;
    input.outcome = { status: end.status, reason: end.reason };
    this.#retire(end.inputId);
  }

  startTurn(turn: TurnStart): void {
    this.#turns.set(turn.turnId, { start: turn, step: 0, messages: [] });
    for (const id of turn.inputIds) this.steer(id, turn.turnId);
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
      if (input === undefined) continue;
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
    return turn !== undefined && turn.start.attempt === attempt ? turn : undefined;
  }
}

function keyOf(sessionId: string, key: string): string {
  return `${sessionId}\u0000${key}`;
}
