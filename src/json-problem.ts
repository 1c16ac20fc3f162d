/**
 * What keeps a value from being JSON as it is (`checkJson` in `validate.ts` turns it into a typed
 * refusal): NaN and ±Infinity, `undefined`, functions, symbols, BigInt, objects that are not plain
 * (`Date`, `Map`, `Set`, class instances), a `toJSON` method, holes in arrays, cycles, getters that
 * throw, and nesting deeper than `JSON_DEPTH_MAX`. Each property is read once.
 *
 * @packageDocumentation
 */
import { JSON_DEPTH_MAX } from "./kernel/limits.js";
import { describeCause } from "./kernel/outcome.js";

/** What is wrong with a value, and where: the keys from the problem up to the top (reversed). */
interface Found {
  readonly at: (string | number)[];
  readonly what: string;
}

/** What keeps a value from being JSON as it is, or `undefined` when it is JSON. */
export interface JsonProblem {
  /** Where, from the top: `.items[3].at`, `["a key"]`; empty for the value itself. */
  readonly path: string;
  /** What sits there, and what to use instead where there is a choice: `a Date; use its toISOString()`. */
  readonly what: string;
}

/** The first thing in `value` (depth first) that JSON cannot carry as it is. */
export function jsonProblem(value: unknown): JsonProblem | undefined {
  const found = problemIn(value, 0, undefined);
  if (found === undefined) return undefined;
  return { path: found.at.reverse().map(pathStep).join(""), what: found.what };
}

function problemIn(value: unknown, depth: number, ancestors: Set<object> | undefined): Found | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(value) ? undefined : { at: [], what: `${value}, which JSON cannot carry` };
    case "undefined":
      return { at: [], what: "undefined, which JSON drops or turns into null" };
    case "bigint":
      return { at: [], what: `a BigInt (${value}n); use a string` };
    case "symbol":
      return { at: [], what: "a symbol" };
    case "function":
      return { at: [], what: "a function" };
  }
  if (value === null) return undefined;
  const object = value as object;
  if (depth >= JSON_DEPTH_MAX) return { at: [], what: `nested more than ${JSON_DEPTH_MAX} levels deep` };
  const seen = ancestors ?? new Set<object>();
  if (seen.has(object)) return { at: [], what: "a cycle: it contains itself" };
  let array: boolean;
  try {
    array = Array.isArray(object);
    if (!array) {
      const kind = unplainKind(object);
      if (kind !== undefined) return { at: [], what: kind };
    }
  } catch (error) {
    return { at: [], what: `an object that cannot be inspected (${describeCause(error)})` };
  }
  seen.add(object);
  try {
    return array
      ? arrayProblem(object as unknown[], depth, seen)
      : recordProblem(object as Record<string, unknown>, depth, seen);
  } catch (error) {
    // A proxy whose traps throw: its keys or length could not be listed.
    return { at: [], what: `an object that cannot be inspected (${describeCause(error)})` };
  } finally {
    seen.delete(object);
  }
}

function arrayProblem(array: unknown[], depth: number, seen: Set<object>): Found | undefined {
  const length = array.length;
  for (let i = 0; i < length; i++) {
    if (!(i in array)) return { at: [i], what: "a hole, which JSON turns into null" };
    const problem = problemIn(read(array, i), depth + 1, seen);
    if (problem !== undefined) {
      problem.at.push(i);
      return problem;
    }
  }
  return undefined;
}

function recordProblem(record: Record<string, unknown>, depth: number, seen: Set<object>): Found | undefined {
  if (Object.getOwnPropertySymbols(record).length > 0)
    return { at: [], what: "an object with symbol keys, which JSON drops" };
  for (const key of Object.keys(record)) {
    const problem = problemIn(read(record, key), depth + 1, seen);
    if (problem !== undefined) {
      problem.at.push(key);
      return problem;
    }
  }
  return undefined;
}

/** A property's value; a getter or proxy trap that throws becomes the problem of that property. */
function read(object: object, key: string | number): unknown {
  try {
    return (object as Record<string | number, unknown>)[key];
  } catch (error) {
    return new Unreadable(error);
  }
}

/** Stands for a property whose read threw: never a plain object, so it is refused where it sits. */
class Unreadable {
  readonly cause: unknown;
  constructor(cause: unknown) {
    this.cause = cause;
  }
}

/** Why an object that is not an array is not a plain JSON object, or `undefined` when it is one. */
function unplainKind(object: object): string | undefined {
  if (object instanceof Unreadable) return `unreadable: reading it threw ${describeCause(object.cause)}`;
  const proto = Object.getPrototypeOf(object);
  if (proto !== Object.prototype && proto !== null) {
    if (object instanceof Date) return "a Date; use its toISOString()";
    if (object instanceof Map) return "a Map; use an object or an array of entries";
    if (object instanceof Set) return "a Set; use an array";
    const ctor = (proto as { constructor?: { name?: unknown } }).constructor?.name;
    return `an instance of ${typeof ctor === "string" && ctor !== "" ? ctor : "a class"}, not a plain object`;
  }
  if (typeof (object as { toJSON?: unknown }).toJSON === "function")
    return "an object with a toJSON method, which JSON would call; use what it returns";
  return undefined;
}

function pathStep(key: string | number): string {
  if (typeof key === "number") return `[${key}]`;
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}
