/**
 * A live input: an accepted input that is queued or running in this process. It is the handle its
 * sender holds and the item its session's inbox queues; the plain record of it goes to the store.
 *
 * @packageDocumentation
 */

import type { InputStatus } from "../kernel/outcome.js";
import type { Policy, QueuedInput } from "../kernel/session/inbox.js";
import type { Stamp } from "./dispatcher.js";
import type { RuntimeParts } from "./parts.js";
import type { InputRecord } from "./ports/store.js";
import { TurnHandle } from "./turn-handle.js";

export class LiveInput extends TurnHandle implements QueuedInput {
  // Declared, then assigned once in the constructor (see TurnState for why). The fields of its
  // record the runtime reads are its own: a turn then reads this one object of each input.
  declare readonly payload: unknown;
  /**
   * The policy that orders it in the inbox: the record's, except that recovery re-queues an input by
   * the ordering part of its policy alone (`reject` and `steer` applied when it was accepted).
   */
  declare readonly policy: Policy;
  declare readonly idempotencyKey: string | undefined;
  /** The delegation whose completion it carries to its session, if any. */
  declare readonly delegationId: string | undefined;
  /** When it was accepted in this process (taken up, for a recovered input), shared with its moment. */
  declare readonly stamp: Stamp;

  constructor(parts: RuntimeParts, record: InputRecord, status: InputStatus, policy: Policy, stamp: Stamp) {
    super(parts, record.id, record.sessionId, status);
    this.payload = record.payload;
    this.policy = policy;
    this.idempotencyKey = record.idempotencyKey;
    this.delegationId = record.delegationId;
    this.stamp = stamp;
  }

  /** Monotonic time of acceptance in this process, for send→start latency. */
  get sentAtMs(): number {
    return this.stamp.monotonicMs;
  }

  /** It carries a background child's completion. */
  get completion(): boolean {
    return this.delegationId !== undefined;
  }
}
