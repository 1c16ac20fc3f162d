/**
 * The SQLite store's schema, as numbered forward-only migrations. The file's `user_version` is the
 * number of the last migration applied, and `application_id` marks the file as Offstage's. Migrations
 * run at boot inside the boot transaction, so a file is never left half-migrated; a file whose
 * version is newer than this code knows is refused before anything is written.
 *
 * To change the schema, append a migration; never edit one that has shipped.
 *
 * @packageDocumentation
 */
import type { DatabaseSync } from "node:sqlite";
import { BootError } from "../../errors.js";

/** `OFST` in ASCII: tells an Offstage file from any other SQLite file. */
export const APPLICATION_ID = 0x4f465354;

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "sessions, inputs, turns, history, lock",
    sql: `
      -- The runtime that holds the file open (one row at most): who it is, for STORE_LOCKED messages.
      CREATE TABLE store_lock (
        id       INTEGER PRIMARY KEY CHECK (id = 1),
        token    TEXT    NOT NULL,
        pid      INTEGER NOT NULL,
        host     TEXT    NOT NULL,
        since_ms INTEGER NOT NULL
      );

      CREATE TABLE sessions (
        id            TEXT    PRIMARY KEY,
        agent         TEXT    NOT NULL,
        created_at_ms INTEGER NOT NULL
      );

      -- status: queued | running | a terminal status. steer_step: the turn's checkpointed step when
      -- the input was steered into it (NULL unless steered), which decides how recovery treats it.
      -- delegation_id: set when the input carries a background child's completion.
      CREATE TABLE inputs (
        id              TEXT    PRIMARY KEY,
        session_id      TEXT    NOT NULL,
        seq             INTEGER NOT NULL UNIQUE,
        payload         TEXT    NOT NULL,
        policy          TEXT    NOT NULL,
        idempotency_key TEXT,
        accepted_at_ms  INTEGER NOT NULL,
        delegation_id   TEXT,
        status          TEXT    NOT NULL,
        turn_id         TEXT,
        steer_step      INTEGER,
        outcome         TEXT,
        ended_at_ms     INTEGER
      );
      CREATE UNIQUE INDEX inputs_by_key ON inputs (session_id, idempotency_key)
        WHERE idempotency_key IS NOT NULL;
      CREATE INDEX inputs_queued ON inputs (seq) WHERE status = 'queued';
      CREATE INDEX inputs_by_turn ON inputs (turn_id) WHERE status = 'running';

      -- A turn keeps its last checkpoint (step, messages) while it runs; ended_at_ms marks its end.
      CREATE TABLE turns (
        id            TEXT    PRIMARY KEY,
        session_id    TEXT    NOT NULL,
        attempt       INTEGER NOT NULL,
        input_ids     TEXT    NOT NULL,
        started_at_ms INTEGER NOT NULL,
        step          INTEGER NOT NULL DEFAULT 0,
        messages      TEXT    NOT NULL DEFAULT '[]',
        outcome       TEXT,
        usage         TEXT,
        ended_at_ms   INTEGER
      );
      CREATE INDEX turns_running ON turns (started_at_ms, id) WHERE ended_at_ms IS NULL;

      CREATE TABLE history (
        id         INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL,
        turn_id    TEXT NOT NULL,
        message    TEXT NOT NULL
      );
      CREATE INDEX history_by_session ON history (session_id, id);
    `,
  },
  {
    version: 2,
    name: "delegations",
    sql: `
      -- One row per background child, in dispatch order (rowid). record: what was dispatched (JSON,
      -- never changes); completion: how the child ended (JSON), written once, in the same transaction
      -- as the child's last turn end; delivery: pending | held | delivered | dropped.
      CREATE TABLE delegations (
        id                TEXT PRIMARY KEY,
        parent_session_id TEXT NOT NULL,
        record            TEXT NOT NULL,
        completion        TEXT,
        delivery          TEXT,
        delivery_reason   TEXT,
        delivery_input_id TEXT
      );
      CREATE INDEX delegations_by_parent ON delegations (parent_session_id);

      -- What each delegation tree (named by its top-level session) has spent, for its budget.
      CREATE TABLE delegation_spend (
        root_session_id TEXT    PRIMARY KEY,
        model_calls     INTEGER NOT NULL,
        tokens          INTEGER NOT NULL
      );
    `,
  },
  {
    version: 3,
    name: "history per turn",
    sql: `
      -- One row per turn that left messages (a JSON array of them), instead of one per message: a
      -- turn end writes one row and one index entry, however many messages it appends. A turn's
      -- messages were appended together, so their ids are consecutive and the first id orders the
      -- turn; the text is joined, not re-encoded, so every message keeps its exact JSON.
      ALTER TABLE history RENAME TO history_per_message;
      CREATE TABLE history (
        id         INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL,
        turn_id    TEXT NOT NULL,
        messages   TEXT NOT NULL
      );
      INSERT INTO history (id, session_id, turn_id, messages)
        SELECT min(id), session_id, turn_id, '[' || group_concat(message, ',' ORDER BY id) || ']'
        FROM history_per_message GROUP BY session_id, turn_id;
      DROP TABLE history_per_message;
      CREATE INDEX history_by_session ON history (session_id, id);
    `,
  },
  {
    version: 4,
    name: "retention and per-session recovery",
    sql: `
      -- Ended inputs in the order retention forgets them (retention-sweep.ts): all of them, and those
      -- with an idempotency key, each bounded on its own. An input gains its entry as it ends.
      CREATE INDEX inputs_ended ON inputs (ended_at_ms, seq) WHERE ended_at_ms IS NOT NULL;
      CREATE INDEX inputs_ended_keyed ON inputs (ended_at_ms, seq)
        WHERE ended_at_ms IS NOT NULL AND idempotency_key IS NOT NULL;
      -- An ended turn is deleted with the last input that takes its outcome from it: inputs stay
      -- indexed by turn once it ended too (an input keeps its turn_id as it ends, so ending one
      -- changes this index no more than the old one, which dropped the entry).
      DROP INDEX inputs_by_turn;
      CREATE INDEX inputs_by_turn ON inputs (turn_id) WHERE turn_id IS NOT NULL;
      -- Recovery reads queued inputs session by session (recover.ts), so it replaces the index by seq.
      DROP INDEX inputs_queued;
      CREATE INDEX inputs_queued_by_session ON inputs (session_id, seq) WHERE status = 'queued';
    `,
  },
  {
    version: 5,
    name: "session events",
    sql: `
      -- Each session's recorded events (JSON), numbered from 1; retention trims the oldest. Rows go
      -- in append order (rowid), so an append writes the table's last page, not one per session.
      CREATE TABLE session_events (
        id         INTEGER PRIMARY KEY,
        session_id TEXT    NOT NULL,
        seq        INTEGER NOT NULL,
        at_ms      INTEGER NOT NULL,
        event      TEXT    NOT NULL
      );
      CREATE UNIQUE INDEX session_events_by_seq ON session_events (session_id, seq);
      -- The last number trimmed per session: a session's last number is the larger of its newest
      -- event's and this, so trimming every event never lets a number be given twice.
      CREATE TABLE session_event_seq (
        session_id TEXT    PRIMARY KEY,
        last_seq   INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Throws `BootError` `STORE_TOO_NEW` for a file migrated by a newer release of Offstage. */
export function assertNotNewer(version: number, path: string): void {
  if (version > SCHEMA_VERSION) {
    throw new BootError(
      "STORE_TOO_NEW",
      `${path} has schema version ${version}; this release of Offstage knows versions up to ${SCHEMA_VERSION}. ` +
        "Upgrade Offstage to open it (the file was left untouched).",
      { details: { path, version, supported: SCHEMA_VERSION } },
    );
  }
}

/**
 * Applies every migration above the file's version. Runs inside the caller's transaction, so a failure
 * rolls all of them back with it.
 */
export function migrate(db: DatabaseSync, path: string): void {
  const version = userVersion(db);
  assertNotNewer(version, path);
  for (const migration of MIGRATIONS) {
    if (migration.version <= version) continue;
    db.exec(migration.sql);
    db.exec(`PRAGMA user_version = ${migration.version}`);
  }
  if (version === 0) db.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
}

export function userVersion(db: DatabaseSync): number {
  return Number((db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version);
}
