/**
 * A model call of a background child is admitted by its tree's budget before it is made
 * (`Children.admit`, which asks the delegation log). A shared store cut off from its server cannot
 * answer (`STORE_UNAVAILABLE`): the call then waits and asks again every `pollIntervalMs`, as the
 * lease keeper's claims do, until it is admitted or refused — the turn pauses, as its writes do,
 * rather than fail or hang. A cancel of the turn ends the wait at once: the step then goes to its
 * model call, which sees the cancel and ends the step without calling the model.
 *
 * @packageDocumentation
 */
import { isOffstageError } from "../../errors.js";
import type { AdmitDecision } from "../../kernel/delegation/delegation-budget.js";
import type { LiveTurn } from "../live-turn.js";
import type { RuntimeParts } from "../parts.js";

/**
 * Admits the turn's next model call: calls `admitted` when it may be made (or is not a child's),
 * `refused` with the budget's verdict when it may not; after a wait when the store is unavailable.
 */
export function admitModelCall(
  parts: RuntimeParts,
  turn: LiveTurn,
  admitted: () => void,
  refused: (verdict: Exclude<AdmitDecision, { kind: "ok" }>) => void,
): void {
  let waiting = false;
  const ask = () => {
    let verdict: AdmitDecision | undefined;
    try {
      verdict = parts.children?.admit(turn.sessionId, turn.usage);
    } catch (error) {
      if (!isOffstageError(error, "STORE_UNAVAILABLE")) throw error;
      if (!waiting)
        parts.log.warn(
          { sessionId: turn.sessionId, turnId: turn.turnId, error },
          `a background child's model call waits: its tree's budget cannot be read (${error.message}); asking again every ${parts.options.pollIntervalMs} ms`,
        );
      waiting = true;
      askAgainLater(parts, turn, ask, admitted);
      return;
    }
    if (verdict === undefined || verdict.kind === "ok") admitted();
    else refused(verdict);
  };
  ask();
}

/** Runs `ask` after `pollIntervalMs`, or `cancelled` at once when the turn is cancelled meanwhile. */
function askAgainLater(parts: RuntimeParts, turn: LiveTurn, ask: () => void, cancelled: () => void): void {
  const { clock, dispatcher } = parts;
  const signal = turn.signal;
  const again = () => {
    clock.clearTimeout(timer);
    signal.removeEventListener("abort", again);
    dispatcher.post("model admission", () => {
      // Let go of meanwhile (a stop, a lost lease): nothing more of it runs.
      if (turn.entry.turn !== turn) return;
      if (signal.aborted) cancelled();
      else ask();
    });
  };
  const timer = clock.setTimeout(again, parts.options.pollIntervalMs);
  signal.addEventListener("abort", again, { once: true });
}
