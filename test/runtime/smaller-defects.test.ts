/**
 * The smaller defects of issue #15 (item 10): `dispatcher.hog` sees the time a synchronous tool or
 * function agent holds the thread, labelled by its name; a second `withdraw()` before the first one's
 * commit says the input is already withdrawn; a wait cycle across sessions (f's turn waits on g,
 * whose turn waits on f) throws `DeadlockError` naming the cycle instead of hanging until a timeout.
 * (A throwing listener logged once per listener: `hostile-throws.test.ts`.)
 */
import { describe, expect, it } from "vitest";
import {
  DeadlockError,
  isOffstageError,
  type OffstageError,
  type Runtime,
  type RuntimeEvent,
  type Session,
} from "../../src/index.js";
import { deferred, flush, until } from "../support/async.js";
import { callTools, scriptedModel, text, toolCall } from "../support/models.js";
import { spyStore, testRuntime } from "../support/runtime.js";
import { tool } from "../support/tools.js";

function hogs(runtime: Runtime): Extract<RuntimeEvent, { type: "dispatcher.hog" }>[] {
  const seen: Extract<RuntimeEvent, { type: "dispatcher.hog" }>[] = [];
  runtime.on((event) => {
    if (event.type === "dispatcher.hog") seen.push(event);
  });
  return seen;
}

describe("dispatcher.hog sees tools and function agents", () => {
  it("a tool that holds the thread is reported under its name", async () => {
    const model = scriptedModel((_request, call) =>
      call === 0 ? callTools(toolCall("c1", "crunch", {})) : text("done"),
    );
    const { runtime, clock } = testRuntime({
      m: { model, tools: [tool("crunch", () => clock.advance(80))] },
    });
    await runtime.start();
    const seen = hogs(runtime);
    await runtime.session("s", { agent: "m" }).send("go").result();
    expect(seen).toEqual([{ type: "dispatcher.hog", label: "tool crunch", durationMs: 80, source: "call" }]);
    await runtime.stop();
  });

  it("an async tool's synchronous part counts; a quick one is not reported", async () => {
    const model = scriptedModel((_request, call) =>
      call === 0 ? callTools(toolCall("c1", "slowStart", {}), toolCall("c2", "quick", {})) : text("done"),
    );
    const { runtime, clock } = testRuntime({
      m: {
        model,
        tools: [
          tool("slowStart", async () => {
            clock.advance(60);
            await Promise.resolve();
            return "ok";
          }),
          tool("quick", () => "ok"),
        ],
      },
    });
    await runtime.start();
    const seen = hogs(runtime);
    await runtime.session("s", { agent: "m" }).send("go").result();
    expect(seen.map((e) => e.label)).toEqual(["tool slowStart"]);
    await runtime.stop();
  });

  it("a function agent that holds the thread is reported under its agent's name", async () => {
    const { runtime, clock } = testRuntime({
      tally: {
        run: () => {
          clock.advance(120);
          return "counted";
        },
      },
    });
    await runtime.start();
    const seen = hogs(runtime);
    await runtime.session("s", { agent: "tally" }).send("go").result();
    expect(seen).toEqual([
      { type: "dispatcher.hog", label: "function agent tally", durationMs: 120, source: "call" },
    ]);
    await runtime.stop();
  });
});

describe("withdraw() twice before the commit", () => {
  /** A session with a running turn and a queued input, and commits held back until `release()`. */
  async function heldCommits() {
    const spy = spyStore();
    const gate = deferred<void>();
    const run = deferred<unknown>();
    const { runtime } = testRuntime({ f: { run: () => run.promise } }, { store: spy.store });
    await runtime.start();
    const s = runtime.session("s", { agent: "f" });
    s.send("busy");
    const queued = s.send("queued");
    await flush();
    spy.commitGate = gate.promise;
    const release = async () => {
      spy.commitGate = undefined;
      gate.resolve();
      run.resolve("ok");
      await until(() => queued.done);
      await runtime.stop();
    };
    return { spy, queued, release };
  }

  it("the second says the input is already withdrawn", async () => {
    const { spy, queued, release } = await heldCommits();
    queued.withdraw();
    expect(queued.status).toBe("queued");
    let error: OffstageError | undefined;
    try {
      queued.withdraw();
    } catch (caught) {
      error = caught as OffstageError;
    }
    expect(error?.code).toBe("NOT_WITHDRAWABLE");
    expect(error?.message).toContain("it is already withdrawn");
    expect(error?.details).toMatchObject({ status: "withdrawn" });
    expect(spy.writes.filter((w) => w.method === "endInput")).toHaveLength(1);
    await release();
    expect(queued.status).toBe("withdrawn");
  });

  it("after a cancel that waits for its commit, withdraw says it is already cancelled", async () => {
    const { queued, release } = await heldCommits();
    void queued.cancel();
    expect(() => queued.withdraw()).toThrow(/already cancelled/);
    await release();
    expect(queued.status).toBe("cancelled");
  });
});

