/**
 * The final checks of background children, read from the SQLite file (read-only) after the final
 * drain, against the dispatches the ledger saw reported committed.
 *
 * The rules:
 * - **Nothing is lost**: every dispatch reported committed is in the file, under the same parent.
 * - **Every child reports (P3, P4)**: every delegation has its completion; no child is left running
 *   after the drain, whether it ran at a kill, was stopped, timed out or failed.
 * - **Delivery is decided**: after the drain no completion is `pending` (its input would still wait)
 *   or `held` (the drain delivers or drops every held one).
 * - **Exactly once, to its parent only (P3)**: a `delivered` completion's recorded input is in its
 *   parent's session and ran in a turn; a `dropped` one has a reason and no input carrying it ran.
 *   Every input carrying a completion belongs to the parent and is terminal; apart from inputs
 *   withdrawn because their completion was held (a held completion is delivered again with a new
 *   input), one input carries it, and at most one ran.
 * - **Once in history, never mid-turn (P2)**: a completion's block is in its parent's history once
 *   when the turn that took it kept its input (at most once when that turn was cancelled), never
 *   when none ran, never in another session's history; and it opens its turn — only other inputs
 *   precede it there, no model step, so it never joined a running turn.
 *
 * @packageDocumentation
 */
import { DatabaseSync } from "node:sqlite";
import type { ChildCompletion, Message } from "../../src/index.js";
import type { Ledger } from "./ledger.js";

export interface DelegationRow {
  readonly id: string;
  readonly parent_session_id: string;
  readonly record: string;
  readonly completion: string | null;
  readonly delivery: string | null;
  readonly delivery_reason: string | null;
  readonly delivery_input_id: string | null;
}

/** An input that carries a completion. */
export interface CarrierRow {
  readonly id: string;
  readonly session_id: string;
  readonly delegation_id: string;
  readonly status: string;
  readonly turn_id: string | null;
  readonly policy: string;
  readonly outcome: string | null;
}

export interface HistoryRow {
  readonly session_id: string;
  readonly turn_id: string;
  readonly message: string;
}

/** Where a completion block sits in history. */
interface Block {
  readonly session: string;
  readonly turnId: string;
  /** Roles of the turn's messages before it. */
  readonly before: readonly string[];
}

/** Records a broken promise, in words. */
export type Fail = (message: string) => void;
/** Adds `n` (1 by default) to the tally of `what` the checker reports. */
export type Count = (what: string, n?: number) => void;

const BLOCK_PATTERN = /<delegation id="([^"]+)"/g;
/** How a start marks the input of a completion it held (`runtime.ts`). */
const HELD_MESSAGE = "held for the host to confirm";

/** What the checks read from a store's tables (SQLite here; PostgreSQL in `test/fleet/`). */
export interface DelegationRows {
  readonly delegations: readonly DelegationRow[];
  readonly carriers: readonly CarrierRow[];
  /** Every history message, in order: `message` as JSON text. */
  readonly history: readonly HistoryRow[];
}

export function checkDelegations(options: {
  readonly rows: DelegationRows;
  readonly ledger: Ledger;
  readonly fail: Fail;
  readonly count: Count;
}): void {
  const { ledger, fail, count } = options;
  const { delegations, carriers } = options.rows;
  const blocks = blocksIn(options.rows.history);
  count("delegations in the file", delegations.length);
  const byId = new Map(delegations.map((row) => [row.id, row]));
  for (const [id, { parent, inc }] of ledger.delegations) {
    const row = byId.get(id);
    if (row === undefined)
      fail(
        `delegation ${id} (dispatched by ${parent}, reported committed in process ${inc}) is not in the file: lost`,
      );
    else if (row.parent_session_id !== parent)
      fail(
        `delegation ${id} was reported dispatched by ${parent}, the file says by ${row.parent_session_id}`,
      );
  }
  const carriersOf = groupBy(carriers, (c) => c.delegation_id);
  const blocksOf = groupBy(blocks, (b) => b.id);
  for (const [id, rows] of carriersOf)
    if (!byId.has(id))
      fail(`inputs ${ids(rows)} carry the completion of delegation ${id}, which is not in the file`);
  for (const row of delegations) {
    count(`delegations at depth ${(JSON.parse(row.record) as { depth: number }).depth}`);
    checkOne(row, carriersOf.get(row.id) ?? [], blocksOf.get(row.id) ?? [], fail, count);
  }
}

