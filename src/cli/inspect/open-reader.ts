/**
 * Which reader a target of `offstage inspect` needs: a `postgres://` or `postgresql://` URL names a
 * PostgreSQL store (`postgres-reader.ts`), anything else a SQLite file (`sqlite-reader.ts`).
 *
 * @packageDocumentation
 */
import { OffstageError } from "../../errors.js";
import { openPostgresReader, type PostgresReaderOptions } from "./postgres-reader.js";
import { openSqliteReader, type SqliteReaderOptions } from "./sqlite-reader.js";
import type { StoreReader } from "./store-reader.js";

/** Options of {@link openReader}: each applies to its kind of store. */
export type ReaderOptions = SqliteReaderOptions & PostgresReaderOptions;

/** True for a target that names a PostgreSQL database. */
export function isPostgresUrl(target: string): boolean {
  return /^postgres(ql)?:\/\//i.test(target);
}

/** Opens a read-only reader of the store `target` names. */
export async function openReader(target: string, options: ReaderOptions = {}): Promise<StoreReader> {
  if (isPostgresUrl(target)) return openPostgresReader(target, options);
  if (options.schema !== undefined)
    throw new OffstageError(
      "INVALID_ARGUMENT",
      `--schema names a PostgreSQL store's schema; ${target} is a SQLite file`,
      { details: { target } },
    );
  return openSqliteReader(target, options);
}
