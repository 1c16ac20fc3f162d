/**
 * A session inbox's rules: single flight, arrival order, the five policies, withdraw. Longer than the
 * usual file because it also holds the seeded random run that checks those rules together.
 */
import { describe, expect, it } from "vitest";
import {
  abandonTurn,
  accept,
  beginTurn,
  createInbox,
  endTurn,
  type InboxState,
  type InboxTurn,
  isIdle,
  POLICIES,
  type Policy,
  type QueuedInput,
  resumeTurn,
  withdraw,
} from "../../src/kernel/session/inbox.js";
import { SeededRandom } from "../../src/testing/seeded-random.js";

const ROOMY = 100;

/** Begins turn `turnId` and returns the inputs it took, or `undefined` when no turn may begin. */
function begin<Q extends QueuedInput>(
  inbox: InboxState<Q>,
  turnId: string,
  mergeCompletions?: boolean,
): Q[] | undefined {
  const open = (_: InboxState<Q>, id: string, inputs: Q[]): InboxTurn<Q> => ({ turnId: id, inputs });
  return beginTurn(inbox, turnId, open, mergeCompletions)?.inputs;
}

function input(id: string, policy: Policy = "enqueue"): QueuedInput {
  return { id, policy };
}

function ids(inbox: InboxState): string[] {
  return inbox.queue.map((q) => q.id);
}

/** An inbox whose session is running turn `t0`, started from input `a`. */
function running(): InboxState {
  const inbox = createInbox();
  accept(inbox, input("a"), ROOMY);
  begin(inbox, "t0");
  return inbox;
}

function clone(inbox: InboxState): unknown {
  return structuredClone(inbox);
}

/** Accepting `queued` is refused with `code`, its message naming `named`, and the inbox is left as it was. */
function expectRefused(
  inbox: InboxState,
  queued: QueuedInput,
  limit: number,
  code: string,
  named: string,
): void {
  const before = clone(inbox);
  const decision = accept(inbox, queued, limit);
  expect(decision).toMatchObject({ kind: "refused", code });
  if (decision.kind === "refused") expect(decision.message).toContain(named);
  expect(clone(inbox)).toEqual(before);
}

// ---- accept ------------------------------------------------------------------------------------

describe("inbox: accept", () => {
  it("on an idle session every policy queues the input (reject and steer included)", () => {
    for (const policy of POLICIES as ReadonlySet<Policy>) {
      const inbox = createInbox();
      expect(isIdle(inbox)).toBe(true);
      expect(accept(inbox, input("x", policy), ROOMY)).toEqual({ kind: "queued", interrupt: undefined });
      expect(ids(inbox)).toEqual(["x"]);
      expect(isIdle(inbox)).toBe(false);
    }
  });

  it("enqueue while a turn runs waits in arrival order", () => {
    const inbox = running();
    for (const id of ["b", "c", "d"]) {
      expect(accept(inbox, input(id), ROOMY)).toEqual({ kind: "queued", interrupt: undefined });
    }
    expect(ids(inbox)).toEqual(["b", "c", "d"]);
    expect(inbox.turn?.inputs.map((q) => q.id)).toEqual(["a"]);
  });

  it("reject while a turn runs is refused with SESSION_BUSY, naming the turn, and changes nothing", () => {
    const inbox = running();
    accept(inbox, input("b"), ROOMY);
    expectRefused(inbox, input("r", "reject"), ROOMY, "SESSION_BUSY", "t0");
  });

  it("reject is refused too while input waits for a turn, though none runs yet", () => {
    const inbox = createInbox();
    accept(inbox, input("a"), ROOMY);
    expectRefused(inbox, input("r", "reject"), ROOMY, "SESSION_BUSY", "1 queued input");
  });

  it("a full inbox refuses queued input with INBOX_FULL, quoting the limit, and changes nothing", () => {
    for (const policy of ["enqueue", "merge", "interrupt"] as const) {
      const inbox = running();
      accept(inbox, input("b"), 2);
      accept(inbox, input("c"), 2);
      expectRefused(inbox, input("x", policy), 2, "INBOX_FULL", "inboxLengthMax 2");
    }
  });

  it("steer while a turn runs joins that turn, even with input queued, and leaves the queue alone", () => {
    const inbox = running();
    accept(inbox, input("b"), ROOMY);
    expect(accept(inbox, input("s", "steer"), ROOMY)).toEqual({ kind: "steered", turnId: "t0" });
    expect(inbox.turn?.inputs.map((q) => q.id)).toEqual(["a", "s"]);
    expect(ids(inbox)).toEqual(["b"]);
  });

  it("steer joins a running turn even when the queue is at its limit: it does not wait in the queue", () => {
    const inbox = running();
    accept(inbox, input("b"), 1);
    expect(accept(inbox, input("s", "steer"), 1)).toEqual({ kind: "steered", turnId: "t0" });
  });

  it("steer with no turn running behaves as enqueue: at the back, counted against the limit", () => {
    const inbox = createInbox();
    accept(inbox, input("a"), 2);
    expect(accept(inbox, input("s", "steer"), 2)).toEqual({ kind: "queued", interrupt: undefined });
    expect(ids(inbox)).toEqual(["a", "s"]);
    expect(accept(inbox, input("s2", "steer"), 2)).toMatchObject({ kind: "refused", code: "INBOX_FULL" });
    expect(begin(inbox, "t1")?.map((q) => q.id)).toEqual(["a"]);
  });

  it("interrupt while a turn runs names the turn to cancel and goes ahead of plain queued input", () => {
    const inbox = running();
    accept(inbox, input("b"), ROOMY);
    expect(accept(inbox, input("i", "interrupt"), ROOMY)).toEqual({ kind: "queued", interrupt: "t0" });
    expect(ids(inbox)).toEqual(["i", "b"]);
  });

  it("several interrupts keep their own arrival order, all ahead of plain queued input", () => {
    const inbox = running();
    accept(inbox, input("b"), ROOMY);
    accept(inbox, input("i1", "interrupt"), ROOMY);
    accept(inbox, input("c"), ROOMY);
    accept(inbox, input("i2", "interrupt"), ROOMY);
    accept(inbox, input("i3", "interrupt"), ROOMY);
    expect(ids(inbox)).toEqual(["i1", "i2", "i3", "b", "c"]);
  });

  it("interrupt with input waiting but no turn running goes first and cancels nothing", () => {
    const inbox = createInbox();
    accept(inbox, input("a"), ROOMY);
    expect(accept(inbox, input("i", "interrupt"), ROOMY)).toEqual({ kind: "queued", interrupt: undefined });
    expect(ids(inbox)).toEqual(["i", "a"]);
  });
});

