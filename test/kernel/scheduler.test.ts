/**
 * Scheduler decisions on their own, then together with the inbox through the driving protocol the
 * scheduler's header describes (offer → beginTurn → turnStarted; turnEnded → takeReady → beginTurn;
 * a turn's end re-offers its session). The runtime wraps that same protocol in IO. Longer than the
 * usual file because the drive rules only show with inboxes, so the small driver lives here too.
 */
import { beforeEach, describe, expect, it } from "vitest";
import {
  continueRun,
  createScheduler,
  offer,
  RUN_TURNS_MAX,
  type Schedulable,
  type SchedulerState,
  takeReady,
  turnEnded,
  turnStarted,
} from "../../src/kernel/scheduler/scheduler.js";
import type { InboxState } from "../../src/kernel/session/inbox.js";
import { accept, beginTurn, createInbox, endTurn, withdraw } from "../../src/kernel/session/inbox.js";
import { SeededRandom } from "../../src/testing/seeded-random.js";

// ---- the scheduler alone -----------------------------------------------------------------------

interface Named extends Schedulable {
  readonly id: string;
}

/** Sessions by name, each made on first mention. */
function registry(): (id: string) => Named {
  const made = new Map<string, Named>();
  return (id) => {
    let session = made.get(id);
    if (session === undefined) {
      session = { id, waiting: false, runStartedAtMs: undefined, runTurns: 0 };
      made.set(id, session);
    }
    return session;
  };
}

/** The names of the sessions waiting in line, longest-waiting first. */
function line(s: SchedulerState<Named>): string[] {
  return s.order.slice(s.head).map((session) => session.id);
}

/** A scheduler with `n` turns already running. */
function busy(maxConcurrentTurns: number, n = maxConcurrentTurns): SchedulerState<Named> {
  const s = createScheduler<Named>(maxConcurrentTurns);
  for (let i = 0; i < n; i++) turnStarted(s);
  return s;
}

describe("scheduler: offer and takeReady", () => {
  let at = registry();
  beforeEach(() => {
    at = registry();
  });

  it("a session may start at once while a slot is free and nobody waits; nothing is recorded", () => {
    const s = busy(2, 1);
    expect(offer(s, at("a"))).toBe(true);
    expect(s.waiting).toBe(0);
    expect(line(s)).toEqual([]);
  });

  it("at capacity a session waits, and waits only once however often it offers", () => {
    const s = busy(2);
    expect(offer(s, at("a"))).toBe(false);
    expect(offer(s, at("a"))).toBe(false);
    expect(line(s)).toEqual(["a"]);
    expect(line(s)).toEqual(["a"]);
  });

  it("takeReady gives nothing while every slot is taken, then the longest-waiting session", () => {
    const s = busy(1);
    offer(s, at("a"));
    offer(s, at("b"));
    expect(takeReady(s)).toBeUndefined();
    expect(s.waiting).toBe(2);
    turnEnded(s);
    expect(takeReady(s)?.id).toBe("a");
    turnStarted(s);
    expect(takeReady(s)).toBeUndefined();
    turnEnded(s);
    expect(takeReady(s)?.id).toBe("b");
    expect(takeReady(s)).toBeUndefined();
  });

  it("with a slot free but others waiting, a newcomer goes behind them (no queue jumping)", () => {
    const s = busy(1);
    offer(s, at("a"));
    turnEnded(s);
    expect(offer(s, at("late"))).toBe(false);
    expect(takeReady(s)?.id).toBe("a");
    expect(takeReady(s)?.id).toBe("late");
  });

  it("takeReady with nobody waiting gives nothing", () => {
    expect(takeReady(createScheduler(4))).toBeUndefined();
  });

  it("keeps FIFO order across thousands of waits, and does not grow without bound", () => {
    const s = busy(1);
    const n = 5000;
    for (let i = 0; i < n; i++) offer(s, at(`s${i}`));
    const taken: string[] = [];
    // Each session that runs offers again at once, as a busy session does: it goes to the back.
    for (let i = 0; i < 3 * n; i++) {
      turnEnded(s);
      const next = takeReady(s)!;
      turnStarted(s);
      taken.push(next.id);
      offer(s, next);
    }
    const expected = Array.from({ length: 3 * n }, (_, i) => `s${i % n}`);
    expect(taken).toEqual(expected);
    expect(s.waiting).toBe(n);
    // Consumed entries are dropped from time to time, so the order list stays near the waiting count.
    expect(s.order.length - s.head).toBe(n);
    expect(s.order.length).toBeLessThan(3 * n);
  });
});

