/**
 * The crash test's checker, proven able to fail: a small, hand-built final state passes, and each
 * kind of damage the crash test looks for — a lost input, a duplicated history message, a turn that
 * ran again after its completion was committed, overlapping turns, effects repeated beyond their
 * bound, a status that changed — is reported. A checker that cannot fail would make every crash run
 * pass.
 */
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createMemoryStore, type Message, type Store, type TurnOutcome } from "../../src/index.js";
import { checkFinalState } from "./checks.js";
import { Ledger } from "./ledger.js";
import { type Marker, outputDigest, pathsOf } from "./protocol.js";

const sqliteMissing = await import("node:sqlite").then(
  () => undefined,
  () => `node:sqlite is missing in Node ${process.version}; run through npm so the pinned Node 24 is used`,
);

const user = (text: string): Message => ({ role: "user", content: [{ type: "text", text }] });
const OK: TurnOutcome = { status: "completed", reason: { code: "ok", message: "" } };
const dirs: string[] = [];

/**
 * A final state with one completed function turn (session s1, agent fn-resume) and one completed
 * model turn with a tool call (session s0, agent model-resume); `damage` changes it before the check.
 */
async function check(damage: (world: World) => void = () => {}): Promise<string[]> {
  const { DatabaseSync } = await import("node:sqlite");
  const dir = mkdtempSync(join(tmpdir(), "offstage-crash-checks-"));
  dirs.push(dir);
  new DatabaseSync(pathsOf(dir).database).close();
  const world = new World(createMemoryStore(), new Ledger());
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
      { role: "assistant", content: [{ type: "text", text: "done" }] },
    ],
    { ...OK, output: "done" },
  );
  world.markers.push(tool(0, "s0", "T2", "c0", "0.2"));
  damage(world);
  for (const m of world.markers) appendFileSync(pathsOf(dir).effects, `${JSON.stringify(m)}\n`);
  const final = await checkFinalState({ dir, sessions: 4, ledger: world.ledger, store: world.store });
  return [...world.ledger.violations, ...final.violations];
}

class World {
  readonly markers: Marker[] = [];
  #seq = 1;
  constructor(
    readonly store: Store,
    readonly ledger: Ledger,
  ) {}

  session(id: string, agent: string): void {
    this.store.createSession({ id, agent, createdAtMs: 0 });
  }

  /** Accepts the inputs (tokens from the messages), runs one turn that ends with `outcome`, reports both. */
  turn(session: string, turnId: string, inputIds: string[], messages: Message[], outcome: TurnOutcome): void {
    for (const [i, id] of inputIds.entries()) this.accept(session, id, messages[i]!);
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
}

function fn(k: "fn-start" | "fn-done", inc: number, session: string, turnId: string, nonce: string): Marker {
  return { k, inc, session, turnId, nonce };
}

function tool(inc: number, session: string, turnId: string, callId: string, nonce: string): Marker {
  return { k: "tool", inc, session, turnId, callId, nonce };
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
      const violations = await check((w) =>
        w.ledger.apply(0, {
          t: "accepted",
          id: "ghost",
          session: "s1",
          token: "#t0.9#",
          key: undefined,
          policy: "enqueue",
          resend: false,
        }),
      );
      expect(violations.join("\n")).toMatch(/input ghost .* is not in the store: lost/);
    });

    it("reports an input left queued", async () => {
      const violations = await check((w) => w.accept("s1", "i3", user("#t0.3# tick")));
      expect(violations.join("\n")).toMatch(/1 inputs are still queued: i3/);
      expect(violations.join("\n")).toMatch(/input i3 .* is still queued/);
    });

    it("reports a user message written to history twice", async () => {
      const violations = await check((w) =>
        w.turn("s1", "T3", ["i3"], [user("#t0.3# tick"), user("#t0.0# tick")], OK),
      );
      expect(violations.join("\n")).toMatch(/#t0\.0# is in history 2 times/);
    });

    it("reports a status that differs from the one the handle settled with", async () => {
      const violations = await check((w) =>
        w.ledger.apply(1, {
          t: "settled",
          id: "i1",
          status: "cancelled",
          code: "cancel_requested",
          turnId: "T1",
          output: "-",
        }),
      );
      expect(violations.join("\n")).toMatch(/input i1 settled completed.*then cancelled/);
    });

    it("reports a store output other than the one the handle settled with", async () => {
      const violations = await check((w) => {
        const fact = w.ledger.inputs.get("i2")!;
        // As if the host was told one answer and a rerun after a kill committed another.
        fact.settled = { ...fact.settled!, output: "0" };
      });
      expect(violations.join("\n")).toMatch(
        /input i2 settled completed with output 0 .* another output: "done"/,
      );
    });

    it("reports a function turn that ran again after its completion was committed", async () => {
      const violations = await check((w) =>
        w.markers.push(fn("fn-start", 1, "s1", "T1", "1.1"), fn("fn-done", 1, "s1", "T1", "1.1")),
      );
      expect(violations.join("\n")).toMatch(/turn T1 ran again .* after the run 0\.1/);
      expect(violations.join("\n")).toMatch(
        /turn T1 ran .* in process 1, after process 0 reported it settled/,
      );
    });

    it("reports two turns of one session running at once", async () => {
      const violations = await check((w) => w.markers.splice(1, 0, fn("fn-start", 0, "s1", "TX", "0.7")));
      expect(violations.join("\n")).toMatch(/s1 started a run of turn TX while turn T1 still ran/);
    });

    it("reports a tool call run twice in one process", async () => {
      const violations = await check((w) => w.markers.push(tool(0, "s0", "T2", "c0", "0.3")));
      expect(violations.join("\n")).toMatch(/tool of T2 c0 ran twice in process 0/);
    });

    it("reports an effect repeated by an agent whose crashed turns must fail, not resume", async () => {
      const violations = await check((w) => {
        w.session("s2", "model-fail");
        w.markers.push(tool(0, "s2", "T9", "c9", "0.8"), tool(1, "s2", "T9", "c9", "1.8"));
      });
      expect(violations.join("\n")).toMatch(/tool T9 c9 \(model-fail\) ran in 2 processes/);
    });

    it("reports a tool result that no execution produced", async () => {
      const violations = await check((w) => w.markers.splice(2, 1, tool(0, "s0", "T2", "other", "0.2")));
      expect(violations.join("\n")).toMatch(/result of tool execution 0\.2 for call c0, which no execution/);
    });

    it("reports an idempotent resend that made a second input", async () => {
      const violations = await check((w) =>
        w.ledger.apply(2, {
          t: "accepted",
          id: "i9",
          session: "s1",
          token: "#t0.0#",
          key: "key#t0.0#",
          policy: "enqueue",
          resend: true,
        }),
      );
      expect(violations.join("\n")).toMatch(/#t0\.0# .* was accepted as input i1 and again as i9/);
    });
  },
);
