/**
 * The store port: how the runtime persists sessions, inputs, turns, step checkpoints and history.
 *
 * The port speaks in use cases, not SQL. Writes are synchronous calls that join the store's current
 * *group*; `commit()` returns a promise that resolves once every write made before it is as durable
 * as the store can make it. The runtime never tells anyone about a write (a handle's `durable`
 * receipt, a settled result) before the commit that holds it has resolved, so a crash can only lose
 * writes nobody was told about. Reads are synchronous and see every write made so far, committed or
 * not, because the runtime is the store's only writer while it holds the store open.
 *
 * Every write that concerns a turn carries the turn's `attempt`; a store ignores a turn write whose
 * attempt is not the turn's current one, so a result computed before a crash can never land after it.
 *
 * Recovery, and steered input in particular: `open()` hands back every input that is not terminal,
 * each exactly once — as queued, or as an input of an interrupted turn. An input steered into a turn
 * joins that turn's record, together with the turn's checkpointed step at that moment. The model sees
 * a steered input at the turn's next step boundary, and the checkpoint written there is the first to
 * hold it. So when the process dies, a steered input whose turn has a later checkpoint than the one it
 * was steered at is recovered with the turn (its message is in the checkpoint the turn resumes from,
 * and it ends with the turn, `failed`/`crashed` included); any other steered input goes back to
 * `queued` (the model never saw it, exactly as when a live turn ends before its next step boundary)
 * and runs in a later turn, in acceptance order.
 *
 * Adapters: memory (`createMemoryStore`), SQLite (`createSqliteStore`) and PostgreSQL
 * (`createPostgresStore`, which shares sessions between processes through leases). Each runs the conformance
 * suite `runStoreConformance` of `offstage/testing`.
 *
 * @packageDocumentation
 */
import type { Message } from "../../kernel/messages.js";
import type { Reason, TerminalStatus, TurnOutcome, Usage } from "../../kernel/outcome.js";
import type { Policy } from "../../kernel/session/inbox.js";
import type { DelegationLog } from "./delegation-log.js";
import type { EventLog } from "./event-log.js";
import type { SessionLeases } from "./session-leases.js";

/** What a store promises about accepted input: `stored` (in this process) or `durable` (on disk). */
export type Receipt = "stored" | "durable";

export interface SessionRecord {
  readonly id: string;
  /** The name of the agent that runs the session's turns. */
  readonly agent: string;
  readonly createdAtMs: number;
}

export interface InputRecord {
  readonly id: string;
  readonly sessionId: string;
  /** Acceptance order across the store; recovery re-queues in this order. */
  readonly seq: number;
  readonly payload: unknown;
  readonly policy: Policy;
  readonly idempotencyKey?: string | undefined;
  readonly acceptedAtMs: number;
  /** Set when the input carries a background child's completion to this session. */
  readonly delegationId?: string | undefined;
}

/** Where an input stands in the store. */
export interface InputSnapshot {
  readonly id: string;
  readonly sessionId: string;
  readonly payload: unknown;
  readonly status: "queued" | "running" | TerminalStatus;
  readonly turnId?: string | undefined;
  readonly outcome?: TurnOutcome | undefined;
}

/**
 * A turn starts, or resumes after a crash: same `turnId`, a higher `attempt`, and the stored
 * checkpoint is kept so that a second crash resumes from it too. A start whose attempt is not higher
 * than the stored turn's is ignored.
 */
export interface TurnStart {
  readonly turnId: string;
  readonly sessionId: string;
  readonly inputIds: readonly string[];
  readonly attempt: number;
  readonly startedAtMs: number;
}

/** A step boundary's state; ignored unless `attempt` is the turn's current one. */
export interface StepCheckpoint {
  readonly turnId: string;
  /** The turn's session (a store may index running turns by session). */
  readonly sessionId: string;
  readonly attempt: number;
  /** The step the turn has completed (model call plus its tool results). */
  readonly step: number;
  /** Every message the turn has produced so far, its opening user messages included. */
  readonly messages: readonly Message[];
}

export interface TurnEnd {
  readonly turnId: string;
  readonly sessionId: string;
  readonly attempt: number;
  readonly outcome: TurnOutcome;
  /** Messages to append to the session's history (empty when the turn left no trace). */
  readonly messages: readonly Message[];
  /** Every input of the turn; each takes the turn's outcome, except those in `requeued`. */
  readonly inputIds: readonly string[];
  /** Those of `inputIds` steered into the turn but never seen by the model: they go back to `queued`. */
  readonly requeued: readonly string[];
  readonly usage: Usage;
  readonly endedAtMs: number;
}

/** An input joins a running turn (policy `steer`); ignored unless `attempt` is the turn's current one. */
export interface Steer {
  readonly inputId: string;
  /** The input's session (a store may index inputs by session). */
  readonly sessionId: string;
  readonly turnId: string;
  readonly attempt: number;
}

/** A turn that was running when the store was last closed without a clean stop. */
export interface InterruptedTurn {
  readonly turnId: string;
  readonly sessionId: string;
  /**
   * The inputs the turn answers: those it started with, then those steered into it that its
   * checkpoint holds (see the recovery note of this module).
   */
  readonly inputIds: readonly string[];
  readonly attempt: number;
  /** The last completed step, 0 when none was checkpointed. */
  readonly step: number;
  /** The checkpointed messages, empty when no step completed. */
  readonly messages: readonly Message[];
  /** The records of `inputIds`, in the same order. */
  readonly inputs: readonly InputRecord[];
}

