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

interface StoredInput {
  readonly record: InputRecord;
  snapshot: InputSnapshot;
}

interface StoredTurn {
  readonly start: TurnStart;
  step: number;
  messages: readonly Message[];
  ended: boolean;
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
    for (const { record, snapshot } of this.#inputs.values()) {
      if (snapshot.status === "queued") queued.push(record);
    }
    queued.sort((a, b) => a.seq - b.seq);
    for (const turn of this.#turns.values()) {
      if (turn.ended) continue;
      const inputs = turn.start.inputIds.map((id) => this.#inputs.get(id)!.record);
      interrupted.push({
        turnId: turn.start.turnId,
        sessionId: turn.start.sessionId,
        inputIds: turn.start.inputIds,
        attempt: turn.start.attempt,
        step: turn.step,
        messages: turn.messages,
        inputs,
      });
    }
    return { sessions: [...this.#sessions.values()], queued, interrupted, nextSeq: this.#nextSeq };
  }

  createSession(session: SessionRecord): void {
    if (!this.#sessions.has(session.id)) this.#sessions.set(session.id, session);
  }

  accept(input: InputRecord): void {
    const snapshot: InputSnapshot = {
      id: input.id,
      sessionId: input.sessionId,
      payload: input.payload,
      status: "queued",
    };
    this.#inputs.set(input.id, { record: input, snapshot });
    if (input.idempotencyKey !== undefined)
      this.#keys.set(keyOf(input.sessionId, input.idempotencyKey), input.id);
    if (input.seq >= this.#nextSeq) this.#nextSeq = input.seq + 1;
  }

  steer(inputId: string, turnId: string): void {
    const input = this.#inputs.get(inputId);
    if (input) input.snapshot = { ...input.snapshot, status: "running", turnId };
  }

  endInput(end: InputEnd): void {
    const input = this.#inputs.get(end.inputId);
    if (input === undefined || input.snapshot.status !== "queued") return;
    input.snapshot = {
      ...input.snapshot,
      status: end.status,
      outcome: { status: end.status, reason: end.reason },
    };
  }

  startTurn(turn: TurnStart): void {
    this.#turns.set(turn.turnId, { start: turn, step: 0, messages: [], ended: false });
    for (const id of turn.inputIds) this.steer(id, turn.turnId);
  }

  checkpoint(checkpoint: StepCheckpoint): void {
    const turn = this.#current(checkpoint.turnId, checkpoint.attempt);
    if (turn === undefined) return;
    turn.step = checkpoint.step;
    turn.messages = checkpoint.messages;
  }

  endTurn(end: TurnEnd): void {
    const turn = this.#current(end.turnId, end.attempt);
    if (turn === undefined) return;
    turn.ended = true;
    this.#turns.delete(end.turnId);
    if (end.messages.length > 0) {
      const history = this.#histories.get(end.sessionId);
      if (history === undefined) this.#histories.set(end.sessionId, [...end.messages]);
      else history.push(...end.messages);
    }
    const requeued = new Set(end.requeued);
    for (const id of end.inputIds) {
      const input = this.#inputs.get(id);
      if (input === undefined) continue;
      if (requeued.has(id)) {
        input.snapshot = { ...input.snapshot, status: "queued", turnId: undefined };
      } else {
        input.snapshot = {
          ...input.snapshot,
          status: end.outcome.status,
          turnId: end.turnId,
          outcome: end.outcome,
        };
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
    return id === undefined ? undefined : this.#inputs.get(id)?.snapshot;
  }

  input(inputId: string): InputSnapshot | undefined {
    return this.#inputs.get(inputId)?.snapshot;
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
