/**
 * The PostgreSQL store's schema, as numbered forward-only migrations, all in the store's own schema
 * (`options.schema`). Boot runs them in one transaction that first takes an advisory lock named
 * after the schema, so processes booting at once migrate once: the first applies what is missing,
 * the others wait for its commit and then find nothing to do. A schema migrated by a newer release
 * is refused (`STORE_TOO_NEW`) before anything is written.
 *
 * To change the schema, append a migration; never edit one that has shipped. `{s}` stands for the
 * quoted schema name.
 *
 * @packageDocumentation
 */
import type pg from "pg";
import { BootError } from "../../errors.js";

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "processes, sessions and their leases, inputs, turns, history, delegations",
    sql: `
      -- A process that holds leases: alive while alive_until_ms (the server's clock) is ahead.
      CREATE TABLE {s}.processes (
        id             TEXT   PRIMARY KEY,
        host           TEXT   NOT NULL,
        pid            INTEGER NOT NULL,
        alive_until_ms BIGINT NOT NULL
      );

      -- owner: the process whose lease runs the session's turns (NULL: free). epoch goes up at
      -- every change of owner; a turn write carries the epoch it was made under and matches only
      -- while it is current (the fence).
      CREATE TABLE {s}.sessions (
        id            TEXT    PRIMARY KEY,
        agent         TEXT    NOT NULL,
        created_at_ms BIGINT  NOT NULL,
        owner         TEXT,
        epoch         BIGINT  NOT NULL DEFAULT 0
      );
      CREATE INDEX sessions_by_owner ON {s}.sessions (owner);

      -- status: queued | running | a terminal status. steer_step: the turn's checkpointed step when
      -- the input was steered into it (NULL unless steered). ord: insert order, which breaks ties of
      -- seq between processes. taken_by: the process whose runtime has it in an inbox (NULL for
      -- input accepted for a session another process holds, until that process takes it up).
      -- end_request: a cancel or withdraw asked from a process that does not hold the session, for
      -- the holder to carry out (JSON).
      CREATE TABLE {s}.inputs (
        id              TEXT    PRIMARY KEY,
        ord             BIGSERIAL,
        session_id      TEXT    NOT NULL,
        seq             BIGINT  NOT NULL,
        payload         TEXT    NOT NULL,
        policy          TEXT    NOT NULL,
        idempotency_key TEXT,
        accepted_at_ms  BIGINT  NOT NULL,
        delegation_id   TEXT,
        status          TEXT    NOT NULL,
        turn_id         TEXT,
        steer_step      INTEGER,
        outcome         TEXT,
        ended_at_ms     BIGINT,
        taken_by        TEXT,
        end_request     TEXT
      );
      CREATE UNIQUE INDEX inputs_by_key ON {s}.inputs (session_id, idempotency_key)
        WHERE idempotency_key IS NOT NULL;
      CREATE INDEX inputs_live ON {s}.inputs (session_id, seq, ord) WHERE status IN ('queued', 'running');
      CREATE INDEX inputs_by_turn ON {s}.inputs (turn_id) WHERE status = 'running';

      CREATE TABLE {s}.turns (
        id            TEXT    PRIMARY KEY,
        session_id    TEXT    NOT NULL,
        attempt       INTEGER NOT NULL,
        input_ids     TEXT    NOT NULL,
        started_at_ms BIGINT  NOT NULL,
        step          INTEGER NOT NULL DEFAULT 0,
        messages      TEXT    NOT NULL DEFAULT '[]',
        outcome       TEXT,
        usage         TEXT,
        ended_at_ms   BIGINT
      );
      CREATE INDEX turns_running ON {s}.turns (session_id) WHERE ended_at_ms IS NULL;

      CREATE TABLE {s}.history (
        id         BIGSERIAL PRIMARY KEY,
        session_id TEXT NOT NULL,
        turn_id    TEXT NOT NULL UNIQUE,
        messages   TEXT NOT NULL
      );
      CREATE INDEX history_by_session ON {s}.history (session_id, id);

      CREATE TABLE {s}.delegations (
        id                TEXT PRIMARY KEY,
        ord               BIGSERIAL,
        parent_session_id TEXT NOT NULL,
        record            TEXT NOT NULL,
        completion        TEXT,
        delivery          TEXT,
        delivery_reason   TEXT,
        delivery_input_id TEXT
      );
      CREATE INDEX delegations_by_parent ON {s}.delegations (parent_session_id, ord);

      CREATE TABLE {s}.delegation_spend (
        root_session_id TEXT    PRIMARY KEY,
        model_calls     INTEGER NOT NULL,
        tokens          BIGINT  NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: "retention: ended inputs in end order, and how far the sweeps have looked through history",
    sql: `
      -- Ended inputs in the order retention forgets them (retention-sweep.ts): all of them, and
      -- those with an idempotency key. ord (unique, insert order) breaks ties of ended_at_ms. Built
      -- in the boot transaction, so processes of the older release wait for it to write inputs.
      CREATE INDEX inputs_ended ON {s}.inputs (ended_at_ms, ord) WHERE ended_at_ms IS NOT NULL;
      CREATE INDEX inputs_ended_keyed ON {s}.inputs (ended_at_ms, ord)
        WHERE ended_at_ms IS NOT NULL AND idempotency_key IS NOT NULL;

      -- One row, written only by the process that holds the fleet's sweep lock: history rows up to
      -- history_seen_id have been looked at (their sessions trimmed) under the bound
      -- history_turns_max (NULL: none yet), and a sweep with a lower bound looks through all
      -- again; the last round of sweeps, by any process, ended at round_ended_at.
      CREATE TABLE {s}.retention_marks (
        id                INTEGER     PRIMARY KEY CHECK (id = 1),
        history_seen_id   BIGINT      NOT NULL DEFAULT 0,
        history_turns_max BIGINT,
        round_ended_at    TIMESTAMPTZ NOT NULL DEFAULT '-infinity'
      );
      INSERT INTO {s}.retention_marks (id) VALUES (1);
    `,
  },
  {
    version: 3,
    name: "the event log: each session's numbered events, and the last number trimmed",
    sql: `
      -- One row per recorded event; seq is the session's number (1, 2, ...), given by the process
      -- that held the session's lease when it recorded the event.
      CREATE TABLE {s}.events (
        session_id TEXT   NOT NULL,
        seq        BIGINT NOT NULL,
        at_ms      BIGINT NOT NULL,
        event      TEXT   NOT NULL,
        PRIMARY KEY (session_id, seq)
      );

      -- The highest number trimming removed, per session, so a session whose events are all
      -- trimmed still continues from its last number (never gives one twice).
      CREATE TABLE {s}.event_trims (
        session_id TEXT   PRIMARY KEY,
        last_seq   BIGINT NOT NULL
      );
    `,
  },
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/**
 * Applies every migration the schema lacks, in one transaction under the schema's advisory lock.
 * Throws `BootError` `STORE_TOO_NEW` (and writes nothing) for a schema a newer release migrated.
 * Returns the versions it applied.
 */
export async function migrate(client: pg.ClientBase, schema: string, where: string): Promise<number[]> {
  const s = quoteIdent(schema);
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [`offstage:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT    NOT NULL,
      applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query(`SELECT coalesce(max(version), 0) AS version FROM ${s}.migrations`);
    const version = Number((rows[0] as { version: number }).version);
    if (version > SCHEMA_VERSION) {
      throw new BootError(
        "STORE_TOO_NEW",
        `${where} schema ${JSON.stringify(schema)} has version ${version}; this release of Offstage knows versions up to ${SCHEMA_VERSION}. ` +
          "Upgrade Offstage to open it (nothing was written).",
        { details: { schema, version, supported: SCHEMA_VERSION } },
      );
    }
    const applied: number[] = [];
    for (const migration of MIGRATIONS) {
      if (migration.version <= version) continue;
      await client.query(migration.sql.replaceAll("{s}", s));
      await client.query(`INSERT INTO ${s}.migrations (version, name) VALUES ($1, $2)`, [
        migration.version,
        migration.name,
      ]);
      applied.push(migration.version);
    }
    await client.query("COMMIT");
    return applied;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}

/** A schema name as a quoted identifier (names are checked by the store's options first). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
