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
import type { MultiRowStatement } from "./multi-row-statement.js";
import type { Statements } from "./statements.js";
import { type EndRecord, endStoredTurn } from "./turn-end.js";

/** A held turn: its start, and its end once it came. */
export interface HeldTurn {
  readonly start: TurnStart;
  readonly inputIdsJson: string;
  end: EndRecord | undefined;
  /** Set when it is written: whether its row took the start (and end); a stale one is refused. */
  written: boolean | undefined;
  /** Its inputs written with the turn's state already, when they were held too (see `writeHeldInputs`). */
  taken: string[] | undefined;
}

/** Values per row of a held input, as `ROWS.inputs` takes them. */
const ACCEPT_COLUMNS = 7;

/**
 * Inserts held inputs, `ACCEPT_COLUMNS` values per row. Those a held turn in `takenBy` takes are
 * written as that turn will leave them (running in it, or ended with it), so that each is written
 * once; the turn's row is written after them, and should a stored one refuse it, its taken inputs are
 * put back as accepted before it is written alone (see `writeStoredTurn`). An input the file refuses
 * fails the write.
 */
export function writeHeldInputs(
  sql: Statements,
  rows: readonly SQLInputValue[],
  takenBy?: ReadonlyMap<string, HeldTurn>,
): void {
  if (takenBy === undefined || takenBy.size === 0) {
    insertInputs(sql.rows.inputs, rows);
    return;
  }
  const queued: SQLInputValue[] = [];
  const taken: SQLInputValue[] = [];
  for (let at = 0; at < rows.length; at += ACCEPT_COLUMNS) {
    const id = rows[at] as string;
    const turn = takenBy.get(id);
    const into = turn === undefined ? queued : taken;
    for (let k = 0; k < ACCEPT_COLUMNS; k++) into.push(rows[at + k]!);
    if (turn === undefined) continue;
    taken.push(turn.end?.status ?? "running", turn.start.turnId, turn.end?.endedAtMs ?? null);
    turn.taken ??= [];
    turn.taken.push(id);
  }
  insertInputs(sql.rows.inputs, queued);
  insertInputs(sql.rows.takenInputs, taken);
}

/**
 * Writes held turns' rows, then their inputs (running in them, or ended with them), all turns' in
 * the same statements: held turns never name the same input.
 */
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
  const inputRows: SQLInputValue[] = [];
  for (const turn of turns) {
    if (turn.written !== undefined) continue;
    turn.written = true;
    takenRows(turn, inputRows);
  }
  sql.rows.takeInputs.run(inputRows);
}

/** Inserts input rows; a statement the file refuses is redone row by row, so that the failure names the input. */
function insertInputs(insert: MultiRowStatement, rows: readonly SQLInputValue[]): void {
  const columns = insert.columns;
  insert.run(rows, (from, to) => {
    for (let i = from; i < to; i++) {
      const row = rows.slice(i * columns, (i + 1) * columns);
      try {
        insert.run(row);
      } catch (error) {
        const [id, , seq] = row;
        throw new OffstageError(
          "STORE_FAILED",
          `input ${JSON.stringify(id)} (seq ${String(seq)}) was accepted but cannot be stored: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error, details: { inputId: id, seq } },
        );
      }
    }
  });
}

/**
 * Adds to `rows` (as `ROWS.takeInputs` takes them) the stored inputs of a turn whose row took it:
 * running in it, or ended with it, and returns `rows`. Those written with the turn's state already
 * are left out.
 */
function takenRows({ start, end, taken }: HeldTurn, rows: SQLInputValue[]): SQLInputValue[] {
  const status = end?.status ?? "running";
  const endedAtMs = end?.endedAtMs ?? null;
  for (const id of start.inputIds) {
    if (taken?.includes(id) !== true) rows.push(status, endedAtMs, start.turnId, id);
  }
  return rows;
}

/**
 * A held turn whose row is stored already, as the port describes a start: taken only if its attempt
 * is higher than the stored one's and that one has not ended. An end refused with its start is then
 * written alone, as if the start had been written at its call.
 */
function writeStoredTurn(sql: Statements, turn: HeldTurn): boolean {
  for (const id of turn.taken ?? []) sql.untakeInput.run(id);
  turn.taken = undefined;
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
    sql.rows.takeInputs.run(takenRows(turn, []));
    return true;
  }
  return end !== undefined && endStoredTurn(sql, end, start.inputIds, []);
}
