/**
 * Scheduler decisions: which sessions may start a turn now. Pure and deterministic.
 *
 * Sessions that have queued input and no running turn *offer* themselves. While fewer than
 * `maxConcurrentTurns` turns run, an offer starts at once; otherwise the session waits in a FIFO line
 * (each session at most once). When a turn ends its slot goes to the longest-waiting session, and
 * the session that just finished goes behind the others, so one busy session never holds a slot while
 * others wait (no head-of-line blocking) — with one bounded exception, the *quantum*: a session whose
 * turn ended with more input queued may run its next turn in the same slot at once
 * (`continueRun`), while its run of back-to-back turns began less than `quantumMs` ago and holds
 * fewer than {@link RUN_TURNS_MAX} turns. A slow session's first turn already outlasts the quantum,
 * so it never keeps its slot; fast ones (a state machine, a local model) run a few turns while their
 * data is still in the CPU's caches, and whoever waits does so for one quantum at most. A session is
 * never started twice: the caller asks the inbox (`beginTurn`) before starting, and the inbox refuses
 * a session that already runs.
 */

/** A session as the scheduler sees it: its place in line is a flag on it, not an entry in a set. */
export interface Schedulable {
  /** True while it waits in line for a slot. Only the scheduler sets it. */
  waiting: boolean;
  /** When its run of back-to-back turns began (see `continueRun`); only the scheduler sets it. */
  runStartedAtMs: number | undefined;
  /** Turns of that run that started in its slot after the first. */
  runTurns: number;
}

/** Turns one run may add in its slot, whatever the clock says (a virtual clock may stand still). */
export const RUN_TURNS_MAX = 64;

export interface SchedulerState<S extends Schedulable = Schedulable> {
  readonly maxConcurrentTurns: number;
  /** How long a session may keep its slot for back-to-back turns; 0: never (every slot goes to the line). */
  readonly quantumMs: number;
  running: number;
  /** Sessions waiting for a slot, in arrival order, consumed from `head`. */
  readonly order: S[];
  head: number;
  /** How many sessions wait. */
  waiting: number;
}

export function createScheduler<S extends Schedulable>(
  maxConcurrentTurns: number,
  quantumMs = 0,
): SchedulerState<S> {
  return { maxConcurrentTurns, quantumMs, running: 0, order: [], head: 0, waiting: 0 };
}

/**
 * A session with queued input and no running turn asks to run. Returns true when it may start now;
 * otherwise it waits in line (behind any session already waiting, for fairness).
 */
export function offer<S extends Schedulable>(s: SchedulerState<S>, session: S): boolean {
  if (s.running < s.maxConcurrentTurns && s.waiting === 0) return true;
  if (!session.waiting) {
    session.waiting = true;
    s.waiting += 1;
    s.order.push(session);
  }
  return false;
}

/** Records that a turn started in a slot. */
export function turnStarted(s: SchedulerState<Schedulable>): void {
  s.running += 1;
}

/** Records that a turn ended, freeing its slot. */
export function turnEnded(s: SchedulerState<Schedulable>): void {
  s.running -= 1;
}

/**
 * A turn of `session` that started at `startedAtMs` has ended and its slot is free (`turnEnded`).
 * Returns true when the session's next turn may start in that slot now, ahead of the sessions
 * waiting in line: it has input (`hasInput`) and its run of back-to-back turns, which began with
 * that turn or an earlier one, is younger than the quantum and shorter than {@link RUN_TURNS_MAX}.
 * Otherwise its run ends, and it offers like any other session.
 */
export function continueRun<S extends Schedulable>(
  s: SchedulerState<S>,
  session: S,
  hasInput: boolean,
  startedAtMs: number,
  nowMs: number,
): boolean {
  session.runStartedAtMs ??= startedAtMs;
  if (
    hasInput &&
    s.running < s.maxConcurrentTurns &&
    nowMs - session.runStartedAtMs < s.quantumMs &&
    session.runTurns < RUN_TURNS_MAX
  ) {
    session.runTurns += 1;
    return true;
  }
  session.runStartedAtMs = undefined;
  session.runTurns = 0;
  return false;
}

/** The next waiting session to start, if a slot is free. The caller starts it or drops it. */
export function takeReady<S extends Schedulable>(s: SchedulerState<S>): S | undefined {
  if (s.running >= s.maxConcurrentTurns || s.waiting === 0) return undefined;
  const session = s.order[s.head]!;
  s.head += 1;
  if (s.head > 1024 && s.head * 2 > s.order.length) {
    s.order.splice(0, s.head);
    s.head = 0;
  }
  session.waiting = false;
  s.waiting -= 1;
  return session;
}
