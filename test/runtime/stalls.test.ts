/**
 * `dispatcher.hog` sees the time tools and function agents hold the thread after their first
 * `await` too (a stall while they are in flight, `source: "stall"`), not only their synchronous part
 * (`source: "call"`), each reported once and labelled with the call's name. The stall watch reads
 * the real thread, so these runtimes run on the process's clock. A loaded machine that takes the CPU
 * away stalls the thread too, and that is reported as well (truthfully): the assertions look at the
 * reports of 300 ms or more, which only the 400 ms spins make.
 */
import { describe, expect, it } from "vitest";
import {
  createMemoryStore,
  createRuntime,
  type Logger,
  type Runtime,
  type RuntimeEvent,
  silentLogger,
} from "../../src/index.js";
import { createWorkerPool } from "../../src/tools/worker/index.js";
import { block } from "../host/fixtures/worker-tools.js";
import { toolCall, toolsThenDone } from "../support/models.js";
import { tool } from "../support/tools.js";

type Hog = Extract<RuntimeEvent, { type: "dispatcher.hog" }>;

/** Spins the thread for `ms` of real time. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // Holding the thread is the point.
  }
}

function realRuntime(
  agents: Parameters<typeof createRuntime>[0]["agents"],
  extra = {},
): { runtime: Runtime; hogs: Hog[] } {
  const runtime = createRuntime({
    store: createMemoryStore(),
    logger: silentLogger,
    hogThresholdMs: 150,
    agents,
    ...extra,
  });
  const hogs: Hog[] = [];
  runtime.on((event) => {
    if (event.type === "dispatcher.hog") hogs.push(event);
  });
  return { runtime, hogs };
}

/** The reports of the 400 ms spins (what the machine's own scheduling adds stays shorter). */
function spins(hogs: readonly Hog[]): [string, string][] {
  return hogs.filter((h) => h.durationMs >= 300).map((h) => [h.label, h.source]);
}

/** Lets a late stall tick run after the turn ended. */
const tick = () => new Promise((resolve) => setTimeout(resolve, 120));

function oneCall(name: string, input: unknown = {}) {
  return toolsThenDone(() => [toolCall("c1", name, input)]);
}

describe("dispatcher.hog: tools and function agents after an await", () => {
  it("a function agent that spins after its first await is reported once, as a stall naming it", async () => {
    const { runtime, hogs } = realRuntime({
      crunch: {
        run: async () => {
          await null;
          busy(400);
          return "ok";
        },
      },
    });
    await runtime.start();
    await runtime.session("s", { agent: "crunch" }).send("go").result();
    await tick();
    expect(spins(hogs)).toEqual([["function agent crunch", "stall"]]);
    await runtime.stop();
  });

  it("a tool that spins after an await is reported as a stall under its name; the log line says what it saw", async () => {
    const warnings: string[] = [];
    const logger: Logger = { warn: (_fields, message) => warnings.push(message), error: () => {} };
    const crunch = tool("crunch", async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      busy(400);
      return "ok";
    });
    const { runtime, hogs } = realRuntime({ m: { model: oneCall("crunch"), tools: [crunch] } }, { logger });
    await runtime.start();
    await runtime.session("s", { agent: "m" }).send("go").result();
    await tick();
    expect(spins(hogs)).toEqual([["tool crunch", "stall"]]);
    const stall = hogs.find((h) => h.durationMs >= 300)!;
    expect(warnings).toContain(
      `tool crunch was in flight while something held the thread for ${stall.durationMs.toFixed(1)} ms (its code after an await, or the host's own code)`,
    );
    await runtime.stop();
  });

  it("a synchronous spin is reported once, as the call itself, not again as a stall", async () => {
    const { runtime, hogs } = realRuntime({
      crunch: {
        run: () => {
          busy(400);
          return "ok";
        },
      },
    });
    await runtime.start();
    await runtime.session("s", { agent: "crunch" }).send("go").result();
    await tick();
    expect(spins(hogs)).toEqual([["function agent crunch", "call"]]);
    await runtime.stop();
  });

  it("a worker tool that blocks its own thread holds none of the runtime's: nothing is reported", async () => {
    await using workers = createWorkerPool({ maxThreads: 1 });
    const model = oneCall("block", { ms: 400 });
    const { runtime, hogs } = realRuntime({ m: { model, tools: [block] } }, { workers });
    await runtime.start();
    await runtime.session("s", { agent: "m" }).send("go").result();
    await tick();
    expect(spins(hogs)).toEqual([]);
    await runtime.stop();
  });
});
