/**
 * The memory store: keeps everything in this process. Commits are immediate and the receipt is
 * `stored`: work survives `stop()`/`start()` of the same runtime object, not the process. Meant for
 * tests, simulations and ephemeral use.
 *
 * It is also the reference the simulation trusts, so it is written to be obviously right: plain
 * arrays, one statement of each rule of the store port, no tricks for speed. An input's state is
 * where its record is, never a flag beside it, so the two cannot disagree: each session keeps its
 * live inputs in acceptance order and its running turns, and a live input is running while a turn
 * holds it, queued otherwise; ended inputs move, with their outcome, to `ended-inputs.ts`, which
 * forgets them as the retention options say (`../retention.ts`), as they end. Records are kept as
 * written (the port's records never change). A look-up by input id alone (`input(id)`, which hosts
 * call rarely) searches those lists, so that no write pays for an index of every input.
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
  OpenOptions,
  QueuedSession,
  RecoveredState,
  SessionRecord,
  Steer,
  StepCheckpoint,
  Store,
  TurnEnd,
  TurnStart,
} from "../../runtime/ports/store.js";
import { checkOptions, optionsOf } from "../../validate.js";
import { RETENTION_KEYS, type Retention, type RetentionOptions, retentionOf } from "../retention.js";
import { type EndedInput, EndedInputs } from "./ended-inputs.js";
import { MemoryDelegationLog } from "./memory-delegation-log.js";
import { MemoryEventLog } from "./memory-event-log.js";

/** An input steered into a running turn, with the turn's checkpointed step at that moment. */
interface SteeredInput {
  readonly record: InputRecord;
  readonly step: number;
}

interface StoredTurn {
  readonly turnId: string;
  attempt: number;
  /** The inputs it started (or resumed) with. */
  inputs: InputRecord[];
  /** Inputs steered into it since it started. */
  steered: readonly SteeredInput[];
  step: number;
  messages: readonly Message[];
}

interface StoredSession {
  /** `undefined` for a session written to without `createSession` (the port allows it). */
  record: SessionRecord | undefined;
  readonly history: Message[];
  /** How many messages each turn added to `history`, oldest first, while `historyTurnsMax` bounds it. */
  readonly turnSizes: number[];
  /** Queued and running inputs, in acceptance order: running while a turn of `turns` holds one. */
  readonly live: InputRecord[];
  /** Running turns: one, rarely more. */
  readonly turns: StoredTurn[];
}

/** An ended input and its outcome, kept for look-ups until retention forgets it. */
interface StoredEnd extends EndedInput {
  readonly record: InputRecord;
  readonly outcome: TurnOutcome;
  /** The turn it ended with; `undefined` when it ended on its own. */
  readonly turnId: string | undefined;
}

const COMMITTED = Promise.resolve();
const NO_MESSAGES: readonly Message[] = Object.freeze([]);
/** A turn's steered inputs until one is steered into it; frozen, so nothing is pushed to it. */
const NO_STEERED: readonly SteeredInput[] = Object.freeze([]);

/**
 * Options of {@link createMemoryStore}: retention only (see {@link RetentionOptions}). Ended inputs
 * are forgotten as they end, oldest first: by default beyond the newest 10 000 (`endedInputsMax`), and
 * those with an idempotency key beyond the newest 10 000 of them (`idempotencyKeysMax`).
 */
export type MemoryStoreOptions = RetentionOptions;

/** Creates an in-process store. Throws `BootError` `INVALID_OPTIONS` for bad options. */
export function createMemoryStore(options: MemoryStoreOptions = {}): Store {
  const subject = optionsOf("createMemoryStore()");
  const given = checkOptions(subject, "options", options, RETENTION_KEYS);
  return new MemoryStore(retentionOf(subject, given, DEFAULTS.memoryStore));
}

class MemoryStore implements Store {
  readonly kind = "memory";
  readonly receipt = "stored" as const;
  readonly delegations = new MemoryDelegationLog();
  readonly eventLog = new MemoryEventLog();
  readonly #historyTurnsMax: number;
  readonly #sessions = new Map<string, StoredSession>();
  readonly #ended: EndedInputs<StoredEnd>;
  /** Inputs by session and idempotency key (the record while live, then its end), until forgotten. */
  readonly #keys = new Map<string, InputRecord | StoredEnd>();
  #nextSeq = 1;

  constructor(retention: Retention) {
    this.#ended = new EndedInputs(retention);
    this.#historyTurnsMax = retention.historyTurnsMax;
  }

