/**
 * The PostgreSQL store's hot writes, held back within their group and written together: new
 * sessions' rows, accepted inputs (without an idempotency key), turn starts and turn ends, each
 * kind as one multi-row statement (`insertSessions`, `insertInputs`, `startTurns`, `endTurns` in
 * `statements.ts`), a turn that starts and ends in the group written once, already ended
 * (`runTurns`), and the event log's appends (`insertEvents`). The server then parses, plans and
 * runs at most six statements per group instead of one per session, input, turn and event
 * (bench/NOTES.md, "Fleet").
 *
 * They are written, in that order, before anything else reaches the connection (`SyncConnection`
 * calls {@link HeldWrites.flush} first in every call: a read, any other write, a commit), so every
 * statement outside them keeps its place. The sessions' rows go aside (`Create`: committed on their
 * own, so no other process waits on them for the rest of the group), queued before the group's
 * writes and commit. Within them the kinds are reordered, which leaves the rows writing each at its
 * call would:
 *
 * - a session is created before input is sent to it, and an input is accepted before a turn takes
 *   it, so sessions go first, then inputs;
 * - starts go before ends: a start held after an end is of a later turn (a session runs one turn
 *   at a time), and the only input both can name is one the end requeues — the later start takes it
 *   from either state, and the end then finds it in another turn and leaves it;
 * - two held starts never name the same turn or input (a start that would is held only after the
 *   others are written), so the start statement never meets a row twice;
 * - a turn written once ended goes last: an end written apart is of a turn that started before the
 *   group, so in its session it came before any turn that both started and ended in the group;
 * - history rows keep the order of the calls within each session;
 * - events go last: nothing else reads them, and their lease check needs the sessions' rows.
 *
 * Every row of a turn carries the lease epoch its call was made under, and the statements fence
 * each row by it, as the single-row ones did. They return the rows the fence kept out, which reach
 * the store when the group commits (before its commit resolves): a process that paused past its
 * lease and woke before its heartbeat noticed learns there that it lost those sessions, so it never
 * reports a write the database refused as done.
 *
 * @packageDocumentation
 */
import type { InputRecord, SessionRecord, TurnEnd, TurnStart } from "../../runtime/ports/store.js";
import { outcomeJson } from "../sqlite/rows.js";
import type { Statements } from "./statements.js";

/**
 * Where held rows go: a write joining the connection's open transaction; with `report`, its rows
 * (those the lease check kept out) reach the store when the transaction commits.
 */
export type Write = (sql: string, params: readonly unknown[], report: boolean) => void;

/** Where held sessions go: `insertSessions`'s columns (ids, agents, created_at_ms), to be run aside. */
export type Create = (columns: readonly unknown[][]) => void;

/** A column of held rows per parameter of a multi-row statement. */
type Columns = unknown[][];

function columns(count: number): Columns {
  return Array.from({ length: count }, () => []);
}

function push(into: Columns, row: readonly unknown[]): void {
  for (let i = 0; i < row.length; i++) into[i]!.push(row[i]);
}

/** A turn end's outcome, usage, end time, status and requeued inputs, as `endTurns` and `runTurns` take them. */
function endValues(end: TurnEnd): unknown[] {
  return [
    outcomeJson(end.outcome),
    JSON.stringify(end.usage),
    end.endedAtMs,
    end.outcome.status,
    JSON.stringify(end.requeued),
  ];
}

/** The history a turn end appends, `null` when none. */
function messagesJson(end: TurnEnd): string | null {
  return end.messages.length > 0 ? JSON.stringify(end.messages) : null;
}

export class HeldWrites {
  readonly #sql: Statements;
  readonly #owner: string;
  readonly #write: Write;
  readonly #create: Create;
  #sessions: Columns = columns(3);
  #inputs: Columns = columns(8);
  /** Held starts by turn id, in the order held, with their end if it came in the group too. */
  #starts = new Map<string, { readonly start: TurnStart; readonly epoch: number; end?: TurnEnd }>();
  #ends: Columns = columns(10);
  #events: Columns = columns(5);
  /** Turns and inputs the held starts name. */
  readonly #named = new Set<string>();

