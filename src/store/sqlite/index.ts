/**
 * `offstage/sqlite`: the embedded SQLite store, on Node's built-in `node:sqlite`. It is the store
 * `createRuntime` uses when given none; import it to choose the file, the durability, the group
 * commit window or retention.
 *
 * @packageDocumentation
 */

export type { SweepCounts } from "../retention.js";
export type { SqliteStore, SqliteStoreStats } from "./sqlite-store.js";
export { createSqliteStore, type SqliteStoreOptions } from "./sqlite-store-options.js";
