/**
 * Where each child's completion stands on its way to its parent, as the delegation log keeps it:
 * `pending` while the input carrying it waits in the parent's inbox, `delivered` once a parent turn
 * takes it, `dropped` with a reason when that input ends without a turn, `held` when it was older
 * than `staleAfterMs` at startup (the host confirms it). Settled records beyond `keepPerParent` per
 * parent are pruned as new ones are delivered.
 *
 * @packageDocumentation
 */
import { decideDelivery, recordsToPrune } from "../../kernel/delegation/completion-delivery.js";
import type { EventBus } from "../event-bus.js";
import type { DelegationLog, DelegationRecord } from "../ports/delegation-log.js";
import type { InputEndCause } from "./children.js";
import type { ResolvedDelegationOptions } from "./delegation-options.js";

export class CompletionDeliveries {
  readonly #log: DelegationLog;
  readonly #events: EventBus;
  readonly #options: ResolvedDelegationOptions;

  constructor(log: DelegationLog, events: EventBus, options: ResolvedDelegationOptions) {
    this.#log = log;
    this.#events = events;
    this.#options = options;
  }

  /** Inputs carrying these delegations' completions became part of a parent turn. */
  delivered(delegationIds: readonly string[]): void {
    const parents = new Set<string>();
    for (const id of delegationIds) {
      const record = this.#log.get(id);
      // A turn resumed after a crash takes its completions again: they were delivered once already.
      if (record?.delivery !== "pending") continue;
      this.#log.setDelivery(id, { state: "delivered", inputId: record.deliveryInputId });
      parents.add(record.parentSessionId);
      this.#events.emit({
        type: "delegation.delivered",
        parentSessionId: record.parentSessionId,
        delegationId: id,
      });
    }
    for (const parent of parents) this.#prune(parent);
  }

  /**
   * The input carrying a completion ended without starting a turn: its session (a child) was
   * stopped, or the host withdrew or cancelled it. The completion is dropped with that reason;
   * a held completion (whose input is withdrawn when it is held) stays held.
   */
  inputEnded(delegationId: string, inputId: string, cause: InputEndCause): void {
    const record = this.#log.get(delegationId);
    if (record?.delivery !== "pending" || record.deliveryInputId !== inputId) return;
    const reason = cause === "stop" ? "parent_stopped" : cause === "withdraw" ? "withdrawn" : "cancelled";
    this.#log.setDelivery(delegationId, { state: "dropped", reason, inputId });
  }

  /**
   * At startup, for a completed record: holds a pending completion older than `staleAfterMs`, and
   * returns the id of the input that carries a held one (held now or by an earlier start), which
   * must be withdrawn; `undefined` otherwise.
   */
  holdIfStale(record: DelegationRecord, nowMs: number): string | undefined {
    if (record.completion === undefined) return undefined;
    if (record.delivery === "pending") {
      const { completedAtMs } = record.completion;
      const decision = decideDelivery(true, completedAtMs, nowMs, this.#options.staleAfterMs);
      if (decision.kind !== "hold") return undefined;
      // The input id stays on the record: a later start must still find the input to withdraw.
      this.#log.setDelivery(record.id, {
        state: "held",
        reason: `waited ${decision.ageMs} ms`,
        inputId: record.deliveryInputId,
      });
      return record.deliveryInputId;
    }
    return record.delivery === "held" ? record.deliveryInputId : undefined;
  }

  #prune(parentSessionId: string): void {
    const records = this.#log.list(parentSessionId).filter((r) => r.completion !== undefined);
    const prune = recordsToPrune(
      records.map((r) => ({
        id: r.id,
        parentSessionId: r.parentSessionId,
        completedAtMs: r.completion!.completedAtMs,
        delivery: r.delivery ?? "pending",
      })),
      this.#options.keepPerParent,
    );
    if (prune.length > 0) this.#log.prune(prune);
  }
}
