import { afterEach, describe, expect, it } from "vitest";
import {
  createMemoryStore,
  createRuntime,
  isOffstageError,
  type Model,
  type SessionEvent,
  type Store,
  silentLogger,
} from "../../src/index.js";
import { createSqliteStore } from "../../src/store/sqlite/index.js";
import { createScriptedModel } from "../../src/testing/scripted-model.js";
import { freshPath, removeFiles } from "../store/sqlite-files.js";
import { deferred, flush, thrownBy, until } from "../support/async.js";
import { callTools, text, toolCall } from "../support/models.js";
import { gatedChat, startSession } from "../support/runtime.js";
import { GatedTool } from "../support/tools.js";

afterEach(removeFiles);

const echo = { run: async (input: unknown) => `echo ${String(input)}` };

/** Takes `count` events of an iteration, then stops it. */
async function take<T>(iteration: AsyncIterable<T>, count: number): Promise<T[]> {
  const out: T[] = [];
  if (count === 0) return out;
  for await (const item of iteration) {
    out.push(item);
    if (out.length === count) break;
  }
  return out;
}

describe("session.events()", () => {
  it("numbers a session's events from 1 and replays them, then follows new ones live", async () => {
    const { runtime, s } = await startSession({ echo }, { eventLog: true });
    await s.send("a").result();
    const replay = await take(s.events(), 3);
    expect(replay.map((e) => [e.seq, e.event.type])).toEqual([
      [1, "input.accepted"],
      [2, "turn.started"],
      [3, "turn.ended"],
    ]);
    const live = take(s.events({ after: 3 }), 3);
    const h = s.send("b");
    const next = await live;
    expect(next.map((e) => e.seq)).toEqual([4, 5, 6]);
    expect(next[2]!.event).toMatchObject({ type: "turn.ended", inputIds: [h.id] });
    await runtime.stop();
  });

  it("joins a model step's text deltas into one event", async () => {
    const model = createScriptedModel(() => [
      ...Array.from({ length: 50 }, (_, i) => ({ type: "text-delta" as const, id: "t", delta: `${i},` })),
      { type: "finish" as const, finishReason: "stop" },
    ]);
    const { runtime, s } = await startSession({ chat: { model } }, { eventLog: true });
    await s.send("hi").result();
    const events = await take(s.events(), 5);
    const texts = events.filter((e) => e.event.type === "model.text");
    expect(texts).toHaveLength(1);
    expect(texts[0]!.event).toMatchObject({ delta: Array.from({ length: 50 }, (_, i) => `${i},`).join("") });
    await runtime.stop();
  });

  it("records text joined so far once textJoinMs passes, while the step still streams", async () => {
    const gate = deferred();
    const model: Model = {
      id: "slow-text",
      async *stream() {
        yield { type: "text-delta", id: "t", delta: "a" };
        yield { type: "text-delta", id: "t", delta: "b" };
        await gate.promise;
        yield { type: "text-delta", id: "t", delta: "c" };
        yield { type: "finish", finishReason: "stop" };
      },
    };
    const { runtime, s, clock } = await startSession({ chat: { model } }, { eventLog: { textJoinMs: 20 } });
    const h = s.send("hi");
    const seen: SessionEvent[] = [];
    const following = (async () => {
      for await (const e of s.events()) seen.push(e);
    })();
    await until(() => seen.some((e) => e.event.type === "turn.started"));
    await flush();
    expect(seen.filter((e) => e.event.type === "model.text")).toEqual([]);
    clock.advance(20);
    await until(() => seen.some((e) => e.event.type === "model.text"));
    gate.resolve();
    await h.result();
    await until(() => seen.some((e) => e.event.type === "turn.ended"));
    expect(
      seen.filter((e) => e.event.type === "model.text").map((e) => (e.event as { delta: string }).delta),
    ).toEqual(["ab", "c"]);
    await runtime.stop();
    await following;
  });

  it("trims beyond eventsPerSessionMax; a subscriber whose next event was trimmed gets EVENTS_TRIMMED", async () => {
    const { runtime, s } = await startSession({ echo }, { eventLog: { eventsPerSessionMax: 8 } });
    for (let i = 0; i < 10; i++) await s.send(i).result();
    // 30 events: the log keeps at most 8 + 8/8 of them.
    const kept = await take(s.events(), 8);
    expect(kept[0]!.seq).toBeGreaterThan(20);
    const error = await take(s.events({ after: 2 }), 1).catch((e: unknown) => e);
    expect(isOffstageError(error, "EVENTS_TRIMMED")).toBe(true);
    await runtime.stop();
  });

  it("refuses without an event log, and refuses bad options, changing nothing", async () => {
    const { runtime, s } = await startSession({ echo });
    expect(
      isOffstageError(
        thrownBy(() => s.events()),
        "EVENT_LOG_UNAVAILABLE",
      ),
    ).toBe(true);
    const h = s.send("x");
    expect(
      isOffstageError(
        thrownBy(() => h.events({ from: "start" })),
        "EVENT_LOG_UNAVAILABLE",
      ),
    ).toBe(true);
    await runtime.stop();
    const logged = await startSession({ echo }, { eventLog: true });
    for (const bad of [{ after: -1 }, { after: 1.5 }, { after: "3" }, { signal: {} }, { nope: 1 }, null])
      expect(
        isOffstageError(
          thrownBy(() => logged.s.events(bad as never)),
          "INVALID_ARGUMENT",
        ),
      ).toBe(true);
    const handle = logged.s.send("y");
    for (const bad of [{ from: "end" }, { from: 0 }, { signal: 1 }])
      expect(
        isOffstageError(
          thrownBy(() => handle.events(bad as never)),
          "INVALID_ARGUMENT",
        ),
      ).toBe(true);
    await handle.result();
    await logged.runtime.stop();
    for (const eventLog of [{ eventsPerSessionMax: 0 }, { textJoinMs: -1 }, "yes", { other: 1 }])
      expect(
        isOffstageError(
          thrownBy(() =>
            createRuntime({ agents: { echo }, store: createMemoryStore(), eventLog: eventLog as never }),
          ),
          "INVALID_OPTIONS",
        ),
      ).toBe(true);
    const bare: Store = { ...createMemoryStore(), eventLog: undefined } as never;
    expect(
      isOffstageError(
        thrownBy(() => createRuntime({ agents: { echo }, store: bare, eventLog: true })),
        "INVALID_OPTIONS",
      ),
    ).toBe(true);
  });

  it("ends subscriptions when the runtime stops", async () => {
    const { runtime, s } = await startSession({ echo }, { eventLog: true });
    const seen: SessionEvent[] = [];
    const following = (async () => {
      for await (const e of s.events()) seen.push(e);
    })();
    await s.send("a").result();
    await until(() => seen.length === 3);
    await runtime.stop();
    await following;
    expect(seen).toHaveLength(3);
  });
});

