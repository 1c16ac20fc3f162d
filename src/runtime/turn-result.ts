/**
 * What a settled input answers, and how a caller asks for it: the value `result()` resolves with (or
 * the `TurnCancelled` it throws), the `TurnTimeout` it gives up with, and its checked options.
 * `TurnHandle` and the worker-thread client's handle answer alike through these.
 *
 * @packageDocumentation
 */
import { TurnCancelled, TurnTimeout } from "../errors.js";
import type { InputStatus, Reason, TerminalStatus, TurnOutcome, Usage } from "../kernel/outcome.js";
import { argumentsOf, checkDurationMs, checkOptions, fail, isInstance } from "../validate.js";

/** The value of a turn that produced one: `completed`, `failed` or `max_iterations`. */
export interface TurnResult {
  readonly inputId: string;
  readonly sessionId: string;
  readonly turnId: string | undefined;
  readonly status: "completed" | "failed" | "max_iterations";
  readonly reason: Reason;
  /** The final assistant text, or a function agent's return value. */
  readonly output: unknown;
  readonly usage: Usage | undefined;
}

/** What {@link TurnHandle.poll} returns once the input is terminal. */
export interface Settled {
  readonly status: TerminalStatus;
  readonly outcome: TurnOutcome;
}

/** Options of {@link TurnHandle.result}. */
export interface ResultOptions {
  /** Give up waiting after this many milliseconds with `TurnTimeout` (the turn goes on). */
  readonly timeoutMs?: number;
  /** Give up waiting when this fires (the turn goes on). */
  readonly signal?: AbortSignal;
}

/**
 * Checks the options of `result()` (and `invoke()`, before it sends): an object whose `timeoutMs` is
 * a duration and whose `signal` is an `AbortSignal`. Throws `InvalidInputError`.
 */
export function checkResultOptions<T extends ResultOptions>(
  call: string,
  options: T,
  keys: readonly string[] = RESULT_KEYS,
): T {
  const subject = argumentsOf(call);
  const given = checkOptions(subject, "options", options, keys);
  const { timeoutMs, signal } = given;
  if (timeoutMs !== undefined) checkDurationMs(subject, "timeoutMs", timeoutMs);
  if (signal !== undefined && !isInstance(signal, AbortSignal))
    fail(subject, "signal", signal, "an AbortSignal");
  return given;
}

/** The keys of {@link ResultOptions}. */
export const RESULT_KEYS = Object.keys({ timeoutMs: true, signal: true } satisfies Record<
  keyof ResultOptions,
  true
>);
/**
 * The value `result()` gives for a settled input: the result, or `TurnCancelled` for an input that
 * ended `cancelled`, `interrupted` or `withdrawn`. Shared by every kind of handle.
 *
 * @internal
 */
export function turnValue(
  input: { readonly id: string; readonly sessionId: string; readonly turnId: string | undefined },
  outcome: TurnOutcome,
  usage: Usage | undefined,
): TurnResult {
  const { status } = outcome;
  if (status === "cancelled" || status === "interrupted" || status === "withdrawn") {
    throw new TurnCancelled(`input ${input.id} ended ${status}: ${outcome.reason.message}`, {
      inputId: input.id,
      sessionId: input.sessionId,
      status,
      reason: outcome.reason,
    });
  }
  return {
    inputId: input.id,
    sessionId: input.sessionId,
    turnId: input.turnId,
    status,
    reason: outcome.reason,
    output: outcome.output,
    usage,
  };
}

/**
 * The error `result({ timeoutMs })` gives up with while input `id` is still `status`.
 *
 * @internal
 */
export function turnTimeout(
  id: string,
  sessionId: string,
  status: InputStatus,
  timeoutMs: number,
): TurnTimeout {
  return new TurnTimeout(`input ${id} is still ${status} after ${timeoutMs} ms`, {
    inputId: id,
    sessionId,
    status,
    timeoutMs,
  });
}
