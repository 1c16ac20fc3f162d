/**
 * `ClientDelegations`: `runtime.delegations` of a runtime in another thread. Each call runs in the
 * worker, with the runtime's own checks and errors.
 *
 * @packageDocumentation
 */
import type {
  DelegationInfo,
  ListDelegationsOptions,
  StopChildrenOptions,
} from "../runtime/delegation/delegations.js";
import type { DelegationRecord } from "../runtime/ports/delegation-log.js";

/** Background children of a runtime in a worker thread (see `Delegations`). */
export class ClientDelegations {
  readonly #call: (op: string, args: readonly unknown[]) => unknown;

  /** @internal Made by the client. */
  constructor(call: (op: string, args: readonly unknown[]) => unknown) {
    this.#call = call;
  }

  /** Every retained delegation, optionally of one parent, in dispatch order. */
  list(options?: ListDelegationsOptions): DelegationInfo[] {
    return this.#call("delegations.list", options === undefined ? [] : [options]) as DelegationInfo[];
  }

  /** One delegation by id, or `undefined`. */
  get(id: string): DelegationInfo | undefined {
    return this.#call("delegations.get", [id]) as DelegationInfo | undefined;
  }

  /** Cancels a running child; false when it is not running. */
  cancel(id: string, reason?: string): boolean {
    return this.#call("delegations.cancel", reason === undefined ? [id] : [id, reason]) as boolean;
  }

  /** Interrupts every running child (they still report); returns how many. */
  interruptAll(reason?: string): number {
    return this.#call("delegations.interruptAll", reason === undefined ? [] : [reason]) as number;
  }

  /** Stops the running children of one session; returns how many. */
  stopChildren(parentSessionId: string, options?: StopChildrenOptions): number {
    const args = options === undefined ? [parentSessionId] : [parentSessionId, options];
    return this.#call("delegations.stopChildren", args) as number;
  }

  /** Completions held after downtime, waiting for the host's decision. */
  pendingStale(): DelegationRecord[] {
    return this.#call("delegations.pendingStale", []) as DelegationRecord[];
  }

  /** Delivers a held completion to its parent; false when there is none. */
  deliverStale(id: string): boolean {
    return this.#call("delegations.deliverStale", [id]) as boolean;
  }

  /** Drops a held completion; false when there is none. */
  dropStale(id: string, reason?: string): boolean {
    return this.#call("delegations.dropStale", reason === undefined ? [id] : [id, reason]) as boolean;
  }

  /** Children running now. */
  get running(): number {
    return this.#call("delegations.running", []) as number;
  }
}