// ---- beginTurn ------------------------------------------------------------------------------------

describe("inbox: beginTurn", () => {
  it("does nothing on a session with nothing queued", () => {
    const inbox = createInbox();
    expect(begin(inbox, "t1")).toBeUndefined();
    expect(inbox.turn).toBeUndefined();
  });

  it("changes nothing when the turn cannot be made (open throws)", () => {
    const inbox = createInbox();
    accept(inbox, input("a"), ROOMY);
    accept(inbox, input("m", "merge"), ROOMY);
    const before = clone(inbox);
    expect(() =>
      beginTurn(inbox, "t1", (): InboxTurn => {
        throw new Error("no history");
      }),
    ).toThrow("no history");
    expect(clone(inbox)).toEqual(before);
  });

  it("resumeTurn gives an idle inbox a recovered turn, and refuses a busy one", () => {
    const inbox = createInbox();
    expect(resumeTurn(inbox, { turnId: "r1", inputs: [input("a")] })).toBe(true);
    expect(inbox.turn?.turnId).toBe("r1");
    expect(resumeTurn(inbox, { turnId: "r2", inputs: [input("b")] })).toBe(false);
    expect(inbox.turn?.turnId).toBe("r1");
    expect(endTurn(inbox, "r1", [])).toBe(true);
    expect(isIdle(inbox)).toBe(true);
  });

  it("never starts a second turn while one runs (single flight)", () => {
    const inbox = running();
    accept(inbox, input("b"), ROOMY);
    const before = clone(inbox);
    expect(begin(inbox, "t1")).toBeUndefined();
    expect(clone(inbox)).toEqual(before);
  });

  it("takes one input at a time, in arrival order, and records the running turn", () => {
    const inbox = createInbox();
    for (const id of ["a", "b", "c"]) accept(inbox, input(id), ROOMY);
    const order: string[] = [];
    for (let n = 1; !isIdle(inbox); n++) {
      const taken = begin(inbox, `t${n}`)!;
      expect(taken).toHaveLength(1);
      expect(inbox.turn).toEqual({ turnId: `t${n}`, inputs: [taken[0]] });
      order.push(taken[0]!.id);
      expect(endTurn(inbox, `t${n}`, [])).toBe(true);
    }
    expect(order).toEqual(["a", "b", "c"]);
  });

  it("hands back the caller's own queued objects", () => {
    const inbox = createInbox<QueuedInput & { payload: string }>();
    const item = { id: "a", policy: "enqueue" as const, payload: "hello" };
    accept(inbox, item, ROOMY);
    expect(begin(inbox, "t1")?.[0]).toBe(item);
  });

  it("merge folds everything queued into the next turn, in queue order", () => {
    const inbox = running();
    accept(inbox, input("b"), ROOMY);
    accept(inbox, input("m", "merge"), ROOMY);
    accept(inbox, input("c"), ROOMY);
    expect(inbox.merges).toBe(1);
    endTurn(inbox, "t0", []);
    expect(begin(inbox, "t1")?.map((q) => q.id)).toEqual(["b", "m", "c"]);
    expect(inbox.queue).toEqual([]);
    expect(inbox.merges).toBe(0);
    expect(inbox.turn?.inputs.map((q) => q.id)).toEqual(["b", "m", "c"]);
  });

  it("after a merged turn, later input is taken one at a time again", () => {
    const inbox = createInbox();
    accept(inbox, input("m", "merge"), ROOMY);
    begin(inbox, "t1");
    accept(inbox, input("b"), ROOMY);
    accept(inbox, input("c"), ROOMY);
    endTurn(inbox, "t1", []);
    expect(begin(inbox, "t2")?.map((q) => q.id)).toEqual(["b"]);
  });

  it("a merged turn includes queued interrupts, still in front", () => {
    const inbox = running();
    accept(inbox, input("m", "merge"), ROOMY);
    accept(inbox, input("i", "interrupt"), ROOMY);
    endTurn(inbox, "t0", []);
    expect(begin(inbox, "t1")?.map((q) => q.id)).toEqual(["i", "m"]);
  });
});