  async open(options?: OpenOptions): Promise<RecoveredState> {
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
          inputs: [...turn.inputs],
        });
      }
      queued.push(...queuedIn(session));
    }
    queued.sort(bySeq);
    const queuedCount = queued.length;
    if (options?.paged === true) queued.length = 0;
    return { sessions, queued, queuedCount, interrupted, nextSeq: this.#nextSeq };
  }

  queuedSessions(afterSessionId: string | undefined, sessionsMax: number): readonly QueuedSession[] {
    const ids = [...this.#sessions.keys()].sort();
    const page: QueuedSession[] = [];
    for (const sessionId of ids) {
      if (page.length >= sessionsMax) break;
      if (afterSessionId !== undefined && sessionId <= afterSessionId) continue;
      const inputs = this.queuedOf(sessionId);
      if (inputs.length > 0) page.push({ sessionId, inputs });
    }
    return page;
  }

  queuedOf(sessionId: string): readonly InputRecord[] {
    const session = this.#sessions.get(sessionId);
    return session === undefined ? [] : queuedIn(session).sort(bySeq);
  }

  createSession(record: SessionRecord): void {
    const session = this.#session(record.id);
    session.record ??= record;
  }

  /** Keeps the record itself: the port's records are never changed once written. */
  accept(record: InputRecord): void {
    this.#session(record.sessionId).live.push(record);
    if (record.idempotencyKey !== undefined)
      this.#keys.set(keyOf(record.sessionId, record.idempotencyKey), record);
    this.#nextSeq = Math.max(this.#nextSeq, record.seq + 1);
  }

  steer(steer: Steer): void {
    const session = this.#sessions.get(steer.sessionId);
    const input = session === undefined ? undefined : find(session.live, steer.inputId);
    const turn = this.#current(steer.sessionId, steer.turnId, steer.attempt);
    if (input === undefined || turn === undefined || holderOf(session!, input) !== undefined) return;
    turn.steered = [...turn.steered, { record: input, step: turn.step }];
  }

  endInput(end: InputEnd): void {
    const session = this.#sessions.get(end.sessionId);
    const input = session === undefined ? undefined : find(session.live, end.inputId);
    if (input === undefined) return;
    const turn = holderOf(session!, input);
    if (turn !== undefined) {
      // Only a steered input the model never saw ends on its own; it leaves its turn, which must
      // not recover it.
      if (turn.inputs.includes(input)) return;
      turn.steered = turn.steered.filter((steered) => steered.record !== input);
    }
    this.#end(session!, input, undefined, { status: end.status, reason: end.reason }, end.endedAtMs);
  }

  startTurn(start: TurnStart): void {
    const session = this.#session(start.sessionId);
    const stored = turnOf(session, start.turnId);
    if (stored !== undefined && start.attempt <= stored.attempt) return;
    // The inputs it names that are still live: usually all of them.
    const inputs: InputRecord[] = [];
    for (let i = 0; i < start.inputIds.length; i++) {
      const input = find(session.live, start.inputIds[i]!);
      if (input !== undefined) inputs.push(input);
    }
    if (stored === undefined) {
      session.turns.push({
        turnId: start.turnId,
        attempt: start.attempt,
        inputs,
        steered: NO_STEERED,
        step: 0,
        messages: NO_MESSAGES,
      });
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
    remove(session.turns, turn);
    this.#appendHistory(session, end.messages);
    // Indexed loops on the turn's path (bench/NOTES.md, "indexed loops").
    for (let i = 0; i < turn.inputs.length; i++) this.#endTurnInput(session, turn.inputs[i]!, end);
    for (let i = 0; i < turn.steered.length; i++) this.#endTurnInput(session, turn.steered[i]!.record, end);
  }

  /**
   * Ends an input of an ending turn with its outcome; one the end requeues stays live and, its turn
   * gone, is queued again.
   */
  #endTurnInput(session: StoredSession, input: InputRecord, end: TurnEnd): void {
    if (end.requeued.length > 0 && end.requeued.includes(input.id)) return;
    this.#end(session, input, end.turnId, end.outcome, end.endedAtMs);
  }

  /** A turn's messages join the history; beyond `historyTurnsMax` turns, the oldest turn's leave. */
  #appendHistory(session: StoredSession, messages: readonly Message[]): void {
    if (messages.length === 0) return;
    for (let i = 0; i < messages.length; i++) session.history.push(messages[i]!);
    if (this.#historyTurnsMax === Number.POSITIVE_INFINITY) return;
    session.turnSizes.push(messages.length);
    if (session.turnSizes.length > this.#historyTurnsMax)
      session.history.splice(0, session.turnSizes.shift()!);
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
    if (input === undefined) return undefined;
    return isEnd(input) ? endSnapshot(input) : liveSnapshot(this.#sessions.get(sessionId)!, input);
  }

  input(inputId: string): InputSnapshot | undefined {
    for (const session of this.#sessions.values()) {
      const input = find(session.live, inputId);
      if (input !== undefined) return liveSnapshot(session, input);
    }
    const ended = this.#ended.find(inputId);
    return ended === undefined ? undefined : endSnapshot(ended);
  }

  async close(): Promise<void> {}

  /** The session, made on first use. */
  #session(sessionId: string): StoredSession {
    let session = this.#sessions.get(sessionId);
    if (session === undefined) {
      session = { record: undefined, history: [], turnSizes: [], live: [], turns: [] };
      this.#sessions.set(sessionId, session);
    }
    return session;
  }

  /** The turn, if `attempt` is its current one. */
  #current(sessionId: string, turnId: string, attempt: number): StoredTurn | undefined {
    const session = this.#sessions.get(sessionId);
    return session === undefined ? undefined : current(session, turnId, attempt);
  }

  /** Ends an input: it leaves its session's live inputs for the ended ones (see `ended-inputs.ts`). */
  #end(
    session: StoredSession,
    input: InputRecord,
    turnId: string | undefined,
    outcome: TurnOutcome,
    endedAtMs: number,
  ): void {
    remove(session.live, input);
    const key = input.idempotencyKey === undefined ? undefined : keyOf(input.sessionId, input.idempotencyKey);
    const end: StoredEnd = { id: input.id, record: input, turnId, outcome, key, endedAtMs, forgotten: false };
    if (key !== undefined) this.#keys.set(key, end);
    this.#ended.add(end, this.#forget);
  }

  readonly #forget = (end: StoredEnd): void => {
    if (end.key !== undefined) this.#keys.delete(end.key);
  };
}

