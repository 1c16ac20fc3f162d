/**
 * An open SQLite store file and the parts that live exactly as long as its connection: the group
 * commit, held writes, the WAL's fsync and checkpoint threads, the lock row, the file lock and the
 * retention sweep. {@link connect} opens, migrates and claims the file in one transaction; a
 * connection ends by {@link closeConnection} (after its last commit) or {@link abandonConnection}
 * (as `kill -9` ends a process). The order of the closes matters: the WAL's threads let go before
 * the store's connection, whose close, the last one, checkpoints the whole WAL; the file lock goes
 * last.
 *
 * @packageDocumentation
 */
import type { DatabaseSync } from "node:sqlite";
import type { RecoveredState } from "../../runtime/ports/store.js";
import { FileIdentity } from "./file-identity.js";
import { GroupCommit } from "./group-commit.js";
import { HeldWrites } from "./held-writes.js";
import { migrate } from "./migrations.js";
import { bootErrorOf, type ConnectionOptions, openDatabase } from "./open-database.js";
import { recoverState } from "./recover.js";
import type { RetentionSweep } from "./retention-sweep.js";
import { prepareStatements, type Statements } from "./statements.js";
import { claimLock, type FileLock, type LockHolder } from "./store-lock.js";
import { WalCheckpointer } from "./wal-checkpointer.js";
import { WalSync } from "./wal-sync.js";

export interface Connection {
  readonly db: DatabaseSync;
  readonly sql: Statements;
  readonly group: GroupCommit;
  readonly held: HeldWrites;
  readonly walSync: WalSync | undefined;
  readonly checkpointer: WalCheckpointer | undefined;
  readonly lock: LockHolder;
  readonly fileLock: FileLock;
  readonly sweep: RetentionSweep;
  sweepTimer: NodeJS.Timeout | undefined;
}

/** What must be let go of a connection, made or half made. */
type Held = Pick<Connection, "db" | "group" | "walSync" | "checkpointer" | "fileLock">;

/**
 * Opens `path`, and in one transaction (the lock check and claim under the file's write lock with
 * the migrations) migrates it, claims it and reads what must be recovered. Throws `BootError`, with
 * everything it opened closed again.
 */
export function connect(
  path: string,
  options: ConnectionOptions,
  groupCommitMs: number,
  paged: boolean,
  sweepOf: (db: DatabaseSync, group: GroupCommit) => RetentionSweep,
): { conn: Connection; state: RecoveredState } {
  const { db, syncWal, lock: fileLock, wal } = openDatabase(path, options);
  const walSync = syncWal === undefined ? undefined : new WalSync(syncWal);
  const checkpointer = wal ? new WalCheckpointer(db, path) : undefined;
  const group = new GroupCommit(db, path, groupCommitMs, walSync, new FileIdentity(path), checkpointer);
  try {
    group.write();
    migrate(db, path);
    const lock = claimLock(db, path, Date.now());
    const sql = prepareStatements(db);
    const state = recoverState(sql, group, paged);
    group.flush();
    const held = new HeldWrites(sql, group);
    const sweep = sweepOf(db, group);
    const conn = {
      db,
      sql,
      group,
      held,
      walSync,
      checkpointer,
      lock,
      fileLock,
      sweep,
      sweepTimer: undefined,
    };
    return { conn, state };
  } catch (error) {
    abandonConnection({ db, group, walSync, checkpointer, fileLock });
    throw bootErrorOf(error, path, "opening");
  }
}

/** Closes a connection whose last commit is done. */
export async function closeConnection(conn: Held): Promise<void> {
  await conn.checkpointer?.close();
  closeFiles(conn);
}

/** Drops a connection as the death of its process would: the open group is lost. */
export function abandonConnection(conn: Held): void {
  conn.group.rollback();
  conn.checkpointer?.abandon();
  closeFiles(conn);
}

function closeFiles(conn: Held): void {
  conn.walSync?.close();
  conn.db.close();
  conn.checkpointer?.release();
  conn.fileLock.release();
}
