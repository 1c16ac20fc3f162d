/**
 * How the rows `held-writes.ts` holds are written: in multi-row statements, and, for a statement the
 * file refuses with a constraint (which changes nothing), row by row — a turn as its start or end
 * alone would have been written, an input to name it in the failure it causes.
 *
 * @packageDocumentation
 */
import type { SQLInputValue } from "node:sqlite";
import { OffstageError } from "../../errors.js";
import type { TurnStart } from "../../runtime/ports/store.js";
import type { Statements } from "./statements.js";
import { type EndRecord, endStoredTurn } from "./turn-end.js";

/** A held turn: its start, and its end once it came. */
export interface HeldTurn {
  readonly start: TurnStart;
  readonly inputIdsJson: string;
  end: EndRecord | undefined;
  /** Set when it is written: whether its row took the start (and end); a stale one is refused. */
  written: boolean | undefined;
}

/** Inserts held inputs, flat rows as `ROWS.inputs` takes them. An input the file refuses fails the write. */
export function writeHeldInputs(sql: Statements, rows: readonly SQLInputValue[]): void {
  sql.rows.inputs.run(rows, (from, to) => {
    for (let i = from; i < to; i++) writeAccept(sql, rows.slice(i * 7, i * 7 + 7));
  });
}

/** Writes held turns' rows, then their inputs (running in them, or ended with them). */
export function writeHeldTurns(sql: Statements, turns: readonly HeldTurn[]): void {
  const rows: SQLInputValue[] = [];
  for (const { start, inputIdsJson, end } of turns) {
    rows.push(start.turnId, start.sessionId, start.attempt, inputIdsJson, start.startedAtMs);
    if (end === undefined) rows.push(null, null, null);
    else rows.push(end.outcome, end.usage, end.endedAtMs);
  }
  sql.rows.turns.run(rows, (from, to) => {
    for (let i = from; i < to; i++) turns[i]!.written = writeStoredTurn(sql, turns[i]!);
  });
  for (const turn of turns) {
    if (turn.written !== undefined) continue;
    turn.written = true;
    writeInputs(sql, turn);
  }
}

/** One held input, alone, so that the failure names it. */
function writeAccept(sql: Statements, row: SQLInputValue[]): void {
  const [id, sessionId, seq, payload, policy, acceptedAtMs, delegationId] = row as [
    string,
    string,
    number,
    string,
    string,
    number,
    string | null,
  ];
  try {
    sql.insertInput.run(id, sessionId, seq, payload, policy, null, acceptedAtMs, delegationId);
  } catch (error) {
    throw new OffstageError(
      "STORE_FAILED",
      `input ${JSON.stringify(id)} (seq ${seq}) was accepted but cannot be stored: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error, details: { inputId: id, seq } },
    );
  }
}

/** The turn's inputs, once its row took it: running in it, or ended with it. */
function writeInputs(sql: Statements, { start, end }: HeldTurn): void {
  const { turnId } = start;
  if (end === undefined) for (const id of start.inputIds) sql.runInput.run(turnId, id);
  else for (const id of start.inputIds) sql.startAndEndInput.run(end.status, end.endedAtMs, turnId, id);
}

/**
 * A held turn whose row is stored already, as the port describes a start: taken only if its attempt
 * is higher than the stored one's and that one has not ended. An end refused with its start is then
 * written alone, as if the start had been written at its call.
 */
function writeStoredTurn(sql: Statements, turn: HeldTurn): boolean {
  const { start, inputIdsJson, end } = turn;
  const { turnId, sessionId, attempt, startedAtMs } = start;
  const taken =
    end === undefined
      ? sql.insertTurn.run(turnId, sessionId, attempt, inputIdsJson, startedAtMs)
      : sql.startEndedTurn.run(
          turnId,
          sessionId,
          attempt,
          inputIdsJson,
          startedAtMs,
          end.outcome,
          end.usage,
          end.endedAtMs,
        );
  if (taken.changes > 0) {
    writeInputs(sql, turn);
    return true;
  }
  return end !== undefined && endStoredTurn(sql, end, start.inputIds, []);
}
