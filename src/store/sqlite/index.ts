/**
 * `offstage/sqlite`: the embedded SQLite store, on Node's built-in `node:sqlite`. It is the store
 * `createRuntime` uses when given none; import it to choose the file, the durability, the group
 * commit window or retention.
 *
 * @packageDocumentation
 */

export type { SweepCounts } from "./retention-sweep.js";
export {
  createSqliteStore,
  type SqliteStore,
  type SqliteStoreOptions,
  type SqliteStoreStats,
} from "./sqlite-store.js";
