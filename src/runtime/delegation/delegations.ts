/**
 * `runtime.delegations`: what a host sees of background children and how it controls them. The
 * children themselves are driven by `children.ts`; this is their public face.
 *
 * @packageDocumentation
 */

import { renderCompletions } from "../../kernel/delegation/child-completion.js";
import { REASON_CHARS_MAX } from "../../kernel/limits.js";
import type { Reason } from "../../kernel/outcome.js";
import { argumentsOf, checkBoolean, checkId, checkOptions, checkText } from "../../validate.js";
import type { RuntimeParts } from "../parts.js";
import type { DelegationRecord } from "../ports/delegation-log.js";
import type { Children } from "./children.js";

/** A delegation as `list()` and `get()` show it. */
export type DelegationInfo = DelegationRecord & {
  readonly running: boolean;
  /** Model calls the child made: so far while it runs (in this process), in all once it completed. */
  readonly modelCalls: number;
};

/** Options of {@link Delegations.stopChildren}. */
export interface StopChildrenOptions {
  /** Stop the children's own children too (default false). */
  readonly recursive?: boolean;
  readonly reason?: string;
}

/** Options of {@link Delegations.list}. */
export interface ListDelegationsOptions {
  /** Only the children of this session. */
  readonly parentSessionId?: string;
}

const LIST_KEYS = Object.keys({ parentSessionId: true } satisfies Record<keyof ListDelegationsOptions, true>);
const STOP_CHILDREN_KEYS = Object.keys({ recursive: true, reason: true } satisfies Record<
  keyof StopChildrenOptions,
  true
>);

/** Background children: list them, stop them, and decide about completions held after downtime. */
export class Delegations {
  readonly #parts: RuntimeParts;
  readonly #children: Children;

  /** @internal The runtime creates it. */
  constructor(parts: RuntimeParts, children: Children) {
    this.#parts = parts;
    this.#children = children;
  }

  /** Every retained delegation, optionally of one parent, in dispatch order. */
  list(options: ListDelegationsOptions = {}): DelegationInfo[] {
    const subject = argumentsOf("delegations.list()");
    const { parentSessionId } = checkOptions(subject, "options", options, LIST_KEYS);
    if (parentSessionId !== undefined) checkId(subject, "parentSessionId", parentSessionId);
    return this.#children.log.list(parentSessionId).map((r) => this.#info(r));
  }

  /** The delegation with this id, or `undefined`. */
  get(id: string): DelegationInfo | undefined {
    checkId(argumentsOf("delegations.get()"), "id", id);
    const record = this.#children.log.get(id);
    return record === undefined ? undefined : this.#info(record);
  }

  /** Cancels a running child and its own children; false when it is not running. It still reports. */
  cancel(id: string, reason = "cancelled by the host"): boolean {
    const subject = argumentsOf("delegations.cancel()");
    checkId(subject, "id", id);
    checkReason(subject, reason);
    return this.#children.stopById(id, "cancelled", { code: "cancel_requested", message: reason });
  }

  /** Interrupts every running child; each still reports once, with its partial output. */
  interruptAll(reason = "interrupted by the host"): number {
    checkReason(argumentsOf("delegations.interruptAll()"), reason);
    return this.#children.stopAll("interrupted", { code: "interrupted_by_input", message: reason });
  }

  /**
   * Stops the children of one parent session (and, with `recursive`, theirs). The parent's own turn
   * goes on; to stop that, cancel its handle.
   */
  stopChildren(parentSessionId: string, options: StopChildrenOptions = {}): number {
    const subject = argumentsOf("delegations.stopChildren()");
    checkId(subject, "parentSessionId", parentSessionId);
    const given = checkOptions(subject, "options", options, STOP_CHILDREN_KEYS);
    if (given.recursive !== undefined) checkBoolean(subject, "recursive", given.recursive);
    if (given.reason !== undefined) checkReason(subject, given.reason);
    const reason: Reason = {
      code: "interrupted_by_input",
      message: given.reason ?? "stopped by the parent",
    };
    return this.#children.stopChildrenOf(parentSessionId, given.recursive === true, reason);
  }

  /** Completions held at startup because they were older than `staleAfterMs`. */
  pendingStale(): DelegationRecord[] {
    return this.#children.log.list().filter((r) => r.delivery === "held");
  }

  /**
   * Delivers a held completion after all. False when it is not held, when its parent cannot take it
   * (gone, or a child that has finished), or while the runtime is not running (starting, stopping or
   * stopped): call it after `start()` resolved, which is also when completions are held. The
   * completion stays held until then.
   */
  deliverStale(id: string): boolean {
    checkId(argumentsOf("delegations.deliverStale()"), "id", id);
    const { log } = this.#children;
    const record = log.get(id);
    if (record?.delivery !== "held" || record.completion === undefined) return false;
    // Stopped, the runtime would queue the input in memory for no turn to take, and the next start,
    // which recovers it from the store, would run it twice. Stopping, no turn may take it either: a
    // draining stop may be past its drain, and sends are refused then too.
    if (this.#parts.run.state !== "running" || this.#children.parentInbox.undeliverable(record) !== undefined)
      return false;
    const inputId = this.#children.parentInbox.carry(record, renderCompletions([record.completion]));
    log.setDelivery(id, { state: "pending", inputId });
    return true;
  }

  /** Drops a held completion with a record. */
  dropStale(id: string, reason = "dropped by the host"): boolean {
    const subject = argumentsOf("delegations.dropStale()");
    checkId(subject, "id", id);
    checkReason(subject, reason);
    const { log } = this.#children;
    if (log.get(id)?.delivery !== "held") return false;
    log.setDelivery(id, { state: "dropped", reason });
    return true;
  }

  /** Running children. */
  get running(): number {
    return this.#children.running;
  }

  #info(record: DelegationRecord): DelegationInfo {
    const running = this.#children.isRunning(record);
    const modelCalls = record.completion?.modelCalls ?? this.#children.modelCallsOf(record);
    return { ...record, running, modelCalls };
  }
}

function checkReason(subject: ReturnType<typeof argumentsOf>, reason: unknown): void {
  checkText(subject, "reason", reason, REASON_CHARS_MAX, 0);
}
