/**
 * `offstage unlock <db>`: clears the holder a SQLite store names when no live runtime holds it — the
 * way out of `STORE_LOCKED` for a file left by a runtime on another host (on file systems whose locks
 * do not reach across machines, a runtime cannot tell such a holder is gone, so it never takes the
 * file over by itself). It takes the store's lock first, as a runtime does, so it refuses with
 * `STORE_LOCKED` while any runtime that honours the lock holds the file, and no runtime can start
 * while it clears. It changes only the holder row.
 *
 * @packageDocumentation
 */
import { statSync } from "node:fs";
import type { Command } from "commander";
import { isOffstageError, OffstageError } from "../../errors.js";
import { userVersion } from "../../store/sqlite/migrations.js";
import { openDatabase } from "../../store/sqlite/open-database.js";
import { unlockStore } from "../../store/sqlite/store-lock.js";
import { isPostgresUrl } from "../inspect/open-reader.js";

/** Options of {@link runUnlock}. */
export interface UnlockOptions {
  /** The SQLite store file. */
  readonly target: string;
  readonly out: NodeJS.WritableStream;
  readonly err: NodeJS.WritableStream;
}

/** Runs the command and returns the process exit code: 0 when the file is free now, 1 when refused. */
export async function runUnlock(options: UnlockOptions): Promise<number> {
  try {
    const cleared = unlock(options.target);
    options.out.write(
      cleared === undefined
        ? `${options.target} is not locked: nothing to clear\n`
        : `cleared: ${options.target} was held by pid ${cleared.pid} on host ${cleared.host} since ${new Date(cleared.sinceMs).toISOString()}; a runtime can open it now\n`,
    );
    return 0;
  } catch (error) {
    const code = isOffstageError(error) ? ` [${error.code}]` : "";
    options.err.write(`offstage unlock${code}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

/** Clears the holder row of the store at `path`; returns the holder it named, if any. */
function unlock(path: string): { pid: number; host: string; sinceMs: number } | undefined {
  if (isPostgresUrl(path))
    throw new OffstageError(
      "STORE_UNSUPPORTED",
      "unlock is for SQLite store files; a PostgreSQL store leases its sessions and needs no unlock",
    );
  const stat = statSync(path, { throwIfNoEntry: false });
  if (stat === undefined || stat.isDirectory() || stat.size === 0)
    throw new OffstageError("STORE_NOT_SQLITE", `${path} is not a store file: nothing to unlock`, {
      details: { path },
    });
  // Takes the lock as a runtime's boot does: STORE_LOCKED, naming the holder, while one is live.
  const { db, lock } = openDatabase(path, {
    durability: "normal",
    busyTimeoutMs: 2_000,
    checkIntegrity: false,
  });
  try {
    if (userVersion(db) === 0) return undefined;
    db.exec("BEGIN IMMEDIATE");
    try {
      const cleared = unlockStore(db);
      db.exec("COMMIT");
      return cleared;
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  } finally {
    db.close();
    lock.release();
  }
}

/** Registers `unlock` on the program. */
export function registerUnlock(program: Command): void {
  program
    .command("unlock")
    .description(
      "clear the holder a SQLite store names (a runtime on another host that is gone); refuses while a runtime holds it",
    )
    .argument("<db>", "a SQLite store file")
    .action(async (target: string) => {
      process.exitCode = await runUnlock({ target, out: process.stdout, err: process.stderr });
    });
}