// ---- endTurn -------------------------------------------------------------------------------------

describe("inbox: endTurn", () => {
  it("ignores an end for a turn that is not the running one (stale)", () => {
    const inbox = running();
    const before = clone(inbox);
    expect(endTurn(inbox, "t-old", [])).toBe(false);
    expect(clone(inbox)).toEqual(before);
    expect(endTurn(createInbox(), "t0", [])).toBe(false);
  });

  it("frees the session: the next queued input may start", () => {
    const inbox = running();
    accept(inbox, input("b"), ROOMY);
    expect(endTurn(inbox, "t0", [])).toBe(true);
    expect(inbox.turn).toBeUndefined();
    expect(begin(inbox, "t1")?.map((q) => q.id)).toEqual(["b"]);
    // Ending twice is stale.
    expect(endTurn(inbox, "t0", [])).toBe(false);
  });

  it("steered input the model never saw goes back to the front, in the order given", () => {
    const inbox = running();
    accept(inbox, input("b"), ROOMY);
    const s1 = input("s1", "steer");
    const s2 = input("s2", "steer");
    accept(inbox, s1, ROOMY);
    accept(inbox, s2, ROOMY);
    const turn = inbox.turn!;
    expect(endTurn(inbox, "t0", [s1, s2])).toBe(true);
    expect(ids(inbox)).toEqual(["s1", "s2", "b"]);
    // The ended turn answers only what it took and what the model saw.
    expect(turn.inputs.map((q) => q.id)).toEqual(["a"]);
  });

  it("an interrupt that ended the turn runs next, ahead of steered input handed back", () => {
    const inbox = running();
    accept(inbox, input("b"), ROOMY);
    const s = input("s", "steer");
    expect(accept(inbox, s, ROOMY).kind).toBe("steered");
    expect(accept(inbox, input("i", "interrupt"), ROOMY)).toEqual({ kind: "queued", interrupt: "t0" });
    endTurn(inbox, "t0", [s]);
    const order: string[] = [];
    for (let n = 1; !isIdle(inbox); n++) {
      order.push(...begin(inbox, `t${n}`)!.map((q) => q.id));
      endTurn(inbox, `t${n}`, []);
    }
    expect(order).toEqual(["i", "s", "b"]);
  });
});

// ---- withdraw ------------------------------------------------------------------------------------

describe("inbox: abandonTurn", () => {
  it("puts a turn that could not start back as it was: its inputs in front, merges counted", () => {
    const inbox = createInbox();
    for (const [id, policy] of [
      ["a", "enqueue"],
      ["m", "merge"],
      ["b", "enqueue"],
    ] as const)
      accept(inbox, input(id, policy), ROOMY);
    const before = clone(inbox);
    begin(inbox, "t1");
    expect(ids(inbox)).toEqual([]);
    expect(abandonTurn(inbox, "t1")).toBe(true);
    expect(clone(inbox)).toEqual(before);
    expect(begin(inbox, "t2")?.map((q) => q.id)).toEqual(["a", "m", "b"]);
  });

  it("keeps input queued meanwhile behind the turn's, and ignores a turn that is not running", () => {
    const inbox = running();
    accept(inbox, input("b"), ROOMY);
    expect(abandonTurn(inbox, "other")).toBe(false);
    expect(abandonTurn(inbox, "t0")).toBe(true);
    expect(ids(inbox)).toEqual(["a", "b"]);
    expect(inbox.turn).toBeUndefined();
  });
});

