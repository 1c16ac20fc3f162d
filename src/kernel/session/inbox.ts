/**
 * A session's inbox: the rules for input that arrives while a turn runs ("double texting"), and for
 * which inputs the next turn takes. Pure: no IO, clocks or randomness. Functions update the state they
 * are given and return a decision; a refused input leaves the state exactly as it was.
 *
 * The story of an input: it is *queued* in arrival order (an `interrupt` input goes ahead of plain
 * queued ones, behind earlier interrupts), becomes part of a turn when the session is idle (one input,
 * or every queued input when any of them was sent with `merge`), or is *steered* into the running turn,
 * or is *withdrawn* while still queued. At most one turn per session is ever running.
 */

/** What to do with input that arrives while the session is busy. */
export type Policy = "enqueue" | "reject" | "interrupt" | "merge" | "steer";

export const POLICIES: ReadonlySet<string> = new Set<Policy>([
  "enqueue",
  "reject",
  "interrupt",
  "merge",
  "steer",
]);

export interface QueuedInput {
  readonly inputId: string;
  readonly policy: Policy;
}

export interface RunningTurn {
  readonly turnId: string;
  /** Every input this turn answers: those it started with plus any steered into it. */
  readonly inputIds: string[];
}

export interface InboxState {
  /** Waiting inputs, in the order they will run. */
  readonly queue: QueuedInput[];
  running: RunningTurn | undefined;
}

export type AcceptDecision =
  | { readonly kind: "queued"; readonly interrupt: string | undefined }
  | { readonly kind: "steered"; readonly turnId: string }
  | { readonly kind: "refused"; readonly code: "SESSION_BUSY" | "INBOX_FULL"; readonly message: string };

export function createInbox(): InboxState {
  return { queue: [], running: undefined };
}

/** True when the session has no turn running and nothing queued. */
export function isIdle(inbox: InboxState): boolean {
  return inbox.running === undefined && inbox.queue.length === 0;
}

/** Decides and records what happens to a newly sent input. */
export function accept(inbox: InboxState, input: QueuedInput, inboxLengthMax: number): AcceptDecision {
  const busy = inbox.running !== undefined || inbox.queue.length > 0;
  if (input.policy === "reject" && busy) {
    return {
      kind: "refused",
      code: "SESSION_BUSY",
      message: inbox.running
        ? `session is running turn ${inbox.running.turnId}; policy "reject" refuses input while busy`
        : `session has ${inbox.queue.length} queued input(s); policy "reject" refuses input while busy`,
    };
  }
  if (input.policy === "steer" && inbox.running !== undefined) {
    inbox.running.inputIds.push(input.inputId);
    return { kind: "steered", turnId: inbox.running.turnId };
  }
  if (inbox.queue.length >= inboxLengthMax) {
    return {
      kind: "refused",
      code: "INBOX_FULL",
      message: `session inbox holds ${inbox.queue.length} inputs, its limit (inboxLengthMax ${inboxLengthMax})`,
    };
  }
  if (input.policy === "interrupt") {
    let at = 0;
    while (at < inbox.queue.length && inbox.queue[at]!.policy === "interrupt") at++;
    inbox.queue.splice(at, 0, input);
    return { kind: "queued", interrupt: inbox.running?.turnId };
  }
  inbox.queue.push(input);
  return { kind: "queued", interrupt: undefined };
}

/**
 * Starts the next turn if the session is idle and has queued input. Returns the inputs it takes, or
 * `undefined` when the session must not be driven now.
 */
export function beginTurn(inbox: InboxState, turnId: string): readonly string[] | undefined {
  if (inbox.running !== undefined || inbox.queue.length === 0) return undefined;
  let taken: QueuedInput[];
  if (inbox.queue.some((q) => q.policy === "merge")) {
    taken = inbox.queue.splice(0, inbox.queue.length);
  } else {
    taken = [inbox.queue.shift()!];
  }
  const inputIds = taken.map((q) => q.inputId);
  inbox.running = { turnId, inputIds: [...inputIds] };
  return inputIds;
}

/** Ends the running turn; steered inputs the model never saw go back to the front of the queue. */
export function endTurn(inbox: InboxState, turnId: string, unsteered: readonly string[]): boolean {
  if (inbox.running?.turnId !== turnId) return false;
  const running = inbox.running;
  inbox.running = undefined;
  if (unsteered.length > 0) {
    const back = new Set(unsteered);
    const kept = running.inputIds.filter((id) => !back.has(id));
    running.inputIds.length = 0;
    running.inputIds.push(...kept);
    inbox.queue.unshift(...unsteered.map((inputId): QueuedInput => ({ inputId, policy: "enqueue" })));
  }
  return true;
}

/** Removes a queued input. `running` when it already started; `unknown` when it is not in this inbox. */
export function withdraw(inbox: InboxState, inputId: string): "withdrawn" | "running" | "unknown" {
  const at = inbox.queue.findIndex((q) => q.inputId === inputId);
  if (at >= 0) {
    inbox.queue.splice(at, 1);
    return "withdrawn";
  }
  return inbox.running?.inputIds.includes(inputId) ? "running" : "unknown";
}
