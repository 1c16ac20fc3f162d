/**
 * WAL checkpoints off the event loop.
 *
 * A checkpoint copies the pages committed to the WAL back into the database file; with
 * `synchronous = NORMAL` it fsyncs the WAL before and the database after. SQLite's automatic
 * checkpoint runs inside the COMMIT that takes the WAL past 1 000 pages, on the committing thread:
 * for the store, the host's event loop, held for as long as the disk takes to sync megabytes (10 to
 * 40 ms on a slow disk, every few thousand writes). So once a commit leaves the WAL past
 * {@link WAL_RESTART_PAGES} (its length read from the wal-index, `wal-index.ts`), a
 * `worker_threads` worker with a connection of its own runs `PRAGMA wal_checkpoint(PASSIVE)` passes
 * instead. A passive checkpoint takes no lock a writer needs: the store keeps committing meanwhile,
 * and what a pass copied stays copied.
 *
 * The WAL starts over from its beginning only in a write transaction whose snapshot was taken once
 * every committed frame had been copied back; under steady writes, the commits landing during each
 * pass keep that from happening, and since the store's writes are synchronous, a transaction cannot
 * be held back until a pass ends (holding its COMMIT does not help: its snapshot is older). So passes
 * follow one another, each copying what came during the one before (fewer frames each time, so
 * shorter passes), until one ends with no
 * transaction begun before its end committed since it was asked for, or open: the first transaction
 * begun after it then starts the WAL over, and the loop pays only SQLite's sync of the new WAL header
 * (one fsync of a file the passes just synced). After {@link WAL_RESTART_PASSES} passes that could
 * not, the store checkpoints the short remainder itself (at most about
 * {@link WAL_REMAINDER_PAGES_MAX} pages), on the loop, outside any transaction: a few pages and two
 * small fsyncs instead of a thousand pages. No commit waits for any of this.
 *
 * The bound: past {@link WAL_BACKSTOP_PAGES} the store checkpoints on the loop, as SQLite would
 * (a worker that cannot keep up, a reader that has just let go of a grown WAL), and its connection
 * keeps SQLite's automatic checkpoint at that length for a worker that has failed and for a
 * wal-index this cannot read. The WAL thus stays under about {@link WAL_BACKSTOP_PAGES} pages (more by what
 * commits while a pass holds the checkpoint lock), except while an outside reader pins a snapshot
 * (see `WAL_SIZE_LIMIT_BYTES` in `open-database.ts`).
 *
 * The worker starts the first time the WAL needs it (a store that writes little never starts one).
 * Its connection only checkpoints, never writes, and is closed before the
 * store's (so the store's close, the last connection, still checkpoints the whole WAL and deletes
 * it): a crash at any point leaves the file a crash with SQLite's own checkpoints would, since every
 * checkpoint, wherever it runs, is SQLite's, with its syncs.
 *
 * @packageDocumentation
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { Worker } from "node:worker_threads";
import { WalIndex } from "./wal-index.js";

/**
 * The WAL length, in pages (about 8 MB), from which the checkpointer makes the WAL start over. Each
 * start-over costs the loop a checkpoint of a short remainder and a header sync; twice SQLite's own
 * threshold halves how often (serve bench, paced: bench/NOTES.md).
 */
export const WAL_RESTART_PAGES = 2_000;

/** Passes tried for a WAL start-over before the store checkpoints the remainder on the loop. */
export const WAL_RESTART_PASSES = 3;

/**
 * The most frames the store checkpoints on the loop: while more came during each pass (a slow disk,
 * a burst), passes go on, and past {@link WAL_BACKSTOP_PAGES} SQLite's own checkpoint takes over.
 */
export const WAL_REMAINDER_PAGES_MAX = 128;

/**
 * The WAL length, in pages, past which the store's connection checkpoints by itself, on the loop
 * (`PRAGMA wal_autocheckpoint`): the bound when the worker cannot keep up.
 */
export const WAL_BACKSTOP_PAGES = 6_000;

/**
 * The shortest time between two attempts to start the WAL over: while an outside reader pins a
 * snapshot none can succeed, and passes would otherwise follow every commit.
 */
export const WAL_START_OVER_INTERVAL_MS = 100;

