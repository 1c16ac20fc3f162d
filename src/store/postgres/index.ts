/**
 * `offstage/postgres`: the PostgreSQL store, for many processes on many machines sharing one
 * database. It needs the `pg` package (`npm i pg@8`), an optional peer dependency of Offstage.
 *
 * @packageDocumentation
 */
export { createPostgresStore, type PostgresStore, type PostgresStoreOptions } from "./postgres-store.js";
