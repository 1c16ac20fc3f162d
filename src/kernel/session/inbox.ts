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

/**
 * The turn an inbox is feeding: every input it answers, those it started with plus any steered into
 * it. A caller may use its own richer turn object (the runtime's live turn), which the inbox then
 * holds as it is.
 */
export interface InboxTurn<Q extends QueuedInput = QueuedInput> {
  readonly turnId: string;
  readonly inputs: Q[];
}

/**
 * A session's inbox. Generic over the queued item and the turn, so a caller can queue and run its own
 * richer objects and get them back without a look-up by id.
 */
export interface InboxState<Q extends QueuedInput = QueuedInput, T extends InboxTurn<Q> = InboxTurn<Q>> {
  /** Waiting inputs, in the order they will run. */
  readonly queue: Q[];
  /** The running turn, from `beginTurn` (or `resumeTurn`) to `endTurn`. */
  turn: T | undefined;
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
  return { queue: [], turn: undefined, merges: 0 };
}

/** True when the session has no turn running and nothing queued. */
export function isIdle(inbox: InboxState<QueuedInput, InboxTurn<QueuedInput>>): boolean {
  return inbox.turn === undefined && inbox.queue.length === 0;
}

/** Decides and records what happens to a newly sent input. */
export function accept<Q extends QueuedInput>(
  inbox: InboxState<Q, InboxTurn<Q>>,
  input: Q,
  inboxLengthMax: number,
): AcceptDecision {
  const busy = inbox.turn !== undefined || inbox.queue.length > 0;
  if (input.policy === "reject" && busy) {
    return {
      kind: "refused",
      code: "SESSION_BUSY",
      message: inbox.turn
        ? `session is running turn ${inbox.turn.turnId}; policy "reject" refuses input while busy`
        : `session has ${inbox.queue.length} queued input(s); policy "reject" refuses input while busy`,
    };
  }
  if (input.policy === "steer" && inbox.turn !== undefined) {
    inbox.turn.inputs.push(input);
    return { kind: "steered", turnId: inbox.turn.turnId };
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
    return { kind: "queued", interrupt: inbox.turn?.turnId };
  }
  if (input.policy === "merge") inbox.merges += 1;
  inbox.queue.push(input);
  return QUEUED;
}

/**
 * Starts turn `turnId` if the session is idle and has queued input: `open` makes the turn from the
 * inputs it takes (a new array, which becomes the turn's `inputs`: steered input joins it, and inputs
 * the model never saw leave it at the turn's end). Returns the turn, or `undefined` when the session
 * must not be driven now. When `open` throws, the inbox is left as it was.
 *
 * When the next input is a child's completion and `mergeCompletions` holds, the turn also takes every
 * other queued completion (and only those): results that arrived together are answered together,
 * while the user's own inputs keep their order and their policies.
 */
export function beginTurn<Q extends QueuedInput, T extends InboxTurn<Q>, I extends InboxState<Q, T>>(
  inbox: I,
  turnId: string,
  open: (inbox: I, turnId: string, inputs: Q[]) => T,
  mergeCompletions = true,
): T | undefined {
  if (inbox.turn !== undefined || inbox.queue.length === 0) return undefined;
  const { queue } = inbox;
  // Chosen first and taken after `open` returned, so that a throwing `open` changes nothing.
  let taken: Q[];
  let rest: Q[] | undefined;
  if (inbox.merges > 0) {
    taken = queue.slice();
    rest = [];
  } else if (mergeCompletions && queue[0]!.completion === true) {
    taken = queue.filter((q) => q.completion === true);
    rest = queue.filter((q) => q.completion !== true);
  } else {
    taken = [queue[0]!];
  }
  const turn = open(inbox, turnId, taken);
  if (rest === undefined) queue.shift();
  else {
    queue.length = 0;
    for (const q of rest) queue.push(q);
  }
  // Only a merging turn takes inputs sent with `merge`, and it takes every queued input.
  if (inbox.merges > 0) inbox.merges = 0;
  inbox.turn = turn;
  return turn;
}

/**
 * Makes `turn` the running turn of an idle inbox whose inputs are not queued: a turn recovered after
 * a crash. False (and nothing changes) when a turn is running already.
 */
export function resumeTurn<Q extends QueuedInput, T extends InboxTurn<Q>>(
  inbox: InboxState<Q, T>,
  turn: T,
): boolean {
  if (inbox.turn !== undefined) return false;
  inbox.turn = turn;
  return true;
}

/**
 * Undoes `beginTurn` for a turn that could not start (its start could not be stored): its inputs go
 * back to the front of the queue, in the order the turn took them, with their policies counted again.
 */
export function abandonTurn<Q extends QueuedInput, T extends InboxTurn<Q>>(
  inbox: InboxState<Q, T>,
  turnId: string,
): boolean {
  if (inbox.turn?.turnId !== turnId) return false;
  const { inputs } = inbox.turn;
  inbox.turn = undefined;
  inbox.queue.unshift(...inputs);
  for (const input of inputs) if (input.policy === "merge") inbox.merges += 1;
  return true;
}

/**
 * Ends the running turn; steered inputs the model never saw go back to the front of the queue, behind
 * any queued interrupt input.
 */
export function endTurn<Q extends QueuedInput, T extends InboxTurn<Q>>(
  inbox: InboxState<Q, T>,
  turnId: string,
  unsteered: readonly Q[],
): boolean {
  if (inbox.turn?.turnId !== turnId) return false;
  const turn = inbox.turn;
  inbox.turn = undefined;
  if (unsteered.length > 0) {
    const back = new Set(unsteered);
    const kept = turn.inputs.filter((q) => !back.has(q));
    turn.inputs.length = 0;
    turn.inputs.push(...kept);
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
  inbox: InboxState<QueuedInput, InboxTurn<QueuedInput>>,
  inputId: string,
): "withdrawn" | "running" | "unknown" {
  const at = inbox.queue.findIndex((q) => q.id === inputId);
  if (at >= 0) {
    if (inbox.queue[at]!.policy === "merge") inbox.merges -= 1;
    inbox.queue.splice(at, 1);
    return "withdrawn";
  }
  return inbox.turn?.inputs.some((q) => q.id === inputId) === true ? "running" : "unknown";
}