describe("stop and start again", () => {
  it("a subscription of the next run follows it (the stop's last release does not end it)", async () => {
    const { runtime, s } = await startSession({ echo }, { eventLog: true });
    await s.send("a").result();
    await runtime.stop();
    await runtime.start();
    const again = runtime.session("s");
    const live = take(again.events({ after: 3 }), 3);
    await again.send("b").result();
    expect((await live).map((e) => e.seq)).toEqual([4, 5, 6]);
    await runtime.stop();
  });
});

describe("handle.events({ from: 'start' })", () => {
  it("replays an ended input's events, and ends", async () => {
    const { runtime, s } = await startSession({ echo }, { eventLog: true });
    const a = s.send("a");
    const b = s.send("b");
    await b.result();
    const events = [];
    for await (const e of a.events({ from: "start" })) events.push(e);
    expect(events.map((e) => e.type)).toEqual(["turn.started", "turn.ended"]);
    expect(
      events.every(
        (e) => (e.type === "turn.started" || e.type === "turn.ended") && e.inputIds.includes(a.id),
      ),
    ).toBe(true);
    await runtime.stop();
  });

  it("records a steered input's joining; its events follow the turn from there", async () => {
    const slow = new GatedTool("slow");
    const { m, runtime, s } = await gatedChat({ tools: [slow.tool] }, { eventLog: true });
    const a = s.send("first");
    await until(() => m.calls.length === 1);
    m.last.release(callTools(toolCall("c1", "slow", {})));
    await until(() => slow.calls.length === 1);
    const b = s.send("also this", { policy: "steer" });
    slow.calls[0]!.gate.resolve("done");
    await until(() => m.calls.length === 2);
    m.last.release(text("answered both"));
    await Promise.all([a.result(), b.result()]);
    const logged = (await take(s.events(), 8)).map((e) => e.event);
    expect(logged.find((e) => e.type === "input.steered")).toEqual({
      type: "input.steered",
      sessionId: "s",
      inputId: b.id,
      turnId: a.turnId,
    });
    const types = [];
    for await (const e of b.events({ from: "start" })) types.push(e.type);
    expect(types).toEqual(["tool.ended", "model.text", "model.step", "turn.ended"]);
    await runtime.stop();
  });

  it("follows a running input to its end, live", async () => {
    const { runtime, s } = await startSession({ echo }, { eventLog: true });
    const h = s.send("a");
    const events = [];
    for await (const e of h.events({ from: "start" })) events.push(e.type);
    expect(events).toEqual(["turn.started", "turn.ended"]);
    expect(h.done).toBe(true);
    await runtime.stop();
  });
});

describe("across restarts (SQLite file)", () => {
  it("replays what the last process recorded and numbers on from there", async () => {
    const path = freshPath();
    const open = () =>
      createRuntime({
        agents: { echo },
        store: createSqliteStore({ path }),
        logger: silentLogger,
        eventLog: true,
      });
    const first = open();
    await first.start();
    const h = first.session("s", { agent: "echo" }).send("a");
    await h.result();
    await first[Symbol.asyncDispose]();

    const second = open();
    await second.start();
    const s = second.session("s");
    const replay = await take(s.events(), 3);
    expect(replay.map((e) => e.event.type)).toEqual(["input.accepted", "turn.started", "turn.ended"]);
    const fromHandle = [];
    for await (const e of second.handle(h.id)!.events({ from: "start" })) fromHandle.push(e.type);
    expect(fromHandle).toEqual(["turn.started", "turn.ended"]);
    await s.send("b").result();
    const after = await take(s.events({ after: 3 }), 3);
    expect(after.map((e) => e.seq)).toEqual([4, 5, 6]);
    await second[Symbol.asyncDispose]();
  });
});
