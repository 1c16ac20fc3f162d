/**
 * Turns ended or let go of from outside their machine: a child's stop ends its session's queue and
 * running turn; a lost lease lets one running turn go (another process resumes it); a stop
 * interrupts every running turn, and a stop or a failed store then detaches every session. A turn
 * that is let go of is aborted, takes no more events and writes nothing; its inputs' handles are
 * settled here or by the caller.
 *
 * @packageDocumentation
 */
import { OffstageError } from "../errors.js";
import type { Reason, TurnOutcome } from "../kernel/outcome.js";
import type { LiveInput } from "./live-input.js";
import type { RuntimeParts } from "./parts.js";
import type { SessionEntry } from "./session-table.js";

/** How the handle of an input settles when the runtime is not running (the input stays queued). */
export const DETACHED: TurnOutcome = {
  status: "interrupted",
  reason: {
    code: "runtime_stopped",
    message: "the runtime stopped; the input stays queued and runs after the next start",
  },
};

const NO_INPUTS: readonly LiveInput[] = [];
const ABANDONED: Reason = {
  code: "runtime_stopped",
  message: "abandoned by a stop: its calls ignored their abort",
};

/** Ends a session's queued input and running turn; true when a turn was running (its end follows). */
export function stopSession(
  parts: RuntimeParts,
  sessionId: string,
  status: "cancelled" | "interrupted",
  reason: Reason,
): boolean {
  const entry = parts.sessions.get(sessionId);
  if (entry === undefined) return false;
  for (const live of [...entry.queue]) parts.intake.endQueued(live, status, reason, "stop");
  const turn = entry.turn;
  if (turn === undefined || turn.ended) return false;
  parts.driver.feed(turn, { type: "cancel", request: { mode: "immediate", status, reason } });
  return true;
}

/**
 * Lets go of the session's running turn without ending it (another process holds the session now
 * and resumes the turn): its calls are aborted, their late results dropped, nothing more is
 * written, and its slot is freed. Returns the turn's inputs, whose handles are the caller's to
 * settle; none when no turn runs.
 */
export function abandonTurn(parts: RuntimeParts, entry: SessionEntry, why: Reason): readonly LiveInput[] {
  const turn = entry.turn;
  if (turn === undefined) return NO_INPUTS;
  turn.controller ??= new AbortController();
  turn.controller.abort(new OffstageError("TURN_CANCELLED", why.message));
  parts.observer.turnAbandoned(turn, why);
  entry.turn = undefined;
  // An end waiting for its commit is not finished now (the driver sees the turn is let go of).
  parts.driver.letGo();
  return turn.inputs;
}

/** Interrupts every running turn (a stop). */
export function interruptAll(parts: RuntimeParts, reason: Reason): void {
  for (const entry of parts.sessions.values()) {
    const turn = entry.turn;
    if (turn === undefined) continue;
    try {
      parts.driver.feed(turn, {
        type: "cancel",
        request: { mode: "immediate", status: "interrupted", reason },
      });
    } catch (error) {
      // Its end could not be written (a failed store): the other turns are still interrupted.
      parts.events.report(`interrupt of turn ${turn.turnId}`, error, { sessionId: entry.id });
    }
  }
}

/**
 * The runtime stopped (or its store failed): every handle still live settles `interrupted` (the
 * inputs stay stored for the next start), every running turn is aborted and let go (`why` ends
 * its span), and every session forgets its turn and queue.
 */
export function detachAll(parts: RuntimeParts, why: Reason = ABANDONED): void {
  parts.driver.letGoAll();
  for (const entry of parts.sessions.values()) {
    for (const live of entry.queue) live.settle(DETACHED, undefined, undefined);
    // Turns a timed-out stop abandoned: their calls ignored the abort and will never be heard.
    for (const live of entry.turn?.inputs ?? NO_INPUTS) live.settle(DETACHED, undefined, undefined);
    if (entry.turn !== undefined) {
      entry.turn.controller?.abort(new OffstageError("TURN_CANCELLED", why.message));
      parts.observer.turnAbandoned(entry.turn, why);
    }
    entry.queue.length = 0;
    entry.merges = 0;
    entry.turn = undefined;
    entry.wakePending = false;
    entry.waiting = false;
  }
}
