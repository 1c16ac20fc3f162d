/**
 * The thrown-error family. Every error Offstage throws is an {@link OffstageError} with a stable
 * `code`; subclasses exist only where callers branch on them. Terminal turn outcomes are data
 * (`TurnResult`), never thrown, except where a waiter asked for a value that cannot exist
 * ({@link TurnCancelled}) or gave up waiting ({@link TurnTimeout}).
 *
 * @packageDocumentation
 */
import { printable } from "./kernel/outcome.js";

/** Every stable error code Offstage throws. */
export type OffstageErrorCode =
  | "INVALID_OPTIONS"
  | "INVALID_ARGUMENT"
  | "UNKNOWN_AGENT"
  | "UNKNOWN_SESSION"
  | "UNKNOWN_INPUT"
  | "NOT_RUNNING"
  | "ALREADY_STARTED"
  | "STOPPING"
  | "PAYLOAD_TOO_LARGE"
  | "IDEMPOTENCY_CONFLICT"
  | "NOT_WITHDRAWABLE"
  | "SESSION_BUSY"
  | "INBOX_FULL"
  | "DELEGATION_UNSUPPORTED"
  | "TURN_TIMEOUT"
  | "TURN_CANCELLED"
  | "DEADLOCK"
  | "BOOT_FAILED"
  | "STORE_LOCKED"
  | "STORE_CORRUPT"
  | "STORE_NOT_SQLITE"
  | "STORE_TOO_NEW"
  | "STORE_UNWRITABLE"
  | "STORE_NOT_OFFSTAGE"
  | "STORE_UNSUPPORTED"
  | "STORE_FAILED"
  | "STORE_UNREACHABLE"
  | "STORE_UNAVAILABLE"
  | "EVENT_BUFFER_OVERFLOW"
  | "CLOSED"
  | "MODEL_NAME_INVALID"
  | "MODEL_KEY_MISSING"
  | "MODEL_PACKAGE_MISSING"
  | "MODEL_CALL_FAILED"
  | "MCP_CONNECT_FAILED";

const marker = Symbol.for("offstage.error");

/** Base class of every error Offstage throws. `code` is stable across releases; `details` is structured. */
export class OffstageError extends Error {
  readonly code: OffstageErrorCode;
  readonly details: Readonly<Record<string, unknown>>;
  readonly [marker] = true;

  constructor(
    code: OffstageErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** An argument to a public call was malformed; nothing was changed. */
export class InvalidInputError extends OffstageError {}

/** The boot chain failed (bad options, store refused to open); nothing is left running. */
export class BootError extends OffstageError {}

/** `handle.result({ timeout })` gave up waiting; the turn itself goes on. */
export class TurnTimeout extends OffstageError {
  constructor(message: string, details: Record<string, unknown>) {
    super("TURN_TIMEOUT", message, { details });
  }
}

/** The turn a waiter asked for was cancelled, interrupted or withdrawn, so it has no output. */
export class TurnCancelled extends OffstageError {
  constructor(message: string, details: Record<string, unknown>) {
    super("TURN_CANCELLED", message, { details });
  }
}

/** Code running inside a session's turn waited on a turn of that same session: it would never finish. */
export class DeadlockError extends OffstageError {
  constructor(message: string, details: Record<string, unknown>) {
    super("DEADLOCK", message, { details });
  }
}

/** Work was refused because a bound was reached (busy session, full inbox); nothing was changed. */
export class CapacityError extends OffstageError {}

/**
 * A model call failed, as the provider told it: what the runtime reads to decide on a retry. A
 * model adapter throws it (or streams it in an `error` part); `retryable` is true for what is worth
 * trying again (429, 408, 409, 5xx, a dropped connection), and `retryAfterMs` is the wait the
 * provider asked for. The message is the provider's own, with any credential removed.
 */
export class ModelCallError extends OffstageError {
  /** The HTTP status the provider answered with, when there was one. */
  readonly statusCode: number | undefined;
  readonly retryable: boolean;
  /** The provider's `retry-after` (or `retry-after-ms`), in milliseconds. */
  readonly retryAfterMs: number | undefined;

  constructor(
    message: string,
    options: {
      statusCode?: number | undefined;
      retryable: boolean;
      retryAfterMs?: number | undefined;
      cause?: unknown;
      details?: Record<string, unknown>;
    },
  ) {
    super("MODEL_CALL_FAILED", message, {
      ...(options.cause === undefined ? {} : { cause: options.cause }),
      details: options.details ?? {},
    });
    this.statusCode = options.statusCode;
    this.retryable = options.retryable;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * True when `error` is an Offstage error (optionally with the given code). Works on errors that crossed
 * a realm or thread boundary, where `instanceof` does not, by checking a registered symbol or the shape.
 */
export function isOffstageError(error: unknown, code?: OffstageErrorCode): error is OffstageError {
  if (typeof error !== "object" || error === null) return false;
  const tagged =
    (error as Record<symbol, unknown>)[marker] === true ||
    (typeof (error as { code?: unknown }).code === "string" &&
      typeof (error as { name?: unknown }).name === "string" &&
      /^(Offstage|Boot|Turn|Deadlock|Capacity|InvalidInput|ModelCall)/.test(
        (error as { name: string }).name,
      ));
  return tagged && (code === undefined || (error as { code: unknown }).code === code);
}

/** Quotes a value and its type for an error message: `"abc" (string)`, `-1 (number)`. Never throws. */
export function describeValue(value: unknown): string {
  let shown: string;
  try {
    // JSON would show NaN and ±Infinity as null, hiding exactly the bad number being reported.
    shown =
      typeof value === "number"
        ? String(value)
        : typeof value === "string"
          ? JSON.stringify(value)
          : String(JSON.stringify(value) ?? value);
  } catch {
    shown = printable(value);
  }
  if (shown.length > 60) shown = `${shown.slice(0, 57)}...`;
  return `${shown} (${typeName(value)})`;
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  try {
    return Array.isArray(value) ? "array" : typeof value;
  } catch {
    // A revoked proxy: Array.isArray throws on it.
    return typeof value;
  }
}