function checkOne(
  row: DelegationRow,
  carriers: readonly CarrierRow[],
  blocks: readonly Block[],
  fail: Fail,
  count: Count,
): void {
  const { id, parent_session_id: parent } = row;
  const name = `delegation ${id} (parent ${parent})`;
  if (row.completion === null) {
    fail(`${name} has no completion after the final drain: its child never reported`);
    return;
  }
  const completion = JSON.parse(row.completion) as ChildCompletion;
  count(`children ${completion.status}`);
  count(`completions ${row.delivery}${row.delivery_reason === null ? "" : `/${row.delivery_reason}`}`);
  const holds = carriers.filter(heldAway);
  count("completion inputs withdrawn by a hold", holds.length);
  const others = carriers.filter((c) => !heldAway(c));
  if (others.length > 1)
    fail(`${name}: ${others.length} inputs carry its completion (${ids(others)}); one may`);
  const ran = carriers.filter((c) => c.turn_id !== null);
  if (ran.length > 1) fail(`${name}: its completion ran in ${ran.length} turns (inputs ${ids(ran)})`);
  for (const c of carriers) {
    if (c.session_id !== parent)
      fail(
        `${name}: its completion is carried by input ${c.id} of session ${c.session_id}, not of its parent`,
      );
    if (c.status === "queued" || c.status === "running")
      fail(`${name}: input ${c.id} carrying its completion is still ${c.status} after the final drain`);
    if (c.policy !== "enqueue") fail(`${name}: input ${c.id} carrying its completion has policy ${c.policy}`);
  }
  if (row.delivery === "delivered") {
    const input = carriers.find((c) => c.id === row.delivery_input_id);
    if (input === undefined)
      fail(
        `${name} is delivered by input ${String(row.delivery_input_id)}, which carries no completion of it`,
      );
    else if (input.turn_id === null)
      fail(`${name} is delivered, but its input ${input.id} ended ${input.status} without a turn`);
  } else if (row.delivery === "dropped") {
    if (row.delivery_reason === null || row.delivery_reason === "")
      fail(`${name} is dropped without a reason`);
    if (ran.length > 0)
      fail(
        `${name} is dropped (${row.delivery_reason}), yet its input ${ran[0]!.id} ran in turn ${ran[0]!.turn_id}`,
      );
  } else {
    fail(`${name}: delivery is ${String(row.delivery)} after the final drain; expected delivered or dropped`);
  }
  const taken = ran[0];
  const expected = taken === undefined ? [0] : taken.status === "cancelled" ? [0, 1] : [1];
  const inParent = blocks.filter((b) => b.session === parent);
  if (!expected.includes(inParent.length))
    fail(
      `${name}: its completion block is in the parent's history ${inParent.length} times, expected ${expected.join(" or ")} (input ${taken === undefined ? "none ran" : `${taken.id} ended ${taken.status}`})`,
    );
  for (const b of blocks) {
    if (b.session !== parent) fail(`${name}: its completion block is in ${b.session}'s history`);
    else if (b.before.some((role) => role !== "user"))
      fail(`${name}: its completion block entered turn ${b.turnId} after ${b.before.join(", ")}: mid-turn`);
  }
}

/** The rows of a SQLite file, read-only. */
export function readSqliteDelegationRows(path: string): DelegationRows {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const delegations = db
      .prepare("SELECT * FROM delegations ORDER BY rowid")
      .all() as unknown as DelegationRow[];
    const carriers = db
      .prepare(
        `SELECT i.id, i.session_id, i.delegation_id, i.status, i.turn_id, i.policy, coalesce(i.outcome, t.outcome) AS outcome
         FROM inputs i LEFT JOIN turns t ON t.id = i.turn_id WHERE i.delegation_id IS NOT NULL ORDER BY i.seq`,
      )
      .all() as unknown as CarrierRow[];
    const history = db
      .prepare(
        "SELECT h.session_id, h.turn_id, m.value AS message FROM history h, json_each(h.messages) m ORDER BY h.id, m.key",
      )
      .all() as unknown as HistoryRow[];
    return { delegations, carriers, history };
  } finally {
    db.close();
  }
}

/** Every completion block in user messages, with the roles that precede it in its turn. */
function blocksIn(history: readonly HistoryRow[]): (Block & { id: string })[] {
  const blocks: (Block & { id: string })[] = [];
  const roles = new Map<string, string[]>();
  for (const row of history) {
    const message = JSON.parse(row.message) as Message;
    const key = `${row.session_id}\u0000${row.turn_id}`;
    const before = roles.get(key) ?? [];
    if (message.role === "user") {
      for (const part of message.content)
        for (const match of (part.type === "text" ? part.text : "").matchAll(BLOCK_PATTERN))
          blocks.push({ id: match[1]!, session: row.session_id, turnId: row.turn_id, before: [...before] });
    }
    before.push(message.role);
    roles.set(key, before);
  }
  return blocks;
}

/** An input withdrawn at a start because its completion was held (and may be delivered again). */
function heldAway(carrier: CarrierRow): boolean {
  if (carrier.status !== "withdrawn" || carrier.outcome === null) return false;
  return (
    (JSON.parse(carrier.outcome) as { reason?: { message?: string } }).reason?.message?.includes(
      HELD_MESSAGE,
    ) === true
  );
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(key(item));
    if (group === undefined) groups.set(key(item), [item]);
    else group.push(item);
  }
  return groups;
}

function ids(rows: readonly { id: string }[]): string {
  return rows.map((row) => row.id).join(", ");
}