/** Counters for tests and the benchmarks. */
export interface WalCheckpointStats {
  /** Passes the worker ran. */
  readonly walPasses: number;
  /** Passes that left the WAL free to start over at the store's next write. */
  readonly walRestartsReady: number;
  /** Checkpoints of a pass's remainder the store ran on the event loop. */
  readonly loopCheckpoints: number;
  /** The longest of those, in milliseconds. */
  readonly loopCheckpointMsMax: number;
}

/** The counters before the first pass. */
export const NO_CHECKPOINTS: WalCheckpointStats = {
  walPasses: 0,
  walRestartsReady: 0,
  loopCheckpoints: 0,
  loopCheckpointMsMax: 0,
};

/** The worker: CommonJS, evaluated (no file to find next to the compiled module or the source). */
const WORKER = `
const { DatabaseSync } = require("node:sqlite");
const { parentPort, workerData } = require("node:worker_threads");
const db = new DatabaseSync(workerData.path, { timeout: 0 });
const pass = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
parentPort.on("message", (message) => {
  if (message === "stop") {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const { busy, log, checkpointed } = pass.get();
    parentPort.postMessage({ busy, log, checkpointed, endedAtMs: performance.timeOrigin + performance.now() });
  } catch (error) {
    parentPort.postMessage({ failed: String(error && error.message) });
  }
});
`;

/** What a pass found: SQLite's `wal_checkpoint` row, or the message of its failure. */
interface PassResult {
  readonly busy?: number;
  readonly log?: number;
  readonly checkpointed?: number;
  /** When the pass ended, in milliseconds since the epoch (`performance.timeOrigin` differs per thread). */
  readonly endedAtMs?: number;
  readonly failed?: string;
}

/** One store file's checkpoints: the policy on the loop, the passes on a worker (see the top). */
export class WalCheckpointer {
  readonly #db: DatabaseSync;
  readonly #path: string;
  readonly #checkpoint: StatementSync;
  readonly #index: WalIndex;
  #worker: Worker | undefined;
  #exited: Promise<void> = Promise.resolve();
  #closed = false;
  #inFlight = false;
  #timer: NodeJS.Timeout | undefined;
  /** When the open transaction began (`performance.now()`), if one is open. */
  #openSinceMs: number | undefined;
  /** The earliest start of a transaction committed since the last pass was asked for. */
  #earliestCommittedSinceMs = Number.POSITIVE_INFINITY;
  /** Passes asked for since the WAL passed {@link WAL_RESTART_PAGES}. */
  #restartPasses = 0;
  /** The WAL's length the last pass found, in frames. */
  #lastLog = 0;
  /** When the last attempt to start the WAL over ended (`performance.now()`). */
  #lastStartOverMs = Number.NEGATIVE_INFINITY;
  /** The remainder is due to be checkpointed on the loop, once no transaction is open. */
  #loopCheckpointDue = false;
  readonly #stats: { -readonly [K in keyof WalCheckpointStats]: number } = { ...NO_CHECKPOINTS };

  /** `db`: the store's connection, in WAL mode, its automatic checkpoint at {@link WAL_BACKSTOP_PAGES}. */
  constructor(db: DatabaseSync, path: string) {
    this.#db = db;
    this.#path = path;
    this.#checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
    this.#index = new WalIndex(path);
  }

  /** Call at each BEGIN. */
  began(): void {
    this.#openSinceMs = performance.now();
  }

