/**
 * Scheduler decisions: which sessions may start a turn now. Pure and deterministic.
 *
 * Sessions that have queued input and no running turn *offer* themselves. While fewer than
 * `maxConcurrentTurns` turns run, an offer starts at once; otherwise the session waits in a FIFO ready
 * set (each session at most once). When a turn ends its slot goes to the longest-waiting session, and
 * the session that just finished goes behind the others, so one busy session never holds a slot while
 * others wait (no head-of-line blocking). A session is never started twice: the caller asks the inbox
 * (`beginTurn`) before starting, and the inbox refuses a session that already runs.
 */
export interface SchedulerState {
  readonly maxConcurrentTurns: number;
  running: number;
  /** Sessions waiting for a slot (membership). */
  readonly ready: Set<string>;
  /**
   * The same sessions in arrival order, consumed from `head`. A Set alone would do, but taking its
   * first element after many deletions scans the deleted slots, which made a long run quadratic.
   */
  readonly order: string[];
  head: number;
}

export function createScheduler(maxConcurrentTurns: number): SchedulerState {
  return { maxConcurrentTurns, running: 0, ready: new Set(), order: [], head: 0 };
}

/**
 * A session with queued input and no running turn asks to run. Returns true when it may start now;
 * otherwise it waits in the ready set (behind any session already waiting, for fairness).
 */
export function offer(s: SchedulerState, sessionId: string): boolean {
  if (s.running < s.maxConcurrentTurns && s.ready.size === 0) return true;
  if (!s.ready.has(sessionId)) {
    s.ready.add(sessionId);
    s.order.push(sessionId);
  }
  return false;
}

/** Records that a turn started in a slot. */
export function turnStarted(s: SchedulerState): void {
  s.running += 1;
}

/** Records that a turn ended, freeing its slot. */
export function turnEnded(s: SchedulerState): void {
  s.running -= 1;
}

/** The next waiting session to start, if a slot is free. The caller starts it or drops it. */
export function takeReady(s: SchedulerState): string | undefined {
  if (s.running >= s.maxConcurrentTurns) return undefined;
  while (s.head < s.order.length) {
    const id = s.order[s.head]!;
    s.head += 1;
    if (s.head > 1024 && s.head * 2 > s.order.length) {
      s.order.splice(0, s.head);
      s.head = 0;
    }
    if (s.ready.delete(id)) return id;
  }
  return undefined;
}