describe("scheduler: a session's run of back-to-back turns (the quantum)", () => {
  const at = registry();

  /** A scheduler with a 10 ms quantum, its one slot just freed by `a`, and `b` waiting for it. */
  function freed(): SchedulerState<Named> {
    const s = createScheduler<Named>(1, 10);
    turnStarted(s);
    offer(s, at("b"));
    turnEnded(s);
    return s;
  }

  it("within the quantum, a session with input keeps its slot ahead of those waiting", () => {
    const s = freed();
    const a = at("a");
    expect(continueRun(s, a, true, 100, 104)).toBe(true);
    turnStarted(s);
    turnEnded(s);
    // The run is measured from its first turn's start (100), not from each turn's.
    expect(continueRun(s, a, true, 104, 109)).toBe(true);
    turnStarted(s);
    turnEnded(s);
    expect(continueRun(s, a, true, 109, 110)).toBe(false);
    expect(takeReady(s)?.id).toBe("b");
    // Its run is over: its next turn starts a new one.
    expect(a.runStartedAtMs).toBeUndefined();
    expect(a.runTurns).toBe(0);
  });

  it("a run ends without input, and holds at most RUN_TURNS_MAX turns while the clock stands still", () => {
    const s = freed();
    const a = at("a2");
    expect(continueRun(s, a, false, 0, 0)).toBe(false);
    let kept = 0;
    while (continueRun(s, a, true, 0, 0)) {
      kept += 1;
      turnStarted(s);
      turnEnded(s);
    }
    expect(kept).toBe(RUN_TURNS_MAX);
    expect(takeReady(s)?.id).toBe("b");
  });

  it("never with a quantum of 0, nor without a free slot", () => {
    const strict = createScheduler<Named>(1, 0);
    expect(continueRun(strict, at("a3"), true, 0, 0)).toBe(false);
    const full = busy(1);
    const roomy = { ...full, quantumMs: 1000 };
    expect(continueRun(roomy, at("a4"), true, 0, 0)).toBe(false);
  });
});

// ---- the driving protocol ------------------------------------------------------------------------

/** Sessions, their inboxes and one scheduler, driven the way the scheduler's header prescribes. */
class Drive {
  readonly s: SchedulerState<Named>;
  readonly at = registry();
  readonly inboxes = new Map<string, InboxState>();
  /** Sessions in the order their turns started. */
  readonly starts: string[] = [];
  #turns = 0;
  #inputs = 0;

  constructor(maxConcurrentTurns: number) {
    this.s = createScheduler<Named>(maxConcurrentTurns);
  }

  inbox(sessionId: string): InboxState {
    let inbox = this.inboxes.get(sessionId);
    if (inbox === undefined) {
      inbox = createInbox();
      this.inboxes.set(sessionId, inbox);
    }
    return inbox;
  }

  /** Stores input without waking anyone (as recovered work found at startup). */
  store(sessionId: string, count = 1): string[] {
    const made: string[] = [];
    for (let i = 0; i < count; i++) {
      const inputId = `${sessionId}.${this.#inputs++}`;
      accept(this.inbox(sessionId), { id: inputId, policy: "enqueue" }, 1000);
      made.push(inputId);
    }
    return made;
  }

  send(sessionId: string, count = 1): string[] {
    const made = this.store(sessionId, count);
    this.poke(sessionId);
    return made;
  }

  poke(sessionId: string): void {
    const inbox = this.inbox(sessionId);
    if (inbox.turn !== undefined || inbox.queue.length === 0) return;
    if (offer(this.s, this.at(sessionId))) this.#begin(sessionId);
  }

  driveAll(): void {
    for (const id of this.inboxes.keys()) this.poke(id);
  }

