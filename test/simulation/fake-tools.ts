/**
 * The fake tools of a model agent: `work` (waits, sometimes fails), `stubborn` (ignores its abort
 * signal) and `strict` (validates strictly and runs synchronously).
 */
import type { Tool } from "../../src/runtime/ports/tool.js";
import { frozen } from "./process.js";
import { sleep, type World } from "./world.js";

const SCHEMA = { type: "object", properties: { n: { type: "number" } } } as const;

function okCheck(args: unknown) {
  return { ok: true as const, value: args };
}

export function fakeTools(world: World): Tool[] {
  const r = world.streams.tools;
  const work: Tool = {
    name: "work",
    description: "does some work, honours its abort signal",
    inputSchema: SCHEMA,
    check: okCheck,
    async execute(args, context) {
      if (!world.alive()) return frozen();
      const call = world.calls.begin(world.process, "tool", `work ${context.toolCallId}`, false);
      try {
        await sleep(world.clock, r.int(0, 150), context.signal);
        if (r.chance(0.1)) throw new Error("work failed");
        return { done: args };
      } finally {
        world.calls.end(call);
      }
    },
  };
  const stubborn: Tool = {
    name: "stubborn",
    description: "ignores its abort signal",
    inputSchema: SCHEMA,
    timeoutMs: world.config.stubbornToolTimeoutMs,
    check: okCheck,
    async execute(_args, context) {
      if (!world.alive()) return frozen();
      const call = world.calls.begin(world.process, "tool", `stubborn ${context.toolCallId}`, true);
      world.count("tool call ignoring abort");
      try {
        await sleep(world.clock, r.int(0, world.config.stubbornMaxMs));
        return "finished anyway";
      } finally {
        world.calls.end(call);
      }
    },
  };
  const strict: Tool = {
    name: "strict",
    description: "validates strictly and runs synchronously",
    inputSchema: SCHEMA,
    check(args) {
      const roll = r.next();
      if (roll < 0.3) return { ok: false, message: "n must be a number below 5" };
      if (roll < 0.4) throw new Error("validator crashed");
      if (roll < 0.6) return Promise.resolve(okCheck(args));
      return okCheck(args);
    },
    execute() {
      if (r.chance(0.2)) throw new Error("strict threw synchronously");
      return "strict ok";
    },
  };
  return [work, stubborn, strict];
}