describe("inbox: withdraw", () => {
  it("removes a queued input before it starts, keeping the others' order", () => {
    const inbox = running();
    for (const id of ["b", "c", "d"]) accept(inbox, input(id), ROOMY);
    expect(withdraw(inbox, "c")).toBe("withdrawn");
    expect(ids(inbox)).toEqual(["b", "d"]);
    expect(withdraw(inbox, "c")).toBe("unknown");
  });

  it("withdrawing the only merge input stops the next turn from merging", () => {
    const inbox = running();
    accept(inbox, input("b"), ROOMY);
    accept(inbox, input("m", "merge"), ROOMY);
    accept(inbox, input("c"), ROOMY);
    expect(withdraw(inbox, "m")).toBe("withdrawn");
    expect(inbox.merges).toBe(0);
    endTurn(inbox, "t0", []);
    expect(begin(inbox, "t1")?.map((q) => q.id)).toEqual(["b"]);
  });

  it("refuses an input that started (taken or steered) and changes nothing", () => {
    const inbox = running();
    accept(inbox, input("s", "steer"), ROOMY);
    const before = clone(inbox);
    expect(withdraw(inbox, "a")).toBe("running");
    expect(withdraw(inbox, "s")).toBe("running");
    expect(clone(inbox)).toEqual(before);
  });

  it("refuses an input it does not hold, or one whose turn ended", () => {
    const inbox = running();
    expect(withdraw(inbox, "nope")).toBe("unknown");
    endTurn(inbox, "t0", []);
    expect(withdraw(inbox, "a")).toBe("unknown");
  });
});

// ---- property: random operation sequences --------------------------------------------------------

interface Fact {
  readonly id: string;
  readonly policy: Policy;
  /** Acceptance order. */
  readonly order: number;
  /** Handed back unseen after a steer; may then go ahead of older plain input. */
  jumper: boolean;
  where: "queued" | "running" | "done" | "withdrawn" | "refused";
}

/** A plain check: `expect` per step of thousands of random steps made the suite slow. */
function must(holds: boolean, what: () => string): void {
  if (!holds) expect.fail(what());
}

/** Everything a refusal must leave untouched, as one comparable string. */
function signature(inbox: InboxState): string {
  return JSON.stringify([inbox.queue, inbox.turn, inbox.merges]);
}

/**
 * Random sends (every policy), turn starts, turn ends (handing back a random part of the steered
 * input) and withdraws against one inbox, with the rules checked after every step.
 */
