/**
 * The PostgreSQL store's connection, as the store port needs it: writes are synchronous calls that
 * join the current transaction, reads are synchronous and see them, and `commit()` resolves once
 * the transaction is committed. A worker thread owns the connection (`connection-worker.ts`);
 * writes are posted to it and never waited for, and a read blocks this thread on `Atomics.wait`
 * until the worker answers (one round trip to the server, after the writes before it).
 *
 * While the connection is down, a read fails at once with `STORE_UNAVAILABLE` (so does `down`,
 * which the store checks before it accepts input); a commit waits for the worker to reconnect and
 * replay the transaction.
 *
 * @packageDocumentation
 */
import { MessageChannel, receiveMessageOnPort, Worker } from "node:worker_threads";
import type pg from "pg";
import { OffstageError } from "../../errors.js";
import { type ASIDES_ANSWERED, DOWN_FLAG, IN_DOUBT_FLAG, REPLY_FLAG } from "./connection-worker.js";
import type { Statement, WorkerData, WorkerError, WorkerReply, WorkerRequest } from "./worker-protocol.js";

/** Rows a read returned. */
export type Rows = readonly Record<string, unknown>[];

/** Told what an aside run `later` answered: its rows, or why it failed. */
export type AsideDone = (result: { rows: Rows; count: number } | OffstageError) => void;

/** Where the worker's module is: beside this one, as `.ts` when running from source. */
const WORKER_URL = new URL(
  import.meta.url.endsWith(".ts") ? "./connection-worker.ts" : "./connection-worker.js",
  import.meta.url,
);

export class SyncConnection {
  readonly #worker: Worker;
  readonly #flags: Int32Array;
  readonly #syncPort: MessageChannel["port1"];
  readonly #waiting = new Map<number, { resolve: (reply: WorkerReply) => void }>();
  /** Asides run `later` not answered to their callers yet, by id, with what they answered if they did. */
  readonly #asides = new Map<number, { readonly done: AsideDone; reply?: WorkerReply }>();
  readonly #readTimeoutMs: number;
  readonly #groupCommitMs: number;
  #timer: NodeJS.Timeout | undefined;
  readonly #where: string;
  #nextId = 1;
  /** The commit asked for since the last write, shared by every caller until a write comes. */
  #commit: Promise<void> | undefined;
  #closed: Promise<void> | undefined;
  /**
   * Writes the store holds back within the group (`held-writes.ts`): written before anything else
   * this connection is asked to do, so that every other statement keeps its place after them.
   */
  held: { flush(): void } | undefined;
  /** Told when a group failed to commit (its writes are lost), before the commit's caller is. */
  onLost: (() => void) | undefined;
  /**
   * Told the rows the reporting writes (`write(…, true)`) of committed groups returned, before the
   * caller of the commit (or `aloneSync`) that committed them hears it did.
   */
  onReported: ((rows: Rows) => void) | undefined;