  /** The running turn of each session ends, in order: free its slot, hand it on, re-drive the session. */
  end(...sessionIds: string[]): void {
    for (const sessionId of sessionIds) {
      const inbox = this.inbox(sessionId);
      const turnId = inbox.turn?.turnId;
      if (turnId === undefined) throw new Error(`${sessionId} runs no turn`);
      endTurn(inbox, turnId, []);
      turnEnded(this.s);
      this.pump();
      this.poke(sessionId);
    }
  }

  pump(): void {
    for (;;) {
      const next = takeReady(this.s);
      if (next === undefined) return;
      this.#begin(next.id);
    }
  }

  #begin(sessionId: string): void {
    const turnId = `t${++this.#turns}`;
    if (beginTurn(this.inbox(sessionId), turnId, (_, id, inputs) => ({ turnId: id, inputs })) === undefined)
      return;
    turnStarted(this.s);
    this.starts.push(sessionId);
  }

  runningSessions(): string[] {
    return [...this.inboxes].filter(([, inbox]) => inbox.turn !== undefined).map(([id]) => id);
  }
}

describe("scheduler with inboxes: driving sessions", () => {
  it("poke drives an idle session that has queued input, and only that session", () => {
    const d = new Drive(4);
    d.store("a");
    d.store("b");
    d.poke("a");
    expect(d.starts).toEqual(["a"]);
    expect(d.runningSessions()).toEqual(["a"]);
  });

  it("poke does nothing for a session with nothing queued", () => {
    const d = new Drive(4);
    d.poke("empty");
    expect(d.starts).toEqual([]);
    expect(d.s.running).toBe(0);
  });

  it("a session with a turn in flight is not driven again, however often it is poked", () => {
    const d = new Drive(4);
    d.send("a", 3);
    d.poke("a");
    d.poke("a");
    d.driveAll();
    expect(d.starts).toEqual(["a"]);
    expect(d.s.running).toBe(1);
    expect(d.inbox("a").queue).toHaveLength(2);
  });

  it("a session handed a slot while its turn is still in flight is dropped, not started twice", () => {
    const d = new Drive(2);
    d.send("a", 2);
    d.send("b");
    // A stale wake made `a` wait for a slot though its turn runs.
    expect(offer(d.s, d.at("a"))).toBe(false);
    d.end("b");
    expect(d.starts).toEqual(["a", "b"]);
    expect(d.s.running).toBe(1);
    expect(d.runningSessions()).toEqual(["a"]);
  });

  it("a turn's end re-drives its own session: the next queued input starts without a poke", () => {
    const d = new Drive(4);
    d.send("a", 3);
    d.end("a");
    expect(d.starts).toEqual(["a", "a"]);
    d.end("a", "a");
    expect(d.starts).toEqual(["a", "a", "a"]);
    expect(d.s.running).toBe(0);
  });

  it("a global drive starts every idle session with input, at most maxConcurrentTurns, once each", () => {
    const d = new Drive(2);
    for (const id of ["a", "b", "c", "d", "e"]) d.store(id);
    d.store("none", 0);
    d.driveAll();
    expect(d.starts).toEqual(["a", "b"]);
    expect(line(d.s)).toEqual(["c", "d", "e"]);
    // Driving again changes nothing: no double start, no double wait.
    d.driveAll();
    d.driveAll();
    expect(d.starts).toEqual(["a", "b"]);
    expect(d.s.order.length - d.s.head).toBe(3);
    d.end("a", "b", "c");
    expect(d.starts).toEqual(["a", "b", "c", "d", "e"]);
  });

  it("the startup drive runs work stored before start (no wake ever arrived for it)", () => {
    const d = new Drive(8);
    d.store("a", 2);
    d.store("b");
    expect(d.starts).toEqual([]);
    d.driveAll();
    expect(d.starts).toEqual(["a", "b"]);
  });

  it("no head-of-line blocking: a busy session's backlog does not hold others back", () => {
    const d = new Drive(1);
    d.send("busy", 5);
    d.send("b");
    d.send("c");
    // Each time the busy session's turn ends, it goes behind the sessions already waiting.
    d.end("busy", "b", "c", "busy");
    expect(d.starts).toEqual(["busy", "b", "c", "busy", "busy"]);
  });

  it("a long turn in one session does not stop another session starting while a slot is free", () => {
    const d = new Drive(2);
    d.send("slow", 10);
    d.send("quick");
    d.end("quick");
    d.send("quick");
    expect(d.starts).toEqual(["slow", "quick", "quick"]);
  });

  it("a waiting session whose input was withdrawn is skipped, and the slot goes to the next", () => {
    const d = new Drive(1);
    d.send("a");
    const [b] = d.send("b");
    d.send("c");
    withdraw(d.inbox("b"), b!);
    d.end("a");
    expect(d.starts).toEqual(["a", "c"]);
    expect(d.s.waiting).toBe(0);
  });
});

