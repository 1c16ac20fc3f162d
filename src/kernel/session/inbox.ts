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
  readonly id: string;
  readonly policy: Policy;
  /** A background child's completion, delivered to this session as input (never steered). */
  readonly completion?: boolean;
}

export interface RunningTurn<Q extends QueuedInput = QueuedInput> {
  readonly turnId: string;
  /** Every input this turn answers: those it started with plus any steered into it. */
  readonly inputs: Q[];
}

/**
 * A session's inbox. Generic over the queued item so a caller can queue its own richer objects and
 * get them back from `beginTurn` without a look-up by id.
 */
export interface InboxState<Q extends QueuedInput = QueuedInput> {
  /** Waiting inputs, in the order they will run. */
  readonly queue: Q[];
  running: RunningTurn<Q> | undefined;
  /** How many queued inputs carry policy `merge` (so `beginTurn` need not scan the queue). */
  merges: number;
}

export type AcceptDecision =
  | { readonly kind: "queued"; readonly interrupt: string | undefined }
  | { readonly kind: "steered"; readonly turnId: string }
  | { readonly kind: "refused"; readonly code: "SESSION_BUSY" | "INBOX_FULL"; readonly message: string };

/** The decision for most sends, shared: decisions are never changed. */
const QUEUED: AcceptDecision = Object.freeze({ kind: "queued", interrupt: undefined });

export function createInbox<Q extends QueuedInput = QueuedInput>(): InboxState<Q> {
  return { queue: [], running: undefined, merges: 0 };
}

/** True when the session has no turn running and nothing queued. */
export function isIdle(inbox: InboxState<QueuedInput>): boolean {
  return inbox.running === undefined && inbox.queue.length === 0;
}

/** Decides and records what happens to a newly sent input. */
export function accept<Q extends QueuedInput>(
  inbox: InboxState<Q>,
  input: Q,
  inboxLengthMax: number,
): AcceptDecision {
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
    inbox.running.inputs.push(input);
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
    // Behind the last queued interrupt. Queued interrupts lead the queue (re-queued steered input goes
    // behind them at a turn's end), so this stops at the first one from the back.
    let at = inbox.queue.length;
    while (at > 0 && inbox.queue[at - 1]!.policy !== "interrupt") at--;
    inbox.queue.splice(at, 0, input);
    return { kind: "queued", interrupt: inbox.running?.turnId };
  }
  if (input.policy === "merge") inbox.merges += 1;
  inbox.queue.push(input);
  return QUEUED;
}

/**
 * Starts the next turn if the session is idle and has queued input. Returns the inputs it takes, or
 * `undefined` when the session must not be driven now. The array is the running turn's
 * `inputs`: steered input joins it, and inputs the model never saw leave it at the turn's end.
 *
 * When the next input is a child's completion and `mergeCompletions` holds, the turn also takes every
 * other queued completion (and only those): results that arrived together are answered together,
 * while the user's own inputs keep their order and their policies.
 */
export function beginTurn<Q extends QueuedInput>(
  inbox: InboxState<Q>,
  turnId: string,
  mergeCompletions = true,
): Q[] | undefined {
  if (inbox.running !== undefined || inbox.queue.length === 0) return undefined;
  let taken: Q[];
  if (inbox.merges > 0) {
    taken = inbox.queue.splice(0, inbox.queue.length);
    inbox.merges = 0;
  } else if (mergeCompletions && inbox.queue[0]!.completion === true) {
    taken = [];
    const rest: Q[] = [];
    for (const q of inbox.queue) (q.completion === true ? taken : rest).push(q);
    inbox.queue.length = 0;
    inbox.queue.push(...rest);
  } else {
    taken = [inbox.queue.shift()!];
  }
  inbox.running = { turnId, inputs: taken };
  return taken;
}

/**
 * Undoes `beginTurn` for a turn that could not start (its start could not be stored): its inputs go
 * back to the front of the queue, in the order the turn took them, with their policies counted again.
 */
export function abandonTurn<Q extends QueuedInput>(inbox: InboxState<Q>, turnId: string): boolean {
  if (inbox.running?.turnId !== turnId) return false;
  const { inputs } = inbox.running;
  inbox.running = undefined;
  inbox.queue.unshift(...inputs);
  for (const input of inputs) if (input.policy === "merge") inbox.merges += 1;
  return true;
}

/**
 * Ends the running turn; steered inputs the model never saw go back to the front of the queue, behind
 * any queued interrupt input.
 */
export function endTurn<Q extends QueuedInput>(
  inbox: InboxState<Q>,
  turnId: string,
  unsteered: readonly Q[],
): boolean {
  if (inbox.running?.turnId !== turnId) return false;
  const running = inbox.running;
  inbox.running = undefined;
  if (unsteered.length > 0) {
    const back = new Set(unsteered);
    const kept = running.inputs.filter((q) => !back.has(q));
    running.inputs.length = 0;
    running.inputs.push(...kept);
    // Behind queued interrupts: when an interrupt ended this turn, it runs next ("cancel the running
    // turn, then run this"), as it would had it arrived after these inputs went back to the queue.
    let at = 0;
    while (at < inbox.queue.length && inbox.queue[at]!.policy === "interrupt") at++;
    inbox.queue.splice(at, 0, ...unsteered);
  }
  return true;
}

/** Removes a queued input. `running` when it already started; `unknown` when it is not in this inbox. */
export function withdraw(
  inbox: InboxState<QueuedInput>,
  inputId: string,
): "withdrawn" | "running" | "unknown" {
  const at = inbox.queue.findIndex((q) => q.id === inputId);
  if (at >= 0) {
    if (inbox.queue[at]!.policy === "merge") inbox.merges -= 1;
    inbox.queue.splice(at, 1);
    return "withdrawn";
  }
  return inbox.running?.inputs.some((q) => q.id === inputId) === true ? "running" : "unknown";
}
