// The work of the frame-loop benchmark, the same for every way of running it: a model whose every
// step waits a seeded "network" latency, then asks for the `lookup` tool once and answers with its
// result. The worker runtime imports this module (as its agents' module); the in-thread runtime and
// the naive baseline call the same functions.
import { setTimeout as sleep } from "node:timers/promises";
import { loadOffstage } from "../lib/offstage.mjs";

/** A seeded uniform stream in [0, 1) (mulberry32), so every mode waits the same latencies in order. */
function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The model, the tool and their latency, for `latencyMs` = [min, max] per model step. */
export function frameWork(offstage, { latencyMinMs, latencyMaxMs, seed }) {
  const random = seeded(seed);
  const latency = () => latencyMinMs + random() * (latencyMaxMs - latencyMinMs);
  const lookup = offstage.defineTool({
    name: "lookup",
    description: "Looks a key up in the game state.",
    schema: { type: "object", properties: { key: { type: "string" } }, required: ["key"] },
    execute: ({ key }) => `the ${key} is 42`,
  });
  const model = {
    id: "bench:frame",
    async *stream(request) {
      await sleep(latency(), undefined, { signal: request.abortSignal });
      const last = request.prompt.at(-1);
      if (last?.role === "tool") {
        yield { type: "text-delta", id: "t", delta: `answer: ${last.content[0].output.value}` };
        yield { type: "finish", finishReason: "stop" };
      } else {
        yield { type: "tool-call", toolCallId: "c1", toolName: "lookup", input: '{"key":"gold"}' };
        yield { type: "finish", finishReason: "tool-calls" };
      }
    },
  };
  return { model, lookup };
}

/** The worker runtime's options (this module is its agents' module): the SQLite file `data.path`. */
export default async function options(data) {
  const offstage = await loadOffstage(data.dist);
  const { model, lookup } = frameWork(offstage, data);
  return {
    store: offstage.createSqliteStore({ path: data.path }),
    logger: offstage.silentLogger,
    agents: { npc: { model, tools: [lookup] } },
  };
}
