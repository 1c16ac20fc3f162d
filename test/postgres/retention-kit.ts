/**
 * What the PostgreSQL retention tests (`retention.test.ts`, `retention-histories.test.ts`) build on:
 * inputs ended in bulk, answered turns, counts read from the database, a connection of the test's
 * own, the fleet's sweep lock held from outside, two processes on one schema.
 */
import pg from "pg";
import { expect } from "vitest";
import type { Store } from "../../src/index.js";
import type { PostgresStore } from "../../src/store/postgres/index.js";
import type { RetentionOptions } from "../../src/store/retention.js";
import { answeredTurn } from "../support/turns.js";
import type { ServerFixture } from "./on-server.js";
import { PG_URL, sql } from "./server.js";

const CANCELLED = { code: "cancel_requested", message: "no" } as const;

/** The seq (and end time) of the last input written, across the file's tests. */
let seq = 0;

/**
 * Ends `count` inputs of a new session of `store` without a turn (every `keyEvery`-th with an
 * idempotency key, each ending one millisecond after the last), and leaves `queued` more queued,
 * spread among them; commits. Returns the ids of both, the ended in end order.
 */
export async function endInputs(
  store: Store,
  session: string,
  count: number,
  { queued = 0, keyEvery = 0 }: { queued?: number; keyEvery?: number } = {},
): Promise<{ live: string[]; ended: string[] }> {
  store.createSession({ id: session, agent: "a", createdAtMs: 1 });
  const live: string[] = [];
  const ended: string[] = [];
  const total = count + queued;
  const every = Math.floor(total / (queued + 1));
  for (let n = 1; n <= total; n++) {
    seq += 1;
    const id = `${session}-i${n}`;
    const idempotencyKey = keyEvery > 0 && n % keyEvery === 0 ? `k${n}` : undefined;
    store.accept({
      id,
      sessionId: session,
      seq,
      payload: n,
      policy: "enqueue",
      idempotencyKey,
      acceptedAtMs: seq,
    });
    if (live.length < queued && n % every === 0) {
      live.push(id);
      continue;
    }
    ended.push(id);
    store.endInput({
      inputId: id,
      sessionId: session,
      status: "cancelled",
      reason: CANCELLED,
      endedAtMs: seq,
    });
  }
  await store.commit();
  return { live, ended };
}

/** Runs one turn of `session` that adds a question and an answer to its history. */
export function turn(store: Store, session: string, n: number): void {
  seq += 1;
  const id = `${session}-t${n}`;
  store.accept({ id, sessionId: session, seq, payload: n, policy: "enqueue", acceptedAtMs: seq });
  answeredTurn(store, { sessionId: session, turnId: id, inputId: id, n, atMs: seq });
}

export async function count(schema: string, where: string): Promise<number> {
  const [row] = await sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".inputs WHERE ${where}`);
  return row!.n;
}

/** Polls `read` until it gives `expected` (the background sweep's pace is the wall clock's). */
export async function settlesAt<T>(read: () => Promise<T>, expected: T, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = await read();
  while (JSON.stringify(last) !== JSON.stringify(expected) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    last = await read();
  }
  expect(last).toEqual(expected);
}

/** Two stores on a new schema with the same retention, as two processes of a fleet, opened. */
export async function twoProcesses(
  server: ServerFixture,
  retention: RetentionOptions,
): Promise<{ schema: string; a: PostgresStore; b: PostgresStore }> {
  const schema = server.schema("pgr");
  const [a, b] = ["a", "b"].map((processId) => server.store(schema, { processId, ...retention }));
  await Promise.all([a!.open(), b!.open()]);
  return { schema, a: a!, b: b! };
}

/** A connection of the test's own, ended as a kept item is. */
export async function connected(): Promise<pg.Client & AsyncDisposable> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  return Object.assign(client, { [Symbol.asyncDispose]: () => client.end() });
}

/** Holds the schema's sweep lock on a connection of its own until `release()`. */
export async function holdSweepLock(schema: string): Promise<{ release(): Promise<void> }> {
  const client = await connected();
  await client.query("SELECT pg_advisory_lock(hashtextextended($1, 0))", [`offstage-retention:${schema}`]);
  return {
    async release() {
      await client.end();
    },
  };
}

/** The backends of `store`'s sweep connection. */
export async function sweepBackends(store: PostgresStore): Promise<number[]> {
  const rows = await sql<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1", [
    `offstage ${store.processId} sweep`,
  ]);
  return rows.map((row) => row.pid);
}
