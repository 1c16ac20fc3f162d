/**
 * The worker thread behind the PostgreSQL store's synchronous port (see `sync-connection.ts`). It
 * owns one connection and runs what the store's thread posts, in order: writes join the open
 * transaction (begun at the first write after a commit), reads run inside it so they see those
 * writes, and a commit ends it. A read the store's thread waits for is answered on the sync port,
 * then the shared flag is raised so that `Atomics.wait` returns.
 *
 * When the connection drops, the worker marks it down in the shared state (the store then refuses
 * new input at once), reconnects with backoff, and replays the open transaction's writes, which
 * were never committed, before it goes on: a connection lost mid-group loses nothing.
 *
 * It imports only `pg` and Node built-ins at run time (its messages' types, `worker-protocol.ts`, are
 * erased), so Node runs it as it is, from source or from `dist`.
 *
 * @packageDocumentation
 */
import { parentPort, workerData } from "node:worker_threads";
import pg from "pg";
import type { Statement, WorkerData, WorkerError, WorkerReply, WorkerRequest } from "./worker-protocol.js";

/** Posted on the parent port once an aside run `later` is answered on the sync port. */
export const ASIDES_ANSWERED = { asides: true } as const;

/** Where `shared` keeps the flag `Atomics.wait` watches. */
export const REPLY_FLAG = 0;
/** Where `shared` says the connection is down (1) or up (0). */
export const DOWN_FLAG = 1;
/**
 * Where `shared` says a group's commit is in doubt (1): the connection dropped after its `COMMIT`
 * was sent, so it may have landed; until its replay commits (0).
 */
export const IN_DOUBT_FLAG = 2;

const RECONNECT_MIN_MS = 50;
const RECONNECT_MAX_MS = 1_000;

/** SQLSTATE classes and codes, and errno codes, that mean the connection is gone. */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === "string") {
    if (code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03") return true;
    if (/^E[A-Z]+$/.test(code)) return true;
  }
  const message = error instanceof Error ? error.message : "";
  return /Connection terminated|not queryable|ended unexpectedly|Client has encountered a connection error/i.test(
    message,
  );
}

/**
 * The statement as a named query when it is one of the store's prepared ones (`WorkerData.prepared`):
 * the server parses and plans it once per connection, not at every call (bench/NOTES.md, "Fleet");
 * pg prepares a name again on a new connection by itself.
 */
const names = new Map<string, string>();
function named(statement: Statement): pg.QueryConfig {
  const name = names.get(statement.sql);
  return name === undefined
    ? { text: statement.sql, values: statement.params as unknown[] }
    : { name, text: statement.sql, values: statement.params as unknown[] };
}

function errorOf(error: unknown): WorkerError {
  return {
    message: error instanceof Error ? error.message : String(error),
    code: (error as { code?: string } | undefined)?.code,
    unavailable: isConnectionError(error),
  };
}

class ConnectionWorker {
  readonly #data: WorkerData;
  readonly #flags: Int32Array;
  #client: pg.Client | undefined;
  /** The connection of `aside` statements, made at the first. */
  #aside: pg.Client | undefined;
  /** The last aside statement's run: the next one runs after it. */
  #asides: Promise<unknown> = Promise.resolve();
  /** The open transaction's writes, replayed on a new connection if this one drops. */
  #group: Statement[] = [];
  #inTransaction = false;
  /** The rows of the open transaction's reporting writes, by statement (a replay's replace the first run's). */
  #returned = new Map<Statement, readonly Record<string, unknown>[]>();
  /** The rows of reporting writes whose transactions committed, not yet sent to the store's thread. */
  #reported: Record<string, unknown>[] = [];
  /** A write failed for a reason other than the connection: the group is lost, its commit fails. */
  #failed: WorkerError | undefined;
  readonly #queue: WorkerRequest[] = [];
  #running = false;

  constructor(data: WorkerData) {
    this.#data = data;
    this.#flags = new Int32Array(data.shared);
  }

  post(request: WorkerRequest): void {
    // An aside statement the store's thread waits for depends on nothing queued before it: it does
    // not wait behind the group's statements or its commit.
    if (request.kind === "aside" && !request.later) {
      void this.#handle(request);
      return;
    }
    this.#queue.push(request);
    if (!this.#running) void this.#drain();
  }

  async #drain(): Promise<void> {
    this.#running = true;
    for (;;) {
      const request = this.#queue.shift();
      if (request === undefined) break;
      await this.#handle(request);
    }
    this.#running = false;
  }