  /** `prepared`: the texts of the statements the worker prepares once per connection. */
  constructor(
    config: pg.ClientConfig,
    readTimeoutMs: number,
    groupCommitMs: number,
    where: string,
    prepared: readonly string[],
  ) {
    const shared = new SharedArrayBuffer(12);
    const channel = new MessageChannel();
    const data: WorkerData = {
      offstagePostgresWorker: true,
      config,
      shared,
      syncPort: channel.port2,
      prepared,
    };
    this.#worker = new Worker(WORKER_URL, { workerData: data, transferList: [channel.port2] });
    this.#worker.on("message", (reply: WorkerReply | typeof ASIDES_ANSWERED) => {
      if ("asides" in reply) {
        this.#takeAsideAnswers();
        return;
      }
      const waiter = this.#waiting.get(reply.id);
      this.#waiting.delete(reply.id);
      if (this.#waiting.size === 0) this.#worker.unref();
      waiter?.resolve(reply);
    });
    const answerAll = (error: WorkerError) => {
      for (const waiter of this.#waiting.values()) waiter.resolve({ id: 0, error });
      this.#waiting.clear();
    };
    this.#worker.on("error", (error) =>
      answerAll({ message: error.message, code: undefined, unavailable: false }),
    );
    // Ended (abandoned) while a commit waited, say for a server that does not answer: it never will.
    this.#worker.on("exit", () =>
      answerAll({
        message: "the connection was dropped before it answered",
        code: undefined,
        unavailable: true,
      }),
    );
    // The worker holds the process alive only while someone awaits it (a commit, a close): an
    // idle store must not keep a host from exiting, and an awaited commit must not be cut short.
    this.#worker.unref();
    this.#flags = new Int32Array(shared);
    this.#syncPort = channel.port1;
    this.#readTimeoutMs = readTimeoutMs;
    this.#groupCommitMs = groupCommitMs;
    this.#where = where;
  }

  /** Whether the worker's connection is down (it is reconnecting). */
  get down(): boolean {
    return Atomics.load(this.#flags, DOWN_FLAG) === 1;
  }

  /** Whether the connection dropped under a commit that has not been replayed since (it may have landed). */
  get commitInDoubt(): boolean {
    return Atomics.load(this.#flags, IN_DOUBT_FLAG) === 1;
  }

  /**
   * Adds a statement to the current transaction. Its failure fails the next commit. With `report`,
   * the rows it returned go to `onReported` once its transaction commits.
   */
  write(sql: string, params: readonly unknown[], report = false): void {
    this.held?.flush();
    this.#wrote();
    this.#post({ kind: "write", sql, params, report });
  }

  /**
   * Runs a statement in the current transaction and returns its rows, blocking this thread; `write`
   * when it changes rows (it then joins the transaction like `write`).
   */
  readSync(sql: string, params: readonly unknown[], write = false): { rows: Rows; count: number } {
    this.held?.flush();
    if (write) this.#wrote();
    const id = this.#nextId++;
    return this.#waitSync(id, { kind: "read", id, sync: true, write, sql, params });
  }

  /**
   * Commits the current transaction, then runs `statements` in a transaction of their own and
   * returns the last one's rows, blocking this thread: for statements that take row locks other
   * processes wait on, which must not stay held for the rest of a group.
   */
  aloneSync(statements: readonly Statement[]): { rows: Rows; count: number } {
    this.held?.flush();
    this.#commit = undefined;
    const id = this.#nextId++;
    return this.#waitSync(id, { kind: "alone", id, statements });
  }

  /**
   * Runs a statement on the side, committed at once but not waited for until the group commits,
   * and returns its rows, blocking this thread (see the worker's `aside` request; `replay` only for
   * a statement that changes nothing when run twice).
   */
  asideSync(sql: string, params: readonly unknown[], replay: boolean): { rows: Rows; count: number } {
    // Nothing held waits for it: it is independent of the group's writes.
    this.#wrote();
    const id = this.#nextId++;
    return this.#waitSync(id, { kind: "aside", id, sql, params, replay, later: false });
  }

  /**
   * Queues a statement to run on the side in its place among the writes (see the worker's `aside`
   * request with `later`), without waiting for it: `done` is told its answer once this thread is
   * free (never inside a call of this connection), or within {@link settleAsides}.
   */
  asideLater(sql: string, params: readonly unknown[], replay: boolean, done: AsideDone): void {
    this.#wrote();
    const id = this.#nextId++;
    this.#asides.set(id, { done });
    this.#post({ kind: "aside", id, sql, params, replay, later: true });
  }

  /** Blocks this thread until every aside run `later` is answered, and tells their callers. */
  settleAsides(): void {
    const deadline = performance.now() + this.#readTimeoutMs;
    for (;;) {
      this.#takeAsideAnswers();
      if (this.#asides.size === 0) return;
      if (this.down) throw this.#unavailable("the connection is down; the store is reconnecting");
      const left = deadline - performance.now();
      if (left <= 0) throw this.#unavailable(`no answer within ${this.#readTimeoutMs} ms`);
      Atomics.wait(this.#flags, REPLY_FLAG, 0, left);
      Atomics.store(this.#flags, REPLY_FLAG, 0);
    }
  }

  /**
   * Tells the callers of answered asides what they answered. Other answers on the sync port now are
   * those of reads that timed out (nobody waits on it while this runs): dropped.
   */
  #takeAsideAnswers(): void {
    for (let message = receiveMessageOnPort(this.#syncPort); message !== undefined; ) {
      this.#keepAsideAnswer(message.message as WorkerReply);
      message = receiveMessageOnPort(this.#syncPort);
    }
    for (const [id, aside] of this.#asides) {
      if (aside.reply === undefined) continue;
      this.#asides.delete(id);
      aside.done("error" in aside.reply ? this.#errorOf(aside.reply.error) : aside.reply);
    }
  }

  /** Keeps the answer of an aside run `later` for its caller; whether it was one. */
  #keepAsideAnswer(reply: WorkerReply): boolean {
    const aside = this.#asides.get(reply.id);
    if (aside !== undefined) aside.reply = reply;
    return aside !== undefined;
  }

  #waitSync(id: number, request: WorkerRequest): { rows: Rows; count: number } {
    if (this.down) throw this.#unavailable("the connection is down; the store is reconnecting");
    Atomics.store(this.#flags, REPLY_FLAG, 0);
    this.#post(request);
    const deadline = performance.now() + this.#readTimeoutMs;
    for (;;) {
      // Answers to reads that timed out earlier may come first: they are dropped. Those of asides
      // run `later` are kept for their callers, told once this call has returned.
      for (let message = receiveMessageOnPort(this.#syncPort); message !== undefined; ) {
        const reply = message.message as WorkerReply;
        if (reply.id === id) return this.#rowsOf(reply);
        this.#keepAsideAnswer(reply);
        message = receiveMessageOnPort(this.#syncPort);
      }
      const left = deadline - performance.now();
      if (left <= 0) throw this.#unavailable(`no answer within ${this.#readTimeoutMs} ms`);
      Atomics.wait(this.#flags, REPLY_FLAG, 0, left);
      Atomics.store(this.#flags, REPLY_FLAG, 0);
    }
  }

  /** The store holds a write back for the group (see `held`): the group commits when its window closes. */
  hold(): void {
    this.#wrote();
  }

  /** A write joined the transaction: the group commits when its window closes, if nobody asks sooner. */
  #wrote(): void {
    this.#commit = undefined;
    if (this.#timer !== undefined || this.#closed !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      // A failure is the next caller's to see: its commit() is asked again and fails the same.
      this.commit().catch(() => undefined);
    }, this.#groupCommitMs);
    this.#timer.unref();
  }

  /** Runs a statement in the current transaction and resolves with its rows. */
  async read(sql: string, params: readonly unknown[], write = false): Promise<{ rows: Rows; count: number }> {
    this.held?.flush();
    if (write) this.#wrote();
    const id = this.#nextId++;
    const reply = await this.#ask(id, { kind: "read", id, sync: false, write, sql, params });
    return this.#rowsOf(reply);
  }

  /** Resolves once every write posted before it is committed; rejects with what failed. */
  commit(): Promise<void> {
    if (this.#closed !== undefined) return Promise.resolve();
    this.held?.flush();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#commit ??= (async () => {
      const id = this.#nextId++;
      const reply = await this.#ask(id, { kind: "commit", id });
      if ("error" in reply) this.onLost?.();
      this.#rowsOf(reply);
    })();
    return this.#commit;
  }

  /** Commits, closes the connection and ends the worker. Idempotent. */
  close(): Promise<void> {
    if (this.#closed === undefined) this.held?.flush();
    this.#closed ??= (async () => {
      const id = this.#nextId++;
      try {
        this.#rowsOf(await this.#ask(id, { kind: "close", id }));
      } finally {
        await this.#worker.terminate();
      }
    })();
    return this.#closed;
  }

  /** Ends the worker at once, its open transaction uncommitted: what `kill -9` leaves. */
  async abandon(): Promise<void> {
    this.#closed ??= this.#worker.terminate().then(() => undefined);
    await this.#closed;
  }

  #post(request: WorkerRequest): void {
    this.#worker.postMessage(request);
  }

  #ask(id: number, request: WorkerRequest): Promise<WorkerReply> {
    return new Promise((resolve) => {
      this.#waiting.set(id, { resolve });
      this.#worker.ref();
      this.#post(request);
    });
  }

  #rowsOf(reply: WorkerReply): { rows: Rows; count: number } {
    if ("error" in reply) throw this.#errorOf(reply.error);
    if (reply.reported !== undefined && reply.reported.length > 0) this.onReported?.(reply.reported);
    return { rows: reply.rows, count: reply.count };
  }

  #errorOf(error: WorkerError): OffstageError {
    if (error.unavailable) return this.#unavailable(error.message);
    return new OffstageError("STORE_FAILED", `PostgreSQL at ${this.#where}: ${error.message}`, {
      details: { where: this.#where, sqlState: error.code },
    });
  }

  #unavailable(why: string): OffstageError {
    return new OffstageError("STORE_UNAVAILABLE", `PostgreSQL at ${this.#where} is unavailable: ${why}`, {
      details: { where: this.#where },
    });
  }
}
