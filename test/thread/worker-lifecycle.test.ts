/**
 * A runtime worker that dies — `process.exit` in it, an uncaught throw, a terminate at a stop's
 * deadline — settles every handle with the cause, and `start()` again works; a durable store runs
 * the inputs it had accepted after the restart. Real worker threads, a real SQLite file.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type * as Sqlite from "../../src/store/sqlite/index.js";
import { ROOT } from "../support/build.js";
import { MODULE, root, spin, start, thread, until } from "./worker-harness.js";

const { isOffstageError, createRuntime } = root;
const { createSqliteStore } = (await import(
  pathToFileURL(join(ROOT, "dist/store/sqlite/index.js")).href
)) as typeof Sqlite;
const dir = mkdtempSync(join(tmpdir(), "offstage-worker-"));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("a runtime worker that dies", () => {
  it("process.exit in the worker: every handle settles interrupted naming the exit, calls throw WORKER_EXITED, start() works again", async () => {
    const runtime = await start();
    const errors: string[] = [];
    runtime.on((event) => {
      if (event.type === "error") errors.push(event.message);
    });
    const waiting = runtime.session("w", { agent: "slow" }).send(60_000);
    const queued = runtime.session("w").send(1);
    const cancel = waiting.cancel({ mode: "after_step" });
    const exit = runtime.session("x", { agent: "exit" }).send("go");
    const settled = spin(exit);
    expect(settled?.status).toBe("interrupted");
    expect(settled?.outcome.reason).toEqual({
      code: "crashed",
      message:
        "the runtime's worker died (it exited with code 7); the input stays stored for the next start()",
    });
    expect(waiting.poll()?.outcome.reason.code).toBe("crashed");
    await expect(queued.result()).rejects.toMatchObject({ code: "TURN_CANCELLED" });
    await expect(cancel).rejects.toMatchObject({ code: "WORKER_EXITED" });
    expect(runtime.state).toBe("stopped");
    expect(() => runtime.session("w")).toThrow(/exited with code 7/);
    try {
      runtime.metrics();
    } catch (error) {
      expect(isOffstageError(error, "WORKER_EXITED")).toBe(true);
    }
    await until(() => errors.length > 0);
    expect(errors[0]).toMatch(/exited with code 7/);

    await runtime.start();
    const again = runtime.session("w2", { agent: "echo" }).send("back");
    expect(spin(again)?.outcome.output).toBe("echo: back");
    // The new worker's memory store knows no session of the old one: asking with the agent makes it again.
    expect(spin(runtime.session("w", { agent: "slow" }).send(1))?.status).toBe("completed");
  });

  it("an uncaught throw in the worker: the handles name the error", async () => {
    const runtime = await start();
    const handle = runtime.session("t", { agent: "throws" }).send("go");
    const settled = spin(handle);
    expect(settled?.status).toBe("interrupted");
    expect(settled?.outcome.reason.message).toMatch(/threw Error: boom in the worker/);
    await runtime.start();
    expect(spin(runtime.session("t2", { agent: "echo" }).send("ok"))?.status).toBe("completed");
  });

  it("a worker stuck in synchronous code is terminated at stop's deadline (force_killed), and start() works again", async () => {
    const runtime = await start({ callTimeoutMs: 200 });
    const handle = runtime.session("s", { agent: "spin" }).send("go");
    await until(() => handle.status === "running");
    expect(() => runtime.sessionIds()).toThrow(/did not take the call within 200 ms/);
    expect(await runtime.stop({ timeoutMs: 100, force: true })).toBe("force_killed");
    expect(handle.poll()?.status).toBe("interrupted");
    expect(runtime.state).toBe("stopped");
    await runtime.start();
    expect(spin(runtime.session("s2", { agent: "echo" }).send("ok"))?.status).toBe("completed");
  });

  it("a call blocked on a worker that dies ends at once with WORKER_EXITED", async () => {
    const runtime = await start({ callTimeoutMs: 20_000 });
    const handle = runtime.session("be", { agent: "busyExit" }).send(300);
    await until(() => handle.status === "running");
    const t0 = performance.now();
    let error: unknown;
    try {
      runtime.sessionIds();
    } catch (e) {
      error = e;
    }
    expect(isOffstageError(error, "WORKER_EXITED")).toBe(true);
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(handle.poll()?.outcome.reason.message).toMatch(/exited with code 3/);
  });

  it("a call the busy worker did not take in time changes nothing", async () => {
    const runtime = await start({ callTimeoutMs: 100 });
    const busy = runtime.session("b", { agent: "busy" }).send(600);
    await until(() => busy.status === "running");
    let error: unknown;
    try {
      runtime.session("late", { agent: "echo" });
    } catch (e) {
      error = e;
    }
    expect(isOffstageError(error, "WORKER_UNRESPONSIVE")).toBe(true);
    expect(spin(busy)?.status).toBe("completed");
    expect(runtime.sessionIds()).not.toContain("late");
  });

  it("on a SQLite file, inputs accepted before the death run after the restart", async () => {
    const path = join(dir, "restart.db");
    const runtime = await start({ data: { path } });
    const first = runtime.session("q", { agent: "slow" }).send(1500);
    const second = runtime.session("q").send(1);
    expect(await second.stored()).toBe("durable");
    await until(() => first.status === "running");
    spin(runtime.session("x", { agent: "exit" }).send("go"));
    expect(second.poll()?.status).toBe("interrupted");

    await runtime.start();
    await until(() => runtime.handle(second.id)?.done === true, 20_000);
    // The slow turn resumed after the crash and slept again; the queued input waited for it.
    expect(runtime.handle(first.id)?.poll()?.status).toBe("completed");
    expect(runtime.handle(second.id)?.poll()?.outcome.output).toBe("slept");
  }, 90_000);

  it("a worker runtime cannot take the SQLite file a runtime of the main thread holds (STORE_LOCKED), and takes it once that one stopped", async () => {
    const path = join(dir, "shared.db");
    const main = createRuntime({
      store: createSqliteStore({ path }),
      agents: { echo: { run: (x: unknown) => x } },
    });
    await main.start();
    const refused = await thread.startRuntimeWorker(MODULE, { data: { path } }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ name: "BootError", code: "STORE_LOCKED" });
    await main[Symbol.asyncDispose]();
    const runtime = await start({ data: { path } });
    expect(spin(runtime.session("after", { agent: "echo" }).send("x"))?.status).toBe("completed");
  });
});
