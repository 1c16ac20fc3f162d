/**
 * Writes held back within their group, then written together in multi-row statements
 * (`multi-row-statement.ts`) just before the group commits:
 *
 * - new sessions, and inputs accepted without an idempotency key (one with a key is written at once,
 *   so a second input with that key is refused at its call);
 * - turn starts, so that a turn that starts and ends in the group is written once, already ended,
 *   instead of as a start and then an end;
 * - those turns once ended, and the history of every turn end.
 *
 * An input a held turn takes in the group that accepted it is written once, as the turn leaves it
 * (running in it, or ended with it), instead of queued and then updated.
 *
 * Why no guarantee changes: a group commits as one transaction, so nothing held was ever on disk
 * without the rest of its group, and recovery only ever sees the whole group. A held write is written
 * as soon as anything could tell it from a written one: just before its group commits (so a turn
 * still running then is on disk as before), before every read of inputs or turns and every read of a
 * history it adds to, before a steer or an input end, before a checkpoint of its turn, and before a
 * start, an accept or a turn end that names its turn or one of its inputs; held inputs are written
 * before any held turn and before any turn end written at once. Held turns never name the
 * same input (a start that would is written at once, after them), history keeps the order of the
 * calls, and the held rows of one table never depend on each other: so writing them together, table
 * by table, leaves the rows that writing each at its call would.
 *
 * An input held in its group is checked for a stored input of the same id or sequence number only
 * when the group writes it, after `accept()` returned: such an input fails the group (`STORE_FAILED`,
 * naming it), as a write that cannot be kept must. The runtime never makes one (its ids are unique
 * per process, its sequence numbers continue the stored ones).
 *
 * Writing sessions also tells which of them this store created with no history: until a turn end
 * adds to it, `history()` of such a session needs no read (a runtime reads the history of every
 * session it starts a turn in).
 *
 * @packageDocumentation
 */
import type { SQLInputValue } from "node:sqlite";
import type { InputRecord, SessionRecord, TurnEnd, TurnStart } from "../../runtime/ports/store.js";
import type { GroupCommit } from "./group-commit.js";
import { type HeldTurn, writeHeldInputs, writeHeldTurns } from "./held-rows.js";
import type { Statements } from "./statements.js";
import type { EndRecord } from "./turn-end.js";

/** A bound on the sessions remembered as having no history (it only spares reads). */
const NO_HISTORY_MAX = 100_000;

/** History to append: of a held turn (appended only if the turn is written), or of an end already written. */
interface HeldHistory {
  readonly end: EndRecord;
  readonly turn: HeldTurn | undefined;
}

export class HeldWrites {
  readonly #sql: Statements;
  readonly #group: GroupCommit;
  /** Rows of new sessions, flat: id, agent, created_at_ms. */
  #sessions: SQLInputValue[] = [];
  /** Rows of accepted inputs, flat, as `ROWS.inputs` takes them. */
  #accepts: SQLInputValue[] = [];
  /** Held turns by id, in the order they were held. */
  #turns = new Map<string, HeldTurn>();
  /** The inputs of the held turns. */
  readonly #inputs = new Set<string>();
  #history: HeldHistory[] = [];
  /** The sessions whose history has held rows. */
  readonly #historyOf = new Set<string>();
  /** Whether the open group will write what is held before it commits. */
  #armed = false;
  /** Sessions this store created whose history is empty, stored and held (see the top). */
  readonly #noHistory = new Set<string>();

  constructor(sql: Statements, group: GroupCommit) {
    this.#sql = sql;
    this.#group = group;
  }

  get empty(): boolean {
    return (
      this.#turns.size === 0 &&
      this.#accepts.length === 0 &&
      this.#sessions.length === 0 &&
      this.#history.length === 0
    );
  }

  /** Holds a session record in the open group; call inside a write. */
  holdSession(session: SessionRecord): void {
    this.#arm();
    this.#sessions.push(session.id, session.agent, session.createdAtMs);
  }

