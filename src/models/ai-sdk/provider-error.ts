/**
 * A provider's failure as a {@link ModelCallError}: the provider's own message, the HTTP status,
 * whether it is worth a retry (the AI SDK's `APICallError.isRetryable`: 408, 409, 429, 5xx and
 * dropped connections) and the wait the provider asked for (`retry-after-ms`, `retry-after`). Every
 * credential the adapter was told about is cut out of the message, and an `APICallError`'s request
 * and response bodies are not carried along: they can echo what was sent.
 *
 * @packageDocumentation
 */
import { isOffstageError, ModelCallError } from "../../errors.js";
import { classifyModelError, retryAfterOf } from "../../runtime/ports/model-failure.js";

const API_CALL_ERROR = Symbol.for("vercel.ai.error.AI_APICallError");
const PROVIDER_STREAM_ERROR = Symbol.for("vercel.ai.providerStreamError");
const INVALID_RESPONSE_DATA = Symbol.for("vercel.ai.error.AI_InvalidResponseDataError");
const REDACTED = "[redacted]";

/** Strings shorter than this are not treated as secrets: replacing them would garble messages. */
const SECRET_LENGTH_MIN = 6;

/** Removes every occurrence of each secret from `text`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= SECRET_LENGTH_MIN && out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out;
}

/** `error` (thrown by `doStream`, read from its stream, or streamed as an `error` part) as a `ModelCallError`. */
export function toModelCallError(
  error: unknown,
  provider: string,
  secrets: readonly string[],
): ModelCallError {
  try {
    if (isOffstageError(error, "MODEL_CALL_FAILED")) return error as ModelCallError;
    if (isMarked(error, API_CALL_ERROR)) {
      const e = error as {
        message: string;
        statusCode?: number;
        isRetryable: boolean;
        responseHeaders?: Record<string, string>;
      };
      const status = typeof e.statusCode === "number" ? e.statusCode : undefined;
      const said = status === undefined ? e.message : `HTTP ${status}: ${e.message}`;
      return new ModelCallError(redact(`${provider}: ${said}`, secrets), {
        statusCode: status,
        retryable: e.isRetryable === true,
        retryAfterMs: retryAfterOf(e.responseHeaders),
        details: { provider, ...(status === undefined ? {} : { statusCode: status }) },
      });
    }
    if (isMarked(error, PROVIDER_STREAM_ERROR) || isPlainErrorObject(error)) {
      // A provider's in-stream error event ({ message, type, code, statusCode, isRetryable }).
      const e = error as { message?: unknown; statusCode?: unknown; isRetryable?: unknown; type?: unknown };
      const status = typeof e.statusCode === "number" ? e.statusCode : undefined;
      const kind = typeof e.type === "string" ? ` (${e.type})` : "";
      const retryable =
        typeof e.isRetryable === "boolean" ? e.isRetryable : classifyModelError(error).retryable;
      return new ModelCallError(redact(`${provider}: ${String(e.message)}${kind}`, secrets), {
        statusCode: status,
        retryable,
        details: { provider },
      });
    }
    const failure = classifyModelError(error);
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return new ModelCallError(redact(`${provider}: ${message}`, secrets), {
      statusCode: failure.statusCode,
      // A stream that ended before its finish (openai-compatible says so this way) is a dropped
      // connection, as V4's `interrupted` finish reason is.
      retryable:
        failure.retryable || (isMarked(error, INVALID_RESPONSE_DATA) && /ended without/i.test(message)),
      retryAfterMs: failure.retryAfterMs,
      ...(error instanceof Error ? { cause: error } : {}),
      details: { provider },
    });
  } catch {
    // A value whose getters or string form throw: say so rather than fail while failing.
    return new ModelCallError(`${provider}: the model call failed with an unreadable error`, {
      retryable: false,
      details: { provider },
    });
  }
}

function isMarked(error: unknown, marker: symbol): boolean {
  return typeof error === "object" && error !== null && (error as Record<symbol, unknown>)[marker] === true;
}

function isPlainErrorObject(error: unknown): boolean {
  return (
    typeof error === "object" &&
    error !== null &&
    !(error instanceof Error) &&
    typeof (error as { message?: unknown }).message === "string"
  );
}
