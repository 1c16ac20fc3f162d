/**
 * The crash test's checker, proven able to fail: a small, hand-built final state passes, and each
 * kind of damage the crash test looks for — a lost input, a duplicated history message, a turn that
 * ran again after its completion was committed, overlapping turns, effects repeated beyond their
 * bound, a status that changed, and for background children a lost dispatch, a child that never
 * reported, a completion left waiting, delivered twice, to another session, mid-turn, or dropped
 * after it ran — is reported. A checker that cannot fail would make every crash run pass.
 *
 * The state is written through the SQLite store into a real file, as the crash child leaves it.
 */
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ChildCompletion, Message, Policy, Reason, TurnOutcome } from "../../src/index.js";
import { renderCompletions } from "../../src/kernel/delegation/child-completion.js";
import { createSqliteStore, type SqliteStore } from "../../src/store/sqlite/index.js";
import { checkFinalState } from "./checks.js";
import { Ledger } from "./ledger.js";
import { type Marker, outputDigest, pathsOf, type Report } from "./protocol.js";
import { overCaps } from "./workload.js";

const sqliteMissing = await import("node:sqlite").then(
  () => undefined,
  () => `node:sqlite is missing in Node ${process.version}; run through npm so the pinned Node 24 is used`,
);

const user = (text: string): Message => ({ role: "user", content: [{ type: "text", text }] });
const said = (text: string): Message => ({ role: "assistant", content: [{ type: "text", text }] });
const OK: TurnOutcome = { status: "completed", reason: { code: "ok", message: "" } };
const HELD: Reason = { code: "withdrawn", message: "a stale completion, held for the host to confirm" };
const dirs: string[] = [];

/**
 * A final state with one completed function turn (session s1, agent fn-resume), one completed
 * model turn with a tool call (session s0, agent model-resume), and a background child d1 of s0
 * whose completion s0 took in a turn of its own; `damage` changes it before the check.
 */
async function check(damage: (world: World) => void = () => {}): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), "offstage-crash-checks-"));
  dirs.push(dir);
  const path = pathsOf(dir).database;
  const store = createSqliteStore({ path });
  await store.open();
  const world = new World(store, new Ledger());
  world.session("s0", "model-resume");
  world.session("s1", "fn-resume");
  world.turn("s1", "T1", ["i1"], [user("#t0.0# tick")], { ...OK, output: { nonce: "0.1" } });
  world.markers.push(fn("fn-start", 0, "s1", "T1", "0.1"), fn("fn-done", 0, "s1", "T1", "0.1"));
  world.turn(
    "s0",
    "T2",
    ["i2"],
    [
      user("#t0.1# read a.txt"),
      {
        role: "assistant",
        content: [{ type: "tool-call", toolCallId: "c0", toolName: "read_file", input: "{}" }],
      },
      {
        role: "tool",
        content: [
          {
            type: "tool-result",
            toolCallId: "c0",
            toolName: "read_file",
            output: { type: "text", value: "[effect 0.2] alpha" },
          },
        ],
      },
      said("done"),
    ],
    { ...OK, output: "done" },
  );
  world.markers.push(tool(0, "s0", "T2", "c0", "0.2"));
  const d1 = world.child("s0", "d1");
  world.delivered(d1, "s0", "c1", "TD");
  damage(world);
  await store.commit();
  await store.close();
  for (const m of world.markers) appendFileSync(pathsOf(dir).effects, `${JSON.stringify(m)}\n`);
  const final = await checkFinalState({
    dir,
    sessions: 4,
    ledger: world.ledger,
    store: createSqliteStore({ path }),
  });
  return [...world.ledger.violations, ...final.violations];
}

class World {
  readonly markers: Marker[] = [];
  #seq = 1;
  constructor(
    readonly store: SqliteStore,
    readonly ledger: Ledger,
  ) {}

  session(id: string, agent: string): void {
    this.store.createSession({ id, agent, createdAtMs: 0 });
  }

  /** Accepts the inputs (tokens from the messages), runs one turn that ends with `outcome`, reports both. */
  turn(session: string, turnId: string, inputIds: string[], messages: Message[], outcome: TurnOutcome): void {
    for (const [i, id] of inputIds.entries()) this.accept(session, id, messages[i]!);
    this.run(session, turnId, inputIds, messages, outcome);
    for (const id of inputIds)
      this.ledger.apply(0, {
        t: "settled",
        id,
        status: outcome.status,
        code: outcome.reason.code,
        turnId,
        output: outputDigest(outcome.output),
      });
  }

