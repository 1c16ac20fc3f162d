/**
 * Checks of what callers hand in: one family for the whole package. A failed check throws a typed
 * error whose message reads `<call>: <name> must be <expected>; got <value> (<type>)`, quoting the
 * offending value with {@link describeValue}, and nothing has changed when it throws.
 *
 * A {@link Subject} says which call is checking and which error it throws: `InvalidInputError`
 * `INVALID_ARGUMENT` for arguments of a call, `BootError` `INVALID_OPTIONS` for options given to a
 * constructor (they fail before anything starts).
 *
 * @packageDocumentation
 */
import {
  BootError,
  describeValue,
  InvalidInputError,
  type OffstageError,
  type OffstageErrorCode,
} from "./errors.js";
import { TIMER_DELAY_MAX_MS } from "./kernel/limits.js";

/** Which call checks, and which error a failure throws. */
export interface Subject {
  /** The call as messages name it: `send()`, `createRuntime()`. */
  readonly call: string;
  readonly error: "argument" | "option";
}

/** The arguments of a call: failures throw `InvalidInputError` `INVALID_ARGUMENT`. */
export function argumentsOf(call: string): Subject {
  return { call, error: "argument" };
}

/** Options given to a constructor: failures throw `BootError` `INVALID_OPTIONS`. */
export function optionsOf(call: string): Subject {
  return { call, error: "option" };
}

/**
 * The error for `value`, named `name`, which is not what `expected` describes. Its code is
 * `INVALID_ARGUMENT` or `INVALID_OPTIONS`, or `code` where callers branch on a finer one.
 */
export function invalid(
  subject: Subject,
  name: string,
  value: unknown,
  expected: string,
  code?: OffstageErrorCode,
): OffstageError {
  const message = `${subject.call}: ${name} must be ${expected}; got ${describeValue(value)}`;
  return subject.error === "option"
    ? new BootError(code ?? "INVALID_OPTIONS", message, { details: { option: name } })
    : new InvalidInputError(code ?? "INVALID_ARGUMENT", message, { details: { argument: name } });
}

/** Throws {@link invalid}. */
export function fail(
  subject: Subject,
  name: string,
  value: unknown,
  expected: string,
  code?: OffstageErrorCode,
): never {
  throw invalid(subject, name, value, expected, code);
}

/** A plain object: not `null`, not an array, not a function. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function checkObject<T>(
  subject: Subject,
  name: string,
  value: T,
  expected = "an object",
): asserts value is T & object {
  if (!isRecord(value)) fail(subject, name, value, expected);
}

export function checkFunction(
  subject: Subject,
  name: string,
  value: unknown,
): asserts value is (...args: never) => unknown {
  if (typeof value !== "function") fail(subject, name, value, "a function");
}

export function checkBoolean(subject: Subject, name: string, value: unknown): asserts value is boolean {
  if (typeof value !== "boolean") fail(subject, name, value, "a boolean");
}

export function checkPositiveInteger(
  subject: Subject,
  name: string,
  value: unknown,
): asserts value is number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0)
    fail(subject, name, value, "a positive integer");
}

/**
 * A duration in milliseconds that a timer can honour: a finite number from `min` (default 0) to
 * 2 147 483 647 (a longer Node timer fires at once). `integer` asks for whole milliseconds.
 */
export function checkDurationMs(
  subject: Subject,
  name: string,
  value: unknown,
  { min = 0, integer = false }: { readonly min?: number; readonly integer?: boolean } = {},
): asserts value is number {
  if (
    typeof value !== "number" ||
    !Number.isFinite(value) ||
    value < min ||
    value > TIMER_DELAY_MAX_MS ||
    (integer && !Number.isInteger(value))
  ) {
    const what = integer ? "an integer number of milliseconds" : "a number of milliseconds";
    fail(subject, name, value, `${what} from ${min} to ${TIMER_DELAY_MAX_MS}`);
  }
}

export function checkOneOf<T extends string>(
  subject: Subject,
  name: string,
  value: unknown,
  allowed: ReadonlySet<T> | readonly T[],
): asserts value is T {
  const known = Array.isArray(allowed)
    ? allowed.includes(value as T)
    : (allowed as ReadonlySet<T>).has(value as T);
  if (!known) fail(subject, name, value, `one of ${[...allowed].join(", ")}`);
}

/** A string of `minLength` (default 1) to `maxLength` characters. */
export function checkText(
  subject: Subject,
  name: string,
  value: unknown,
  maxLength: number,
  minLength = 1,
): asserts value is string {
  if (typeof value !== "string" || value.length < minLength || value.length > maxLength)
    fail(subject, name, value, `a string of ${minLength}-${maxLength} characters`);
}

/**
 * An id: 1-256 characters with no control characters, since ids end up in logs, file names and URLs.
 */
export function checkId(subject: Subject, name: string, value: unknown): asserts value is string {
  if (typeof value !== "string" || value.length === 0 || value.length > 256 || hasControl(value))
    fail(subject, name, value, "1-256 printable characters");
}

function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) < 0x20) return true;
  return false;
}