/**
 * Recovery of a turn's steered inputs (see the port): those its checkpoint holds become inputs of the
 * turn; the others, left live and held by no turn, are queued again.
 */
function settleSteered(turn: StoredTurn): void {
  for (const steered of turn.steered) {
    if (steered.step < turn.step) turn.inputs = [...turn.inputs, steered.record];
  }
  turn.steered = NO_STEERED;
}

/** The session's queued inputs: its live ones no turn holds. */
function queuedIn(session: StoredSession): InputRecord[] {
  return session.live.filter((input) => holderOf(session, input) === undefined);
}

/** The running turn that holds a live input, started with it or steered into it. */
function holderOf(session: StoredSession, input: InputRecord): StoredTurn | undefined {
  return session.turns.find(
    (turn) => turn.inputs.includes(input) || turn.steered.some((steered) => steered.record === input),
  );
}

function find(inputs: readonly InputRecord[], inputId: string): InputRecord | undefined {
  for (let i = 0; i < inputs.length; i++) if (inputs[i]!.id === inputId) return inputs[i];
  return undefined;
}

/** The session's turn, if `attempt` is its current one. */
function current(session: StoredSession, turnId: string, attempt: number): StoredTurn | undefined {
  const turn = turnOf(session, turnId);
  return turn?.attempt === attempt ? turn : undefined;
}

function turnOf(session: StoredSession, turnId: string): StoredTurn | undefined {
  const { turns } = session;
  for (let i = 0; i < turns.length; i++) if (turns[i]!.turnId === turnId) return turns[i];
  return undefined;
}

/** Removes `item` from `items`, keeping the order of the others. */
function remove<T>(items: T[], item: T): void {
  const at = items.indexOf(item);
  if (at === 0) items.shift();
  else if (at === items.length - 1) items.pop();
  else if (at > 0) items.splice(at, 1);
}

function bySeq(x: InputRecord, y: InputRecord): number {
  return x.seq - y.seq;
}

function isEnd(input: InputRecord | StoredEnd): input is StoredEnd {
  return "outcome" in input;
}

function liveSnapshot(session: StoredSession, input: InputRecord): InputSnapshot {
  const turn = holderOf(session, input);
  const { id, sessionId, payload } = input;
  return turn === undefined
    ? { id, sessionId, payload, status: "queued", turnId: undefined, outcome: undefined }
    : { id, sessionId, payload, status: "running", turnId: turn.turnId, outcome: undefined };
}

function endSnapshot(end: StoredEnd): InputSnapshot {
  const { id, sessionId, payload } = end.record;
  return { id, sessionId, payload, status: end.outcome.status, turnId: end.turnId, outcome: end.outcome };
}

function keyOf(sessionId: string, key: string): string {
  return `${sessionId}\u0000${key}`;
}
