/**
 * When a failed model call is tried again, and after how long. Pure: the caller says which try
 * failed, what the provider asked for (`retry-after`) and hands in a random number, so the same
 * inputs always give the same delay. Whether a failure is worth retrying at all (a 429, a 5xx, a
 * dropped connection) is decided where errors are read, in the runtime.
 */

/** How a model step retries a transient failure (an agent's `retry` option, with defaults applied). */
export interface RetryPolicy {
  /** Tries per model step, the first included: 1 means never retry. */
  readonly attemptsMax: number;
  /** The backoff before the first retry; each later one is `factor` times longer. */
  readonly backoffMs: number;
  /** The longest backoff, however many tries failed. */
  readonly backoffMaxMs: number;
  readonly factor: number;
  /** A `retry-after` longer than this fails the step instead of holding the turn that long. */
  readonly retryAfterMaxMs: number;
  /** A try that streams nothing for this long is abandoned (and retried, if tries remain). */
  readonly idleTimeoutMs: number;
}

/** What to do after a try failed with a transient error. */
export type RetryDecision =
  | { readonly retry: true; readonly delayMs: number }
  | { readonly retry: false; readonly why: string };

/**
 * Decides whether try number `failedTry` (1-based) is followed by another, and after how long: an
 * exponential backoff with equal jitter (half of it fixed, half drawn from `random01` in [0, 1)), or
 * exactly the provider's `retryAfterMs` when that is longer.
 */
export function decideRetry(
  policy: RetryPolicy,
  failedTry: number,
  retryAfterMs: number | undefined,
  random01: number,
): RetryDecision {
  if (failedTry >= policy.attemptsMax) {
    return { retry: false, why: `gave up after ${failedTry} ${failedTry === 1 ? "try" : "tries"}` };
  }
  if (retryAfterMs !== undefined && retryAfterMs > policy.retryAfterMaxMs) {
    return {
      retry: false,
      why: `the provider asked to wait ${retryAfterMs} ms, longer than retry.retryAfterMaxMs (${policy.retryAfterMaxMs} ms)`,
    };
  }
  const base = Math.min(policy.backoffMaxMs, policy.backoffMs * policy.factor ** (failedTry - 1));
  const jittered = Math.round(base / 2 + (base / 2) * Math.min(Math.max(random01, 0), 1));
  return { retry: true, delayMs: Math.max(jittered, retryAfterMs ?? 0) };
}
