/**
 * The leases of the PostgreSQL store's process: which sessions it holds, under which epoch, and
 * how it takes, fences, loses and hands back each (the lease rules are in the module note of
 * `postgres-store.ts`). The store's writes ask it for their fence; its heartbeat and its group's
 * commits tell it what was lost; the runtime reaches it through the {@link SessionLeases} port.
 *
 * Three sets decide what a claim hands the runtime: the held sessions, the sessions being created
 * here (`new-sessions.ts`), and the inputs handed back from those already. The histories of held
 * sessions (`held-histories.ts`) live here too, because each is valid for one lease epoch only.
 *
 * @packageDocumentation
 */
import { OffstageError } from "../../errors.js";
import type { Claimed, EndRequest, SessionLeases } from "../../runtime/ports/session-leases.js";
import type { InputSnapshot, RecoveredState, SessionRecord } from "../../runtime/ports/store.js";
import { type InputRow, snapshotOf } from "../sqlite/rows.js";
import { HeldEventSeqs } from "./held-event-seqs.js";
import { HeldHistories } from "./held-histories.js";
import { type FreshSnapshot, NewSessions } from "./new-sessions.js";
import { liveConnection, type PostgresConnection } from "./postgres-connection.js";
import type { Settings } from "./postgres-store-options.js";
import { recordOf, sessionOf, takeEndRequests, workOf } from "./recover.js";
import type { Statements } from "./statements.js";
import type { Rows, SyncConnection } from "./sync-connection.js";
import { WakeListener } from "./wake-listener.js";

/** Sessions with live input one claim takes over at most. */
const CLAIM_MAX = 100_000;

/** What the leases need of their store. */
export interface LeaseContext {
  readonly settings: Settings;
  readonly sql: Statements;
  /** The channel wakes go out on. */
  readonly channel: string;
  /** `host:port`, for messages. */
  readonly where: string;
  /** The store's connection, while it is open. */
  readonly current: () => PostgresConnection | undefined;
}

/** The sessions this process holds and the claims that take them; see the module note. */
export class HeldLeases implements SessionLeases {
  /** The histories of held sessions (`held-histories.ts`). */
  readonly histories: HeldHistories;
  /** The last event numbers of held sessions (`held-event-seqs.ts`). */
  readonly eventSeqs = new HeldEventSeqs();
  /** Sessions being created here (`new-sessions.ts`). */
  readonly newSessions = new NewSessions();
  readonly #context: LeaseContext;
  readonly #processId: string;
  /** The sessions this process holds, with the lease epoch it holds each under. */
  readonly #held = new Map<string, number>();
  /**
   * Sessions a claim took whose work it did not hand to the runtime (it failed first): named this
   * process's in the database, not held here; the next claim takes them again.
   */
  readonly #unhanded = new Set<string>();
  /** Inputs a claim handed back from `newSessions`, taken by this process in the database already. */
  readonly #handed = new Set<string>();
  #onWake: ((sessionId: string) => void) | undefined;
  #onLost: ((sessionIds: readonly string[]) => void) | undefined;

  constructor(context: LeaseContext) {
    this.#context = context;
    this.#processId = context.settings.processId;
    this.histories = new HeldHistories(context.settings.retention.historyTurnsMax);
  }

  /**
   * Whether this process holds the session's lease (it may run its turns): not from the moment its
   * heartbeat finds the leases lapsed, before this thread hears of it.
   */
  holds(sessionId: string): boolean {
    return this.#held.has(sessionId) && this.#context.current()?.heartbeat.lapsed !== true;
  }

  /** The epoch this process holds the session's lease under, lapsed or not; undefined if not held. */
  epochOf(sessionId: string): number | undefined {
    return this.#held.get(sessionId);
  }

  /**
   * The epoch this process's writes of the session carry (held, or created here and fresh), once the
   * answer to its row is in if it is being created here (a round trip then); undefined when this
   * process does not hold it.
   */
  settledEpochOf(sessionId: string): number | undefined {
    if (this.newSessions.isPending(sessionId)) this.#settleNew();
    return this.#held.get(sessionId) ?? this.newSessions.epochOf(sessionId);
  }

  /** The held sessions with their epochs, for the heartbeat to check. */
  entries(): IterableIterator<[string, number]> {
    return this.#held.entries();
  }

