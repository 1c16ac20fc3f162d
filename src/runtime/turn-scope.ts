/**
 * Which session's turn the current code runs in, tracked across awaits with `AsyncLocalStorage`.
 * Tools and function agents run inside a scope, so a wait on the same session's turn — which could
 * never finish — is refused with `DeadlockError` instead of hanging.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { DeadlockError } from "../errors.js";

interface TurnScope {
  readonly sessionId: string;
  readonly turnId: string;
}

const scope = new AsyncLocalStorage<TurnScope>();

/** Runs `fn` as part of a turn of `sessionId`. */
export function runInTurn<T>(sessionId: string, turnId: string, fn: () => T): T {
  return scope.run({ sessionId, turnId }, fn);
}

/** Throws `DeadlockError` when the caller runs inside a turn of `sessionId`. */
export function assertNotInTurnOf(sessionId: string, what: string): void {
  const current = scope.getStore();
  if (current === undefined || current.sessionId !== sessionId) return;
  throw new DeadlockError(
    `${what} waits on session ${JSON.stringify(sessionId)} from inside its own turn ${current.turnId}; ` +
      "the session runs one turn at a time, so this would never finish. Send without waiting, or use the steer policy.",
    { sessionId, turnId: current.turnId },
  );
}

/**
 * Runs `fn` outside any turn. The dispatcher runs its jobs this way: they are the runtime's own work
 * and call host listeners, whichever turn's code happened to post the job that woke the dispatcher
 * (a microtask inherits the scope of the code that queued it).
 */
export function outsideTurn<T>(fn: () => T): T {
  return scope.exit(fn);
}
