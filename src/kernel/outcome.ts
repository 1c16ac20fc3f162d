/**
 * Terminal outcomes are data, not exceptions: a status and a specific reason with a stable code.
 */

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
  | "timed_out";

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

/** Renders an unknown thrown value as a one-line cause for a reason message. */
export function describeCause(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${error.name}${typeof code === "string" ? ` [${code}]` : ""}: ${error.message}`;
  }
  return String(error);
}
