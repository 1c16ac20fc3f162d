/**
 * The WAL's length in frames, read from SQLite's wal-index (the `<db>-shm` file) with one `pread`,
 * instead of asking a connection (the only statement that tells it, `PRAGMA wal_checkpoint`, is a
 * checkpoint). The wal-index header is documented with the file format (sqlite.org/walformat.html):
 * `iVersion` 3007000 at byte 0, `isInit` at 12, `mxFrame` (the last valid frame) at 16, in the
 * machine's byte order. A header that is not that one (another version, another VFS) reads as
 * unknown, and the caller then leaves checkpoints to SQLite.
 *
 * The descriptor is opened at the first read and closed only after the store's connection is:
 * SQLite's WAL locks are `fcntl` locks on this file, and closing any descriptor of a file drops every
 * such lock the process holds on it.
 *
 * @packageDocumentation
 */
import { closeSync, openSync, readSync } from "node:fs";
import { endianness } from "node:os";

const HEADER_BYTES = 48;
const VERSION = 3_007_000;
const LITTLE = endianness() === "LE";

export class WalIndex {
  readonly #shmPath: string;
  readonly #header = Buffer.alloc(HEADER_BYTES);
  #fd: number | undefined;
  #unreadable = false;

  /** `path`: the database file; its wal-index is `<path>-shm`. */
  constructor(path: string) {
    this.#shmPath = `${path}-shm`;
  }

  /** Frames in the WAL now, or `undefined` when the wal-index cannot be read as documented. */
  frames(): number | undefined {
    if (this.#unreadable) return undefined;
    try {
      this.#fd ??= openSync(this.#shmPath, "r");
      if (readSync(this.#fd, this.#header, 0, HEADER_BYTES, 0) < HEADER_BYTES) return undefined;
    } catch {
      this.#unreadable = true;
      return undefined;
    }
    const header = this.#header;
    const u32 = (at: number) => (LITTLE ? header.readUInt32LE(at) : header.readUInt32BE(at));
    if (u32(0) !== VERSION || header[12] !== 1) return undefined;
    return u32(16);
  }

  /** Closes the descriptor: call only once the store's connection to the file is closed. */
  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}
