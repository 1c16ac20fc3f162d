/**
 * What a test file makes on the PostgreSQL server, undone after it. A file calls {@link onServer}
 * once at its top level: it fails when the server is missing (never skips), disposes what a test
 * kept after that test — newest first, so a runtime stops before the store or proxy it uses — and
 * drops the file's schemas after the file.
 */
import { afterAll, afterEach, beforeAll } from "vitest";
import { createPostgresStore, type PostgresStore } from "../../src/store/postgres/index.js";
import { dropSchemas, PG_URL, requireServer, uniqueSchema } from "./server.js";

type StoreOptions = Partial<Parameters<typeof createPostgresStore>[0]>;

/** See {@link onServer}. */
export interface ServerFixture {
  /** A schema no other test or process uses, dropped after the file. */
  schema(prefix: string): string;
  /** A store on the test server and `schema`, kept (see {@link ServerFixture.keep}). */
  store(schema: string, options?: StoreOptions): PostgresStore;
  /** Keeps `item` to be disposed after the test; returns it. */
  keep<T extends AsyncDisposable>(item: T): T;
  /** Disposes what the tests kept so far, newest first (done after each test anyway). */
  disposeKept(): Promise<void>;
}

export function onServer(): ServerFixture {
  const schemas: string[] = [];
  const kept: AsyncDisposable[] = [];
  const disposeKept = async () => {
    for (const item of kept.splice(0).reverse()) await item[Symbol.asyncDispose]();
  };
  beforeAll(requireServer);
  afterEach(disposeKept);
  afterAll(() => dropSchemas(schemas));
  return {
    schema(prefix) {
      const schema = uniqueSchema(prefix);
      schemas.push(schema);
      return schema;
    },
    store(schema, options = {}) {
      return this.keep(createPostgresStore({ connectionString: PG_URL, schema, ...options }));
    },
    keep(item) {
      kept.push(item);
      return item;
    },
    disposeKept,
  };
}
