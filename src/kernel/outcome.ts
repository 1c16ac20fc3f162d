/**
 * Terminal outcomes are data, not exceptions: a status and a specific reason with a stable code.
 */
import { CAUSE_CHARS_MAX } from "./limits.js";

/** Where an accepted input stands. The first two are live; the rest are terminal. */
export type InputStatus = "queued" | "running" | TerminalStatus;

/** How a turn (or an input that never became one) ended. */
export type TerminalStatus =
  | "completed"
  | "failed"
  | "cancelled"
  | "interrupted"
  | "max_iterations"
  | "withdrawn";

/** Stable reason codes for terminal outcomes. */
export type ReasonCode =
  | "ok"
  | "model_error"
  | "model_call_limit"
  | "function_error"
  | "context_error"
  | "internal_invariant"
  | "cancel_requested"
  | "interrupted_by_input"
  | "runtime_stopped"
  | "withdrawn"
  | "crashed"
  | "budget_exceeded"
  | "timed_out"
  | "store_failed"
  /**
   * The store failed while it committed the input, and cannot tell whether the commit landed (a
   * connection dropped under it): if it did, the input runs after the next start.
   */
  | "store_in_doubt"
  /** This process lost the session's lease to another process, which runs the turn on. */
  | "lease_lost";

/** Why a turn ended, specifically. `message` quotes the cause when there was one. */
export interface Reason {
  readonly code: ReasonCode;
  readonly message: string;
}

/** The outcome of a turn: status, reason, and the output when it completed. */
export interface TurnOutcome {
  readonly status: TerminalStatus;
  readonly reason: Reason;
  /** The final assistant text for model agents, or the function's return value. */
  readonly output?: unknown;
}

/**
 * Token usage, when the model reports it. Every field is a number of tokens; the optional ones are
 * present only when the provider reported them.
 */
export interface Usage {
  /** Every input (prompt) token, cached or not. */
  readonly inputTokens: number;
  /** Every output token, reasoning included. */
  readonly outputTokens: number;
  /** Input tokens read from the provider's prompt cache (part of `inputTokens`). */
  readonly cachedInputTokens?: number;
  /** Input tokens written to the provider's prompt cache (part of `inputTokens`). */
  readonly cacheWriteTokens?: number;
  /** Output tokens spent on reasoning (part of `outputTokens`). */
  readonly reasoningTokens?: number;
}

/** A token count: a finite number, 0 or more; anything else (a string, an object) is no count. */
export function tokenCount(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/**
 * Usage from counts that may be missing or malformed: each that is not a {@link tokenCount} is left
 * out; `undefined` when there is neither an input nor an output count.
 */
export function usageFrom(
  counts: {
    readonly [K in keyof Usage]-?: unknown;
  },
): Usage | undefined {
  const input = tokenCount(counts.inputTokens);
  const output = tokenCount(counts.outputTokens);
  if (input === undefined && output === undefined) return undefined;
  const cached = tokenCount(counts.cachedInputTokens);
  const cacheWrite = tokenCount(counts.cacheWriteTokens);
  const reasoning = tokenCount(counts.reasoningTokens);
  return {
    inputTokens: input ?? 0,
    outputTokens: output ?? 0,
    ...(cached === undefined ? {} : { cachedInputTokens: cached }),
    ...(cacheWrite === undefined ? {} : { cacheWriteTokens: cacheWrite }),
    ...(reasoning === undefined ? {} : { reasoningTokens: reasoning }),
  };
}

/** The sum of two usages; an optional count is present when either has it. */
export function addUsage(a: Usage, b: Usage): Usage {
  const sum: { -readonly [K in keyof Usage]: Usage[K] } = {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
  };
  if (a.cachedInputTokens !== undefined || b.cachedInputTokens !== undefined)
    sum.cachedInputTokens = (a.cachedInputTokens ?? 0) + (b.cachedInputTokens ?? 0);
  if (a.cacheWriteTokens !== undefined || b.cacheWriteTokens !== undefined)
    sum.cacheWriteTokens = (a.cacheWriteTokens ?? 0) + (b.cacheWriteTokens ?? 0);
  if (a.reasoningTokens !== undefined || b.reasoningTokens !== undefined)
    sum.reasoningTokens = (a.reasoningTokens ?? 0) + (b.reasoningTokens ?? 0);
  return sum;
}

export const TERMINAL_STATUSES: ReadonlySet<string> = new Set<TerminalStatus>([
  "completed",
  "failed",
  "cancelled",
  "interrupted",
  "max_iterations",
  "withdrawn",
]);

/** True for statuses an input never leaves. */
export function isTerminal(status: InputStatus): status is TerminalStatus {
  return TERMINAL_STATUSES.has(status);
}

/**
 * Renders an unknown thrown value as a one-line cause for a reason message. It never throws, whatever
 * was thrown — an object with no prototype, a `toString` or getter that throws, a revoked proxy, a
 * symbol — and it is at most {@link CAUSE_CHARS_MAX} characters long (plus a note of how much was cut).
 */
export function describeCause(error: unknown): string {
  return clip(causeText(error), CAUSE_CHARS_MAX);
}

/**
 * Renders any value as text without ever throwing: a string as it is, an object by its own
 * `toString` or as JSON, and what cannot be printed at all by its type. Not bounded; see {@link clip}.
 */
export function printable(value: unknown): string {
  try {
    switch (typeof value) {
      case "string":
        return value;
      case "symbol":
        return value.toString();
      case "object":
        return value === null ? "null" : objectText(value);
      default:
        return String(value);
    }
  } catch {
    return unprintable(value);
  }
}

/** Cuts `text` to `max` characters (never inside a surrogate pair), noting how many were cut. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = isHighSurrogate(text.charCodeAt(max - 1)) ? max - 1 : max;
  return `${text.slice(0, end)}... (${text.length - end} more characters)`;
}

function causeText(error: unknown): string {
  try {
    if (error instanceof Error) {
      const name = error.name;
      const code = (error as { code?: unknown }).code;
      const message = error.message;
      return `${typeof name === "string" ? name : "Error"}${typeof code === "string" ? ` [${code}]` : ""}: ${typeof message === "string" ? message : printable(message)}`;
    }
  } catch {
    // A getter or a proxy trap threw: describe it as any other value.
  }
  return printable(error);
}

/** An object by its own `toString` (an error of another realm, a URL), else as JSON. */
function objectText(value: object): string {
  const own = (value as { toString?: unknown }).toString;
  if (typeof own === "function" && own !== Object.prototype.toString) {
    try {
      const text: unknown = own.call(value);
      if (typeof text === "string") return text;
    } catch {
      // Its toString threw: JSON may still show it.
    }
  }
  try {
    const json = JSON.stringify(value);
    if (typeof json === "string") return json;
  } catch {
    // A cycle, a BigInt, a getter that throws: fall through.
  }
  return unprintable(value);
}

function unprintable(value: unknown): string {
  try {
    // "[object Object]", "[object Error]": at least what kind of object it is.
    return Object.prototype.toString.call(value);
  } catch {
    return `a value of type ${typeof value} that cannot be printed`;
  }
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
