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
import {
  DOWN_FLAG,
  REPLY_FLAG,
  type WorkerData,
  type WorkerError,
  type WorkerReply,
  type WorkerRequest,
} from "./connection-worker.js";

/** Rows a read returned. */
export type Rows = readonly Record<string, unknown>[];

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
  readonly #readTimeoutMs: number;
  readonly #where: string;
  #nextId = 1;
  /** The commit asked for since the last write, shared by every caller until a write comes. */
  #commit: Promise<void> | undefined;
  #closed: Promise<void> | undefined;

  constructor(config: pg.ClientConfig, readTimeoutMs: number, where: string) {
    const shared = new SharedArrayBuffer(8);
    const channel = new MessageChannel();
    const data: WorkerData = { offstagePostgresWorker: true, config, shared, syncPort: channel.port2 };
    this.#worker = new Worker(WORKER_URL, { workerData: data, transferList: [channel.port2] });
    this.#worker.on("message", (reply: WorkerReply) => {
      const waiter = this.#waiting.get(reply.id);
      this.#waiting.delete(reply.id);
      waiter?.resolve(reply);
    });
    this.#worker.on("error", (error) => {
      for (const waiter of this.#waiting.values())
        waiter.resolve({ id: 0, error: { message: error.message, code: undefined, unavailable: false } });
      this.#waiting.clear();
    });
    // The store's timers keep the process alive while it runs; the worker alone must not.
    this.#worker.unref();
    this.#flags = new Int32Array(shared);
    this.#syncPort = channel.port1;
    this.#readTimeoutMs = readTimeoutMs;
    this.#where = where;
  }

  /** Whether the worker's connection is down (it is reconnecting). */
  get down(): boolean {
    return Atomics.load(this.#flags, DOWN_FLAG) === 1;
  }

  /** Adds a statement to the current transaction. Its failure fails the next commit. */
  write(sql: string, params: readonly unknown[]): void {
    this.#commit = undefined;
    this.#post({ kind: "write", sql, params });
  }

  /** Runs a statement in the current transaction and returns its rows, blocking this thread. */
  readSync(sql: string, params: readonly unknown[], write = false): { rows: Rows; count: number } {
    if (write) this.#commit = undefined;
    if (this.down) throw this.#unavailable("the connection is down; the store is reconnecting");
    const id = this.#nextId++;
    Atomics.store(this.#flags, REPLY_FLAG, 0);
    this.#post({ kind: "read", id, sync: true, write, sql, params });
    const waited = Atomics.wait(this.#flags, REPLY_FLAG, 0, this.#readTimeoutMs);
    const message = receiveMessageOnPort(this.#syncPort)?.message as WorkerReply | undefined;
    if (message === undefined || waited === "timed-out")
      throw this.#unavailable(`no answer within ${this.#readTimeoutMs} ms`);
    return this.#rowsOf(message);
  }

  /** Runs a statement in the current transaction and resolves with its rows. */
  async read(sql: string, params: readonly unknown[], write = false): Promise<{ rows: Rows; count: number }> {
    if (write) this.#commit = undefined;
    const id = this.#nextId++;
    const reply = await this.#ask(id, { kind: "read", id, sync: false, write, sql, params });
    return this.#rowsOf(reply);
  }

  /** Resolves once every write posted before it is committed; rejects with what failed. */
  commit(): Promise<void> {
    if (this.#closed !== undefined) return Promise.resolve();
    this.#commit ??= (async () => {
      const id = this.#nextId++;
      this.#rowsOf(await this.#ask(id, { kind: "commit", id }));
    })();
    return this.#commit;
  }

  /** Commits, closes the connection and ends the worker. Idempotent. */
  close(): Promise<void> {
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
      this.#post(request);
    });
  }

  #rowsOf(reply: WorkerReply): { rows: Rows; count: number } {
    if ("error" in reply) throw this.#errorOf(reply.error);
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
