/**
 * Error answers: every one is JSON `{ error: { code, message } }` with a stable `code`. An
 * `OffstageError` keeps its code and message (they quote what the caller sent, never a header); any
 * other failure is a 500 `INTERNAL` with a fixed message, so nothing of the server's inside leaks.
 *
 * @packageDocumentation
 */
import type { ErrorBody } from "../client/wire.js";
import { isOffstageError, type OffstageErrorCode } from "../errors.js";

/** A refusal the server decides itself, before or beside the runtime. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const STATUS: Partial<Record<OffstageErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  UNKNOWN_AGENT: 400,
  UNKNOWN_SESSION: 404,
  UNKNOWN_INPUT: 404,
  NOT_FOUND: 404,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  PAYLOAD_TOO_LARGE: 413,
  IDEMPOTENCY_CONFLICT: 409,
  NOT_WITHDRAWABLE: 409,
  SESSION_BUSY: 409,
  INBOX_FULL: 429,
  NOT_RUNNING: 503,
  STOPPING: 503,
  EVENT_LOG_UNAVAILABLE: 501,
  DELEGATION_UNSUPPORTED: 501,
  EVENTS_TRIMMED: 410,
};

/** The status and body for a failure. */
export function errorAnswer(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof HttpError)
    return { status: error.status, body: { error: { code: error.code, message: error.message } } };
  if (isOffstageError(error)) {
    const status = STATUS[error.code];
    if (status !== undefined)
      return { status, body: { error: { code: error.code, message: error.message } } };
  }
  return { status: 500, body: { error: { code: "INTERNAL", message: "the server failed; see its log" } } };
}
