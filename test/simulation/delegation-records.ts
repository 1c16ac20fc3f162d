/**
 * The delegation log tells the truth, checked at every quiescent point for each child the ledger
 * knows: a running child's record holds no completion (and `delegations.get()` says it runs); a
 * completed one's record holds its completion; `pending` means its input waits queued in the
 * parent's inbox; `delivered` means a parent turn took it; `held` and `dropped` (with a reason) mean
 * no input of it is queued or ran. A record is only pruned once delivered or dropped.
 */
import type { DelegationLog } from "../../src/runtime/ports/delegation-log.js";
import type { DelegationFact, DelegationParts } from "./delegation-invariants.js";

/** Checks one child's record against the ledger's fact (which learns the record's delivery state). */
export function checkRecord(
  p: DelegationParts,
  log: DelegationLog,
  fact: DelegationFact,
  live: boolean,
): void {
  const fail = (why: string) => p.fail(`delegation ${fact.id}: ${why}`);
  const record = log.get(fact.id);
  if (record === undefined) {
    if (!fact.completed) fail("its record was pruned while the child runs");
    else if (fact.carriedBy === undefined && fact.seen !== "dropped")
      fail(`its record was pruned while its completion was ${String(fact.seen)}`);
    return;
  }
  fact.seen = record.delivery;
  if (record.completion === undefined) {
    if (fact.completed) fail("completed, but its record lost the completion");
    else if (live && p.runtime().delegations.get(fact.id)?.running !== true)
      fail("runs, but delegations.get() says it is not running");
    return;
  }
  if (!fact.completed) fail("its record holds a completion that was never reported");
  const queued = fact.inputIds.filter((id) => p.inputs.get(id)?.state === "queued");
  switch (record.delivery) {
    case "pending":
      if (fact.carriedBy !== undefined) fail(`pending, though turn ${fact.carriedBy} took it`);
      if (record.deliveryInputId === undefined || !queued.includes(record.deliveryInputId))
        fail(
          `pending via input ${String(record.deliveryInputId)}, which is ${stateOf(p, record.deliveryInputId)}: it can never be delivered`,
        );
      return;
    case "delivered":
      if (fact.carriedBy === undefined) fail("recorded delivered, but no parent turn took it");
      return;
    default:
      if (fact.carriedBy !== undefined)
        fail(`recorded ${String(record.delivery)}, but turn ${fact.carriedBy} took it`);
      if (queued.length > 0) fail(`recorded ${String(record.delivery)} while input ${queued[0]} carries it`);
      if (record.deliveryReason === undefined) fail(`${String(record.delivery)} without a reason`);
  }
}

function stateOf(p: DelegationParts, inputId: string | undefined): string {
  if (inputId === undefined) return "missing";
  const fact = p.inputs.get(inputId);
  return fact === undefined ? "unknown" : fact.state;
}
