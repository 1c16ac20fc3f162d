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
 * sessions whose writes were kept out are lost as if the heartbeat had found them so. A clean `close()` hands every lease back at once; a killed process's leases
 * lapse when its heartbeat stops (`leaseMs`).
 *
 * @packageDocumentation
 */
import { hostname } from "node:os";
import pg from "pg";
import { BootError, CapacityError, InvalidInputError, OffstageError } from "../../errors.js";
import type { Message } from "../../kernel/messages.js";
import type { Claimed, EndRequest, SessionLeases } from "../../runtime/ports/session-leases.js";
import type {
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
import { type InputRow, snapshotOf } from "../sqlite/rows.js";
import { isConnectionError } from "./connection-worker.js";
import { Heartbeat } from "./heartbeat.js";
import { HeldHistories } from "./held-histories.js";
import { HeldWrites } from "./held-writes.js";
import { migrate, quoteIdent } from "./migrations.js";
import { type FreshSnapshot, NewSessions } from "./new-sessions.js";
import { PostgresDelegationLog } from "./postgres-delegation-log.js";
import type { Settings } from "./postgres-store-options.js";
import { recordOf, sessionOf, takeEndRequests, workOf } from "./recover.js";
import { PREPARED, type Statements, statementsFor } from "./statements.js";
import { type Rows, SyncConnection } from "./sync-connection.js";
import { WakeListener } from "./wake-listener.js";

/**
 * How long a group of writes stays open before it commits, in milliseconds: its locks (the lease
 * check's share lock on each written session's row above all) are held that long at most.
 */
const GROUP_COMMIT_MS = 2;
/** Sessions with live input one `open()` takes over at most. */
const CLAIM_AT_OPEN_MAX = 100_000;

/** A connection's pieces, while the store is open. */
interface Open {
  readonly conn: SyncConnection;
  /** The group's inputs, turn starts and turn ends, written together (`held-writes.ts`). */
  readonly held: HeldWrites;
  readonly heartbeat: Heartbeat;
}

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
  readonly #settings: Settings;
  readonly #sql: Statements;
  /** The channel wakes go out on: one per schema. */
  readonly channel: string;
  /** Which sessions this process may run; see the module note. */
  readonly leases: SessionLeases = {
    holds: (sessionId) => this.holds(sessionId),
    claim: (sessionIds) => this.#claim(sessionIds),
    askToEnd: (request) => this.#askToEnd(request),
    taken: (inputIds) => this.#markTaken(inputIds),
    outcomes: async (inputIds) => {
      if (inputIds.length === 0) return [];
      const { rows } = await this.#live().read(this.#sql.inputsById, [[...inputIds]]);
      return rows.map((row) => snapshotOf(row as unknown as InputRow));
    },
    listen: (onWake, onLost) => {
      const listener = new WakeListener(this.#settings.config, this.channel, (sessionId) => {
        if (this.holds(sessionId) || this.#new.has(sessionId)) onWake(sessionId);
      });
      this.#onWake = onWake;
      this.#onLost = onLost;
      return () => {
        listener.close();
        if (this.#onWake === onWake) this.#onWake = undefined;
        if (this.#onLost === onLost) this.#onLost = undefined;
      };
    },
    release: async () => {
      const conn = this.#live();
      this.#held.clear();
      this.#new.clear();
      this.#handed.clear();
      this.#histories.clear();
      conn.write(this.#sql.releaseAll, [this.processId]);
      await conn.commit();
    },
  };
  /** The sessions this process holds, with the lease epoch it holds each under. */
  readonly #held = new Map<string, number>();
  /**
   * Sessions a claim took whose work it did not hand to the runtime (it failed first): named this
   * process's in the database, not held here; the next claim takes them again.
   */
  readonly #unhanded = new Set<string>();
  /** The histories of held sessions (`held-histories.ts`). */
  readonly #histories = new HeldHistories();
  #open: Open | undefined;
  #closing: Promise<void> | undefined;
  /** Sessions being created here (`new-sessions.ts`). */
  readonly #new = new NewSessions();
  /** Inputs a claim handed back from `#new`, taken by this process in the database already. */
  readonly #handed = new Set<string>();
  #onWake: ((sessionId: string) => void) | undefined;
  #onLost: ((sessionIds: readonly string[]) => void) | undefined;

  /** @internal Use {@link createPostgresStore}. */
  constructor(settings: Settings) {
    this.#settings = settings;
    this.processId = settings.processId;
    const probe = new pg.Client(settings.config);
    this.where = `${probe.host}:${probe.port}`;
    this.#sql = statementsFor(quoteIdent(settings.schema));
    this.channel = `offstage_${settings.schema}`;
    this.delegations = new PostgresDelegationLog({
      sql: this.#sql,
      write: (sql, params) => this.#live().write(sql, params),
      readSync: (sql, params, write) => this.#live().readSync(sql, params, write),
      asideSync: (sql, params) => this.#live().asideSync(sql, params, false),
      commitSync: () => void this.#live().aloneSync([]),
      lockName: `offstage-delegations:${settings.schema}`,
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
    return this.#held.has(sessionId) && this.#open?.heartbeat.lapsed !== true;
  }

  async open(): Promise<RecoveredState> {
    if (this.#open === undefined) await this.#boot();
    const conn = this.#live();
    // Sessions with live input nobody holds, and this process's own (a restart under its name).
    const { rows } = await conn.read(this.#sql.claimSessions, [this.processId, CLAIM_AT_OPEN_MAX], true);
    this.#held.clear();
    this.#new.clear();
    this.#handed.clear();
    this.#histories.clear();
    for (const row of rows) this.#held.set(row.id as string, row.epoch as number);
    const state = await this.#recover();
    // The claimed rows stay locked until this commits: another process must not wait on them.
    await conn.commit();
    return state;
  }

  /**
   * Holds the session's row for the group, without waiting for the server: the session is held once
   * the row is in (`new-sessions.ts`). One another process made is left to its holder; input sent to
   * it then takes its lease if nobody holds it, as for any session this process does not hold.
   */
  createSession(session: SessionRecord): void {
    if (this.#held.has(session.id) || this.#new.has(session.id)) return;
    const { conn, held } = this.#openNow();
    this.#new.add(session.id);
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
    const created = this.#new.has(sessionId);
    // Input for a session nobody holds takes its lease: the process that accepts it runs it. Not a
    // completion: the claim would commit alone, before the child's end it must commit with; the
    // session's holder, or the recovery poll, takes it up.
    if (!created && !this.#held.has(sessionId) && input.delegationId === undefined)
      this.#take(
        sessionId,
        conn.aloneSync([{ sql: this.#sql.claimSession, params: [sessionId, this.processId] }]).rows,
      );
    const held = this.#held.has(sessionId);
    const payload = JSON.stringify(input.payload);
    if ((held || (created && input.policy !== "reject")) && input.idempotencyKey === undefined) {
      writes.input(input, payload, held ? this.processId : null);
      if (created) this.#new.accepted(input);
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
    if (created) this.#new.accepted(input);
    else if (!held && this.#settings.notify) conn.write(this.#sql.notify, [this.channel, sessionId]);
  }

  steer(steer: Steer): void {
    this.#live().write(
      this.#sql.steerInput,
      [steer.inputId, steer.turnId, steer.attempt, ...this.#fence(steer.sessionId)],
      true,
    );
  }

  endInput(end: InputEnd): void {
    const outcome = JSON.stringify({ status: end.status, reason: end.reason });
    this.#live().write(
      this.#sql.endQueuedInput,
      [end.status, outcome, end.endedAtMs, end.inputId, ...this.#fence(end.sessionId)],
      true,
    );
  }

  startTurn(turn: TurnStart): void {
    const { conn, held } = this.#openNow();
    const epoch = this.#fence(turn.sessionId)[2];
    held.start(turn, epoch);
    conn.hold();
    this.#histories.started(turn.sessionId, epoch, turn.turnId, turn.attempt);
  }

  checkpoint(checkpoint: StepCheckpoint): void {
    this.#live().write(
      this.#sql.checkpointTurn,
      [
        checkpoint.step,
        JSON.stringify(checkpoint.messages),
        checkpoint.turnId,
        checkpoint.attempt,
        ...this.#fence(checkpoint.sessionId),
      ],
      true,
    );
  }

  endTurn(end: TurnEnd): void {
    const { conn, held } = this.#openNow();
    const epoch = this.#fence(end.sessionId)[2];
    held.end(end, epoch);
    conn.hold();
    this.#histories.ended(end.sessionId, epoch, end.turnId, end.attempt, end.messages);
  }

  commit(): Promise<void> {
    return this.#open?.conn.commit() ?? Promise.resolve();
  }

  /** For a session this process holds, from memory after the first read (`held-histories.ts`). */
  history(sessionId: string): readonly Message[] {
    const epoch = this.#held.get(sessionId);
    const kept = epoch === undefined ? undefined : this.#histories.get(sessionId, epoch);
    if (kept !== undefined) return kept;
    const { rows } = this.#live().readSync(this.#sql.history, [sessionId]);
    const messages = rows.flatMap((row) => JSON.parse(row.messages as string) as Message[]);
    if (epoch !== undefined) this.#histories.set(sessionId, epoch, messages);
    return messages;
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
   * @internal Drops the store as `kill -9` drops its process: the open transaction is lost, the
   * heartbeat stops and the leases stay behind until they lapse. For crash tests in one process.
   */
  async abandon(): Promise<void> {
    const open = this.#open;
    if (open === undefined) return;
    this.#open = undefined;
    this.#closing = Promise.resolve();
    this.#held.clear();
    this.#new.clear();
    this.#handed.clear();
    this.#histories.clear();
    open.held.drop();
    open.heartbeat.close();
    await open.conn.abandon();
  }

  async #boot(): Promise<void> {
    const { config, schema, leaseMs, readTimeoutMs } = this.#settings;
    const admin = new pg.Client(config);
    admin.on("error", () => undefined);
    try {
      await admin.connect();
    } catch (error) {
      throw this.#bootError(error);
    }
    let conn: SyncConnection | undefined;
    try {
      await migrate(admin, schema, `PostgreSQL at ${this.where}:`);
      await admin.query(this.#sql.registerProcess, [this.processId, hostname(), process.pid, leaseMs]);
      const prepared = PREPARED.map((name) => this.#sql[name]);
      conn = new SyncConnection(config, readTimeoutMs, GROUP_COMMIT_MS, this.where, prepared);
      // Turn ends of a group that failed to commit added messages the database does not have.
      conn.onLost = () => this.#histories.clear();
      conn.onReported = (rows) => this.#fencedOut(rows);
    } catch (error) {
      this.#held.clear();
      await conn?.abandon();
      throw this.#bootError(error);
    } finally {
      await admin.end().catch(() => undefined);
    }
    const heartbeat = new Heartbeat({
      config,
      processId: this.processId,
      leaseMs,
      renewSql: this.#sql.renewProcess,
      lostSql: this.#sql.lostSessions,
      held: () => this.#held.entries(),
      onLost: (sessions) => this.#lost(sessions),
      onLapse: () => this.#lapse(),
      onBack: () => this.#back(),
    });
    const held = new HeldWrites(
      this.#sql,
      this.processId,
      (sql, params, report) => conn.write(sql, params, report),
      (columns) =>
        conn.asideLater(this.#sql.insertSessions, [...columns, this.processId], true, (answer) =>
          this.#created(conn, columns, answer),
        ),
    );
    conn.held = held;
    this.#open = { conn, held, heartbeat };
    this.#closing = undefined;
  }

  /**
   * The database names another owner, or none, for these sessions (each with the epoch it was held
   * under when asked, and the database's). Lost are those whose epoch the database has moved past,
   * or released at: a lower one is a claim of this process not committed when the heartbeat asked,
   * and a session held again since under a new epoch, or given up meanwhile, is not lost now.
   */
  #lost(sessions: readonly (readonly [string, number, number])[]): void {
    const lost = sessions
      .filter(([id, epoch, now]) => this.#held.get(id) === epoch && now >= epoch)
      .map(([id]) => id);
    for (const id of lost) {
      this.#held.delete(id);
      this.#histories.forget(id);
    }
    if (lost.length > 0) this.#onLost?.(lost);
  }

  /**
   * Turn writes the database kept out (their lease had moved; `statements.ts`): those sessions are
   * lost as if the heartbeat had found them so, before the commit of those writes resolves, so the
   * runtime settles their handles from the store rather than from what this process did.
   */
  #fencedOut(rows: Rows): void {
    this.#lost(
      rows.map((row) => [row.session_id as string, row.epoch as number, row.epoch as number] as const),
    );
  }

  /** Back in touch after a lapse: leases given up, and not taken since, are handed back for any process to claim. */
  #back(): void {
    if (this.#open === undefined) return;
    try {
      this.#live().aloneSync([
        { sql: this.#sql.releaseStray, params: [this.processId, [...this.#held.keys()]] },
      ]);
    } catch {
      // Cut off again, or the connection not back yet: try again shortly.
      setTimeout(() => this.#back(), Math.max(1, Math.floor(this.#settings.leaseMs / 3))).unref();
    }
  }

  /** No renewal got through for most of the lease: every lease is given up now (see `heartbeat.ts`). */
  #lapse(): void {
    const lost = [...this.#held.keys()];
    this.#held.clear();
    this.#new.dropFresh();
    this.#histories.clear();
    if (lost.length > 0) this.#onLost?.(lost);
  }

  #bootError(error: unknown): BootError {
    if (error instanceof BootError) return error;
    if (isConnectionError(error) || (error as { code?: string }).code === "ENOTFOUND")
      return new BootError(
        "STORE_UNREACHABLE",
        `cannot reach PostgreSQL at ${this.where}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error, details: { where: this.where } },
      );
    return new BootError(
      "BOOT_FAILED",
      `opening the PostgreSQL store at ${this.where} (schema ${this.#settings.schema}) failed: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error, details: { where: this.where } },
    );
  }

  /** What the held sessions need driven; steered inputs are settled as the port's recovery note says. */
  async #recover(): Promise<RecoveredState> {
    const conn = this.#live();
    const sessions = (await conn.read(this.#sql.allSessions, [])).rows.map(sessionOf);
    const { queued, interrupted } = await workOf(conn, this.#sql, [...this.#held.keys()]);
    // Boot takes up all of it.
    this.#markTaken(queued.map((input) => input.id));
    const seq = (await conn.read(this.#sql.maxSeq, [])).rows[0]?.seq as number | null;
    return { sessions, queued, interrupted, nextSeq: (seq ?? 0) + 1 };
  }

  /** See {@link SessionLeases.claim}. */
  async #claim(sessionIds: readonly string[] | undefined): Promise<Claimed> {
    const conn = this.#live();
    const sql = this.#sql;
    // Taken before the reads: input sent to a fresh session after them is not in this claim.
    const created = this.#new.snapshot(sessionIds);
    // The store's own wake for sessions it created: their input is here; a poll reads the rest.
    if (sessionIds !== undefined && created.size === sessionIds.length) return this.#handBack(created);
    const { rows } = await conn.read(
      sql.claimFree,
      [this.processId, CLAIM_AT_OPEN_MAX, [...this.#unhanded]],
      true,
    );
    const claimed = rows.map((row) => row.id as string);
    for (const id of claimed) this.#unhanded.add(id);
    const { queued, interrupted } = await workOf(conn, this.#sql, claimed);
    // Of the sessions held before: those just claimed are in `queued` already.
    const fresh = new Set(claimed);
    const untaken = (
      await conn.read(sql.untakenRecords, [this.processId, sessionIds === undefined ? null : [...sessionIds]])
    ).rows
      .map(recordOf)
      .filter((input) => !fresh.has(input.sessionId));
    const sessions = (await conn.read(sql.sessionsById, [claimed])).rows.map(sessionOf);
    const seq = (await conn.read(sql.maxSeq, [])).rows[0]?.seq as number | null;
    const endRequests = await takeEndRequests(conn, sql, this.processId, sessionIds);
    // Held only now, as the runtime takes their work up: held earlier, while this claim still read,
    // a send would have begun a turn of a session whose unfinished turn it did not have yet.
    for (const row of rows) {
      this.#held.set(row.id as string, row.epoch as number);
      this.#unhanded.delete(row.id as string);
    }
    const handed = this.#handBack(created).queued;
    return {
      sessions,
      queued: [...queued, ...untaken, ...handed],
      interrupted,
      nextSeq: (seq ?? 0) + 1,
      endRequests,
    };
  }

  /**
   * Hands the runtime the input sent to the fresh sessions of `created` (their rows already name
   * this one as taking it): those sent nothing since are held from now (`new-sessions.ts`).
   */
  #handBack(created: FreshSnapshot): Claimed {
    const queued = this.#new.inputsOf(created);
    for (const input of queued) this.#handed.add(input.id);
    const { held, again } = this.#new.takenUp(created);
    for (const [id, epoch] of held) {
      this.#held.set(id, epoch);
      this.#histories.set(id, epoch, []);
    }
    for (const id of again) queueMicrotask(() => this.#onWake?.(id));
    return { sessions: [], queued, interrupted: [], nextSeq: 1, endRequests: [] };
  }

  /** See {@link SessionLeases.askToEnd}. */
  #askToEnd(request: EndRequest): "queued" | "running" | undefined {
    const { status, mode, message } = request;
    const json = JSON.stringify({ status, mode, message });
    const ask = { sql: this.#sql.requestEnd, params: [request.inputId, json, status === "withdrawn"] };
    const wake = { sql: this.#sql.notify, params: [this.channel, request.sessionId] };
    const { rows } = this.#live().aloneSync(this.#settings.notify ? [wake, ask] : [ask]);
    return rows[0]?.status as "queued" | "running" | undefined;
  }

  async #shutdown(): Promise<void> {
    const open = this.#open;
    if (open === undefined) return;
    this.#open = undefined;
    open.heartbeat.close();
    this.#held.clear();
    this.#new.clear();
    this.#handed.clear();
    this.#histories.clear();
    open.conn.write(this.#sql.releaseAll, [this.processId]);
    open.conn.write(this.#sql.forgetProcess, [this.processId]);
    await open.conn.close();
  }

  /** The runtime has these inputs in its inboxes: no claim hands them back again. */
  #markTaken(inputIds: readonly string[]): void {
    const untaken = inputIds.filter((id) => !this.#handed.delete(id));
    if (untaken.length > 0) this.#live().write(this.#sql.takeInputs, [untaken, this.processId]);
  }

  /** Records the lease a claim returned, if it returned one. */
  #take(sessionId: string, rows: Rows): void {
    const epoch = rows[0]?.epoch;
    if (epoch !== undefined) this.#held.set(sessionId, epoch as number);
  }

  /**
   * The fence params of a turn write: session, owner, epoch (-1, which matches nothing, when not
   * held). A runtime writes turns only of sessions it holds; a caller writing one of a session still
   * being created here waits for its row, and one that found it fresh runs it from now on.
   */
  #fence(sessionId: string): [string, string, number] {
    if (this.#new.isPending(sessionId)) this.#settleNew();
    const promoted = this.#new.promote(sessionId);
    if (promoted !== undefined) this.#held.set(sessionId, promoted);
    const epoch = this.#open?.heartbeat.lapsed === true ? undefined : this.#held.get(sessionId);
    return [sessionId, this.processId, epoch ?? -1];
  }

  /** Writes the held sessions' rows now and waits for their answers (`#created`). */
  #settleNew(): void {
    const { conn, held } = this.#openNow();
    held.flush();
    conn.settleAsides();
  }

  /**
   * The answer to new sessions' rows (`columns`: ids, agents, created_at_ms), inserted aside: those
   * created are held or fresh, those there already left to their holder (`new-sessions.ts`). Not
   * answered (the server unreachable): the rows are written with the group instead, which is
   * replayed until it commits, free for any process's claim to take up with their input.
   */
  #created(
    conn: SyncConnection,
    columns: readonly unknown[][],
    answer: { rows: Rows } | OffstageError,
  ): void {
    if (this.#open?.conn !== conn) return;
    const ids = columns[0] as string[];
    if (answer instanceof OffstageError) conn.write(this.#sql.insertSessions, [...columns, null]);
    const epochs = new Map(
      answer instanceof OffstageError
        ? []
        : answer.rows.map((row) => [row.id as string, row.epoch as number]),
    );
    const freshAllowed = this.#onWake !== undefined;
    for (const id of ids) {
      const epoch = epochs.get(id);
      switch (this.#new.answered(id, epoch, { freshAllowed })) {
        case "held":
          this.#held.set(id, epoch!);
          this.#histories.set(id, epoch!, []);
          break;
        case "fresh":
          queueMicrotask(() => this.#onWake?.(id));
          break;
        case "elsewhere":
          if (this.#settings.notify) conn.write(this.#sql.notify, [this.channel, id]);
          break;
      }
    }
  }

  #live(): SyncConnection {
    return this.#openNow().conn;
  }

  #openNow(): Open {
    if (this.#open !== undefined) return this.#open;
    throw new OffstageError("CLOSED", `the PostgreSQL store at ${this.where} is not open; open() it first`, {
      details: { where: this.where },
    });
  }
}