  /** Call after each COMMIT, outside any transaction. */
  committed(): void {
    this.#earliestCommittedSinceMs = Math.min(this.#earliestCommittedSinceMs, this.#openSinceMs ?? 0);
    this.#openSinceMs = undefined;
    if (this.#loopCheckpointDue) {
      this.#checkpointOnLoop();
      return;
    }
    if (this.#inFlight) return;
    const frames = this.#index.frames() ?? 0;
    if (frames >= WAL_BACKSTOP_PAGES) {
      // SQLite's own checkpoint at this length gives way to a pass holding the checkpoint lock.
      this.#endStartOver();
      this.#checkpointOnLoop();
      return;
    }
    if (frames < WAL_RESTART_PAGES || this.#timer !== undefined || this.#restartPasses > 0 || this.#closed)
      return;
    this.#worker ??= this.#start();
    const waitMs = this.#lastStartOverMs + WAL_START_OVER_INTERVAL_MS - performance.now();
    if (waitMs <= 0) {
      this.#request();
      return;
    }
    this.#timer = setTimeout(this.#request, waitMs);
    // Housekeeping: it never keeps the process alive.
    this.#timer.unref();
  }

  stats(): WalCheckpointStats {
    return { ...this.#stats };
  }

  /** Stops the worker and resolves once its connection is closed and its thread has exited. */
  async close(): Promise<void> {
    this.#stop();
    // Held until it has exited, so that a close awaited at the host's end finishes.
    this.#worker?.ref();
    await this.#exited;
  }

  /** Stops the worker without waiting for it (the store is dropped as a crash drops it). */
  abandon(): void {
    this.#stop();
  }

  /** Closes the wal-index descriptor once the worker has exited; call once the store's connection is closed. */
  release(): void {
    void this.#exited.then(() => this.#index.close());
  }

  #stop(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    // After any pass in flight: its connection is closed by the worker, between passes.
    this.#worker?.postMessage("stop");
  }

  /** Starts the worker. */
  #start(): Worker {
    const worker = new Worker(WORKER, { eval: true, workerData: { path: this.#path } });
    this.#exited = new Promise((resolve) => worker.once("exit", () => resolve()));
    worker.on("message", (result: PassResult) => this.#passed(result));
    // A failed worker leaves checkpoints to the store's own (the backstop); it never stops the host.
    worker.on("error", () => {
      this.#inFlight = false;
      this.#closed = true;
    });
    // Housekeeping: it never keeps the process alive.
    worker.unref();
    return worker;
  }

  readonly #request = (): void => {
    this.#timer = undefined;
    if (this.#closed || this.#worker === undefined) return;
    this.#inFlight = true;
    this.#earliestCommittedSinceMs = Number.POSITIVE_INFINITY;
    this.#stats.walPasses += 1;
    this.#worker.postMessage("pass");
  };

  #passed(result: PassResult): void {
    this.#inFlight = false;
    if (this.#closed) return;
    const { log = 0, checkpointed = 0, busy = 1 } = result;
    if (result.failed !== undefined || busy !== 0 || log < WAL_RESTART_PAGES) {
      // Started over meanwhile, or the pass could not run (another checkpoint, a failing disk: the
      // store's own writes report the disk); a later commit tries again.
      this.#endStartOver();
      return;
    }
    if (checkpointed === log && this.#startsOver(result.endedAtMs ?? Number.POSITIVE_INFINITY)) {
      this.#endStartOver();
      this.#stats.walRestartsReady += 1;
      return;
    }
    // What came while the pass before ran: about what this one left, and what the loop would copy.
    const grownPages = log - this.#lastLog;
    this.#lastLog = log;
    const backstop = log >= WAL_BACKSTOP_PAGES;
    if (!backstop && (this.#restartPasses < WAL_RESTART_PASSES || grownPages > WAL_REMAINDER_PAGES_MAX)) {
      this.#restartPasses += 1;
      this.#request();
      return;
    }
    this.#endStartOver();
    if (this.#db.isTransaction) this.#loopCheckpointDue = true;
    else this.#checkpointOnLoop();
  }

  #endStartOver(): void {
    this.#restartPasses = 0;
    this.#lastStartOverMs = performance.now();
  }

  /**
   * Whether a pass that copied every frame there was, ending at `endedAtMs` (epoch), lets the WAL
   * start over: SQLite restarts it in the first transaction that began after such a pass, unless a
   * transaction that began before the pass ended committed meanwhile (its frames then come after the
   * copied ones). Any transaction committed since the pass was asked for, or open now, that began
   * before it ended is such a one.
   */
  #startsOver(endedAtMs: number): boolean {
    const endedMs = endedAtMs - performance.timeOrigin;
    return (
      this.#earliestCommittedSinceMs > endedMs && (this.#openSinceMs ?? Number.POSITIVE_INFINITY) > endedMs
    );
  }

  /** Checkpoints what the passes left, on the loop, so the store's next write starts the WAL over. */
  #checkpointOnLoop(): void {
    this.#loopCheckpointDue = false;
    const startedMs = performance.now();
    try {
      this.#checkpoint.get();
    } catch {
      // A failing disk: the store's own writes report it; the backstop bounds the WAL meanwhile.
    }
    const ms = performance.now() - startedMs;
    this.#stats.loopCheckpoints += 1;
    this.#stats.loopCheckpointMsMax = Math.max(this.#stats.loopCheckpointMsMax, ms);
  }
}
