// Cancel latency (issue #21, promise P7), the `cancel` benchmark: how long `handle.cancel()` takes
// to settle a running turn whose tool is cooperative (it stops when its AbortSignal fires), for the
// `immediate` mode, measured by the caller around `await handle.cancel()` and by the runtime's own
// `metrics().cancelToSettled`. Goal: p99 < 5 ms. One session, one cancel at a time, on the memory
// store and the real clock; each round waits for the tool to start before it cancels.
//
// Flags (or BENCH_<NAME>): --rounds 2000 --quick
// Saves bench/.tmp/cancel-latency.json.
import { count, QUICK } from "../lib/args.mjs";
import { fmtMs } from "../lib/format.mjs";
import { Latency } from "../lib/latency.mjs";
import { log } from "../lib/log.mjs";
import { printMachine } from "../lib/machine.mjs";
import { now } from "../lib/meters.mjs";
import { loadOffstage } from "../lib/offstage.mjs";
import { writeResult } from "../lib/results.mjs";

const offstage = await loadOffstage();
const ROUNDS = count("rounds", QUICK ? 200 : 2_000);

let started = 0;
let step = 0;
const model = {
  id: "bench:cancel",
  stream: () => [
    { type: "tool-call", toolCallId: `c${step++}`, toolName: "wait", input: "{}" },
    { type: "finish", finishReason: "tool-calls" },
  ],
};
const wait = offstage.defineTool({
  name: "wait",
  description: "waits until it is aborted",
  schema: { type: "object" },
  execute: (_args, { signal }) =>
    new Promise((_resolve, reject) => {
      started += 1;
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    }),
});
printMachine();
const runtime = offstage.createRuntime({
  agents: { a: { model, tools: [wait] } },
  store: offstage.createMemoryStore(),
  logger: offstage.silentLogger,
});
await runtime.start();
const session = runtime.session("s", { agent: "a" });
const caller = new Latency();
for (let i = 0; i < ROUNDS; i++) {
  const handle = session.send(`round ${i}`);
  while (started <= i) await new Promise((resolve) => setImmediate(resolve));
  const t0 = now();
  const status = await handle.cancel({ mode: "immediate" });
  caller.recordMs(now() - t0);
  if (status !== "cancelled") throw new Error(`round ${i}: ${status}`);
}
const own = runtime.metrics().cancelToSettled.immediate;
await runtime.stop();
const seen = caller.stats();
log(`cancel → settled, immediate, cooperative tool, ${ROUNDS} rounds:`);
log(`  caller:  p50 ${fmtMs(seen.p50Ms)}  p99 ${fmtMs(seen.p99Ms)}  max ${fmtMs(seen.maxMs)}`);
log(
  `  runtime: p50 ${fmtMs(own.p50Ms)}  p99 ${fmtMs(own.p99Ms)}  max ${fmtMs(own.maxMs)}  (goal p99 < 5 ms: ${own.p99Ms < 5 ? "met" : "NOT met"})`,
);
writeResult("cancel-latency", { rounds: ROUNDS, caller: seen, runtime: own });
