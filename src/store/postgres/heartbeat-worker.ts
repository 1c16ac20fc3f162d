/**
 * The thread behind the PostgreSQL store's heartbeat (`heartbeat.ts`). It renews the process's
 * leases on a connection of its own, so a process whose main thread is busy — blocked in the
 * store's synchronous reads, or running a long stretch of turns — keeps its leases as long as it is
 * alive: another process takes a session over only when its holder is dead or cut off, never
 * while the holder still runs the session's turns.
 *
 * Every `leaseMs / 3` it renews; after a renewal it reads which of the sessions the main thread
 * last said it holds have another owner now (the main thread sends that list at every beat of its
 * own), and reports them. It measures the lease on its own clock: when no renewal succeeded for
 * `leaseMs * 0.8` it reports the lapse, and the first renewal after that says so. It also stops
 * renewing when the main thread has said nothing for `silentMs`: a process whose main thread is
 * wedged must not hold its sessions forever.
 *
 * It imports only `pg` and Node built-ins, so Node runs it as it is, from source or from `dist`.
 *
 * @packageDocumentation
 */
import { parentPort, workerData } from "node:worker_threads";
import pg from "pg";

/** The share of the lease after which a process that could not renew gives its leases up. */
const GIVE_UP_SHARE = 0.8;

export interface HeartbeatData {
  /** Tells this worker's data from another worker's (a test runner's threads import this module too). */
  readonly offstageHeartbeat: true;
  readonly config: pg.ClientConfig;
  readonly processId: string;
  readonly leaseMs: number;
  /** How long the main thread may say nothing before renewals stop. */
  readonly silentMs: number;
  /** Int32Array over it: [0] is 1 from a lapse until the next renewal that succeeds. */
  readonly shared: SharedArrayBuffer;
  /** The renewal. Params: id, lease_ms. */
  readonly renewSql: string;
  /** Of the ids given, those the database names another owner (or none) for, with their epoch. Params: ids, owner. */
  readonly lostSql: string;
}

/** What the main thread sends: the sessions it holds, with the epoch it holds each under. */
export interface HeldMessage {
  readonly held: readonly (readonly [string, number])[];
}

/** What the worker reports. */
export type HeartbeatReport =
  /**
   * The database names another owner, or none, for these sessions: each with the epoch the main
   * thread said it held it under, and the epoch the database has.
   */
  | { readonly kind: "lost"; readonly sessions: readonly (readonly [string, number, number])[] }
  /** No renewal succeeded for most of the lease: every lease must be given up now. */
  | { readonly kind: "lapsed" }
  /** A renewal succeeded after a lapse: the leases given up can be handed back. */
  | { readonly kind: "back" };

class HeartbeatThread {
  readonly #data: HeartbeatData;
  readonly #flags: Int32Array;
  #held: readonly (readonly [string, number])[] = [];
  #heardAtMs = performance.now();
  #renewedAtMs = performance.now();
  #lapsed = false;
  #beating = false;
  #client: pg.Client | undefined;

  constructor(data: HeartbeatData) {
    this.#data = data;
    this.#flags = new Int32Array(data.shared);
    setInterval(() => void this.#beat(), Math.max(1, Math.floor(data.leaseMs / 3)));
    // Checks the lease more often than it beats: a renewal that hangs must not delay giving up.
    setInterval(() => this.#check(), Math.max(1, Math.floor(data.leaseMs / 10)));
    void this.#beat();
  }

  heard(message: HeldMessage): void {
    this.#held = message.held;
    this.#heardAtMs = performance.now();
  }

  async #beat(): Promise<void> {
    if (this.#beating || performance.now() - this.#heardAtMs > this.#data.silentMs) return;
    this.#beating = true;
    const startedAtMs = performance.now();
    try {
      const client = this.#client ?? (await this.#connect());
      await client.query(this.#data.renewSql, [this.#data.processId, this.#data.leaseMs]);
      this.#renewedAtMs = startedAtMs;
      if (this.#lapsed) {
        this.#lapsed = false;
        Atomics.store(this.#flags, 0, 0);
        report({ kind: "back" });
      }
      const held = this.#held;
      if (held.length === 0) return;
      const { rows } = await client.query<{ id: string; epoch: string }>(this.#data.lostSql, [
        held.map(([id]) => id),
        this.#data.processId,
      ]);
      if (rows.length === 0) return;
      const epochs = new Map(held);
      report({
        kind: "lost",
        sessions: rows.map((row) => [row.id, epochs.get(row.id)!, Number(row.epoch)] as const),
      });
    } catch {
      this.#client?.end().catch(() => undefined);
      this.#client = undefined;
      this.#check();
    } finally {
      this.#beating = false;
    }
  }

  #check(): void {
    if (this.#lapsed || performance.now() - this.#renewedAtMs < this.#data.leaseMs * GIVE_UP_SHARE) return;
    this.#lapsed = true;
    // Seen at once by the main thread, however busy: it must not run on a lease it may not have.
    Atomics.store(this.#flags, 0, 1);
    report({ kind: "lapsed" });
  }

  async #connect(): Promise<pg.Client> {
    const client = new pg.Client({
      ...this.#data.config,
      connectionTimeoutMillis: Math.floor(this.#data.leaseMs / 3),
    });
    client.on("error", () => {
      if (this.#client === client) this.#client = undefined;
    });
    await client.connect();
    this.#client = client;
    return client;
  }
}

function report(message: HeartbeatReport): void {
  parentPort!.postMessage(message);
}

if (parentPort !== null && (workerData as Partial<HeartbeatData> | null)?.offstageHeartbeat === true) {
  const thread = new HeartbeatThread(workerData as HeartbeatData);
  parentPort.on("message", (message: HeldMessage) => thread.heard(message));
}