  /** See {@link SessionLeases.claim}. */
  async claim(sessionIds?: readonly string[]): Promise<Claimed> {
    const conn = this.#live();
    const { sql } = this.#context;
    // Taken before the reads: input sent to a fresh session after them is not in this claim.
    const created = this.newSessions.snapshot(sessionIds);
    // The store's own wake for sessions it created: their input is here; a poll reads the rest.
    // Handed back once committed: the runtime takes what a claim hands it as stored.
    if (sessionIds !== undefined && created.size === sessionIds.length) {
      await conn.commit();
      return this.#handBack(created);
    }
    const { rows } = await conn.read(sql.claimFree, [this.#processId, CLAIM_MAX, [...this.#unhanded]], true);
    const claimed = rows.map((row) => row.id as string);
    for (const id of claimed) this.#unhanded.add(id);
    const { queued, interrupted } = await workOf(conn, sql, claimed);
    // Of the sessions held before: those just claimed are in `queued` already.
    const fresh = new Set(claimed);
    const untaken = (
      await conn.read(sql.untakenRecords, [
        this.#processId,
        sessionIds === undefined ? null : [...sessionIds],
      ])
    ).rows
      .map(recordOf)
      .filter((input) => !fresh.has(input.sessionId));
    const sessions = (await conn.read(sql.sessionsById, [claimed])).rows.map(sessionOf);
    const seq = (await conn.read(sql.maxSeq, [])).rows[0]?.seq as number | null;
    const endRequests = await takeEndRequests(conn, sql, this.#processId, sessionIds);
    // What it read may be this process's own writes of the open group (input sent to a session it
    // was creating): the runtime takes it as stored, so it is committed first.
    await conn.commit();
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
   * At `open()`: the sessions with live input nobody holds, and this process's own (a restart under
   * its name), are held from now on, and what they need driven is read. The claimed rows stay
   * locked until the caller commits.
   */
  async claimAtOpen(): Promise<RecoveredState> {
    const conn = this.#live();
    const { sql } = this.#context;
    const { rows } = await conn.read(sql.claimSessions, [this.#processId, CLAIM_MAX], true);
    this.clear();
    for (const row of rows) this.#held.set(row.id as string, row.epoch as number);
    const sessions = (await conn.read(sql.allSessions, [])).rows.map(sessionOf);
    const { queued, interrupted } = await workOf(conn, sql, [...this.#held.keys()]);
    // Boot takes up all of it; steered inputs are settled as the port's recovery note says.
    this.taken(queued.map((input) => input.id));
    const seq = (await conn.read(sql.maxSeq, [])).rows[0]?.seq as number | null;
    return { sessions, queued, interrupted, nextSeq: (seq ?? 0) + 1 };
  }

  /** See {@link SessionLeases.askToEnd}. */
  askToEnd(request: EndRequest): "queued" | "running" | undefined {
    const { sql, channel, settings } = this.#context;
    const { status, mode, message } = request;
    const json = JSON.stringify({ status, mode, message });
    const ask = { sql: sql.requestEnd, params: [request.inputId, json, status === "withdrawn"] };
    const wake = { sql: sql.notify, params: [channel, request.sessionId] };
    const { rows } = this.#live().aloneSync(settings.notify ? [wake, ask] : [ask]);
    return rows[0]?.status as "queued" | "running" | undefined;
  }

  /** The runtime has these inputs in its inboxes: no claim hands them back again. */
  taken(inputIds: readonly string[]): void {
    const untaken = inputIds.filter((id) => !this.#handed.delete(id));
    if (untaken.length > 0) this.#live().write(this.#context.sql.takeInputs, [untaken, this.#processId]);
  }

  /** See {@link SessionLeases.lookup}. */
  lookup(sessionId: string): SessionRecord | undefined {
    const row = this.#live().readSync(this.#context.sql.sessionsById, [[sessionId]]).rows[0];
    return row === undefined ? undefined : sessionOf(row);
  }

  /** See {@link SessionLeases.outcomes}. */
  async outcomes(inputIds: readonly string[]): Promise<readonly InputSnapshot[]> {
    if (inputIds.length === 0) return [];
    const { rows } = await this.#live().read(this.#context.sql.inputsById, [[...inputIds]]);
    return rows.map((row) => snapshotOf(row as unknown as InputRow));
  }

  /** See {@link SessionLeases.listen}. */
  listen(onWake: (sessionId: string) => void, onLost: (sessionIds: readonly string[]) => void): () => void {
    const { settings, channel } = this.#context;
    const listener = new WakeListener(settings.config, channel, (sessionId) => {
      if (this.holds(sessionId) || this.newSessions.has(sessionId)) onWake(sessionId);
    });
    this.#onWake = onWake;
    this.#onLost = onLost;
    return () => {
      listener.close();
      if (this.#onWake === onWake) this.#onWake = undefined;
      if (this.#onLost === onLost) this.#onLost = undefined;
    };
  }

  /** See {@link SessionLeases.release}. */
  async release(): Promise<void> {
    const conn = this.#live();
    this.clear();
    conn.write(this.#context.sql.releaseAll, [this.#processId]);
    await conn.commit();
  }

  /** Forgets every lease and what hangs on one (the database is told, if at all, by the caller). */
  clear(): void {
    this.#held.clear();
    this.newSessions.clear();
    this.#handed.clear();
    this.histories.clear();
    this.eventSeqs.clear();
  }

  /** Records the lease a claim returned, if it returned one. */
  take(sessionId: string, rows: Rows): void {
    const epoch = rows[0]?.epoch;
    if (epoch !== undefined) this.#held.set(sessionId, epoch as number);
  }

  /**
   * The fence params of a turn write: session, owner, epoch (-1, which matches nothing, when not
   * held). A runtime writes turns only of sessions it holds; a caller writing one of a session still
   * being created here waits for its row, and one that found it fresh runs it from now on.
   */
  fence(sessionId: string): [string, string, number] {
    if (this.newSessions.isPending(sessionId)) this.#settleNew();
    const promoted = this.newSessions.promote(sessionId);
    if (promoted !== undefined) this.#held.set(sessionId, promoted);
    const epoch = this.#context.current()?.heartbeat.lapsed === true ? undefined : this.#held.get(sessionId);
    return [sessionId, this.#processId, epoch ?? -1];
  }

  /**
   * The database names another owner, or none, for these sessions (each with the epoch it was held
   * under when asked, and the database's). Lost are those whose epoch the database has moved past,
   * or released at: a lower one is a claim of this process not committed when the heartbeat asked,
   * and a session held again since under a new epoch, or given up meanwhile, is not lost now.
   */
  lost(sessions: readonly (readonly [string, number, number])[]): void {
    const lost = sessions
      .filter(([id, epoch, now]) => this.#held.get(id) === epoch && now >= epoch)
      .map(([id]) => id);
    for (const id of lost) {
      this.#held.delete(id);
      this.histories.forget(id);
      this.eventSeqs.forget(id);
    }
    if (lost.length > 0) this.#onLost?.(lost);
  }

  /**
   * Turn writes the database kept out (their lease had moved; `statements.ts`): those sessions are
   * lost as if the heartbeat had found them so, before the commit of those writes resolves, so the
   * runtime settles their handles from the store rather than from what this process did.
   */
  fencedOut(rows: Rows): void {
    this.lost(
      rows.map((row) => [row.session_id as string, row.epoch as number, row.epoch as number] as const),
    );
  }

  /** No renewal got through for most of the lease: every lease is given up now (see `heartbeat.ts`). */
  lapse(): void {
    const lost = [...this.#held.keys()];
    this.#held.clear();
    this.newSessions.dropFresh();
    this.histories.clear();
    this.eventSeqs.clear();
    if (lost.length > 0) this.#onLost?.(lost);
  }

  /** Back in touch after a lapse: leases given up, and not taken since, are handed back for any process to claim. */
  back(): void {
    if (this.#context.current() === undefined) return;
    try {
      this.#live().aloneSync([
        { sql: this.#context.sql.releaseStray, params: [this.#processId, [...this.#held.keys()]] },
      ]);
    } catch {
      // Cut off again, or the connection not back yet: try again shortly.
      setTimeout(() => this.back(), Math.max(1, Math.floor(this.#context.settings.leaseMs / 3))).unref();
    }
  }

  /**
   * The answer to new sessions' rows (`columns`: ids, agents, created_at_ms), inserted aside: those
   * created are held or fresh, those there already left to their holder (`new-sessions.ts`). Not
   * answered (the server unreachable): the rows are written with the group instead, which is
   * replayed until it commits, free for any process's claim to take up with their input.
   */
  created(conn: SyncConnection, columns: readonly unknown[][], answer: { rows: Rows } | OffstageError): void {
    if (this.#context.current()?.conn !== conn) return;
    const { sql, channel, settings } = this.#context;
    const ids = columns[0] as string[];
    if (answer instanceof OffstageError) conn.write(sql.insertSessions, [...columns, null]);
    const epochs = new Map(
      answer instanceof OffstageError
        ? []
        : answer.rows.map((row) => [row.id as string, row.epoch as number]),
    );
    const freshAllowed = this.#onWake !== undefined;
    for (const id of ids) {
      const epoch = epochs.get(id);
      switch (this.newSessions.answered(id, epoch, { freshAllowed })) {
        case "held":
          this.#held.set(id, epoch!);
          this.histories.set(id, epoch!, []);
          break;
        case "fresh":
          queueMicrotask(() => this.#onWake?.(id));
          break;
        case "elsewhere":
          if (settings.notify) conn.write(sql.notify, [channel, id]);
          break;
      }
    }
  }

  /**
   * Hands the runtime the input sent to the fresh sessions of `created` (their rows already name
   * this one as taking it): those sent nothing since are held from now (`new-sessions.ts`).
   */
  #handBack(created: FreshSnapshot): Claimed {
    const queued = this.newSessions.inputsOf(created);
    for (const input of queued) this.#handed.add(input.id);
    const { held, again } = this.newSessions.takenUp(created);
    for (const [id, epoch] of held) {
      this.#held.set(id, epoch);
      this.histories.set(id, epoch, []);
    }
    for (const id of again) queueMicrotask(() => this.#onWake?.(id));
    return { sessions: [], queued, interrupted: [], nextSeq: 1, endRequests: [] };
  }

  /** Writes the held sessions' rows now and waits for their answers (`created`). */
  #settleNew(): void {
    const { conn, held } = liveConnection(this.#context.current(), this.#context.where);
    held.flush();
    conn.settleAsides();
  }

  #live(): SyncConnection {
    return liveConnection(this.#context.current(), this.#context.where).conn;
  }
}
