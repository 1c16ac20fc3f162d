/**
 * WAL checkpoints off the event loop.
 *
 * A checkpoint copies the pages committed to the WAL back into the database file, and with
 * `synchronous = NORMAL` it fsyncs the WAL before and the database after. SQLite's automatic
 * checkpoint runs inside the COMMIT that takes the WAL past its threshold, on the thread that
 * committed: for the store, the host's event loop, held for as long as the disk takes to sync a few
 * megabytes (tens of milliseconds on a slow disk, every few thousand writes).
 *
 * So the store's connection checkpoints automatically only past {@link WAL_FALLBACK_PAGES}, and a
 * `worker_threads` worker with a connection of its own to the same file runs
 * `PRAGMA wal_checkpoint(PASSIVE)` every {@link WAL_CHECKPOINT_INTERVAL_MS}. A passive checkpoint
 * takes no lock a writer needs: the store keeps committing while it runs, and what it copied stays
 * copied. When one finishes with nothing left to copy, the store's next write starts the WAL over
 * from its start. Under writes that never pause, the commits landing during each checkpoint keep
 * that from happening, and the WAL grows until the store's own fallback checkpoint, on the loop,
 * copies what is left (the little committed since the worker's last pass, so its syncs are short)
 * and lets the WAL start over. A checkpoint with nothing to copy reads the WAL's header and returns,
 * so an idle store costs the worker a wake-up per interval.
 *
 * The worker's connection opens the file only after the store's connection has (WAL mode set,
 * migrated), is closed before the store's connection (so the store's close, the last connection,
 * still checkpoints the whole WAL and deletes it), and never writes: a crash at any point leaves the
 * same file a crash with SQLite's own checkpoints would.
 *
 * @packageDocumentation
 */
import { Worker } from "node:worker_threads";

/**
 * The WAL length, in pages, past which the store's connection checkpoints itself, on the loop
 * (`PRAGMA wal_autocheckpoint`): the bound on the WAL when the worker's checkpoints cannot finish.
 */
export const WAL_FALLBACK_PAGES = 1_800;

/** How often the worker checkpoints the WAL. */
export const WAL_CHECKPOINT_INTERVAL_MS = 100;

/** The worker: CommonJS, evaluated (no file to find next to the compiled module or the source). */
const WORKER = `
const { DatabaseSync } = require("node:sqlite");
const { parentPort, workerData } = require("node:worker_threads");
const db = new DatabaseSync(workerData.path, { timeout: 0 });
const checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
const timer = setInterval(() => {
  try {
    checkpoint.get();
  } catch {
    // Busy (another checkpoint runs) or a failing disk: the store's own commits report the disk.
  }
}, workerData.intervalMs);
parentPort.once("message", () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/** The worker that checkpoints one store file's WAL; {@link WalCheckpointer.close} ends it. */
export class WalCheckpointer {
  readonly #worker: Worker;
  readonly #exited: Promise<void>;

  constructor(path: string, intervalMs = WAL_CHECKPOINT_INTERVAL_MS) {
    this.#worker = new Worker(WORKER, { eval: true, workerData: { path, intervalMs } });
    this.#exited = new Promise((resolve) => this.#worker.once("exit", () => resolve()));
    // A failure of the worker leaves checkpoints to the store's fallback; it never stops the host.
    this.#worker.on("error", () => {});
    // Housekeeping: it never keeps the process alive.
    this.#worker.unref();
  }

  /** Stops the worker and resolves once its connection is closed and its thread has exited. */
  async close(): Promise<void> {
    // Held until it has exited, so a close awaited at the host's end finishes.
    this.#worker.ref();
    this.#worker.postMessage("stop");
    await this.#exited;
  }

  /** Ends the worker without waiting (the store is being dropped as a crash drops it). */
  abandon(): void {
    void this.#worker.terminate();
  }
}
