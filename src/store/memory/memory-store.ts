/**
 * The memory store: keeps everything in this process. Commits are immediate and the receipt is
 * `stored`: work survives `stop()`/`start()` of the same runtime object, not the process. Meant for
 * tests, simulations and ephemeral use.
 *
 * It is also the reference the simulation trusts, so it is written to be obviously right: plain
 * arrays, one statement of each rule of the store port, no tricks for speed. Each session keeps its
 * live (queued and running) inputs in acceptance order and its running turns; ended inputs move to
 * `ended-inputs.ts`, which forgets them as the retention options say (`../retention.ts`), as they
 * end. A look-up by input id alone (`input(id)`, which hosts call rarely) searches those lists, so
 * that no write pays for an index of every input.
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
import { EndedInputs } from "./ended-inputs.js";
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
  /** Set when it ends (see `ended-inputs.ts`). */
  key: string | undefined;
  endedAtMs: number;
  forgotten: boolean;
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
  /** How many messages each turn added to `history`, oldest first, while `historyTurnsMax` bounds it. */
  readonly turnSizes: number[];
  /** Queued and running inputs, in acceptance order. */
  readonly live: StoredInput[];
  /** Running turns: one, rarely more. */
  readonly turns: StoredTurn[];
}

const COMMITTED = Promise.resolve();
const NO_MESSAGES: readonly Message[] = Object.freeze([]);
/** A turn's steered inputs until one is steered into it; frozen, so nothing is pushed to it. */
const NO_STEERED: readonly StoredInput[] = Object.freeze([]);

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
  readonly #ended: EndedInputs<StoredInput>;
  /** Inputs by session and idempotency key, until they are forgotten. */
  readonly #keys = new Map<string, StoredInput>();
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
          inputs: turn.inputs.map(recordOf),
        });
      }
      for (const input of session.live) if (input.status === "queued") queued.push(recordOf(input));
    }
    queued.sort((x, y) => x.seq - y.seq);
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
    const live = this.#sessions.get(sessionId)?.live ?? [];
    return live
      .filter((input) => input.status === "queued")
      .sort((x, y) => x.seq - y.seq)
      .map(recordOf);
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
      key: record.idempotencyKey === undefined ? undefined : keyOf(record.sessionId, record.idempotencyKey),
      endedAtMs: 0,
      forgotten: false,
    };
    this.#session(record.sessionId).live.push(input);
    if (input.key !== undefined) this.#keys.set(input.key, input);
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
    this.#end(session!, input, { status: end.status, reason: end.reason }, end.endedAtMs);
  }

  startTurn(start: TurnStart): void {
    const session = this.#session(start.sessionId);
    const stored = turnOf(session, start.turnId);
    if (stored !== undefined && start.attempt <= stored.attempt) return;
    // The inputs it names that are still live: usually all of them.
    const inputs: StoredInput[] = [];
    for (let i = 0; i < start.inputIds.length; i++) {
      const input = find(session.live, start.inputIds[i]!);
      if (input === undefined) continue;
      input.status = "running";
      input.turnId = start.turnId;
      input.steerStep = undefined;
      inputs.push(input);
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
    for (let i = 0; i < turn.steered.length; i++) this.#endTurnInput(session, turn.steered[i]!, end);
  }

  /** Ends an input of an ending turn with its outcome, or queues it again if the end requeues it. */
  #endTurnInput(session: StoredSession, input: StoredInput, end: TurnEnd): void {
    // Ended on its own meanwhile (a steered input cancelled unseen).
    if (input.status !== "running" || input.turnId !== end.turnId) return;
    input.steerStep = undefined;
    if (end.requeued.length > 0 && end.requeued.includes(input.id)) {
      input.status = "queued";
      input.turnId = undefined;
    } else {
      this.#end(session, input, end.outcome, end.endedAtMs);
    }
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
    return input === undefined ? undefined : snapshotOf(input);
  }

  input(inputId: string): InputSnapshot | undefined {
    for (const session of this.#sessions.values()) {
      const input = find(session.live, inputId);
      if (input !== undefined) return snapshotOf(input);
    }
    const ended = this.#ended.find(inputId);
    return ended === undefined ? undefined : snapshotOf(ended);
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
  #end(session: StoredSession, input: StoredInput, outcome: TurnOutcome, endedAtMs: number): void {
    input.status = outcome.status;
    input.outcome = outcome;
    input.endedAtMs = endedAtMs;
    remove(session.live, input);
    this.#ended.add(input, this.#forget);
  }

  readonly #forget = (input: StoredInput): void => {
    if (input.key !== undefined) this.#keys.delete(input.key);
  };
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

function find(inputs: readonly StoredInput[], inputId: string): StoredInput | undefined {
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
