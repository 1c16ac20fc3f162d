/**
 * `durability: "full"` without blocking the event loop on fsync.
 *
 * In WAL mode, SQLite's `synchronous = FULL` is `NORMAL` plus one fsync of the WAL file after each
 * commit; `node:sqlite` would run that fsync on the JavaScript thread, inside COMMIT, holding up the
 * host's loop for as long as the disk takes. So the store runs `NORMAL` and issues that same fsync
 * itself, on libuv's thread pool, after each group's COMMIT; the group's `commit()` resolves only once
 * it completed. The guarantee is FULL's: a resolved commit survives a power loss.
 *
 * The sync is an `fdatasync`, as SQLite's own on Linux: it writes the file's data and the metadata
 * needed to read it back (its size), and skips the rest (times), which is a journal commit of the
 * file system each time the WAL grows.
 *
 * @packageDocumentation
 */
import { closeSync, fdatasync, openSync } from "node:fs";

export class WalSync {
  readonly #walPath: string;
  #fd: number | undefined;
  #last: Promise<void> = Promise.resolve();

  constructor(walPath: string) {
    this.#walPath = walPath;
  }

  /**
   * Starts an fsync of the WAL now (everything committed so far is in it) and resolves once it, and
   * every earlier one, completed.
   */
  sync(): Promise<void> {
    // Opened at the first commit: SQLite creates the WAL file at the first write, and keeps it while
    // a connection is open.
    this.#fd ??= openSync(this.#walPath, "r+");
    const fd = this.#fd;
    const done = new Promise<void>((resolve, reject) => {
      fdatasync(fd, (error) => (error === null ? resolve() : reject(error)));
    });
    this.#last = Promise.all([this.#last, done]).then(() => undefined);
    return this.#last;
  }

  /** Resolves once every fsync started so far completed (or rejects with the first that failed). */
  settled(): Promise<void> {
    return this.#last;
  }

  /** Closes the WAL's descriptor; call once no fsync is in flight (after `settled()`, or on a crash). */
  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}
