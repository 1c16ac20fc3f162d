/**
 * What a log line may carry: fields made safe to hand to any logger. Errors become plain objects
 * (`name`, `message`, `code`, `details`, `cause`, recursively), and secrets are replaced: the value of
 * every field whose name says it holds one (`authorization`, `apiKey`, `token`, `password`, ...) and,
 * inside any string, bearer tokens and API keys of the shapes providers issue. Values are copied, so a
 * logger that keeps them cannot see later changes, and copying is bounded (depth, keys, string
 * length), so a huge or cyclic value cannot stall the runtime. Reading a value that throws (a hostile
 * getter, a revoked proxy) gives a placeholder instead of an exception.
 *
 * @packageDocumentation
 */

/** What a secret is replaced with. */
export const REDACTED = "[REDACTED]";

/** Field names whose values are secrets, whatever they hold. */
const SECRET_KEY =
  /^(authorization|proxy-authorization|cookie|set-cookie|x-api-key|api[-_]?key|apikey|.*[-_]api[-_]?key|access[-_]?token|refresh[-_]?token|id[-_]?token|token|secret|client[-_]?secret|password|passwd|private[-_]?key)$/i;

/** Secrets inside strings: bearer credentials, then key formats providers issue. */
const SECRET_TEXT: readonly [RegExp, string][] = [
  [/\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}/g, `$1 ${REDACTED}`],
  [/\bsk-(?:ant-|proj-|or-|live-|test-)?[A-Za-z0-9_-]{16,}/g, REDACTED],
  [
    /\b(?:xai|gsk|hf|ghp|gho|ghs|ghu|github_pat|glpat|pk_live|rk_live|sk_live)[-_][A-Za-z0-9_]{16,}/g,
    REDACTED,
  ],
  [/\bAIza[A-Za-z0-9_-]{30,}/g, REDACTED],
  [/\bAKIA[A-Z0-9]{16}\b/g, REDACTED],
  [/([?&](?:api[-_]?key|key|token|access_token|sig|signature)=)[^&\s"']+/gi, `$1${REDACTED}`],
];

const DEPTH_MAX = 6;
const KEYS_MAX = 50;
const ITEMS_MAX = 50;
const TEXT_MAX = 4_000;

/** Replaces secrets inside a string. */
export function redactText(text: string): string {
  let out = text.length > TEXT_MAX ? `${text.slice(0, TEXT_MAX)}… (${text.length} chars)` : text;
  for (const [pattern, replacement] of SECRET_TEXT) out = out.replace(pattern, replacement);
  return out;
}

/** A copy of `fields` safe to log: errors as objects, secrets replaced, size bounded. */
export function redactFields(fields: object): Record<string, unknown> {
  const copied = copy(fields, 0, new WeakSet());
  return typeof copied === "object" && copied !== null && !Array.isArray(copied)
    ? (copied as Record<string, unknown>)
    : { value: copied };
}

/** An error (or any thrown value) as a plain object, secrets replaced. */
export function errorFields(error: unknown): Record<string, unknown> {
  return copyError(error, 0, new WeakSet()) as Record<string, unknown>;
}

function copy(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  switch (typeof value) {
    case "string":
      return redactText(value);
    case "number":
    case "boolean":
    case "undefined":
      return value;
    case "bigint":
      return value.toString();
    case "symbol":
    case "function":
      return safeString(value);
  }
  if (value === null) return null;
  const object = value as object;
  if (seen.has(object)) return "[Circular]";
  if (depth >= DEPTH_MAX) return "[Object]";
  if (object instanceof Error) return copyError(object, depth, seen);
  seen.add(object);
  try {
    if (Array.isArray(object)) {
      const items = object.slice(0, ITEMS_MAX).map((item) => copy(item, depth + 1, seen));
      if (object.length > ITEMS_MAX) items.push(`… ${object.length - ITEMS_MAX} more`);
      return items;
    }
    if (object instanceof Date) return object.toISOString();
    if (object instanceof Map || object instanceof Headers)
      return copyEntries([...object.entries()], depth, seen);
    const out: Record<string, unknown> = {};
    let n = 0;
    for (const key of Object.keys(object)) {
      if (n++ >= KEYS_MAX) {
        out["…"] = "more keys left out";
        break;
      }
      out[key] = SECRET_KEY.test(key) ? REDACTED : copy(read(object, key), depth + 1, seen);
    }
    return out;
  } catch (error) {
    return `[unreadable: ${safeString(error)}]`;
  } finally {
    seen.delete(object);
  }
}

function copyEntries(entries: [unknown, unknown][], depth: number, seen: WeakSet<object>): unknown {
  const out: Record<string, unknown> = {};
  for (const [key, value] of entries.slice(0, KEYS_MAX)) {
    const name = safeString(key);
    out[name] = SECRET_KEY.test(name) ? REDACTED : copy(value, depth + 1, seen);
  }
  return out;
}

function copyError(error: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof error !== "object" || error === null) return { message: copy(error, depth, seen) };
  if (seen.has(error)) return "[Circular]";
  seen.add(error);
  try {
    const out: Record<string, unknown> = {};
    const name = read(error, "name");
    if (typeof name === "string") out.name = name;
    out.message = redactText(safeString(read(error, "message") ?? error));
    for (const key of ["code", "statusCode", "details", "url", "responseBody"]) {
      const field = read(error, key);
      if (field !== undefined) out[key] = copy(field, depth + 1, seen);
    }
    const cause = read(error, "cause");
    if (cause !== undefined && depth < DEPTH_MAX) out.cause = copyError(cause, depth + 1, seen);
    return out;
  } finally {
    seen.delete(error);
  }
}

/** A property read that cannot throw. */
function read(object: object, key: string): unknown {
  try {
    return (object as Record<string, unknown>)[key];
  } catch (error) {
    return `[unreadable: ${safeString(error)}]`;
  }
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return "[unprintable]";
  }
}