  /** Runs one turn of inputs already accepted, as the store records it. */
  run(session: string, turnId: string, inputIds: string[], messages: Message[], outcome: TurnOutcome): void {
    this.store.startTurn({ turnId, sessionId: session, inputIds, attempt: 1, startedAtMs: 0 });
    this.store.endTurn({
      turnId,
      sessionId: session,
      attempt: 1,
      outcome,
      messages,
      inputIds,
      requeued: [],
      usage: { inputTokens: 0, outputTokens: 0 },
      endedAtMs: 0,
    });
  }

  accept(session: string, id: string, message: Message): void {
    const text = message.role === "user" ? (message.content[0]?.text ?? "") : "";
    const token = /#t\d+\.\d+#/.exec(text)![0];
    this.store.accept({
      id,
      sessionId: session,
      seq: this.#seq++,
      payload: text,
      policy: "enqueue",
      acceptedAtMs: 0,
    });
    this.ledger.apply(0, {
      t: "accepted",
      id,
      session,
      token,
      key: undefined,
      policy: "enqueue",
      resend: false,
    });
  }

  /** Dispatches child `id` of `parent` (reported committed), still running. */
  dispatch(parent: string, id: string): void {
    this.store.delegations!.dispatch({
      id,
      parentSessionId: parent,
      childSessionId: `${parent}>${id}`,
      rootSessionId: parent,
      depth: 1,
      spec: { goal: "read a.txt", tools: ["read_file"], agent: "model-resume" },
      dispatchedAtMs: 0,
    });
    this.session(`${parent}>${id}`, "model-resume");
    this.ledger.apply(0, { t: "dispatched", delegations: [{ id, parent }] });
  }

  /** Dispatches child `id` of `parent` and runs it to its end; its completion is for the caller to write. */
  child(parent: string, id: string): ChildCompletion {
    const childSessionId = `${parent}>${id}`;
    this.dispatch(parent, id);
    this.store.accept({
      id: `goal-${id}`,
      sessionId: childSessionId,
      seq: this.#seq++,
      payload: "read a.txt",
      policy: "enqueue",
      acceptedAtMs: 0,
    });
    this.run(childSessionId, `turn-${id}`, [`goal-${id}`], [user("read a.txt"), said("alpha")], OK);
    return {
      delegationId: id,
      parentSessionId: parent,
      childSessionId,
      spec: { goal: "read a.txt", tools: ["read_file"] },
      status: "completed",
      summary: "alpha",
      exitReason: "ok",
      modelCalls: 1,
      dispatchedAtMs: 0,
      completedAtMs: 0,
    };
  }

  /** Queues input `inputId` in `session` carrying the completion; returns its message. */
  carry(session: string, inputId: string, completion: ChildCompletion, policy: Policy = "enqueue"): Message {
    const text = renderCompletions([completion]);
    this.store.accept({
      id: inputId,
      sessionId: session,
      seq: this.#seq++,
      payload: text,
      policy,
      acceptedAtMs: 0,
      delegationId: completion.delegationId,
    });
    return user(text);
  }

  /** The whole sound path: the completion written pending, carried to `session`, taken by a turn there. */
  delivered(completion: ChildCompletion, session: string, inputId: string, turnId: string): void {
    this.store.delegations!.complete(completion, { state: "pending", inputId });
    const block = this.carry(session, inputId, completion);
    this.run(session, turnId, [inputId], [block, said("Background results arrived")], OK);
    this.store.delegations!.setDelivery(completion.delegationId, { state: "delivered", inputId });
  }
}

function fn(k: "fn-start" | "fn-done", inc: number, session: string, turnId: string, nonce: string): Marker {
  return { k, inc, session, turnId, nonce };
}

function tool(inc: number, session: string, turnId: string, callId: string, nonce: string): Marker {
  return { k: "tool", inc, session, turnId, callId, nonce };
}

/** The report of input `id` accepted into session s1 with `token`; with `key`, as an idempotent resend. */
function accepted(id: string, token: string, key?: string): Report {
  return { t: "accepted", id, session: "s1", token, key, policy: "enqueue", resend: key !== undefined };
}

