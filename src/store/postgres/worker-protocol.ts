/**
 * The messages between the PostgreSQL store's thread (`sync-connection.ts`) and the worker thread
 * that owns its connection (`connection-worker.ts`): what the store posts, what the worker answers,
 * and what the worker starts with. The shared flags and the aside notice, which both threads use as
 * values, stay in `connection-worker.ts`: the worker imports only `pg` and Node built-ins at run
 * time (so Node runs it as it is, from source or from `dist`), and this file's types are erased.
 *
 * @packageDocumentation
 */
import type { MessagePort } from "node:worker_threads";
import type pg from "pg";

/** What the store's thread posts. */
export type WorkerRequest =
  | {
      readonly kind: "write";
      readonly sql: string;
      readonly params: readonly unknown[];
      /** Its rows go back to the store's thread once its transaction commits (`WorkerReply.reported`). */
      readonly report?: boolean;
    }
  | {
      readonly kind: "read";
      readonly id: number;
      readonly sync: boolean;
      /** It writes: it joins the transaction, and is replayed with it. */
      readonly write: boolean;
      readonly sql: string;
      readonly params: readonly unknown[];
    }
  | { readonly kind: "commit"; readonly id: number }
  /**
   * Statements that must not wait in the open transaction (they take row locks other processes
   * wait on): the open transaction commits first, then they run in one of their own. Answered on
   * the sync port with the last statement's rows.
   */
  | { readonly kind: "alone"; readonly id: number; readonly statements: readonly Statement[] }
  /**
   * A statement that must neither wait in the open transaction nor commit it (a new session's row,
   * which other processes' statements would otherwise wait on until the group commits): it runs on
   * a second connection, committed at once without waiting for its WAL flush (the group's commit,
   * which waits for a later flush, makes it durable with the group), and, with `replay`, joins the
   * group's replay in case the server loses it (only a statement that changes nothing when run
   * twice: a budget's charge must not count twice when the group is replayed). Run at once, not
   * after the requests queued before it — unless `later`: then it runs in its place in the queue,
   * and nobody waits for it. Answered on the sync port; one run `later` is also told on the parent
   * port (`ASIDES_ANSWERED` in `connection-worker.ts`), for the store's thread to take its answer up
   * when it is free.
   */
  | {
      readonly kind: "aside";
      readonly id: number;
      readonly sql: string;
      readonly params: readonly unknown[];
      readonly replay: boolean;
      readonly later: boolean;
    }
  | { readonly kind: "close"; readonly id: number }
  /** Internal: the connection dropped; make it again and replay the open transaction. */
  | { readonly kind: "restore" };

/** What the worker answers to a read, a commit or a close. */
export type WorkerReply =
  | {
      readonly id: number;
      readonly rows: readonly Record<string, unknown>[];
      readonly count: number;
      /**
       * On the answer to a commit, an `alone` or a close: the rows of the reporting writes of every
       * transaction committed since the last such answer (as their last run, replays included, returned them).
       */
      readonly reported?: readonly Record<string, unknown>[];
    }
  | { readonly id: number; readonly error: WorkerError };

/** Why a request failed, as it crosses the thread boundary (an `Error` does not survive it whole). */
export interface WorkerError {
  readonly message: string;
  /** PostgreSQL's SQLSTATE, or Node's errno code. */
  readonly code: string | undefined;
  /** The connection was lost (or could not be made): the request may succeed later. */
  readonly unavailable: boolean;
}

/** What the worker starts with (its `workerData`). */
export interface WorkerData {
  /** Tells this worker's data from another worker's (a test runner's threads import the worker's module too). */
  readonly offstagePostgresWorker: true;
  readonly config: pg.ClientConfig;
  /**
   * Int32Array over it: at `REPLY_FLAG` the sync reply flag, at `DOWN_FLAG` 1 while the connection
   * is down, at `IN_DOUBT_FLAG` 1 while a dropped commit is in doubt (all in `connection-worker.ts`).
   */
  readonly shared: SharedArrayBuffer;
  readonly syncPort: MessagePort;
  /** The texts of the statements to prepare (see `named` in `connection-worker.ts`); any other is parsed at every call. */
  readonly prepared: readonly string[];
}

/** One statement of a group, an `alone` request or a replay. */
export interface Statement {
  readonly sql: string;
  readonly params: readonly unknown[];
  /** See the `write` request's `report`. */
  readonly report?: boolean;
}
