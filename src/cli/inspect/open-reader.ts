/**
 * Which reader a target of `offstage inspect` needs: a `postgres://` or `postgresql://` URL names a
 * PostgreSQL store, anything else a SQLite file.
 *
 * PostgreSQL: the reader of a PostgreSQL store implements `StoreReader` on that store's tables with
 * `pg`, in a `READ ONLY` transaction (`BEGIN READ ONLY`), and is chosen here. It waits for
 * `src/store/postgres` (issue #18) to land; until then such a target is refused with a clear error.
 *
 * @packageDocumentation
 */
import { OffstageError } from "../../errors.js";
import { openSqliteReader, type SqliteReaderOptions } from "./sqlite-reader.js";
import type { StoreReader } from "./store-reader.js";

/** True for a target that names a PostgreSQL database. */
export function isPostgresUrl(target: string): boolean {
  return /^postgres(ql)?:\/\//i.test(target);
}

/** Opens a read-only reader of the store `target` names. */
export async function openReader(target: string, options: SqliteReaderOptions = {}): Promise<StoreReader> {
  if (isPostgresUrl(target))
    throw new OffstageError(
      "STORE_UNSUPPORTED",
      "inspect cannot read PostgreSQL stores yet (it reads SQLite store files); the PostgreSQL reader follows the PostgreSQL store",
      { details: { target: target.replace(/\/\/[^@/]*@/, "//***@") } },
    );
  return openSqliteReader(target, options);
}