/** The checker's violations for the damaged state, one a line. */
async function reportOf(damage: (world: World) => void): Promise<string> {
  return (await check(damage)).join("\n");
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(sqliteMissing !== undefined)(
  `crash checker${sqliteMissing === undefined ? "" : ` (skipped: ${sqliteMissing})`}`,
  () => {
    it("passes a sound final state", async () => {
      expect(await check()).toEqual([]);
    });

    it("reports an accepted input the store does not hold", async () => {
      const report = await reportOf((w) => w.ledger.apply(0, accepted("ghost", "#t0.9#")));
      expect(report).toMatch(/input ghost .* is not in the store: lost/);
    });

    it("reports an input left queued", async () => {
      const report = await reportOf((w) => w.accept("s1", "i3", user("#t0.3# tick")));
      expect(report).toMatch(/1 inputs are still queued: i3/);
      expect(report).toMatch(/input i3 .* is still queued/);
    });

    it("reports a user message written to history twice", async () => {
      const report = await reportOf((w) =>
        w.turn("s1", "T3", ["i3"], [user("#t0.3# tick"), user("#t0.0# tick")], OK),
      );
      expect(report).toMatch(/#t0\.0# is in history 2 times/);
    });

    it("reports a status that differs from the one the handle settled with", async () => {
      const report = await reportOf((w) =>
        w.ledger.apply(1, {
          t: "settled",
          id: "i1",
          status: "cancelled",
          code: "cancel_requested",
          turnId: "T1",
          output: "-",
        }),
      );
      expect(report).toMatch(/input i1 settled completed.*then cancelled/);
    });

    it("reports a store output other than the one the handle settled with", async () => {
      const report = await reportOf((w) => {
        const fact = w.ledger.inputs.get("i2")!;
        // As if the host was told one answer and a rerun after a kill committed another.
        fact.settled = { ...fact.settled!, output: "0" };
      });
      expect(report).toMatch(/input i2 settled completed with output 0 .* another output: "done"/);
    });

    it("reports a function turn that ran again after its completion was committed", async () => {
      const report = await reportOf((w) =>
        w.markers.push(fn("fn-start", 1, "s1", "T1", "1.1"), fn("fn-done", 1, "s1", "T1", "1.1")),
      );
      expect(report).toMatch(/turn T1 ran again .* after the run 0\.1/);
      expect(report).toMatch(/turn T1 ran .* in process 1, after process 0 reported it settled/);
    });

    it("reports two turns of one session running at once", async () => {
      const report = await reportOf((w) => w.markers.splice(1, 0, fn("fn-start", 0, "s1", "TX", "0.7")));
      expect(report).toMatch(/s1 started a run of turn TX while turn T1 still ran/);
    });

    it("reports a tool call run twice in one process", async () => {
      const report = await reportOf((w) => w.markers.push(tool(0, "s0", "T2", "c0", "0.3")));
      expect(report).toMatch(/tool of T2 c0 ran twice in process 0/);
    });

    it("reports an effect repeated by an agent whose crashed turns must fail, not resume", async () => {
      const report = await reportOf((w) => {
        w.session("s2", "model-fail");
        w.markers.push(tool(0, "s2", "T9", "c9", "0.8"), tool(1, "s2", "T9", "c9", "1.8"));
      });
      expect(report).toMatch(/tool T9 c9 \(model-fail\) ran in 2 processes/);
    });

    it("reports a tool result that no execution produced", async () => {
      const report = await reportOf((w) => w.markers.splice(2, 1, tool(0, "s0", "T2", "other", "0.2")));
      expect(report).toMatch(/result of tool execution 0\.2 for call c0, which no execution/);
    });

    it("reports an idempotent resend that made a second input", async () => {
      const report = await reportOf((w) => w.ledger.apply(2, accepted("i9", "#t0.0#", "key#t0.0#")));
      expect(report).toMatch(/#t0\.0# .* was accepted as input i1 and again as i9/);
    });

    it("passes a held completion delivered again after its first input was withdrawn by the hold", async () => {
      const violations = await check((w) => {
        const d2 = w.child("s0", "d2");
        w.store.delegations!.complete(d2, { state: "held", inputId: "c2" });
        w.carry("s0", "c2", d2);
        w.store.endInput({ inputId: "c2", sessionId: "s0", status: "withdrawn", reason: HELD, endedAtMs: 0 });
        w.delivered(d2, "s0", "c3", "T4");
      });
      expect(violations).toEqual([]);
    });

    it("reports a dispatch reported committed that the file does not hold", async () => {
      const report = await reportOf((w) =>
        w.ledger.apply(1, { t: "dispatched", delegations: [{ id: "d9", parent: "s0" }] }),
      );
      expect(report).toMatch(/delegation d9 .* reported committed in process 1\) is not in the file: lost/);
    });

    it("reports a child that never reported", async () => {
      const report = await reportOf((w) => w.dispatch("s0", "d2"));
      expect(report).toMatch(/delegation d2 \(parent s0\) has no completion after the final drain/);
    });

    it("reports a completion still pending or held after the drain", async () => {
      const report = await reportOf((w) => {
        const d2 = w.child("s0", "d2");
        w.store.delegations!.complete(d2, { state: "pending", inputId: "c2" });
        w.carry("s0", "c2", d2);
        const d3 = w.child("s0", "d3");
        w.store.delegations!.complete(d3, { state: "held", inputId: "c3" });
      });
      expect(report).toMatch(/d2 .*: delivery is pending after the final drain/);
      expect(report).toMatch(/d2 .*: input c2 carrying its completion is still queued/);
      expect(report).toMatch(/d3 .*: delivery is held after the final drain/);
    });

    it("reports a completion delivered twice", async () => {
      const report = await reportOf((w) => {
        const d2 = w.child("s0", "d2");
        w.delivered(d2, "s0", "c2", "T4");
        w.run("s0", "T5", ["c3"], [w.carry("s0", "c3", d2), said("again")], OK);
      });
      expect(report).toMatch(/delegation d2 \(parent s0\): 2 inputs carry its completion \(c2, c3\)/);
      expect(report).toMatch(/d2 .*: its completion ran in 2 turns/);
      expect(report).toMatch(/d2 .*: its completion block is in the parent's history 2 times, expected 1/);
    });

    it("reports a completion delivered to another session", async () => {
      const report = await reportOf((w) => w.delivered(w.child("s0", "d2"), "s1", "c2", "T4"));
      expect(report).toMatch(/d2 .*: its completion is carried by input c2 of session s1, not of its parent/);
      expect(report).toMatch(/d2 .*: its completion block is in s1's history/);
      expect(report).toMatch(/d2 .*: its completion block is in the parent's history 0 times, expected 1/);
    });

    it("reports a completion that joined a running turn", async () => {
      const report = await reportOf((w) => {
        const d2 = w.child("s0", "d2");
        w.store.delegations!.complete(d2, { state: "pending", inputId: "c2" });
        w.accept("s0", "i4", user("#t0.4# hi"));
        const block = w.carry("s0", "c2", d2, "steer");
        w.run("s0", "T4", ["i4", "c2"], [user("#t0.4# hi"), said("hello"), block, said("ack")], OK);
        w.store.delegations!.setDelivery("d2", { state: "delivered", inputId: "c2" });
      });
      expect(report).toMatch(/d2 .*: its completion block entered turn T4 after user, assistant: mid-turn/);
      expect(report).toMatch(/d2 .*: input c2 carrying its completion has policy steer/);
    });

    it("reports a completion delivered by an input that never ran", async () => {
      const report = await reportOf((w) => {
        const d2 = w.child("s0", "d2");
        w.store.delegations!.complete(d2, { state: "pending", inputId: "c2" });
        w.carry("s0", "c2", d2);
        w.store.endInput({
          inputId: "c2",
          sessionId: "s0",
          status: "cancelled",
          reason: OK.reason,
          endedAtMs: 0,
        });
        w.store.delegations!.setDelivery("d2", { state: "delivered", inputId: "c2" });
      });
      expect(report).toMatch(/d2 .* is delivered, but its input c2 ended cancelled without a turn/);
    });

    it("reports a dropped completion whose input ran, and one dropped without a reason", async () => {
      const report = await reportOf((w) => {
        w.store.delegations!.setDelivery("d1", { state: "dropped", reason: "parent_stopped", inputId: "c1" });
        w.store.delegations!.complete(w.child("s0", "d2"), { state: "dropped" });
      });
      expect(report).toMatch(/d1 .* is dropped \(parent_stopped\), yet its input c1 ran in turn TD/);
      expect(report).toMatch(/d2 .* is dropped without a reason/);
    });

    it("reports an input carrying the completion of a delegation the file does not hold", async () => {
      const report = await reportOf((w) => {
        const ghost = { ...w.child("s0", "d2"), delegationId: "dx" };
        w.store.delegations!.complete({ ...ghost, delegationId: "d2" }, { state: "dropped", reason: "x" });
        w.run("s0", "T4", ["cx"], [w.carry("s0", "cx", ghost), said("?")], OK);
      });
      expect(report).toMatch(/inputs cx carry the completion of delegation dx, which is not in the file/);
    });

    it("caps: names the cap a count of running children is over", () => {
      const caps = { runningMax: 3, perParentRunningMax: 2 };
      expect(overCaps(3, "s0", 2, caps)).toBeUndefined();
      expect(overCaps(4, "s0", 1, caps)).toMatch(/4 children run, over runningMax 3/);
      expect(overCaps(2, "s0", 3, caps)).toMatch(/3 children of s0 run, over perParentRunningMax 2/);
    });
  },
);
