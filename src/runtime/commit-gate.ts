/**
 * The commit gate: **nobody is told about a write before the commit that holds it.**
 *
 * Store writes are synchronous and join the store's current group; `store.commit()` resolves once
 * every write made before it is as durable as the store can make it. Whatever the runtime would tell
 * the outside about a write waits here for that commit:
 * - an accepted input's receipt turns `durable` (with a store whose receipt is `durable`); a
 *   background child's completion is such an input, written in the group that ends the child;
 * - a turn's end: its handles settle and its session is driven again;
 * - an input ended without a turn (withdrawn, cancelled): its handles settle.
 * A crash can therefore only lose writes that nobody was told about.
 *
 * Receipts and turn ends share one commit wait per synchronous run: the gate asks for the commit a
 * microtask after the first of them is held, so everything written before then is in that commit;
 * what is held while it is awaited waits for the next one. An input's end asks for its commit at
 * once: such ends are rare, and each must be told before the turn that starts after it. A commit
 * that fails lost its writes: what it held is dropped, and the store's health (`store-health.ts`)
 * settles every handle it concerned.
 *
 * @packageDocumentation
 */
import type { TerminalStatus, TurnOutcome } from "../kernel/outcome.js";
import type { LiveInput } from "./live-input.js";
import type { LiveTurn } from "./live-turn.js";
import type { RuntimeParts } from "./parts.js";
import type { TurnHandle } from "./turn-handle.js";

/** An input ended without a turn, and the handles its end settles. */
interface InputEnd {
  readonly live: LiveInput;
  /** The caller's handle, which may be an older one of the same input (from before a restart). */
  readonly handle: TurnHandle;
  readonly outcome: TurnOutcome;
}

/** What one commit releases. */
interface Held {
  readonly receipts: readonly TurnHandle[];
  readonly turnEnds: readonly LiveTurn[];
  readonly inputEnds: readonly InputEnd[];
}

/** Receipts and turn ends, held for the next commit. */
interface Batch {
  readonly receipts: TurnHandle[];
  readonly turnEnds: LiveTurn[];
}

export class CommitGate {
  readonly #parts: RuntimeParts;
  #batch: Batch = empty();
  /** Inputs ended without a turn whose end waits for its commit, by id (`runtime.handle(id)` finds them). */
  readonly #endingInputs = new Map<string, InputEnd>();
  /** Commits asked for and not yet resolved or rejected, and who waits for none to be left. */
  #inFlight = 0;
  #idle: (() => void)[] = [];

  constructor(parts: RuntimeParts) {
    this.#parts = parts;
  }

  /** The input was written: its receipt turns `durable` once committed (`stored` at once otherwise). */
  holdReceipt(handle: TurnHandle): void {
    if (this.#parts.store.receipt !== "durable") handle.markStored("stored");
    else this.#hold().receipts.push(handle);
  }

  /** The turn's end was written: once committed, the driver finishes it. */
  holdTurnEnd(turn: LiveTurn): void {
    this.#hold().turnEnds.push(turn);
  }

  /** The input's end was written: once committed, its handles settle with `outcome`. */
  holdInputEnd(live: LiveInput, handle: TurnHandle, outcome: TurnOutcome): void {
    const end: InputEnd = { live, handle, outcome };
    this.#endingInputs.set(handle.id, end);
    this.#await({ receipts: [], turnEnds: [], inputEnds: [end] });
  }

  /** The live handle of an input whose end waits for its commit. */
  endingInput(inputId: string): TurnHandle | undefined {
    return this.#endingInputs.get(inputId)?.live;
  }

  /** How an input whose end waits for its commit ends (`withdrawn`, `cancelled`, ...). */
  endingStatus(inputId: string): TerminalStatus | undefined {
    return this.#endingInputs.get(inputId)?.outcome.status;
  }

  #hold(): Batch {
    const batch = this.#batch;
    if (batch.receipts.length === 0 && batch.turnEnds.length === 0) queueMicrotask(this.#commit);
    return batch;
  }

  /** Takes the batch held so far and releases it when the commit holding it resolves. */
  readonly #commit = (): void => {
    const { receipts, turnEnds } = this.#batch;
    this.#batch = empty();
    this.#await({ receipts, turnEnds, inputEnds: NO_INPUT_ENDS });
  };

  #await(group: Held): void {
    this.#inFlight += 1;
    // A rejection reaches the store's health through the guarded store; the cut settles the handles.
    this.#parts.store
      .commit()
      .then(
        () => this.#release(group),
        () => undefined,
      )
      .finally(this.#landed);
  }

  /**
   * Resolves once every commit asked for so far has resolved or rejected. The store's health waits
   * for it before it settles handles: a group committed before the failure, whose fsync was still
   * running, marks its receipts `durable` first, so its inputs are not reported lost.
   */
  settled(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  readonly #landed = (): void => {
    this.#inFlight -= 1;
    if (this.#inFlight > 0) return;
    for (const resolve of this.#idle.splice(0)) resolve();
  };

  /**
   * The store failed: everything held is dropped, and each input whose end waited for its commit is
   * handed to `settle` (the others are still in their session's queue or turn).
   */
  abandon(settle: (live: LiveInput) => void): void {
    this.#batch = empty();
    for (const { live } of this.#endingInputs.values()) settle(live);
    this.#endingInputs.clear();
  }

  #release(group: Held): void {
    const { driver, events } = this.#parts;
    for (let i = 0; i < group.receipts.length; i++) group.receipts[i]!.markStored("durable");
    for (const { live, handle, outcome } of group.inputEnds) {
      this.#endingInputs.delete(handle.id);
      live.settle(outcome, undefined, undefined);
      handle.settle(outcome, undefined, undefined);
      events.emit({
        type: "input.status",
        sessionId: handle.sessionId,
        inputId: handle.id,
        status: outcome.status,
      });
    }
    if (group.inputEnds.length > 0) this.#parts.keepAlive.settled();
    if (group.turnEnds.length > 0) driver.committed(group.turnEnds);
  }
}

const NO_INPUT_ENDS: readonly InputEnd[] = [];

function empty(): Batch {
  return { receipts: [], turnEnds: [] };
}