/** What a store holds when it opens: everything the runtime must drive to a terminal state. */
export interface RecoveredState {
  readonly sessions: readonly SessionRecord[];
  /**
   * Inputs waiting to run, in acceptance order (steered inputs no checkpoint holds included); empty
   * when `open({ paged: true })` left them to {@link Store.queuedSessions}.
   */
  readonly queued: readonly InputRecord[];
  /** How many inputs wait to run, whether `queued` holds them or not (default: `queued.length`). */
  readonly queuedCount?: number;
  readonly interrupted: readonly InterruptedTurn[];
  /** The next free input sequence number. */
  readonly nextSeq: number;
}

/** Options of {@link Store.open}. */
export interface OpenOptions {
  /**
   * Leave `queued` empty (and count them in `queuedCount`): the caller reads queued inputs session by
   * session, with `queuedSessions` and `queuedOf`, so it can drive turns before it has read them all.
   * A store without those two methods ignores it.
   */
  readonly paged?: boolean;
}

/** The queued inputs of one session, in acceptance order. */
export interface QueuedSession {
  readonly sessionId: string;
  readonly inputs: readonly InputRecord[];
}

/**
 * An input ended without a turn: withdrawn or cancelled while queued, or cancelled after it was
 * steered into a turn but before the model saw it (it leaves that turn; recovery must not bring it
 * back with the turn nor queue it again).
 */
export interface InputEnd {
  readonly inputId: string;
  /** The input's session (a store may index inputs by session). */
  readonly sessionId: string;
  readonly status: TerminalStatus;
  readonly reason: Reason;
  readonly endedAtMs: number;
}

/**
 * A persistence adapter. One runtime holds a store open at a time.
 *
 * Records are plain data. The objects a write receives stay the runtime's and never change after the
 * call, except arrays: an adapter that keeps an array past the call — to write it later in its commit
 * group, say — keeps a copy.
 */
export interface Store {
  /** `memory`, `sqlite`, ... for messages and metrics. */
  readonly kind: string;
  /** What a committed write survives: `stored` (process lifetime) or `durable` (a crash). */
  readonly receipt: Receipt;
  /**
   * Opens (and migrates) the store and returns what must be recovered; the store is left in that
   * state (steered inputs no checkpoint holds are `queued` again). Calling it again while open (a
   * runtime's stop and start) returns the current state. Throws `BootError`.
   *
   * After a write or a commit failed, the runtime calls it again, with a growing interval, until it
   * succeeds: a store that lost writes throws (`STORE_FAILED`) while it still fails, and once it
   * works returns what it kept, without the writes it lost.
   */
  open(options?: OpenOptions): Promise<RecoveredState>;
  /** Records a session; a session already stored is left as it is. */
  createSession(session: SessionRecord): void;
  /**
   * Records an accepted input. A store shared by processes throws `InvalidInputError` when another
   * process stored an input with the same idempotency key after the runtime looked the key up: the
   * runtime then answers the send with that input.
   */
  accept(input: InputRecord): void;
  /** A queued input joins the running turn (policy `steer`); see the recovery note of this module. */
  steer(steer: Steer): void;
  /** Ends an input no turn answers (see {@link InputEnd}); ignored unless it is queued or steered. */
  endInput(end: InputEnd): void;
  startTurn(turn: TurnStart): void;
  checkpoint(checkpoint: StepCheckpoint): void;
  /** Ends a turn; ignored unless `attempt` is the turn's current one and the turn has not ended. */
  endTurn(end: TurnEnd): void;
  /** Resolves once every earlier write is committed. Writes made meanwhile join the next group. */
  commit(): Promise<void>;
  /**
   * The session's history, oldest first. The caller does not change the array, and may hold it until
   * its turn of the session ends: the store may hand out an array it keeps, as long as nothing but a
   * later turn end of that session changes it.
   */
  history(sessionId: string): readonly Message[];
  /** The input a session accepted with this idempotency key, if any. */
  findByIdempotencyKey(sessionId: string, key: string): InputSnapshot | undefined;
  input(inputId: string): InputSnapshot | undefined;
  /**
   * Recovery page by page (optional, with `queuedOf`): the queued inputs of the first `sessionsMax`
   * sessions that have any, after session `afterSessionId` (from the first when `undefined`), in an
   * order of session ids the store chooses and keeps. Paging on from the last session of each page
   * visits every session with queued inputs once.
   */
  queuedSessions?(afterSessionId: string | undefined, sessionsMax: number): readonly QueuedSession[];
  /** The queued inputs of one session, in acceptance order (see `queuedSessions`). */
  queuedOf?(sessionId: string): readonly InputRecord[];
  /** The delegation log, when the store supports background children. */
  readonly delegations?: DelegationLog;
  /** The sessions' recorded events, when the store keeps them (replay and resumable streams). */
  readonly eventLog?: EventLog;
  /**
   * Session leases, when processes share the store (see `session-leases.ts`); without them this
   * runtime runs every session the store holds.
   */
  readonly leases?: SessionLeases;
  /** Commits what is pending and releases the store. Idempotent. */
  close(): Promise<void>;
  /**
   * Releases the store at once without committing what is pending, as a killed process leaves it
   * (a store shared by processes keeps this one's leases until they lapse). A stop calls it instead
   * of `close()` when the store's last commit did not finish in time — a server that does not
   * answer — and reports the inputs those writes carried as lost, or as in doubt when the store
   * says a commit of them was under way as the connection dropped. Optional: a store whose commits
   * always finish needs none. Idempotent.
   */
  abandon?(): Promise<Abandoned>;
}

/** What {@link Store.abandon} left behind. */
export interface Abandoned {
  /**
   * A commit was sent and never answered (the connection dropped under it): its writes may have
   * landed. The writes of a store that is not in doubt were never committed.
   */
  readonly inDoubt: boolean;
}