function randomInbox(seed: number): void {
  const r = new SeededRandom(seed);
  const limit = r.int(1, 6);
  const inbox = createInbox();
  const facts = new Map<string, Fact>();
  const policies = [...POLICIES] as Policy[];
  let turnSeq = 0;
  let steeredIntoRunning: QueuedInput[] = [];
  let turns = 0;
  let step = 0;
  const check = (holds: boolean, what: () => string) =>
    must(holds, () => `seed ${seed}, step ${step}: ${what()}; queue [${ids(inbox)}]`);
  const queued = () => inbox.queue.map((q) => facts.get(q.id)!);
  const isPlain = (f: Fact) => f.policy !== "interrupt" && !f.jumper;

  for (; step < 250; step++) {
    const roll = r.next();
    if (roll < 0.45) {
      const id = `x${facts.size}`;
      const policy = r.pick(policies);
      const item = input(id, policy);
      const wasBusy = !isIdle(inbox);
      const wasRunning = inbox.turn?.turnId;
      const before = signature(inbox);
      const lengthBefore = inbox.queue.length;
      const decision = accept(inbox, item, limit);
      const fact: Fact = { id, policy, order: facts.size, jumper: false, where: "queued" };
      facts.set(id, fact);
      if (decision.kind === "refused") {
        fact.where = "refused";
        check(signature(inbox) === before, () => `refusing ${id} changed the inbox`);
        if (decision.code === "SESSION_BUSY")
          check(policy === "reject" && wasBusy, () => `${id} refused busy`);
        // Steered input handed back may overfill the queue: it was accepted already, so it never
        // bounces; new input waits until the queue is back under the limit.
        else check(lengthBefore >= limit, () => `${policy} ${id} refused as full below the limit`);
      } else if (decision.kind === "steered") {
        check(policy === "steer" && decision.turnId === wasRunning, () => `${policy} ${id} steered`);
        fact.where = "running";
        steeredIntoRunning.push(item);
      } else {
        check(!(policy === "steer" && wasRunning !== undefined), () => `steer ${id} queued while a turn ran`);
        check(!(policy === "reject" && wasBusy), () => `reject ${id} accepted while busy`);
        check(
          decision.interrupt === (policy === "interrupt" ? wasRunning : undefined),
          () => `${policy} ${id} asked to interrupt ${decision.interrupt}`,
        );
        check(inbox.queue.length <= limit, () => `${id} queued past the limit ${limit}`);
      }
    } else if (roll < 0.7) {
      const wasRunning = inbox.turn !== undefined;
      const q = queued();
      const taken = begin(inbox, `t${++turnSeq}`);
      if (wasRunning || q.length === 0) {
        check(taken === undefined, () => "a turn began while one ran, or with nothing queued");
        continue;
      }
      turns += 1;
      const got = (taken ?? []).map((t) => facts.get(t.id)!);
      for (const f of got) {
        check(f.where === "queued", () => `took ${f.id}, which is ${f.where}`);
        f.where = "running";
      }
      const took = () => `took [${got.map((f) => f.id)}]`;
      if (q.some((f) => f.policy === "merge")) {
        // Merge takes everything queued, in queue order.
        check(got.length === q.length && got.every((f, i) => f === q[i]), took);
      } else {
        check(got.length === 1, took);
        const x = got[0]!;
        const rest = q.filter((f) => f !== x);
        if (x.policy === "interrupt") {
          check(!rest.some((f) => f.policy === "interrupt" && f.order < x.order), took);
        } else {
          // Interrupts go first, then handed-back steered input, then the rest in arrival order.
          check(!rest.some((f) => f.policy === "interrupt"), took);
          if (isPlain(x)) {
            check(!rest.some((f) => f.jumper), took);
            check(!rest.some((f) => isPlain(f) && f.order < x.order), took);
          }
        }
      }
      steeredIntoRunning = [];
    } else if (roll < 0.9) {
      const turnId = inbox.turn?.turnId;
      if (turnId === undefined) {
        check(!endTurn(inbox, `t${turnSeq + 1}`, []), () => "ended a turn that never ran");
        continue;
      }
      check(!endTurn(inbox, "t-stale", []), () => "a stale end was applied");
      const back = steeredIntoRunning.filter(() => r.chance(0.5));
      const answered = inbox.turn!.inputs.map((q) => q.id).filter((id) => !back.some((b) => b.id === id));
      check(endTurn(inbox, turnId, back), () => `ending ${turnId} was refused`);
      for (const id of answered) facts.get(id)!.where = "done";
      for (const b of back) {
        const f = facts.get(b.id)!;
        f.where = "queued";
        f.jumper = true;
      }
      steeredIntoRunning = [];
    } else if (facts.size > 0) {
      const f = facts.get(`x${r.int(0, facts.size - 1)}`)!;
      const result = withdraw(inbox, f.id);
      const want = f.where === "queued" ? "withdrawn" : f.where === "running" ? "running" : "unknown";
      check(result === want, () => `withdraw ${f.id} (${f.where}) answered ${result}`);
      if (result === "withdrawn") f.where = "withdrawn";
    }

    // After every step: the queue is exactly the queued facts, nothing is held twice, the merge count
    // is right, and only the running turn holds running input.
    const q = ids(inbox);
    const live = [...facts.values()];
    check(new Set(q).size === q.length, () => "an input is queued twice");
    const wantQueued = live.filter((f) => f.where === "queued").map((f) => f.id);
    check(
      wantQueued.length === q.length && wantQueued.every((id) => q.includes(id)),
      () => "queue lost or gained input",
    );
    check(
      inbox.merges === inbox.queue.filter((x) => x.policy === "merge").length,
      () => "merge count drifted",
    );
    const runningIds = live.filter((f) => f.where === "running").map((f) => f.id);
    const held = inbox.turn?.inputs.map((q) => q.id) ?? [];
    check(
      held.length === runningIds.length && runningIds.every((id) => held.includes(id)),
      () => `running turn holds [${held}], expected [${runningIds}]`,
    );
  }
  // The sequence must actually have exercised turns, or the checks above proved little.
  check(turns > 5, () => `only ${turns} turns ran`);
}

describe("inbox: seeded random operation sequences", () => {
  it("single flight, arrival order, interrupt and hand-back priority, merge, withdraw, refusals", () => {
    for (let seed = 1; seed <= 300; seed++) randomInbox(seed);
  });
});
