/**
 * What the SQLite store hands back at `open()`: sessions, queued inputs in acceptance order, the
 * turns that were running, and the next sequence number. Steered inputs of a running turn are
 * settled first, as the port describes: those the turn's checkpoint holds become inputs of the turn,
 * the others are queued again. Those writes join the current group.
 *
 * @packageDocumentation
 */
import type { InterruptedTurn, RecoveredState, SessionRecord } from "../../runtime/ports/store.js";
import type { GroupCommit } from "./group-commit.js";
import { messagesOf, type RecordColumns, recordOf, type TurnRow } from "./rows.js";
import type { Statements } from "./statements.js";

/**
 * `paged`: the queued inputs are counted, not read (the caller reads them with `queuedOf`): a backlog
 * of a million costs a count over the index, not a million rows parsed before any turn can start.
 */
export function recoverState(sql: Statements, group: GroupCommit, paged: boolean): RecoveredState {
  const sessions = (sql.allSessions.all() as unknown as [string, string, number][]).map(
    ([id, agent, createdAtMs]): SessionRecord => ({ id, agent, createdAtMs }),
  );
  const interrupted: InterruptedTurn[] = [];
  for (const row of sql.runningTurns.all() as unknown as TurnRow[]) {
    const inputIds = [...(JSON.parse(row.input_ids) as string[]), ...settleSteered(sql, group, row)];
    interrupted.push({
      turnId: row.id,
      sessionId: row.session_id,
      inputIds,
      attempt: row.attempt,
      step: row.step,
      messages: messagesOf(row.messages),
      inputs: inputIds.map((id) => recordOf(sql.recordById.get(id) as unknown as RecordColumns)),
    });
  }
  const { seq } = sql.maxSeq.get() as { seq: number | null };
  const nextSeq = (seq ?? 0) + 1;
  if (paged) {
    const { n } = sql.queuedCount.get() as { n: number };
    return { sessions, queued: [], queuedCount: n, interrupted, nextSeq };
  }
  const queued = (sql.queuedRecords.all() as unknown as RecordColumns[]).map(recordOf);
  return { sessions, queued, queuedCount: queued.length, interrupted, nextSeq };
}

/** Returns the steered inputs the turn keeps (its checkpoint holds them) and re-queues the rest. */
function settleSteered(sql: Statements, group: GroupCommit, turn: TurnRow): string[] {
  const steered = sql.steeredInputs.all(turn.id) as { id: string; steer_step: number }[];
  if (steered.length === 0) return [];
  group.write();
  const held: string[] = [];
  for (const { id, steer_step } of steered) {
    if (steer_step < turn.step) {
      held.push(id);
      sql.adoptSteered.run(id);
    } else sql.requeueInput.run(id, turn.id);
  }
  if (held.length > 0) {
    sql.setTurnInputs.run(JSON.stringify([...(JSON.parse(turn.input_ids) as string[]), ...held]), turn.id);
  }
  return held;
}
