/**
 * What `offstage inspect` reads from a store, whatever the store: the port of the inspector. Every
 * method only reads. The SQLite reader (`sqlite-reader.ts`) implements it on a read-only connection,
 * the PostgreSQL reader (`postgres-reader.ts`) in one read-only transaction; both map rows to these
 * shapes in `report-rows.ts`. What only a store shared by processes has (leases) is optional.
 *
 * @packageDocumentation
 */

/** Who holds the store open, as its lock row says. */
export interface LockInfo {
  readonly pid: number;
  readonly host: string;
  readonly sinceMs: number;
  /**
   * `live` (its lock on the store is held), `dead` (the lock is free: its process on this host is
   * gone) or `unknown` (the lock is free, but the row is another host's, whose locks may not reach
   * here).
   */
  readonly holder: "live" | "dead" | "unknown";
}

export interface StoreOverview {
  readonly kind: "sqlite" | "postgres";
  /** The file or the database it reads. */
  readonly location: string;
  readonly schemaVersion: number;
  /** `undefined` when no runtime holds the store (PostgreSQL: see `processes`). */
  readonly lock: LockInfo | undefined;
  /** PostgreSQL: the processes in the lease table, with the sessions each holds. */
  readonly processes?: readonly ProcessInfo[];
  readonly sessions: number;
  /** Inputs by status (`queued`, `running`, and each terminal status). */
  readonly inputs: Readonly<Record<string, number>>;
  readonly runningTurns: number;
  /** Delegations by state: `running`, and each delivery state of finished ones. */
  readonly delegations: Readonly<Record<string, number>>;
}

/** A process that holds (or held) leases on a PostgreSQL store. */
export interface ProcessInfo {
  /** Its `processId`. */
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  /** Its lease ends then unless it beats again (the server's clock). */
  readonly aliveUntilMs: number;
  /** False once its lease lapsed: it stopped beating (dead, frozen, cut off). */
  readonly alive: boolean;
  /** Sessions whose lease it holds. */
  readonly sessions: number;
}

/** Who runs a session's turns on a PostgreSQL store. */
export interface SessionLease {
  /** The holder's process id; `undefined` when nobody holds it. */
  readonly owner: string | undefined;
  /** Goes up at every change of holder; a write under an older epoch is ignored. */
  readonly epoch: number;
  /** The holder stopped beating: the next poll of a live process takes the session over. */
  readonly expired: boolean;
}

export interface TurnSummary {
  readonly id: string;
  readonly sessionId: string;
  readonly attempt: number;
  readonly inputIds: readonly string[];
  readonly startedAtMs: number;
  /** The last checkpointed step of a running turn. */
  readonly step: number;
  /** `running` until it ended. */
  readonly status: string;
  readonly reason: string | undefined;
  readonly endedAtMs: number | undefined;
  readonly usage: { readonly inputTokens: number; readonly outputTokens: number } | undefined;
}

export interface SessionSummary {
  readonly id: string;
  readonly agent: string;
  readonly createdAtMs: number;
  /** `running` (a turn runs), `queued` (input waits, no turn runs) or `idle`. */
  readonly state: "running" | "queued" | "idle";
  /** Queued inputs. */
  readonly inboxDepth: number;
  readonly lastTurn: TurnSummary | undefined;
  /** PostgreSQL: its lease. */
  readonly lease?: SessionLease;
}

export interface InputSummary {
  readonly id: string;
  readonly sessionId: string;
  readonly seq: number;
  readonly policy: string;
  readonly status: string;
  readonly acceptedAtMs: number;
  readonly endedAtMs: number | undefined;
  readonly turnId: string | undefined;
  /** The delegation whose completion it carries. */
  readonly delegationId: string | undefined;
  readonly reason: string | undefined;
}

export interface SessionDetail {
  readonly session: SessionSummary;
  /** Newest first. */
  readonly turns: readonly TurnSummary[];
  /** Queued and running inputs, in acceptance order. */
  readonly liveInputs: readonly InputSummary[];
  /** The last messages of its history, oldest first, as stored. */
  readonly history: readonly unknown[];
  /** Messages in its whole history. */
  readonly historyLength: number;
}

export interface DelegationSummary {
  readonly id: string;
  readonly parentSessionId: string;
  readonly childSessionId: string;
  readonly depth: number;
  readonly goal: string;
  readonly dispatchedAtMs: number;
  /** `running` until it completes, then its completion's status. */
  readonly status: string;
  readonly completedAtMs: number | undefined;
  /** `pending`, `held`, `delivered` or `dropped`; `undefined` while it runs. */
  readonly delivery: string | undefined;
  readonly deliveryReason: string | undefined;
  readonly deliveryInputId: string | undefined;
}

export interface StuckWork {
  /** Turns that have been running longer than the threshold. */
  readonly longRunning: readonly TurnSummary[];
  /**
   * Inputs queued longer than the threshold in a session that runs no turn: nothing is driving
   * them (no runtime holds the store, a wake was lost and the poll has not run, or every turn slot
   * is busy).
   */
  readonly queuedNoTurn: readonly InputSummary[];
  /** PostgreSQL: sessions whose holder's lease lapsed and that no live process has taken over yet. */
  readonly expiredLeases?: readonly SessionSummary[];
}

/** Reads a store for `offstage inspect`; never writes. Every read sees the same snapshot. */
export interface StoreReader {
  overview(): Promise<StoreOverview>;
  sessions(limit: number): Promise<SessionSummary[]>;
  /** `undefined` for an unknown session. */
  session(id: string, limit: number): Promise<SessionDetail | undefined>;
  /** Inputs of one status, oldest first. */
  inputs(status: string, limit: number): Promise<InputSummary[]>;
  /** Newest first. */
  delegations(limit: number): Promise<DelegationSummary[]>;
  /** Completions held at startup for the host to confirm. */
  held(limit: number): Promise<DelegationSummary[]>;
  stuck(nowMs: number, olderThanMs: number, limit: number): Promise<StuckWork>;
  close(): Promise<void>;
}