  /** Holds an input without an idempotency key, its payload as JSON, in the open group; call inside a write. */
  holdAccept(input: InputRecord, payload: string): void {
    this.#arm();
    this.#accepts.push(
      input.id,
      input.sessionId,
      input.seq,
      payload,
      input.policy,
      input.acceptedAtMs,
      input.delegationId ?? null,
    );
  }

  /** Writes the held inputs; call inside a write, before a statement that reads or changes inputs. */
  writeAccepts(): void {
    if (this.#accepts.length === 0) return;
    const rows = this.#accepts;
    this.#accepts = [];
    writeHeldInputs(this.#sql, rows);
  }

  /** Holds a start in the open group; call inside a write. */
  holdStart(turn: TurnStart): void {
    // A copy: the caller may change its array later (the runtime's inbox adds steered inputs to it),
    // and the start must be written as it was made.
    const start = { ...turn, inputIds: [...turn.inputIds] };
    const held: HeldTurn = {
      start,
      inputIdsJson: JSON.stringify(start.inputIds),
      end: undefined,
      written: undefined,
      taken: undefined,
    };
    if (this.#turns.has(start.turnId) || this.#holdsAny(start.inputIds)) {
      this.writeAll();
      this.#writeTurns([held]);
      return;
    }
    this.#arm();
    this.#turns.set(start.turnId, held);
    for (const id of start.inputIds) this.#inputs.add(id);
  }

  /**
   * Holds `end` with its turn's held start when both can be written as one row: same attempt, same
   * inputs, none requeued, not ended yet. Returns false otherwise, having written what is held if the
   * end concerns it (its turn, or an input of a held turn): the caller then writes the end at once.
   */
  holdEnd(end: TurnEnd, record: EndRecord): boolean {
    const held = this.#turns.get(end.turnId);
    if (
      held !== undefined &&
      held.end === undefined &&
      held.start.attempt === end.attempt &&
      end.requeued.length === 0 &&
      sameIds(held.start.inputIds, end.inputIds)
    ) {
      held.end = record;
      if (record.messages !== undefined) this.#holdHistory(record, held);
      return true;
    }
    if (held !== undefined || this.#holdsAny(end.inputIds)) this.writeAll();
    else this.writeAccepts();
    return false;
  }

  /** Holds the history of an end already written at once. */
  holdHistory(end: EndRecord): void {
    if (end.messages === undefined) return;
    this.#arm();
    this.#holdHistory(end, undefined);
  }

  holdsInput(inputId: string): boolean {
    return this.#inputs.has(inputId);
  }

  holdsHistoryOf(sessionId: string): boolean {
    return this.#historyOf.has(sessionId);
  }

  /** Whether the session is known to have no history (see the top). */
  hasNoHistory(sessionId: string): boolean {
    return this.#noHistory.has(sessionId);
  }

  get holdsSessions(): boolean {
    return this.#sessions.length > 0;
  }

  /** Writes the turn's held start, if any (and everything held, if the turn already ended). */
  write(turnId: string): void {
    const held = this.#turns.get(turnId);
    if (held === undefined) return;
    if (held.end !== undefined) {
      this.writeAll();
      return;
    }
    this.#turns.delete(turnId);
    for (const id of held.start.inputIds) this.#inputs.delete(id);
    this.#writeTurns([held]);
  }

  writeAll(): void {
    const turns = [...this.#turns.values()];
    const history = this.#history;
    // Before the history it holds is let go: a session that gains history now is not without one.
    this.writeSessions();
    this.#writeAcceptsTaken();
    this.#clear();
    if (turns.length > 0) this.#writeTurns(turns);
    const rows: SQLInputValue[] = [];
    for (const { end, turn } of history) {
      if (turn === undefined || turn.written === true) rows.push(end.sessionId, end.turnId, end.messages!);
    }
    if (rows.length > 0) this.#sql.rows.history.run(rows);
  }

  /** Forgets what is held: its group rolled back, and took its `beforeCommit` task with it. */
  drop(): void {
    this.#clear();
    this.#armed = false;
  }

  #clear(): void {
    this.#sessions = [];
    this.#accepts = [];
    this.#turns = new Map();
    this.#inputs.clear();
    this.#history = [];
    this.#historyOf.clear();
  }

  #arm(): void {
    if (this.#armed) return;
    this.#armed = true;
    this.#group.beforeCommit(() => {
      this.#armed = false;
      this.writeAll();
    });
  }

  #holdHistory(end: EndRecord, turn: HeldTurn | undefined): void {
    this.#history.push({ end, turn });
    this.#historyOf.add(end.sessionId);
    this.#noHistory.delete(end.sessionId);
  }

  /** Writes the held sessions (they depend on nothing else held); call inside a write. */
  writeSessions(): void {
    if (this.#sessions.length === 0) return;
    const sessions = this.#sessions;
    this.#sessions = [];
    const created = this.#sql.rows.sessions.run(sessions);
    // Only when all are new (else which are is unknown), and history names none of them: a store
    // may be handed turns of sessions it never created.
    if (created * 3 !== sessions.length || this.#noHistory.size >= NO_HISTORY_MAX) return;
    const ids: string[] = [];
    for (let i = 0; i < sessions.length; i += 3) ids.push(sessions[i] as string);
    if ((this.#sql.historyOfAny.get(JSON.stringify(ids)) as { found: number }).found === 1) return;
    for (const id of ids) if (!this.#historyOf.has(id)) this.#noHistory.add(id);
  }

  #writeTurns(turns: readonly HeldTurn[]): void {
    this.writeAccepts();
    writeHeldTurns(this.#sql, turns);
  }

  /** Writes the held inputs, each one a held turn takes as that turn will leave it. */
  #writeAcceptsTaken(): void {
    const rows = this.#accepts;
    this.#accepts = [];
    const takenBy = new Map<string, HeldTurn>();
    if (rows.length > 0)
      for (const turn of this.#turns.values()) for (const id of turn.start.inputIds) takenBy.set(id, turn);
    writeHeldInputs(this.#sql, rows, takenBy);
  }

  #holdsAny(inputIds: readonly string[]): boolean {
    return inputIds.some((id) => this.#inputs.has(id));
  }
}

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}
