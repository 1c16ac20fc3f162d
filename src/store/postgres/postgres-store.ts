/**
 * The PostgreSQL store: many processes, on many machines, share one database. Its receipt is
 * `durable`: a committed write is in the server's WAL.
 *
 * How it works. Boot connects, migrates (`migrations.ts`: one transaction, under an advisory lock)
 * and registers this process, whose heartbeat keeps its leases alive. The store port's calls are
 * synchronous: a worker thread owns the connection (`sync-connection.ts`), writes join its open
 * transaction without waiting, reads wait for one round trip and see those writes, and `commit()`
 * commits.
 *
 * Leases: a process runs a session's turns only while it holds the session's lease — the session
 * row names it as owner, under an epoch that goes up at every change of owner. It takes the lease
 * when it creates the session or accepts input for a session nobody holds, and at `open()` for
 * sessions with live input whose owner is gone (`FOR UPDATE SKIP LOCKED`, so processes booting at
 * once split them). Every turn write carries the epoch and the database ignores a stale one (see
 * `statements.ts`), so a process that paused past its lease and wakes up after another took over
 * writes nothing — and learns it when those writes commit, before their commit resolves: the
 * sessions whose writes were kept out are lost as if the heartbeat had found them so. A clean
 * `close()` hands every lease back at once; a killed process's leases lapse when its heartbeat
 * stops (`leaseMs`). The leases are kept in `held-leases.ts`; the connection's parts are made in
 * `postgres-connection.ts`.
 *
 * Retention is the fleet's: one process at a time sweeps what the bounds let go, in the background
 * (`fleet-sweep.ts`, `retention-sweep.ts`), and history reads apply `historyTurnsMax` themselves.
 *
 * The event log (`postgres-event-log.ts`) follows the leases: a session's events are appended, with
 * the group, by the process that holds it, fenced by its epoch like a turn write, and numbered on
 * from the last one committed when the session changes hands.
 *
 * @packageDocumentation
 */
import pg from "pg";
import { CapacityError, InvalidInputError, OffstageError } from "../../errors.js";
import type { Message } from "../../kernel/messages.js";
import type { SessionLeases } from "../../runtime/ports/session-leases.js";
import type {
  Abandoned,
  InputEnd,
  InputRecord,
  InputSnapshot,
  RecoveredState,
  SessionRecord,
  Steer,
  StepCheckpoint,
  Store,
  TurnEnd,
  TurnStart,
} from "../../runtime/ports/store.js";
import type { SweepCounts } from "../retention.js";
import { type InputRow, snapshotOf } from "../sqlite/rows.js";
import { HeldLeases } from "./held-leases.js";
import { quoteIdent } from "./migrations.js";
import { connect, liveConnection, type PostgresConnection } from "./postgres-connection.js";
import { PostgresDelegationLog } from "./postgres-delegation-log.js";
import { PostgresEventLog } from "./postgres-event-log.js";
import type { Settings } from "./postgres-store-options.js";
import { type Statements, statementsFor } from "./statements.js";
import type { SyncConnection } from "./sync-connection.js";

/** See `createPostgresStore`. */
export class PostgresStore implements Store, AsyncDisposable {
  readonly kind = "postgres";
  readonly receipt = "durable" as const;
  /** `host:port`, for messages. */
  readonly where: string;
  /** This process's name in the lease table. */
  readonly processId: string;
  /** Background children and their completions, in the same transactions. */
  readonly delegations: PostgresDelegationLog;
  /** Each session's numbered events, appended by the process that holds the session (`postgres-event-log.ts`). */
  readonly eventLog: PostgresEventLog;
  readonly #settings: Settings;
  readonly #sql: Statements;
  /** The channel wakes go out on: one per schema. */
  readonly channel: string;
  /** Which sessions this process may run; see the module note. */
  readonly leases: SessionLeases;
  readonly #leases: HeldLeases;
  #open: PostgresConnection | undefined;
  #closing: Promise<void> | undefined;

