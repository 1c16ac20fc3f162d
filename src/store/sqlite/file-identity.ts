/**
 * Whether the store's path still names the database file it opened.
 *
 * An open SQLite connection keeps writing to its file after the file was deleted (`rm`) or replaced
 * (`mv other.db store.db`, a restore from a backup): the writes commit, and nobody can ever open them
 * again. So the store notes the file's device and inode when it opens it, and checks, before each
 * commit, that the path still names that file. One `stat` per commit group (a few microseconds,
 * against a commit's milliseconds), not per write.
 *
 * @packageDocumentation
 */
import { statSync } from "node:fs";
import { OffstageError } from "../../errors.js";

export class FileIdentity {
  readonly #path: string;
  readonly #dev: bigint;
  readonly #ino: bigint;

  /** Notes which file `path` names now: call right after opening it. */
  constructor(path: string) {
    const stat = statSync(path, { bigint: true });
    this.#path = path;
    this.#dev = stat.dev;
    this.#ino = stat.ino;
  }

  /** `undefined` while the path names the file opened; else `STORE_FILE_GONE`, saying what happened. */
  check(): OffstageError | undefined {
    let stat: ReturnType<typeof statSync>;
    try {
      stat = statSync(this.#path, { bigint: true, throwIfNoEntry: false });
    } catch (error) {
      // The folder went away, or may no longer be searched: the path names no file we can reach.
      return this.#gone("cannot be reached any more", error);
    }
    if (stat === undefined) return this.#gone("was deleted", undefined);
    if (stat.dev !== this.#dev || stat.ino !== this.#ino)
      return this.#gone("was replaced by another file", undefined);
    return undefined;
  }

  #gone(what: string, cause: unknown): OffstageError {
    return new OffstageError(
      "STORE_FILE_GONE",
      `the database file ${this.#path} ${what} while the store had it open; writes to the open file could never be read again, so none is acknowledged: put the file back, or close the store and start again on what the path names now`,
      { cause, details: { path: this.#path } },
    );
  }
}
