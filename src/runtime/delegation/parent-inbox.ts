/**
 * The way from a finished child to its parent's inbox. With one process the parent's entry is here
 * or the parent is gone; with a store shared by processes the parent may run in another process, or
 * in none at the moment (its holder died), so the store answers whether it still takes results, and
 * the input that carries a completion reaches such a parent through the store alone.
 *
 * @packageDocumentation
 */
import type { RuntimeParts } from "../parts.js";
import type { DelegationLog, DelegationRecord } from "../ports/delegation-log.js";
import { delegationIdOf } from "./delegate-spec.js";
import type { LiveChild } from "./live-child.js";

export class ParentInbox {
  readonly #parts: RuntimeParts;
  readonly #log: DelegationLog;
  /** The children running in this process, by their session's id (`Children` keeps them). */
  readonly #children: ReadonlyMap<string, LiveChild>;

  constructor(parts: RuntimeParts, log: DelegationLog, children: ReadonlyMap<string, LiveChild>) {
    this.#parts = parts;
    this.#log = log;
    this.#children = children;
  }

  /**
   * Why a completion cannot go to its parent, or `undefined` when it can. With a store shared by
   * processes the parent may run in another process, or in none at the moment (its holder died):
   * the store says whether it still takes results — it exists, and, a child itself, has not
   * completed.
   */
  undeliverable(record: DelegationRecord): string | undefined {
    const shared = this.#parts.leaseKeeper !== undefined;
    if (!shared && this.#parts.sessions.get(record.parentSessionId) === undefined) return "parent_missing";
    if (record.depth === 1) return undefined;
    // The parent is itself a child: it must still be running to take the result.
    const parent = this.#children.get(record.parentSessionId);
    if (parent !== undefined) return parent.stop === undefined ? undefined : "parent_stopped";
    if (!shared) return "parent_finished";
    const own = this.#log.get(delegationIdOf(record.parentSessionId));
    return own !== undefined && own.completion === undefined ? undefined : "parent_finished";
  }

  /**
   * Queues the input that carries a completion to its parent and returns its id. A parent this
   * process has no entry for (it runs in another process, or in none now) gets it through the store
   * alone: its holder, or whichever process claims it, takes it up.
   */
  carry(record: DelegationRecord, text: string): string {
    const { sessions, intake, store, dispatcher, options } = this.#parts;
    const parent = sessions.get(record.parentSessionId);
    if (parent !== undefined) return intake.acceptOwn(parent, text, record.id);
    const id = options.ids();
    const seq = intake.nextSeq;
    intake.nextSeq = seq + 1;
    store.accept({
      id,
      sessionId: record.parentSessionId,
      seq,
      payload: text,
      policy: "enqueue",
      idempotencyKey: undefined,
      acceptedAtMs: dispatcher.epochNow(),
      delegationId: record.id,
    });
    return id;
  }
}
