import { describe, expect, it } from "vitest";
import { DeadlockError, isOffstageError, type Session, type TurnHandle } from "../../src/index.js";
import { flush, until } from "../support/async.js";
import { callTools, scriptedModel, text, toolCall } from "../support/models.js";
import { startSession, testRuntime } from "../support/runtime.js";
import { tool } from "../support/tools.js";

/** A model that calls `name` once, then answers with the tool's result text. */
function callsOnce(name: string) {
  return scriptedModel((request, call) => {
    if (call === 0) return callTools(toolCall("c1", name, {}));
    const last = request.prompt.at(-1);
    return text(last?.role === "tool" ? last.content[0]!.output.value : "?");
  });
}

describe("DeadlockError", () => {
  it("a tool awaiting handle.result() of its own session's input", async () => {
    let queued: TurnHandle | undefined;
    let caught: unknown;
    const waits = tool("waits", async () => {
      try {
        await queued!.result();
        return "finished";
      } catch (error) {
        caught = error;
        return "refused";
      }
    });
    const { runtime, s } = await startSession({ chat: { model: callsOnce("waits"), tools: [waits] } });
    const first = s.send("first");
    queued = s.send("second");
    expect((await first.result()).output).toBe("refused");
    expect(caught).toBeInstanceOf(DeadlockError);
    expect((caught as DeadlockError).code).toBe("DEADLOCK");
    expect(isOffstageError(caught, "DEADLOCK")).toBe(true);
    expect((caught as DeadlockError).details).toMatchObject({ sessionId: "s", turnId: first.turnId });
    expect((caught as Error).message).toContain("handle.result()");
    // The queued input was not harmed and runs next.
    expect((await queued.result()).status).toBe("completed");
    await runtime.stop();
  });

  it("a tool calling session.invoke() on its own session: refused before anything is sent", async () => {
    let session: Session | undefined;
    let caught: unknown;
    const recurse = tool("recurse", async () => {
      try {
        await session!.invoke("nested");
      } catch (error) {
        caught = error;
      }
      return "refused";
    });
    const { runtime } = testRuntime({ chat: { model: callsOnce("recurse"), tools: [recurse] } });
    await runtime.start();
    session = runtime.session("s", { agent: "chat" });
    await session.send("go").result();
    expect(caught).toBeInstanceOf(DeadlockError);
    expect((caught as Error).message).toContain("session.invoke()");
    expect(runtime.metrics().inputsAccepted).toBe(1);
    await runtime.stop();
  });

  it("a function agent awaiting its own session: the error reaches it; uncaught, the turn fails naming it", async () => {
    const caught: unknown[] = [];
    const { runtime } = testRuntime({
      careful: {
        run: async (input, ctx) => {
          try {
            await runtime.session(ctx.sessionId).invoke(`${String(input)} again`);
          } catch (error) {
            caught.push(error);
          }
          return "survived";
        },
      },
      careless: { run: async (_input, ctx) => runtime.session(ctx.sessionId).invoke("again") },
    });
    await runtime.start();
    const careful = await runtime.session("a", { agent: "careful" }).invoke("x", { timeoutMs: 1000 });
    expect(careful.output).toBe("survived");
    expect(caught).toHaveLength(1);
    expect(caught[0]).toBeInstanceOf(DeadlockError);
    const careless = await runtime.session("b", { agent: "careless" }).invoke("x", { timeoutMs: 1000 });
    expect(careless.status).toBe("failed");
    expect(careless.reason.code).toBe("function_error");
    expect(careless.reason.message).toContain("DEADLOCK");
    expect(runtime.metrics().inputsAccepted).toBe(2);
    await runtime.stop();
  });

  it("the scope follows awaits: a wait after other awaits inside the turn is still refused", async () => {
    let caught: unknown;
    const { runtime } = testRuntime({
      f: {
        run: async (_input, ctx) => {
          await Promise.resolve();
          await new Promise((resolve) => setImmediate(resolve));
          const handle = runtime.session(ctx.sessionId).send("later");
          await handle.result().catch((error: unknown) => {
            caught = error;
          });
          return "ok";
        },
      },
    });
    await runtime.start();
    const first = runtime.session("s", { agent: "f" }).send("first");
    await first.result();
    expect(caught).toBeInstanceOf(DeadlockError);
    await runtime.stop({ drain: true });
  });
});

describe("waiting on another session is fine", () => {
  it("a function agent invoking a different session gets its result", async () => {
    const { runtime } = testRuntime({
      parent: {
        run: async (input) => {
          const child = await runtime.session("child", { agent: "child" }).invoke(input);
          return `parent saw ${String(child.output)}`;
        },
      },
      child: { run: async (input) => `child did ${String(input)}` },
    });
    await runtime.start();
    const result = await runtime.session("p", { agent: "parent" }).invoke("work", { timeoutMs: 1000 });
    expect(result.output).toBe("parent saw child did work");
    await runtime.stop();
  });

  it("a tool awaiting handle.result() of another session's input gets it", async () => {
    const waits = tool("waits", async () => {
      const other = runtime.session("other", { agent: "helper" }).send("help");
      return String((await other.result()).output);
    });
    const { runtime } = testRuntime({
      chat: { model: callsOnce("waits"), tools: [waits] },
      helper: { run: async (input) => `helped with ${String(input)}` },
    });
    await runtime.start();
    const result = await runtime.session("s", { agent: "chat" }).send("go").result();
    expect(result.output).toBe("helped with help");
    await runtime.stop();
  });

  it("host code run from the dispatcher (an event listener) is not inside any turn, whoever woke it", async () => {
    // A's turn sends to B from inside A's scope; that send is what starts the dispatcher. A listener
    // the dispatcher then calls is host code: waiting on A's next input from there must not be refused.
    let later: TurnHandle | undefined;
    const outcomes: unknown[] = [];
    const { runtime } = testRuntime({
      a: {
        run: async (input) => {
          if (input === "first") runtime.session("B").send("ping");
          return `a:${String(input)}`;
        },
      },
      b: { run: async () => "pong" },
    });
    await runtime.start();
    const A = runtime.session("A", { agent: "a" });
    runtime.session("B", { agent: "b" });
    runtime.on((event) => {
      if (event.type === "turn.started" && event.sessionId === "B" && later !== undefined) {
        later.result().then(
          (r) => outcomes.push(r.output),
          (error: unknown) => outcomes.push(error),
        );
      }
    });
    A.send("first");
    later = A.send("second");
    await until(() => outcomes.length === 1, "the listener's wait to settle");
    expect(outcomes).toEqual(["a:second"]);
    await flush();
    await runtime.stop();
  });
});