  constructor(sql: Statements, owner: string, write: Write, create: Create) {
    this.#sql = sql;
    this.#owner = owner;
    this.#write = write;
    this.#create = create;
  }

  /** Holds a new session's row. */
  session(session: SessionRecord): void {
    push(this.#sessions, [session.id, session.agent, session.createdAtMs]);
  }

  /**
   * Holds an input without an idempotency key; `takenBy` is this process when it holds the session
   * (it runs the input), else null: taken by this process if the session's row names it when the
   * input's is written (a session this process is creating; `new-sessions.ts`).
   */
  input(input: InputRecord, payload: string, takenBy: string | null): void {
    push(this.#inputs, [
      input.id,
      input.sessionId,
      input.seq,
      payload,
      input.policy,
      input.acceptedAtMs,
      input.delegationId ?? null,
      takenBy,
    ]);
  }

  /** Holds a turn start made under lease `epoch`. */
  start(turn: TurnStart, epoch: number): void {
    if (this.#named.has(turn.turnId) || turn.inputIds.some((id) => this.#named.has(id))) this.flush();
    this.#named.add(turn.turnId);
    for (const id of turn.inputIds) this.#named.add(id);
    this.#starts.set(turn.turnId, { start: turn, epoch });
  }

  /** Holds a turn end made under lease `epoch`. */
  end(end: TurnEnd, epoch: number): void {
    const held = this.#starts.get(end.turnId);
    if (
      held !== undefined &&
      held.end === undefined &&
      held.start.attempt === end.attempt &&
      held.epoch === epoch
    ) {
      held.end = end;
      return;
    }
    push(this.#ends, [end.turnId, end.attempt, ...endValues(end), end.sessionId, messagesJson(end), epoch]);
  }

  /**
   * Holds an event of the log; `epoch` is its lease check (see `insertEvents` in
   * `event-statements.ts`: null for none).
   */
  event(sessionId: string, seq: number, atMs: number, json: string, epoch: number | null): void {
    push(this.#events, [sessionId, seq, atMs, json, epoch]);
  }

  /** Writes what is held, then holds nothing. */
  flush(): void {
    const sessions = this.#sessions;
    const inputs = this.#inputs;
    const held = this.#starts;
    const ends = this.#ends;
    const events = this.#events;
    if (sessions[0]!.length + inputs[0]!.length + held.size + ends[0]!.length + events[0]!.length === 0)
      return;
    // Emptied first: a write flushes what is held before it, which is then nothing.
    this.drop();
    const starts = columns(6);
    const runs = columns(12);
    for (const { start, epoch, end } of held.values()) {
      const row = [
        start.turnId,
        start.sessionId,
        start.attempt,
        JSON.stringify(start.inputIds),
        start.startedAtMs,
        epoch,
      ];
      if (end === undefined) push(starts, row);
      else push(runs, [...row, ...endValues(end), messagesJson(end)]);
    }
    if (sessions[0]!.length > 0) this.#create(sessions);
    if (inputs[0]!.length > 0) this.#write(this.#sql.insertInputs, [...inputs, this.#owner], false);
    if (starts[0]!.length > 0) this.#write(this.#sql.startTurns, [...starts, this.#owner], true);
    if (ends[0]!.length > 0) this.#write(this.#sql.endTurns, [...ends, this.#owner], true);
    if (runs[0]!.length > 0) this.#write(this.#sql.runTurns, [...runs, this.#owner], true);
    if (events[0]!.length > 0) this.#write(this.#sql.insertEvents, [...events, this.#owner], false);
  }

  /** Drops what is held: what a killed process leaves. */
  drop(): void {
    this.#sessions = columns(3);
    this.#inputs = columns(8);
    this.#starts = new Map();
    this.#ends = columns(10);
    this.#events = columns(5);
    this.#named.clear();
  }
}
