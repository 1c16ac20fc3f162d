/**
 * The PostgreSQL server the tests use: `OFFSTAGE_TEST_PG` or `postgres://postgres@127.0.0.1:5432/test`
 * (`.ci/run` starts it). A test file that needs it calls {@link requireServer} in `beforeAll`: when
 * the server is missing the file fails with a message saying so — it never skips.
 */
import pg from "pg";

export const PG_URL = process.env.OFFSTAGE_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/test";

/** Fails with a clear message when the server cannot be reached. */
export async function requireServer(): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
  } catch (error) {
    throw new Error(
      `these tests need PostgreSQL at ${PG_URL} (set OFFSTAGE_TEST_PG, or run .ci/run, which starts it): ${(error as Error).message}`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

let made = 0;

/** A schema name no other test file or process uses. */
export function uniqueSchema(prefix: string): string {
  made += 1;
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${made}`;
}

/** Runs one statement on a connection of its own. */
export async function sql<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Drops the schemas, and everything in them. */
export async function dropSchemas(schemas: readonly string[]): Promise<void> {
  if (schemas.length === 0) return;
  await sql(`DROP SCHEMA IF EXISTS ${schemas.map((s) => `"${s}"`).join(", ")} CASCADE`);
}
