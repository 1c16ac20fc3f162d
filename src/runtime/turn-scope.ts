/**
 * Which session's turn the current code runs in, tracked across awaits with `AsyncLocalStorage`, and
 * which turns wait on which sessions. Tools and function agents run inside a scope, so a wait that
 * could never finish is refused with `DeadlockError` instead of hanging: a wait on a turn of the same
 * session (a session runs one turn at a time), or a wait that closes a cycle across sessions (f's turn
 * waits on g, whose turn waits on f).
 *
 * @packageDocumentation
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { DeadlockError } from "../errors.js";

interface TurnScope {
  /** The runtime's graph: sessions of another runtime never wait on this one's turns. */
  readonly waits: WaitGraph;
  readonly sessionId: string;
  readonly turnId: string;
}

const scope = new AsyncLocalStorage<TurnScope>();

/** Ends a wait recorded by {@link WaitGraph.enter}; calling it again does nothing. */
export type ReleaseWait = () => void;

const NO_WAIT: ReleaseWait = () => {};

/**
 * The waits between sessions of one runtime: an edge a → b for as long as code in a turn of a
 * awaits an input of b (`handle.result()`, `session.invoke()`). A turn waits on b's input until b's
 * running turn ends, so a cycle of edges is a set of turns each waiting for another to end.
 */
export class WaitGraph {
  /** Waits by waiting session, then by the session waited on, with how many waits each. */
  readonly #edges = new Map<string, Map<string, number>>();

  /**
   * Throws `DeadlockError` when the caller runs in a turn of this runtime and a wait on an input of
   * `target` could never end: `target` is the caller's own session, or `target` waits (directly or
   * through other sessions) on the caller's session.
   */
  check(target: string, what: string): void {
    const current = this.#current();
    if (current !== undefined) this.#refuseCycle(current, target, what);
  }

  /** Checks as {@link check}, then records the wait until the returned function is called. */
  enter(target: string, what: string): ReleaseWait {
    const current = this.#current();
    if (current === undefined) return NO_WAIT;
    this.#refuseCycle(current, target, what);
    const from = current.sessionId;
    let waits = this.#edges.get(from);
    if (waits === undefined) {
      waits = new Map();
      this.#edges.set(from, waits);
    }
    waits.set(target, (waits.get(target) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const count = waits.get(target)! - 1;
      if (count > 0) waits.set(target, count);
      else waits.delete(target);
      if (waits.size === 0 && this.#edges.get(from) === waits) this.#edges.delete(from);
    };
  }

  #current(): TurnScope | undefined {
    const current = scope.getStore();
    return current?.waits === this ? current : undefined;
  }

  #refuseCycle(current: TurnScope, target: string, what: string): void {
    const { sessionId, turnId } = current;
    if (target === sessionId) {
      throw new DeadlockError(
        `${what} waits on session ${JSON.stringify(sessionId)} from inside its own turn ${turnId}; ` +
          "the session runs one turn at a time, so this would never finish. Send without waiting, or use the steer policy.",
        { sessionId, turnId },
      );
    }
    const path = this.#pathTo(target, sessionId, new Set());
    if (path === undefined) return;
    const cycle = [sessionId, ...path];
    throw new DeadlockError(
      `${what} in turn ${turnId} of session ${JSON.stringify(sessionId)} waits on session ${JSON.stringify(target)}, ` +
        `which already waits on it: ${cycle.map((id) => JSON.stringify(id)).join(" → ")}. Each session runs one ` +
        "turn at a time, so none of these turns would ever finish. Send without waiting, or wait outside the turn.",
      { sessionId, turnId, cycle },
    );
  }

  /** The sessions from `from` to `to` along wait edges (both included), or `undefined`. */
  #pathTo(from: string, to: string, seen: Set<string>): string[] | undefined {
    if (from === to) return [to];
    if (seen.has(from)) return undefined;
    seen.add(from);
    for (const next of this.#edges.get(from)?.keys() ?? []) {
      const rest = this.#pathTo(next, to, seen);
      if (rest !== undefined) return [from, ...rest];
    }
    return undefined;
  }
}

/** Runs `fn` as part of a turn of `sessionId` in the runtime whose wait graph is `waits`. */
export function runInTurn<T>(waits: WaitGraph, sessionId: string, turnId: string, fn: () => T): T {
  return scope.run({ waits, sessionId, turnId }, fn);
}

/** The turn the current code runs in, of any runtime, or `undefined` outside every turn. */
export function insideTurn(): { readonly sessionId: string; readonly turnId: string } | undefined {
  return scope.getStore();
}

/**
 * Runs `fn` outside any turn. The dispatcher runs its jobs this way: they are the runtime's own work
 * and call host listeners, whichever turn's code happened to post the job that woke the dispatcher
 * (a microtask inherits the scope of the code that queued it).
 */
export function outsideTurn<T>(fn: () => T): T {
  return scope.exit(fn);
}
