/**
 * A live input: an accepted input that is queued or running in this process. It is three things in
 * one object — the handle its sender holds, the record the store is given (`store.accept(live)`)
 * and the inbox's queue item — because a backlog holds one per input and each turn reaches for all
 * three: one object is one allocation, one copy for the garbage collector and one cache miss where
 * three would be three of each.
 *
 * @packageDocumentation
 */

import type { InputStatus } from "../kernel/outcome.js";
import type { Policy, QueuedInput } from "../kernel/session/inbox.js";
import type { Stamp } from "./dispatcher.js";
import type { InputRecord } from "./ports/store.js";
import { type HandleOwner, TurnHandle } from "./turn-handle.js";

export class LiveInput extends TurnHandle implements InputRecord, QueuedInput {
  // Declared, then assigned once in the constructor (see TurnState for why).
  declare readonly seq: number;
  declare readonly payload: unknown;
  /**
   * The policy that orders it in the inbox, which is also what is stored: a steer that could not
   * join its turn is an `enqueue`, and recovery re-queues every input by its ordering policy alone.
   */
  declare readonly policy: Policy;
  declare readonly idempotencyKey: string | undefined;
  declare readonly delegationId: string | undefined;
  /**
   * When it was accepted in this process (for a recovered input: its stored time, and when this
   * process took it up), shared with the inputs accepted in the same moment.
   */
  declare readonly stamp: Stamp;

  get acceptedAtMs(): number {
    return this.stamp.epochMs;
  }

  /** Monotonic time of acceptance in this process, for send→start latency. */
  get sentAtMs(): number {
    return this.stamp.monotonicMs;
  }

  /** It carries a background child's completion (derived, so that no input stores it). */
  get completion(): boolean {
    return this.delegationId !== undefined;
  }

  constructor(
    owner: HandleOwner,
    status: InputStatus,
    /** The record's fields; its policy is the one given beside it, its time the stamp's. */
    record: Omit<InputRecord, "policy" | "acceptedAtMs">,
    policy: Policy,
    stamp: Stamp,
  ) {
    super(owner, record.id, record.sessionId, status);
    this.seq = record.seq;
    this.payload = record.payload;
    this.policy = policy;
    this.idempotencyKey = record.idempotencyKey;
    this.delegationId = record.delegationId;
    this.stamp = stamp;
  }
}
