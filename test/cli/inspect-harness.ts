/**
 * What the tests of `offstage inspect` share, whatever the store: the agents, a store filled while
 * its runtime lives (a turn runs, input waits, a delegation was delivered), and running the command
 * in process through `runInspect` (its output captured) or as the real command line (`src/cli/main.ts`
 * under Node's type stripping).
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { expect } from "vitest";
import { runInspect } from "../../src/cli/commands/inspect.js";
import type { InspectReport } from "../../src/cli/inspect/render-report.js";
import type { Agent, ModelRequest, Runtime, TurnHandle } from "../../src/index.js";
import { createScriptedModel } from "../../src/testing/index.js";
import { eventually } from "../support/async.js";
import { capturedOutput } from "../support/captured-output.js";
import { text } from "../support/models.js";

export const ROOT = join(import.meta.dirname, "..", "..");

/** Runs the command in process (JSON unless told otherwise); `report` is the parsed JSON of a success. */
export async function inspect(target: string, options: Partial<Parameters<typeof runInspect>[0]> = {}) {
  const io = capturedOutput();
  const code = await runInspect({ target, json: true, out: io.out, err: io.err, ...options });
  const { out, err } = io.written;
  return {
    code,
    out,
    err,
    report: code === 0 && options.json !== false ? (JSON.parse(out) as InspectReport) : undefined,
  };
}

/** Runs the real command line with `args`. */
export function offstage(...args: string[]) {
  const hook = join(ROOT, "test/crash/ts-hook.ts");
  return spawnSync(process.execPath, ["--import", hook, join(ROOT, "src/cli/main.ts"), ...args], {
    encoding: "utf8",
    timeout: 30_000,
  });
}

/** `f` answers at once unless told to "block" (then it waits for `blocked`); `lead` is a model for children. */
export function inspectAgents(blocked: Promise<string>): Record<string, Agent> {
  const lead = createScriptedModel((request: ModelRequest) => {
    const last = request.prompt[request.prompt.length - 1]!;
    return text(last.role === "user" && JSON.stringify(last).includes("sub task") ? "child done" : "ok");
  });
  return {
    f: { run: async (input) => (input === "block" ? blocked : `did ${String(input)}`) },
    lead: { model: lead },
  };
}

/**
 * Fills a started runtime's store: `s1` ran two turns, `busy` runs one that blocks and has two
 * inputs waiting (returned), `p` delegated a child whose completion was delivered.
 */
export async function fillStore(runtime: Runtime): Promise<TurnHandle[]> {
  await runtime.session("s1", { agent: "f" }).send("quick").result();
  const busy = runtime.session("busy", { agent: "f" });
  const running = busy.send("block");
  await eventually(() => running.status === "running", "the blocked turn");
  const waiting = [busy.send("later 1"), busy.send("later 2")];
  const parent = runtime.session("p", { agent: "lead" });
  expect(parent.delegate({ goal: "sub task" }).status).toBe("dispatched");
  await eventually(() => runtime.delegations.list()[0]?.delivery === "delivered", "the delivery");
  await eventually(() => runtime.metrics().runningTurns === 1, "quiet");
  await Promise.all([running, ...waiting].map((h) => h.stored()));
  await runtime.session("s1").send("flush").result();
  return waiting;
}

/**
 * Checks what inspect reports of a store {@link fillStore} filled: `report` is its default report,
 * `run` runs it again with more options; `store` and `session` add what the kind of store shows.
 */
export async function expectFilled(
  report: InspectReport,
  run: (options: Partial<Parameters<typeof runInspect>[0]>) => ReturnType<typeof inspect>,
  waiting: readonly TurnHandle[],
  expected: { readonly store: object; readonly session: object },
): Promise<void> {
  expect(report.store).toMatchObject({
    ...expected.store,
    inputs: { completed: 4, running: 1, queued: 2 },
    runningTurns: 1,
    delegations: { delivered: 1 },
  });
  const byId = new Map(report.sessions!.map((s) => [s.id, s]));
  expect(byId.get("s1")).toMatchObject({
    agent: "f",
    state: "idle",
    inboxDepth: 0,
    lastTurn: { status: "completed" },
    ...expected.session,
  });
  expect(byId.get("busy")).toMatchObject({
    state: "running",
    inboxDepth: 2,
    lastTurn: { status: "running" },
    ...expected.session,
  });
  expect(report.delegations).toEqual([
    expect.objectContaining({
      parentSessionId: "p",
      goal: "sub task",
      status: "completed",
      delivery: "delivered",
    }),
  ]);
  expect(report.stuck.longRunning.map((t) => t.sessionId)).toEqual(["busy"]);
  expect(report.stuck.queuedNoTurn).toEqual([]);

  const session = await run({ session: "busy" });
  expect(session.report!.session).toMatchObject({
    session: { id: "busy", state: "running", ...expected.session },
    liveInputs: [
      { status: "running", policy: "enqueue" },
      { status: "queued", id: waiting[0]!.id },
      { status: "queued", id: waiting[1]!.id },
    ],
  });
  const child = await run({ session: report.delegations![0]!.childSessionId });
  expect(child.report!.session!.history).toEqual([
    expect.objectContaining({ role: "user" }),
    { role: "assistant", content: [{ type: "text", text: "child done" }] },
  ]);
  const queued = await run({ inputs: "queued" });
  expect(queued.report!.inputs!.items.map((i) => i.id)).toEqual(waiting.map((h) => h.id));
  expect((await run({ session: "nobody" })).code).toBe(2);
}