  /** @internal Use {@link createPostgresStore}. */
  constructor(settings: Settings) {
    this.#settings = settings;
    this.processId = settings.processId;
    const probe = new pg.Client(settings.config);
    this.where = `${probe.host}:${probe.port}`;
    this.#sql = statementsFor(quoteIdent(settings.schema));
    this.channel = `offstage_${settings.schema}`;
    this.#leases = new HeldLeases({
      settings,
      sql: this.#sql,
      channel: this.channel,
      where: this.where,
      current: () => this.#open,
    });
    this.leases = this.#leases;
    this.delegations = new PostgresDelegationLog({
      sql: this.#sql,
      write: (sql, params) => this.#live().write(sql, params),
      readSync: (sql, params, write) => this.#live().readSync(sql, params, write),
      asideSync: (sql, params) => this.#live().asideSync(sql, params, false),
      commitSync: () => void this.#live().aloneSync([]),
      lockName: `offstage-delegations:${settings.schema}`,
    });
    this.eventLog = new PostgresEventLog({
      sql: this.#sql,
      leases: this.#leases,
      open: () => this.#openNow(),
    });
  }

  /** The schema the tables are in. */
  get schema(): string {
    return this.#settings.schema;
  }

  /**
   * Whether this process holds the session's lease (it may run its turns): not from the moment its
   * heartbeat finds the leases lapsed, before this thread hears of it.
   */
  holds(sessionId: string): boolean {
    return this.#leases.holds(sessionId);
  }

  async open(): Promise<RecoveredState> {
    if (this.#open === undefined) {
      this.#open = await connect({
        settings: this.#settings,
        sql: this.#sql,
        where: this.where,
        leases: this.#leases,
      });
      this.#closing = undefined;
    }
    const state = await this.#leases.claimAtOpen();
    // The claimed rows stay locked until this commits: another process must not wait on them.
    await this.#live().commit();
    return state;
  }

  /**
   * Holds the session's row for the group, without waiting for the server: the session is held once
   * the row is in (`new-sessions.ts`). One another process made is left to its holder; input sent to
   * it then takes its lease if nobody holds it, as for any session this process does not hold.
   */
  createSession(session: SessionRecord): void {
    if (this.#leases.epochOf(session.id) !== undefined || this.#leases.newSessions.has(session.id)) return;
    const { conn, held } = this.#openNow();
    this.#leases.newSessions.add(session.id);
    held.session(session);
    conn.hold();
  }

  accept(input: InputRecord): void {
    const { conn, held: writes } = this.#openNow();
    if (conn.down)
      throw new OffstageError(
        "STORE_UNAVAILABLE",
        `PostgreSQL at ${this.where} is unavailable; the input was not accepted`,
        { details: { where: this.where } },
      );
    const sessionId = input.sessionId;
    // Being created here: the claim that hands its input back makes it held (`new-sessions.ts`).
    const created = this.#leases.newSessions.has(sessionId);
    // Input for a session nobody holds takes its lease: the process that accepts it runs it. Not a
    // completion: the claim would commit alone, before the child's end it must commit with; the
    // session's holder, or the recovery poll, takes it up.
    if (!created && this.#leases.epochOf(sessionId) === undefined && input.delegationId === undefined)
      this.#leases.take(
        sessionId,
        conn.aloneSync([{ sql: this.#sql.claimSession, params: [sessionId, this.processId] }]).rows,
      );
    const held = this.#leases.epochOf(sessionId) !== undefined;
    const payload = JSON.stringify(input.payload);
    if ((held || (created && input.policy !== "reject")) && input.idempotencyKey === undefined) {
      writes.input(input, payload, held ? this.processId : null);
      if (created) this.#leases.newSessions.accepted(input);
      conn.hold();
      return;
    }
    const params = [
      input.id,
      sessionId,
      input.seq,
      payload,
      input.policy,
      input.idempotencyKey ?? null,
      input.acceptedAtMs,
      input.delegationId ?? null,
      held ? this.processId : null,
      created ? this.processId : null,
    ];
    if (!held && input.policy === "reject") {
      // The holder's inbox is not here to ask: the database says whether the session is busy.
      const written = conn.aloneSync([
        { sql: this.#sql.lockSession, params: [sessionId] },
        { sql: this.#sql.insertIfIdle, params },
      ]);
      if (written.count === 0)
        throw new CapacityError(
          "SESSION_BUSY",
          `session ${JSON.stringify(sessionId)} has live input in another process; policy "reject" refuses input while busy`,
          { details: { sessionId, policy: "reject" } },
        );
    } else if (input.idempotencyKey === undefined) conn.write(this.#sql.insertInput, params);
    else if (conn.readSync(this.#sql.insertInput, params, true).count === 0) {
      throw new InvalidInputError(
        "INVALID_ARGUMENT",
        `the PostgreSQL store refused input ${JSON.stringify(input.id)}: its id, or its idempotency key ${JSON.stringify(input.idempotencyKey)} in session ${JSON.stringify(sessionId)}, is taken`,
        { details: { inputId: input.id, sessionId } },
      );
    }
    if (created) this.#leases.newSessions.accepted(input);
    else if (!held && this.#settings.notify) conn.write(this.#sql.notify, [this.channel, sessionId]);
  }

  steer(steer: Steer): void {
    this.#live().write(
      this.#sql.steerInput,
      [steer.inputId, steer.turnId, steer.attempt, ...this.#leases.fence(steer.sessionId)],
      true,
    );
  }

  endInput(end: InputEnd): void {
    const outcome = JSON.stringify({ status: end.status, reason: end.reason });
    this.#live().write(
      this.#sql.endQueuedInput,
      [end.status, outcome, end.endedAtMs, end.inputId, ...this.#leases.fence(end.sessionId)],
      true,
    );
  }

  startTurn(turn: TurnStart): void {
    const { conn, held } = this.#openNow();
    const epoch = this.#leases.fence(turn.sessionId)[2];
    held.start(turn, epoch);
    conn.hold();
    this.#leases.histories.started(turn.sessionId, epoch, turn.turnId, turn.attempt);
  }

  checkpoint(checkpoint: StepCheckpoint): void {
    this.#live().write(
      this.#sql.checkpointTurn,
      [
        checkpoint.step,
        JSON.stringify(checkpoint.messages),
        checkpoint.turnId,
        checkpoint.attempt,
        ...this.#leases.fence(checkpoint.sessionId),
      ],
      true,
    );
  }

  endTurn(end: TurnEnd): void {
    const { conn, held } = this.#openNow();
    const epoch = this.#leases.fence(end.sessionId)[2];
    held.end(end, epoch);
    conn.hold();
    this.#leases.histories.ended(end.sessionId, epoch, end.turnId, end.attempt, end.messages);
  }

  commit(): Promise<void> {
    return this.#open?.conn.commit() ?? Promise.resolve();
  }

  /**
   * The messages of the session's newest `historyTurnsMax` turns (all by default); for a session
   * this process holds, from memory after the first read (`held-histories.ts`).
   */
  history(sessionId: string): readonly Message[] {
    const epoch = this.#leases.epochOf(sessionId);
    const kept = epoch === undefined ? undefined : this.#leases.histories.get(sessionId, epoch);
    if (kept !== undefined) return kept;
    const { historyTurnsMax } = this.#settings.retention;
    const limit = historyTurnsMax === Number.POSITIVE_INFINITY ? null : historyTurnsMax;
    const { rows } = this.#live().readSync(this.#sql.history, [sessionId, limit]);
    const turns = rows.map((row) => JSON.parse(row.messages as string) as Message[]);
    if (epoch !== undefined) return this.#leases.histories.set(sessionId, epoch, turns);
    return turns.flat();
  }

  findByIdempotencyKey(sessionId: string, key: string): InputSnapshot | undefined {
    const row = this.#live().readSync(this.#sql.inputByKey, [sessionId, key]).rows[0];
    return row === undefined ? undefined : snapshotOf(row as unknown as InputRow);
  }

  input(inputId: string): InputSnapshot | undefined {
    const row = this.#live().readSync(this.#sql.inputById, [inputId]).rows[0];
    return row === undefined ? undefined : snapshotOf(row as unknown as InputRow);
  }

  /** Commits what is pending, hands every lease back and disconnects. Idempotent; `open()` reopens. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * @internal Commits, then sweeps until nothing is beyond the retention bounds (waiting for the
   * fleet's sweep lock if another process holds it), as the background sweep does a batch at a
   * time; resolves with what this process's sweeps deleted so far. For tests.
   */
  async sweepNow(): Promise<SweepCounts> {
    const { sweep } = this.#openNow();
    await this.commit();
    return sweep.sweepNow();
  }

  /**
   * Drops the store as `kill -9` drops its process: the open transaction is lost, the heartbeat
   * stops and the leases stay behind until they lapse. A runtime's stop calls it when the server
   * does not answer its last commit in time (see `Store.abandon`); crash tests call it too.
   */
  async abandon(): Promise<Abandoned> {
    const open = this.#open;
    if (open === undefined) return { inDoubt: false };
    this.#open = undefined;
    this.#closing = Promise.resolve();
    this.#leases.clear();
    open.held.drop();
    open.heartbeat.close();
    await open.sweep.close();
    await open.conn.abandon();
    return { inDoubt: open.conn.commitInDoubt };
  }

  async #shutdown(): Promise<void> {
    const open = this.#open;
    if (open === undefined) return;
    this.#open = undefined;
    open.heartbeat.close();
    await open.sweep.close();
    this.#leases.clear();
    open.conn.write(this.#sql.releaseAll, [this.processId]);
    open.conn.write(this.#sql.forgetProcess, [this.processId]);
    await open.conn.close();
  }

  #live(): SyncConnection {
    return this.#openNow().conn;
  }

  #openNow(): PostgresConnection {
    return liveConnection(this.#open, this.where);
  }
}
