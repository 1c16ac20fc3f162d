/**
 * Retention: what a store forgets so that a long-lived process does not grow without bound. Every
 * store takes the same options and applies the same rules: the memory store as it writes, the SQLite
 * store in the background (`sqlite/retention-sweep.ts`), the PostgreSQL store in the background too,
 * one process of the fleet at a time (`postgres/fleet-sweep.ts`).
 *
 * - An ended input is forgotten, with its idempotency key, once it is beyond the newest
 *   `endedInputsMax` ended inputs or ended more than `endedInputAgeMaxMs` before the newest end.
 * - An ended input with an idempotency key is also forgotten once it is beyond the newest
 *   `idempotencyKeysMax` ended inputs with a key, or ended more than `idempotencyKeyAgeMaxMs` before
 *   the newest end. A key stays live while its input is queued or running, whatever the bounds.
 * - A session's history keeps the messages of its newest `historyTurnsMax` turns, when that is set;
 *   by default it is kept whole (it is the session's memory: only its owner may bound it).
 *
 * Ages count from the newest end the store holds, in the runtime's own clock (the times its writes
 * carry), not from the wall clock: a store that is idle, or driven by a virtual clock, forgets
 * exactly what its writes say is old.
 *
 * @packageDocumentation
 */
import { checkPositiveInteger, type Subject } from "../validate.js";

/**
 * Retention options, shared by `createMemoryStore`, `createSqliteStore` and `createPostgresStore`
 * (see each for its defaults).
 */
export interface RetentionOptions {
  /** Ended inputs kept for `runtime.handle(id)` and idempotency look-ups; the oldest are forgotten. */
  readonly endedInputsMax?: number;
  /** An ended input is forgotten once it ended this long before the newest end (default: no age bound). */
  readonly endedInputAgeMaxMs?: number;
  /** Ended inputs with an idempotency key kept; beyond it the oldest are forgotten, key and all. */
  readonly idempotencyKeysMax?: number;
  /** An ended input's idempotency key is forgotten once it ended this long before the newest end (default: no age bound). */
  readonly idempotencyKeyAgeMaxMs?: number;
  /** The newest turns whose messages each session's history keeps (default: the whole history). */
  readonly historyTurnsMax?: number;
}

/** Retention with every bound set; `Infinity` where there is none. */
export type Retention = { readonly [K in keyof RetentionOptions]-?: number };

/** What a background sweep deleted (the SQLite and PostgreSQL stores), for tests and `stats()`. */
export interface SweepCounts {
  readonly inputs: number;
  readonly turns: number;
  readonly historyRows: number;
}

/** The keys of {@link RetentionOptions}, for `checkOptions`. */
export const RETENTION_KEYS: readonly string[] = Object.keys({
  endedInputsMax: true,
  endedInputAgeMaxMs: true,
  idempotencyKeysMax: true,
  idempotencyKeyAgeMaxMs: true,
  historyTurnsMax: true,
} satisfies Record<keyof RetentionOptions, true>);

/**
 * The keys a store's options take: its own (every key of its options type but the retention ones,
 * each listed once, as the type checks) and the retention ones, for `checkOptions`.
 */
export function storeOptionKeys<T extends RetentionOptions>(
  own: Record<Exclude<keyof T, keyof RetentionOptions>, true>,
): readonly string[] {
  return [...Object.keys(own), ...RETENTION_KEYS];
}

/**
 * The retention `given` asks for, checked (each bound a positive integer; ages need not fit a timer,
 * they are compared, never waited for), the counts defaulting to `defaults`.
 */
export function retentionOf(
  subject: Subject,
  given: RetentionOptions,
  defaults: { readonly endedInputsMax: number; readonly idempotencyKeysMax: number },
): Retention {
  const bound = (name: keyof RetentionOptions, fallback: number): number => {
    const value = given[name];
    if (value === undefined) return fallback;
    checkPositiveInteger(subject, name, value);
    return value;
  };
  return {
    endedInputsMax: bound("endedInputsMax", defaults.endedInputsMax),
    endedInputAgeMaxMs: bound("endedInputAgeMaxMs", Number.POSITIVE_INFINITY),
    idempotencyKeysMax: bound("idempotencyKeysMax", defaults.idempotencyKeysMax),
    idempotencyKeyAgeMaxMs: bound("idempotencyKeyAgeMaxMs", Number.POSITIVE_INFINITY),
    historyTurnsMax: bound("historyTurnsMax", Number.POSITIVE_INFINITY),
  };
}
