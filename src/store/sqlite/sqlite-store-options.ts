/**
 * The SQLite store's options ({@link SqliteStoreOptions}), checked by {@link createSqliteStore}.
 *
 * @packageDocumentation
 */
import { resolve } from "node:path";
import { DEFAULTS } from "../../kernel/limits.js";
import { checkBoolean, checkDurationMs, checkOneOf, checkOptions, fail, optionsOf } from "../../validate.js";
import { type RetentionOptions, retentionOf, storeOptionKeys } from "../retention.js";
import { SqliteStore } from "./sqlite-store.js";

/**
 * Options of {@link createSqliteStore}. Retention ({@link RetentionOptions}) is applied in the
 * background, about once a second, between commits: by default the newest 100 000 ended inputs are
 * kept (`endedInputsMax`), of them at most 100 000 with an idempotency key (`idempotencyKeysMax`), with
 * no age bound, and every session's whole history.
 */
export interface SqliteStoreOptions extends RetentionOptions {
  /** The database file (default `./.offstage/offstage.db`, from the working directory); its folder is created. */
  readonly path?: string;
  /**
   * `full` (default): every commit is fsynced before `commit()` resolves, so it survives a power
   * loss. `normal`: commits reach the OS but are fsynced only at checkpoints; they survive `kill -9`
   * of the process, not a power loss or an OS crash. These are SQLite's `synchronous = FULL` and
   * `NORMAL` in WAL mode, except that `full`'s fsync runs off the event loop's thread.
   */
  readonly durability?: "full" | "normal";
  /**
   * How long a group of writes stays open before it commits, in milliseconds (default 2; 0 commits
   * at the next turn of the event loop). Longer windows put more writes in one transaction (fewer
   * fsyncs) and make each `durable` receipt wait longer. A group of 64 writes or more that someone
   * waits for commits sooner, once a turn of the event loop passes without adding to it; with
   * durability `normal`, any group someone waits for.
   */
  readonly groupCommitMs?: number;
  /** How long boot waits for another connection's write transaction on the file (default 5 000 ms). */
  readonly busyTimeoutMs?: number;
  /**
   * Scan the whole file (`PRAGMA quick_check`) at open, before anything is written to it, so damage
   * anywhere is refused with `STORE_CORRUPT` and the file left untouched (default false: damage is
   * found where boot reads, elsewhere when it is read). Costs about 3 ms per MB of file.
   */
  readonly checkIntegrity?: boolean;
}

/**
 * Creates a SQLite store; nothing is opened until the runtime starts (`open()`). Throws `BootError`
 * `INVALID_OPTIONS` for bad options.
 *
 * @example
 * const runtime = createRuntime({
 *   agents: { assistant },
 *   store: createSqliteStore({ path: "./data/offstage.db" }),
 * });
 * await runtime.start(); // BootError STORE_LOCKED, STORE_CORRUPT, ... when the file cannot be used
 */
export function createSqliteStore(options: SqliteStoreOptions = {}): SqliteStore {
  const given = checkOptions(OPTIONS, "options", options, SQLITE_STORE_KEYS);
  const { path = "./.offstage/offstage.db", durability = "full", groupCommitMs = 2 } = given;
  const busyTimeoutMs = given.busyTimeoutMs ?? 5_000;
  if (typeof path !== "string" || path === "") fail(OPTIONS, "path", path, "a non-empty string");
  checkOneOf(OPTIONS, "durability", durability, ["full", "normal"]);
  // Both become timers (a Node timer, SQLite's busy handler): longer than a timer honours is refused.
  checkDurationMs(OPTIONS, "groupCommitMs", groupCommitMs);
  checkDurationMs(OPTIONS, "busyTimeoutMs", busyTimeoutMs, { integer: true });
  const checkIntegrity = given.checkIntegrity ?? false;
  checkBoolean(OPTIONS, "checkIntegrity", checkIntegrity);
  const retention = retentionOf(OPTIONS, given, DEFAULTS.sqliteStore);
  return new SqliteStore(
    resolve(path),
    { durability, busyTimeoutMs, checkIntegrity },
    groupCommitMs,
    retention,
  );
}

const OPTIONS = optionsOf("createSqliteStore()");

const SQLITE_STORE_KEYS = storeOptionKeys<SqliteStoreOptions>({
  path: true,
  durability: true,
  groupCommitMs: true,
  busyTimeoutMs: true,
  checkIntegrity: true,
});
