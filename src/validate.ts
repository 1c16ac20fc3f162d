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
  OffstageError,
  type OffstageErrorCode,
} from "./errors.js";
import { jsonProblem } from "./json-problem.js";
import { TIMER_DELAY_MAX_MS } from "./kernel/limits.js";
import { describeCause } from "./kernel/outcome.js";
import { nearestKey } from "./nearest-key.js";

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
 * What a refusal carries besides its message: a finer `code` where callers branch on one, the
 * `cause` that made the value unusable (a schema compiler's error), and `details` beyond the name of
 * the option or argument. A `secret` value (a bearer token) is described by its type and length,
 * never quoted: messages end up in logs.
 */
export interface RefusalOptions {
  readonly code?: OffstageErrorCode;
  readonly cause?: unknown;
  readonly details?: Readonly<Record<string, unknown>>;
  readonly secret?: boolean;
}

/** The error of `subject` with this message: `BootError` for options, `InvalidInputError` for arguments. */
function refusal(
  subject: Subject,
  name: string,
  message: string,
  { code, cause, details }: Omit<RefusalOptions, "secret"> = {},
): OffstageError {
  const more = cause === undefined ? {} : { cause };
  return subject.error === "option"
    ? new BootError(code ?? "INVALID_OPTIONS", message, { ...more, details: { option: name, ...details } })
    : new InvalidInputError(code ?? "INVALID_ARGUMENT", message, {
        ...more,
        details: { argument: name, ...details },
      });
}

/**
 * The error for `value`, named `name`, which is not what `expected` describes. Its code is
 * `INVALID_ARGUMENT` or `INVALID_OPTIONS`, unless `options` gives a finer one.
 */
export function invalid(
  subject: Subject,
  name: string,
  value: unknown,
  expected: string,
  options?: RefusalOptions,
): OffstageError {
  return refusal(
    subject,
    name,
    `${subject.call}: ${name} must be ${expected}; got ${options?.secret ? undisclosed(value) : describeValue(value)}`,
    options,
  );
}

/** A secret as a refusal shows it: what it is, not what it says. */
function undisclosed(value: unknown): string {
  return typeof value === "string"
    ? `${value.length} characters (string, not shown)`
    : `a value of type ${typeof value} (not shown)`;
}

/** Throws {@link invalid}. */
export function fail(
  subject: Subject,
  name: string,
  value: unknown,
  expected: string,
  options?: RefusalOptions,
): never {
  throw invalid(subject, name, value, expected, options);
}

/** `value instanceof type`, false where asking throws (a revoked proxy has no prototype to ask for). */
export function isInstance<T>(value: unknown, type: abstract new (...args: never) => T): value is T {
  try {
    return value instanceof type;
  } catch {
    return false;
  }
}

/** A plain object: not `null`, not an array, not a function (nor a revoked proxy). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  try {
    return !Array.isArray(value);
  } catch {
    // A revoked proxy: Array.isArray throws on it.
    return false;
  }
}

/** An array whose every element is a string; false where reading it throws (a revoked proxy, a trap). */
export function isStringArray(value: unknown): value is string[] {
  try {
    return Array.isArray(value) && value.every((element) => typeof element === "string");
  } catch {
    return false;
  }
}

/**
 * An object with a function at each of `methods` (its own or inherited: a class instance's), as a
 * port's adapter or a logger must be; false where reading one throws.
 */
export function hasMethods(value: unknown, methods: readonly string[]): boolean {
  if (!isRecord(value)) return false;
  try {
    return methods.every((method) => typeof value[method] === "function");
  } catch {
    return false;
  }
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
 * An id or key: 1-256 characters of {@link isPrintableText} text. Ids end up in logs, file names and
 * URLs, and stores keep them as UTF-8, where a lone surrogate becomes U+FFFD: two different ids
 * (`"user-\uD83C"`, `"user-\uD83D"`) would name one session, or two keys one input.
 */
export function checkId(subject: Subject, name: string, value: unknown): asserts value is string {
  if (typeof value !== "string" || value.length === 0 || value.length > 256 || !isPrintableText(value))
    fail(
      subject,
      name,
      value,
      "1-256 printable characters (well-formed Unicode, without control characters)",
    );
}

/**
 * Control characters (C0, DEL, C1), the line and paragraph separators (U+2028, U+2029), and lone
 * surrogates: with the `u` flag a surrogate pair is one code point, so `\p{Cs}` matches only a
 * surrogate that is not part of one, which is what `String.prototype.isWellFormed` refuses.
 */
const UNPRINTABLE = /[\p{Cc}\p{Cs}\u2028\u2029]/u;

/** Well-formed UTF-16 (no lone surrogate) without control characters or line/paragraph separators. */
export function isPrintableText(text: string): boolean {
  return !UNPRINTABLE.test(text);
}

/**
 * Checks an options object and returns a plain copy of it, each property read once: `value` must be
 * an object (not `null` or an array) whose own keys are all in `known`, each a plain data property.
 * A misspelt key is refused with the known key nearest to it (`createRuntime(): options.pollIntervalMS
 * is not a known key; did you mean pollIntervalMs?`); an inherited enumerable key is refused too (some
 * code would read it, other code not); a getter is refused rather than run. The caller reads the copy
 * only, so a proxy trap or getter cannot throw, or answer differently, once the check has passed.
 */
export function checkOptions<T extends object>(
  subject: Subject,
  name: string,
  value: T,
  known: readonly string[],
  expected = "an object",
): T {
  checkObject(subject, name, value, expected);
  const copy: Record<string, unknown> = {};
  let key = "";
  try {
    for (key in value) {
      if (!Object.hasOwn(value, key)) {
        throw refusal(
          subject,
          `${name}.${key}`,
          `${subject.call}: ${name}.${key} is inherited from the object's prototype; pass options as own properties`,
        );
      }
      if (!known.includes(key)) throw unknownKey(subject, name, key, known);
      const property = Object.getOwnPropertyDescriptor(value, key);
      if (property === undefined) continue;
      if (!("value" in property))
        throw refusal(
          subject,
          `${name}.${key}`,
          `${subject.call}: ${name}.${key} is a getter; pass a plain value`,
        );
      copy[key] = property.value;
    }
  } catch (error) {
    if (error instanceof OffstageError) throw error;
    throw unreadable(subject, key === "" ? name : `${name}.${key}`, error);
  }
  return copy as T;
}

/**
 * Reads `keys` of the caller's object `value`, each once, for a value that is not an options object
 * (a definition whose `execute` may be a method on its prototype): a getter or proxy trap that throws
 * becomes the subject's error, `<call>: <name>.<key> cannot be read: <cause>`.
 */
export function readKeys<K extends string>(
  subject: Subject,
  name: string,
  value: object,
  keys: readonly K[],
): Record<K, unknown> {
  const read = {} as Record<K, unknown>;
  for (const key of keys) {
    try {
      read[key] = (value as Record<K, unknown>)[key];
    } catch (error) {
      throw unreadable(subject, `${name}.${key}`, error);
    }
  }
  return read;
}

/**
 * The error for `name`, whose reading (a getter, a proxy trap) threw `error`. An `Error` becomes its
 * cause; any other thrown value only its message, as that value may be as hostile as what threw it.
 */
export function unreadable(subject: Subject, name: string, error: unknown): OffstageError {
  const message = `${subject.call}: ${name} cannot be read: ${describeCause(error)}`;
  return refusal(subject, name, message, isInstance(error, Error) ? { cause: error } : {});
}

function unknownKey(subject: Subject, name: string, key: string, known: readonly string[]): OffstageError {
  const near = nearestKey(key, known);
  return refusal(
    subject,
    `${name}.${key}`,
    `${subject.call}: ${name}.${key} is not a known key; ${near === undefined ? "" : `did you mean ${near}? `}known keys: ${known.join(", ")}`,
  );
}

/**
 * Checks that `value` is an array and returns a copy of it, each element read once (a proxy or a
 * getter cannot throw past the check). `maxLength` bounds it.
 */
export function checkArray(
  subject: Subject,
  name: string,
  value: unknown,
  expected: string,
  maxLength = 1_000,
): unknown[] {
  let copy: unknown[] | undefined;
  try {
    if (Array.isArray(value) && value.length <= maxLength) copy = Array.from(value);
  } catch (error) {
    throw unreadable(subject, name, error);
  }
  if (copy === undefined) fail(subject, name, value, expected);
  return copy;
}

/**
 * Refuses a value that JSON cannot carry as it is ({@link jsonProblem} says what that is), naming
 * where the problem sits: `send(): payload.items[3].at must be a JSON value; it is a Date; use its
 * toISOString()`.
 */
export function checkJson(subject: Subject, name: string, value: unknown): void {
  const problem = jsonProblem(value);
  if (problem === undefined) return;
  const where = name + problem.path;
  throw refusal(subject, name, `${subject.call}: ${where} must be a JSON value; it is ${problem.what}`);
}
