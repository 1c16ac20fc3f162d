/**
 * The model port's failure contract: reading a failed model call — is it worth trying again, after
 * how long, and how is it told in a turn's reason. The runtime reads every failure with it, and a
 * model adapter may use it to build the {@link ModelCallError} it throws. A {@link ModelCallError} (what `offstage/ai-sdk` throws) says so itself; any other
 * error is read by its shape — an HTTP status, a network error code, a timeout — anywhere along its
 * `cause` chain, so a custom model that lets its HTTP client's errors through is retried the same way.
 *
 * @packageDocumentation
 */
import { isOffstageError, type ModelCallError } from "../../errors.js";
import { describeCause } from "../../kernel/outcome.js";

/** What a failure means for a retry. */
export interface FailureClass {
  readonly retryable: boolean;
  readonly statusCode: number | undefined;
  readonly retryAfterMs: number | undefined;
}

/** Error codes of a connection that dropped, was refused or timed out (Node, undici, Bun). */
const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CONNECT_TIMEOUT",
  "ConnectionRefused",
  "ConnectionClosed",
  "FailedToOpenSocket",
]);

const NOT_RETRYABLE: FailureClass = { retryable: false, statusCode: undefined, retryAfterMs: undefined };
const CAUSES_READ_MAX = 8;

/** True for the HTTP statuses worth trying again: 408, 409, 429 and every 5xx. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** Classifies a model call's failure. Never throws, whatever it is given. */
export function classifyModelError(error: unknown): FailureClass {
  try {
    let current = error;
    for (let depth = 0; depth < CAUSES_READ_MAX && typeof current === "object" && current !== null; depth++) {
      if (isOffstageError(current, "MODEL_CALL_FAILED")) {
        const e = current as ModelCallError;
        return { retryable: e.retryable, statusCode: e.statusCode, retryAfterMs: e.retryAfterMs };
      }
      const found = readShape(current as Record<string, unknown>);
      if (found !== undefined) return found;
      current = (current as { cause?: unknown }).cause;
    }
  } catch {
    // An error whose getters throw is not one worth retrying.
  }
  return NOT_RETRYABLE;
}

function readShape(e: Record<string, unknown>): FailureClass | undefined {
  const status = e.statusCode ?? e.status;
  if (typeof status === "number" && Number.isInteger(status) && status >= 400) {
    const retryable = typeof e.isRetryable === "boolean" ? e.isRetryable : isRetryableStatus(status);
    return { retryable, statusCode: status, retryAfterMs: retryAfterOf(e.responseHeaders) };
  }
  if (typeof e.isRetryable === "boolean" && e.isRetryable)
    return { retryable: true, statusCode: undefined, retryAfterMs: retryAfterOf(e.responseHeaders) };
  if (typeof e.code === "string" && NETWORK_CODES.has(e.code)) return transient();
  if (e.name === "TimeoutError") return transient();
  // undici ends a body cut off mid-stream with `TypeError: terminated`, a failed connect with
  // `TypeError: fetch failed` (their causes carry the code, when there is one).
  if (e instanceof TypeError && (e.message === "terminated" || e.message === "fetch failed"))
    return transient();
  return undefined;
}

function transient(): FailureClass {
  return { retryable: true, statusCode: undefined, retryAfterMs: undefined };
}

/**
 * The wait a provider asked for, from `retry-after-ms` or `retry-after` (seconds, or an HTTP date),
 * in milliseconds; `undefined` when it asked for none or said something unreadable.
 */
export function retryAfterOf(headers: unknown, nowMs: number = Date.now()): number | undefined {
  if (typeof headers !== "object" || headers === null) return undefined;
  const read = (name: string): string | undefined => {
    for (const [key, value] of Object.entries(headers)) {
      if (key.toLowerCase() === name && typeof value === "string") return value.trim();
    }
    return undefined;
  };
  const ms = read("retry-after-ms");
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms)) return Math.ceil(Number(ms));
  const after = read("retry-after");
  if (after === undefined || after === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(after)) return Math.ceil(Number(after) * 1000);
  const at = Date.parse(after);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/**
 * A model failure as a turn's reason tells it: the provider's own message, else the error's name and
 * message. Never throws: a value that cannot be read is said to be so.
 */
export function describeModelError(error: unknown): string {
  try {
    if (isOffstageError(error, "MODEL_CALL_FAILED")) return error.message;
    return describeCause(error);
  } catch {
    return "the model failed with a value that cannot be read or printed";
  }
}
