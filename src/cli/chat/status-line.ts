/**
 * The chat's status line: the running turn (how long, tools running, lines waiting) and the
 * background children (goal, elapsed time, model calls), in one line of plain text.
 *
 * @packageDocumentation
 */

/** What the status line tells. */
export interface StatusFacts {
  /** The session's running turn, when there is one. */
  readonly turn: { readonly startedAtMs: number; readonly toolsRunning: number } | undefined;
  /** Inputs of the session waiting for a turn. */
  readonly queued: number;
  /** Background children running now. */
  readonly children: readonly {
    readonly goal: string;
    readonly dispatchedAtMs: number;
    readonly modelCalls: number;
  }[];
  readonly policy: string;
}

/** Characters of a child's goal the line shows. */
const GOAL_SHOWN_MAX = 28;

/** The status line at `nowMs`. */
export function statusLine(facts: StatusFacts, nowMs: number): string {
  const parts: string[] = [];
  if (facts.turn === undefined) parts.push("○ idle");
  else {
    const bits = [`● answering ${seconds(nowMs - facts.turn.startedAtMs)}`];
    if (facts.turn.toolsRunning > 0)
      bits.push(`${facts.turn.toolsRunning} tool${facts.turn.toolsRunning === 1 ? "" : "s"} running`);
    parts.push(bits.join(" · "));
  }
  if (facts.queued > 0) parts.push(`${facts.queued} waiting`);
  const { children } = facts;
  if (children.length === 0) parts.push("no children running");
  else {
    const shown = children.map((c) => {
      const calls = `${c.modelCalls} call${c.modelCalls === 1 ? "" : "s"}`;
      return `"${shorten(c.goal, GOAL_SHOWN_MAX)}" ${seconds(nowMs - c.dispatchedAtMs)} ${calls}`;
    });
    parts.push(`${children.length} ${children.length === 1 ? "child" : "children"}: ${shown.join("; ")}`);
  }
  parts.push(`policy ${facts.policy}`);
  return parts.join(" │ ");
}

/** Whole seconds: the line changes once a second, not on every frame. */
function seconds(ms: number): string {
  return `${Math.max(0, Math.floor(ms / 1000))} s`;
}

function shorten(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ");
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}
