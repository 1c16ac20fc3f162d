/**
 * A child's completion: the self-contained record of what a background child was asked to do and how
 * it ended. It is written in the same store transaction that ends the child, addressed to its parent
 * only, and becomes part of a new parent turn when the parent is idle. Rendered for the model, it
 * says why the child existed and what it found, so the model can use the result or dispatch again
 * without remembering anything.
 */
import type { Reason, TurnOutcome, Usage } from "../outcome.js";

/** How a child ended, as its parent sees it. */
export type ChildStatus = "completed" | "failed" | "cancelled" | "interrupted" | "timed_out";

/** What the parent asked for. */
export interface ChildSpec {
  readonly goal: string;
  readonly context?: string | undefined;
  readonly role?: string | undefined;
  readonly model?: string | undefined;
  readonly tools: readonly string[];
}

export interface ChildCompletion {
  readonly delegationId: string;
  readonly parentSessionId: string;
  readonly childSessionId: string;
  readonly spec: ChildSpec;
  readonly status: ChildStatus;
  /** The child's final answer when it completed; its last text so far otherwise. */
  readonly summary: string;
  /** What went wrong, when it did not complete. */
  readonly error?: { readonly code: string; readonly message: string } | undefined;
  readonly exitReason: string;
  readonly modelCalls: number;
  readonly usage?: Usage | undefined;
  readonly dispatchedAtMs: number;
  readonly completedAtMs: number;
  /** Text the child had produced when it was interrupted, cancelled or timed out. */
  readonly partialOutput?: string | undefined;
}

/** Renders completions as one self-contained block for the parent's model. */
export function renderCompletions(completions: readonly ChildCompletion[]): string {
  const intro =
    completions.length === 1
      ? "A background task you delegated has finished."
      : `${completions.length} background tasks you delegated have finished.`;
  return [intro, ...completions.map(renderOne)].join("\n\n");
}

function renderOne(c: ChildCompletion): string {
  const seconds = ((c.completedAtMs - c.dispatchedAtMs) / 1000).toFixed(1);
  const lines = [`<delegation id="${c.delegationId}" status="${c.status}">`, `goal: ${c.spec.goal}`];
  if (c.spec.context !== undefined) lines.push(`context: ${c.spec.context}`);
  if (c.spec.role !== undefined) lines.push(`role: ${c.spec.role}`);
  if (c.spec.model !== undefined) lines.push(`model: ${c.spec.model}`);
  lines.push(`tools: ${c.spec.tools.length === 0 ? "none" : c.spec.tools.join(", ")}`);
  lines.push(
    `ran ${seconds} s, ${c.modelCalls} model call${c.modelCalls === 1 ? "" : "s"}; exit: ${c.exitReason}`,
  );
  if (c.error !== undefined) lines.push(`error (${c.error.code}): ${c.error.message}`);
  if (c.status === "completed") lines.push(`result:\n${c.summary}`);
  else if (c.partialOutput !== undefined && c.partialOutput.length > 0)
    lines.push(`partial output before it stopped:\n${c.partialOutput}`);
  lines.push(
    c.status === "completed"
      ? "Use this result; it is complete."
      : "The task did not complete: decide whether to dispatch it again, do it yourself, or tell the user.",
  );
  lines.push("</delegation>");
  return lines.join("\n");
}

/** A request that stopped a child: cancelled by a caller, or interrupted (a stop, a timeout). */
export interface ChildStop {
  readonly status: "cancelled" | "interrupted";
  readonly reason: Reason;
}

/** How a child ended, as its completion reports it. */
export interface ChildExit {
  readonly status: ChildStatus;
  readonly error: ChildCompletion["error"];
  readonly exitReason: string;
}

/**
 * How a child ended, from the stop that ended it (if one did) and its last turn's outcome (if it
 * ran one). A stopped child that had completed anyway reports its completion.
 */
export function childExit(stop: ChildStop | undefined, last: TurnOutcome | undefined): ChildExit {
  if (stop !== undefined && last?.status !== "completed") {
    const status: ChildStatus = stop.reason.code === "timed_out" ? "timed_out" : stop.status;
    return { status, error: errorOf(stop.reason), exitReason: stop.reason.code };
  }
  if (last === undefined)
    return {
      status: "failed",
      error: { code: "no_turn", message: "the child never ran" },
      exitReason: "no_turn",
    };
  if (last.status === "completed")
    return { status: "completed", error: undefined, exitReason: last.reason.code };
  const status: ChildStatus =
    last.reason.code === "timed_out"
      ? "timed_out"
      : last.status === "cancelled" || last.status === "interrupted"
        ? last.status
        : "failed";
  return { status, error: errorOf(last.reason), exitReason: last.reason.code };
}

function errorOf(reason: Reason): ChildCompletion["error"] {
  return { code: reason.code, message: reason.message };
}