  async #handle(request: WorkerRequest): Promise<void> {
    switch (request.kind) {
      case "write": {
        if (this.#failed !== undefined) return;
        const statement = { sql: request.sql, params: request.params, report: request.report === true };
        this.#group.push(statement);
        try {
          const result = await this.#run(request.sql, request.params, true);
          if (statement.report) this.#returned.set(statement, result.rows);
        } catch (error) {
          this.#failed = errorOf(error);
        }
        return;
      }
      case "read":
        if (this.#failed !== undefined && (request.write || this.#inTransaction)) {
          this.#reply(request, { id: request.id, error: this.#failed });
          return;
        }
        if (request.write) this.#group.push({ sql: request.sql, params: request.params });
        try {
          const result = await this.#run(request.sql, request.params, request.write);
          this.#reply(request, { id: request.id, rows: result.rows, count: result.rowCount ?? 0 });
        } catch (error) {
          const failure = errorOf(error);
          // Any error inside a transaction aborts it: the group is lost, its commit says why.
          if (!failure.unavailable && this.#inTransaction) this.#failed = failure;
          this.#reply(request, { id: request.id, error: failure });
        }
        return;
      case "alone":
        try {
          const result = await this.#alone(request.statements);
          this.#reply({ sync: true }, { id: request.id, ...result, reported: this.#takeReported() });
        } catch (error) {
          this.#reply({ sync: true }, { id: request.id, error: errorOf(error) });
        }
        return;
      case "aside":
        try {
          const statement = { sql: request.sql, params: request.params };
          const result = await this.#runAside(statement);
          if (request.replay) this.#group.push(statement);
          this.#reply({ sync: true }, { id: request.id, rows: result.rows, count: result.rowCount ?? 0 });
        } catch (error) {
          this.#reply({ sync: true }, { id: request.id, error: errorOf(error) });
        }
        if (request.later) parentPort!.postMessage(ASIDES_ANSWERED);
        return;
      case "commit":
        parentPort!.postMessage(await this.#commit(request.id));
        return;
      case "restore":
        try {
          await this.#restore(this.#group);
        } catch (error) {
          this.#failed = errorOf(error);
        }
        return;
      case "close": {
        const reply = await this.#commit(request.id);
        await this.#client?.end().catch(() => undefined);
        await this.#aside?.end().catch(() => undefined);
        this.#client = undefined;
        this.#aside = undefined;
        parentPort!.postMessage(reply);
        return;
      }
    }
  }

  #reply(request: { sync: boolean }, reply: WorkerReply): void {
    if (!request.sync) {
      parentPort!.postMessage(reply);
      return;
    }
    this.#data.syncPort.postMessage(reply);
    Atomics.store(this.#flags, REPLY_FLAG, 1);
    Atomics.notify(this.#flags, REPLY_FLAG);
  }

  async #commit(id: number): Promise<WorkerReply> {
    const error = await this.#commitGroup();
    return error === undefined ? { id, rows: [], count: 0, reported: this.#takeReported() } : { id, error };
  }

  #takeReported(): Record<string, unknown>[] {
    const reported = this.#reported;
    this.#reported = [];
    return reported;
  }

  /** Commits the open transaction; returns why it failed, if it did (the group is then lost). */
  async #commitGroup(): Promise<WorkerError | undefined> {
    const failed = this.#failed;
    this.#failed = undefined;
    const group = this.#group;
    this.#group = [];
    const returned = this.#returned;
    this.#returned = new Map();
    if (failed !== undefined) {
      await this.#rollback();
      return failed;
    }
    if (group.length === 0 && !this.#inTransaction) return undefined;
    for (;;) {
      let committing = false;
      try {
        const client = await this.#restore(group, returned);
        committing = this.#inTransaction;
        if (committing) await client.query("COMMIT");
        this.#inTransaction = false;
        Atomics.store(this.#flags, IN_DOUBT_FLAG, 0);
        for (const rows of returned.values()) this.#reported.push(...rows);
        return undefined;
      } catch (error) {
        if (!isConnectionError(error)) {
          await this.#rollback();
          return errorOf(error);
        }
        // The commit may or may not have happened: the group's statements are written so that
        // running them again after a commit changes nothing (inserts ignore existing rows, updates
        // are guarded by the state they move from, a claim of a session held already keeps it).
        if (committing) Atomics.store(this.#flags, IN_DOUBT_FLAG, 1);
        this.#drop();
      }
    }
  }

  /** See the `alone` request. A failed open transaction stays failed for its own commit to report. */
  async #alone(
    statements: readonly Statement[],
  ): Promise<{ rows: Record<string, unknown>[]; count: number }> {
    if (this.#failed === undefined) {
      const error = await this.#commitGroup();
      if (error !== undefined) this.#failed = error;
    } else await this.#rollback();
    for (;;) {
      try {
        const client = await this.#restore([]);
        if (statements.length > 1) await client.query("BEGIN");
        let result: pg.QueryResult | undefined;
        try {
          for (const statement of statements) result = await client.query(named(statement));
          if (statements.length > 1) await client.query("COMMIT");
        } catch (error) {
          if (statements.length > 1 && !isConnectionError(error))
            await client.query("ROLLBACK").catch(() => undefined);
          throw error;
        }
        return { rows: result?.rows ?? [], count: result?.rowCount ?? 0 };
      } catch (error) {
        if (!isConnectionError(error)) throw error;
        this.#drop();
      }
    }
  }

  /**
   * Runs an `aside` statement after those before it (a waited-for one may come while one run `later`
   * runs), connecting its connection first if needed (once more if it dropped).
   */
  #runAside(statement: Statement): Promise<pg.QueryResult> {
    const run = this.#asides.then(() => this.#runAsideNow(statement));
    this.#asides = run.catch(() => undefined);
    return run;
  }

  async #runAsideNow(statement: Statement): Promise<pg.QueryResult> {
    for (let attempt = 0; ; attempt++) {
      try {
        if (this.#aside === undefined) {
          const client = new pg.Client(this.#data.config);
          client.on("error", () => {
            if (this.#aside === client) this.#aside = undefined;
          });
          await client.connect();
          await client.query("SET synchronous_commit = off");
          this.#aside = client;
        }
        return await this.#aside.query(named(statement));
      } catch (error) {
        if (!isConnectionError(error) || attempt > 0) throw error;
        this.#aside?.end().catch(() => undefined);
        this.#aside = undefined;
      }
    }
  }

  async #rollback(): Promise<void> {
    if (!this.#inTransaction) return;
    this.#inTransaction = false;
    await this.#client?.query("ROLLBACK").catch(() => undefined);
  }

  /**
   * Runs one statement, in the transaction when it writes or one is open. When the connection
   * drops, it reconnects, replays the transaction's earlier writes and runs it again.
   */
  async #run(sql: string, params: readonly unknown[], write: boolean): Promise<pg.QueryResult> {
    for (;;) {
      // The group holds this statement already when it writes.
      const earlier = write ? this.#group.slice(0, -1) : this.#group;
      try {
        const client = await this.#restore(earlier);
        if (write && !this.#inTransaction) {
          await client.query("BEGIN");
          this.#inTransaction = true;
        }
        return await client.query(named({ sql, params }));
      } catch (error) {
        if (!isConnectionError(error)) throw error;
        this.#drop();
      }
    }
  }

  /**
   * The connection, made again (with `earlier` replayed in a new transaction) if it dropped; the
   * replayed reporting writes' rows go to `returned`.
   */
  async #restore(earlier: readonly Statement[], returned = this.#returned): Promise<pg.Client> {
    if (this.#client !== undefined) return this.#client;
    let delayMs = RECONNECT_MIN_MS;
    for (;;) {
      try {
        const client = new pg.Client(this.#data.config);
        client.on("error", () => {
          // The server ended the connection (or it broke): say so at once, so new input is refused
          // now rather than at the next statement; the queue reconnects.
          if (this.#client !== client) return;
          this.#drop();
          this.post({ kind: "restore" });
        });
        await client.connect();
        this.#client = client;
        if (earlier.length > 0) {
          await client.query("BEGIN");
          this.#inTransaction = true;
          for (const statement of earlier) {
            const result = await client.query(named(statement));
            if (statement.report) returned.set(statement, result.rows);
          }
        }
        Atomics.store(this.#flags, DOWN_FLAG, 0);
        return client;
      } catch (error) {
        this.#drop();
        if (!isConnectionError(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        delayMs = Math.min(delayMs * 2, RECONNECT_MAX_MS);
      }
    }
  }

  /** The connection is gone: marks it down and forgets it (its transaction died with it). */
  #drop(): void {
    Atomics.store(this.#flags, DOWN_FLAG, 1);
    const client = this.#client;
    this.#client = undefined;
    this.#inTransaction = false;
    client?.end().catch(() => undefined);
  }
}

if (parentPort !== null && (workerData as Partial<WorkerData> | null)?.offstagePostgresWorker === true) {
  // Times in milliseconds are BIGINT columns: well inside a double's exact integers.
  pg.types.setTypeParser(pg.types.builtins.INT8, Number);
  for (const sql of (workerData as WorkerData).prepared) names.set(sql, `offstage_${names.size + 1}`);
  const worker = new ConnectionWorker(workerData as WorkerData);
  parentPort.on("message", (request: WorkerRequest) => worker.post(request));
}
