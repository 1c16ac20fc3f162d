/**
 * Turn starts held back within their group, so that a turn that starts and ends before the group
 * commits is written once, already ended, instead of as a start and then an end.
 *
 * Why no guarantee changes: a group commits as one transaction, so a start committed with its turn's
 * end was never on disk without it; recovery only ever sees the end. A held start is written as soon
 * as anything could tell it from a written one: just before its group commits (so a turn still running
 * then is on disk as before), before every read of inputs or turns, before a steer, an input end or a
 * checkpoint of its turn, and before a start or an accept that names its turn or one of its inputs.
 *
 * @packageDocumentation
 */
import type { TurnEnd, TurnStart } from "../../runtime/ports/store.js";
import type { GroupCommit } from "./group-commit.js";
import type { Statements } from "./statements.js";

export class DeferredStarts {
  readonly #sql: Statements;
  readonly #group: GroupCommit;
  /** Held starts by turn id, all in the open group. */
  readonly #starts = new Map<string, TurnStart>();
  /** The inputs of the held starts. */
  readonly #inputs = new Set<string>();
  /** Whether the open group will write the held starts before it commits. */
  #armed = false;

  constructor(sql: Statements, group: GroupCommit) {
    this.#sql = sql;
    this.#group = group;
  }

  get size(): number {
    return this.#starts.size;
  }

  /** Holds a start in the open group; call inside a write. */
  hold(turn: TurnStart): void {
    // A copy: the caller may change its array later (the runtime's inbox adds steered inputs to it),
    // and the start must be written as it was made.
    const start = { ...turn, inputIds: [...turn.inputIds] };
    // One that meets a held start is written at once, after it; so held starts never share an input.
    if (this.#starts.has(start.turnId) || this.#holdsAny(start.inputIds)) {
      this.writeAll();
      writeStart(this.#sql, start);
      return;
    }
    if (!this.#armed) {
      this.#armed = true;
      this.#group.beforeCommit(() => {
        this.#armed = false;
        this.writeAll();
      });
    }
    this.#starts.set(start.turnId, start);
    for (const id of start.inputIds) this.#inputs.add(id);
  }

  holdsInput(inputId: string): boolean {
    return this.#inputs.has(inputId);
  }

  /**
   * The held start of the turn `end` ends, taken out, when both can be written as one: same attempt,
   * same inputs, none requeued. Otherwise undefined, and the held starts are written first if the end
   * concerns one of them (its turn's, or one naming an input of the end).
   */
  takeFor(end: TurnEnd): TurnStart | undefined {
    const start = this.#starts.get(end.turnId);
    if (
      start !== undefined &&
      start.attempt === end.attempt &&
      end.requeued.length === 0 &&
      sameIds(start.inputIds, end.inputIds)
    )
      return this.#take(end.turnId);
    if (start !== undefined || this.#holdsAny(end.inputIds)) this.writeAll();
    return undefined;
  }

  /** Writes the turn's held start, if any. */
  write(turnId: string): void {
    const start = this.#take(turnId);
    if (start !== undefined) writeStart(this.#sql, start);
  }

  writeAll(): void {
    const starts = [...this.#starts.values()];
    this.#starts.clear();
    this.#inputs.clear();
    for (const start of starts) writeStart(this.#sql, start);
  }

  /** Forgets the held starts: their group rolled back, and took its `beforeCommit` task with it. */
  drop(): void {
    this.#starts.clear();
    this.#inputs.clear();
    this.#armed = false;
  }

  #take(turnId: string): TurnStart | undefined {
    const start = this.#starts.get(turnId);
    if (start === undefined) return undefined;
    this.#starts.delete(turnId);
    for (const id of start.inputIds) this.#inputs.delete(id);
    return start;
  }

  #holdsAny(inputIds: readonly string[]): boolean {
    return inputIds.some((id) => this.#inputs.has(id));
  }
}

/** A turn start as the port describes it: ignored unless its attempt is higher than the stored one. */
function writeStart(sql: Statements, start: TurnStart): void {
  const ids = JSON.stringify(start.inputIds);
  const started = sql.insertTurn.run(start.turnId, start.sessionId, start.attempt, ids, start.startedAtMs);
  if (started.changes === 0) return;
  for (const id of start.inputIds) sql.runInput.run(start.turnId, id);
}

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}