describe("a wait cycle across sessions throws DeadlockError naming it", () => {
  it("f invokes g while g's turn invokes f", async () => {
    const caught: unknown[] = [];
    let runtime!: Runtime;
    const startedG = deferred<void>();
    const agents = {
      f: {
        run: async (input: unknown) => {
          if (input !== "start") return "f answered";
          // f's turn waits on g.
          return (await runtime.session("g").invoke("from f")).output;
        },
      },
      g: {
        run: async (input: unknown) => {
          if (input !== "start") return "g answered";
          startedG.resolve();
          await new Promise((resolve) => setImmediate(resolve));
          try {
            // g's turn waits on f, whose turn waits on g.
            return (await runtime.session("f").invoke("from g")).output;
          } catch (error) {
            caught.push(error);
            return "g gave up";
          }
        },
      },
    };
    ({ runtime } = testRuntime(agents));
    await runtime.start();
    const f = runtime.session("f", { agent: "f" });
    const g = runtime.session("g", { agent: "g" });
    const gTurn = g.send("start");
    await startedG.promise;
    const fTurn = f.send("start");
    await until(() => caught.length > 0 || gTurn.done, "g to wait on f");
    await until(() => caught.length > 0, "the deadlock to be found");
    const error = caught[0] as DeadlockError;
    expect(error).toBeInstanceOf(DeadlockError);
    expect(isOffstageError(error, "DEADLOCK")).toBe(true);
    expect(error.message).toContain('"g" → "f" → "g"');
    expect(error.details).toMatchObject({ sessionId: "g", cycle: ["g", "f", "g"] });
    // Refused before sending: f's inbox holds nothing from g.
    expect((await gTurn.result()).output).toBe("g gave up");
    // f's wait was not part of the refusal: it gets g's answer to its input.
    expect((await fTurn.result()).output).toBe("g answered");
    expect(runtime.metrics().inputsAccepted).toBe(3);
    expect(await runtime.stop()).toBe("clean");
  });

  it("a longer cycle through handle.result(): a → b → c → a", async () => {
    let runtime!: Runtime;
    const errors: unknown[] = [];
    const started = new Set<string>();
    const waitOn = (next: string) => async (_input: unknown, ctx: { sessionId: string }) => {
      // Each session waits on the next once; the input c leaves queued in a just answers.
      if (started.has(ctx.sessionId)) return `${ctx.sessionId} answered`;
      started.add(ctx.sessionId);
      const handle = runtime.session(next).send("start");
      try {
        return (await handle.result()).output;
      } catch (error) {
        errors.push(error);
        return `${ctx.sessionId} refused`;
      }
    };
    ({ runtime } = testRuntime({
      a: { run: waitOn("b") },
      b: { run: waitOn("c") },
      c: { run: waitOn("a") },
    }));
    await runtime.start();
    for (const id of ["a", "b", "c"]) runtime.session(id, { agent: id });
    const first = runtime.session("a").send("start");
    await until(() => errors.length > 0, "the cycle to be found");
    expect((errors[0] as DeadlockError).details).toMatchObject({ cycle: ["c", "a", "b", "c"] });
    expect((errors[0] as Error).message).toContain("handle.result()");
    expect((await first.result()).output).toBe("c refused");
    await runtime.stop();
  });

  it("waits without a cycle go on: f waits on g, g waits on h", async () => {
    let runtime!: Runtime;
    const { runtime: made } = testRuntime({
      f: { run: async () => (await runtime.session("g").invoke("x")).output },
      g: { run: async () => `g+${String((await runtime.session("h").invoke("x")).output)}` },
      h: { run: () => "h" },
    });
    runtime = made;
    await runtime.start();
    for (const id of ["f", "g", "h"]) runtime.session(id, { agent: id });
    expect((await runtime.session("f").send("go").result()).output).toBe("g+h");
    await runtime.stop();
  });

  it("a session of another runtime with the same id is not this runtime's session", async () => {
    const other = testRuntime({ s: { run: () => "other" } });
    await other.runtime.start();
    const otherSession: Session = other.runtime.session("s", { agent: "s" });
    const { runtime } = testRuntime({ s: { run: async () => (await otherSession.invoke("x")).output } });
    await runtime.start();
    expect((await runtime.session("s", { agent: "s" }).send("go").result()).output).toBe("other");
    await runtime.stop();
    await other.runtime.stop();
  });
});