// ---- property: random traffic over many sessions -------------------------------------------------

/** A plain check: `expect` per step of thousands of random steps made the suite slow. */
function must(holds: boolean, what: () => string): void {
  if (!holds) expect.fail(what());
}

function randomTraffic(seed: number): void {
  const r = new SeededRandom(seed);
  const max = r.int(1, 4);
  const d = new Drive(max);
  const sessions = Array.from({ length: r.int(2, 7) }, (_, i) => `s${i}`);
  /** When each session that waits for a slot began to wait (a logical clock). */
  const waitingSince = new Map<string, number>();
  let now = 0;
  let ends = 0;
  const check = (holds: boolean, what: () => string) =>
    must(
      holds,
      () => `seed ${seed}, step ${now}: ${what()}; running ${d.s.running}/${max}, waiting [${line(d.s)}]`,
    );

  for (; now < 250; now++) {
    const startsBefore = d.starts.length;
    const roll = r.next();
    const id = r.pick(sessions);
    if (roll < 0.4) d.send(id, r.int(1, 2));
    else if (roll < 0.75) {
      const runningNow = d.runningSessions();
      if (runningNow.length > 0) {
        d.end(r.pick(runningNow));
        ends += 1;
      }
    } else if (roll < 0.85) {
      const queued = d.inbox(id).queue;
      if (queued.length > 0) withdraw(d.inbox(id), r.pick(queued).id);
    } else if (roll < 0.95) d.poke(id);
    else d.driveAll();

    // Whoever started in this step was the longest-waiting session that still had input.
    for (const started of d.starts.slice(startsBefore)) {
      const mine = waitingSince.get(started) ?? now;
      for (const [other, since] of waitingSince) {
        if (other === started || d.inbox(other).queue.length === 0) continue;
        check(since >= mine, () => `${started} started before ${other}, which waited longer`);
      }
      waitingSince.delete(started);
    }
    // A session dropped from the line (its input withdrawn) starts afresh when it next waits.
    for (const sid of waitingSince.keys()) if (!d.at(sid).waiting) waitingSince.delete(sid);

    // Single flight per session is structural (one `running` per inbox); across sessions the
    // scheduler's count must match the inboxes and stay within the bound.
    const running = d.runningSessions();
    check(d.s.running === running.length, () => `count says ${d.s.running}, inboxes run [${running}]`);
    check(d.s.running <= max, () => "over the bound");
    for (const sid of sessions) {
      const inbox = d.inbox(sid);
      if (inbox.turn !== undefined || inbox.queue.length === 0) continue;
      // Work-conserving: input only waits when every slot is busy, and never without a place in line.
      check(d.s.running === max, () => `${sid} waits with a slot free`);
      check(d.at(sid).waiting, () => `${sid} has input but no place in line`);
      if (!waitingSince.has(sid)) waitingSince.set(sid, now);
    }
    check(d.s.order.length - d.s.head === d.s.waiting, () => "the line holds stale entries");
  }
  check(ends > 20, () => `only ${ends} turns ended`);
}

describe("scheduler with inboxes: seeded random traffic", () => {
  it("bounded, single flight, work-conserving, FIFO among waiting sessions, no lost session", () => {
    for (let seed = 1; seed <= 300; seed++) randomTraffic(seed);
  });
});
