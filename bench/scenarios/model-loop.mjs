// Real models (issue #16), the `models` benchmark: the same tool-using conversation — 3 steps, 2
// tools, two calls in parallel in step 1 — through `@ai-sdk/openai-compatible` against the same
// loopback server (bench/lib/llm-server.mjs, in its own process), run by Offstage on the memory store
// and on SQLite `normal` (systems/model-loop.mjs) beside the AI SDK's own agent loop (`streamText`
// with `stopWhen`), `--conversations` (1,000) at once. Reports conversations/s and per-step latency.
// Then the adapter's own cost per streamed part: reading a provider's `doStream` through
// `fromAiSdk(model).stream()` beside reading the same stream directly.
//
// Flags (or BENCH_<NAME>): --conversations 1000 --reps 3 --answer-parts 20 --parts 10000 --quick
// Saves bench/.tmp/model-loop.json.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { count, QUICK } from "../lib/args.mjs";
import { fmtMs, fmtRate, fmtRatio, table } from "../lib/format.mjs";
import { log } from "../lib/log.mjs";
import { printMachine } from "../lib/machine.mjs";
import { median } from "../lib/meters.mjs";
import { loadOffstage } from "../lib/offstage.mjs";
import { writeResult } from "../lib/results.mjs";
import { aiSdkStreamTextSystem, offstageModelLoopSystem } from "../systems/model-loop.mjs";

const CONVERSATIONS = count("conversations", QUICK ? 100 : 1000);
const REPS = count("reps", QUICK ? 1 : 3);
const ANSWER_PARTS = count("answer-parts", 20);
const PARTS = count("parts", QUICK ? 2_000 : 10_000);

const offstage = await loadOffstage();
const SYSTEMS = [
  offstageModelLoopSystem({ offstage, store: "memory" }),
  offstageModelLoopSystem({ offstage, store: "sqlite-normal" }),
  aiSdkStreamTextSystem(),
];

/** Starts the loopback server process; resolves with its base URL and a stop function. */
function startServer() {
  const child = spawn(
    process.execPath,
    [fileURLToPath(new URL("../lib/llm-server.mjs", import.meta.url)), String(ANSWER_PARTS)],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.stdout.once("data", (data) => {
      const { baseURL } = JSON.parse(String(data));
      resolve({ baseURL, stop: () => child.stdin.end() });
    });
  });
}

printMachine();
const server = await startServer();
log(`loopback server at ${server.baseURL}; ${CONVERSATIONS} conversations at once, ${REPS} repetition(s)`);
log("warm-up (not recorded)");
for (const system of SYSTEMS)
  await system.run({ conversations: Math.min(100, CONVERSATIONS), baseURL: server.baseURL });

const runs = Object.fromEntries(SYSTEMS.map((s) => [s.name, []]));
for (let rep = 0; rep < REPS; rep++) {
  // Each repetition runs every system, in a rotating order, so a slow minute on a shared machine
  // falls on all of them alike.
  for (let k = 0; k < SYSTEMS.length; k++) {
    const system = SYSTEMS[(rep + k) % SYSTEMS.length];
    const run = await system.run({ conversations: CONVERSATIONS, baseURL: server.baseURL });
    runs[system.name].push(run);
    log(
      `  ${system.name}: ${fmtRate(run.perSecond)} conversations/s, step p50 ${fmtMs(run.step.p50Ms)}, p99 ${fmtMs(run.step.p99Ms)}`,
    );
  }
}
server.stop();

const summary = Object.fromEntries(
  SYSTEMS.map((s) => {
    const rs = runs[s.name];
    return [
      s.name,
      {
        label: s.label,
        perSecond: median(rs.map((r) => r.perSecond)),
        stepP50Ms: median(rs.map((r) => r.step.p50Ms)),
        stepP99Ms: median(rs.map((r) => r.step.p99Ms)),
        cpuMsPerConversation: median(rs.map((r) => r.cpuMs / r.conversations)),
        otherCores: median(rs.map((r) => r.otherCores ?? 0)),
      },
    ];
  }),
);
const peer = summary["ai-sdk"];
table(
  ["system", "conversations/s", "vs streamText", "step p50", "step p99", "CPU ms/conversation", "other load"],
  SYSTEMS.map((s) => {
    const r = summary[s.name];
    return [
      s.label,
      fmtRate(r.perSecond),
      fmtRatio(r.perSecond / peer.perSecond),
      fmtMs(r.stepP50Ms),
      fmtMs(r.stepP99Ms),
      r.cpuMsPerConversation.toFixed(2),
      r.otherCores.toFixed(2),
    ];
  }),
);

// ---- the adapter's own cost per streamed part ---------------------------------------------------

/** A provider model whose stream is `parts` text deltas, already in memory. */
function memoryModel(parts) {
  const stream = [
    { type: "stream-start", warnings: [] },
    { type: "response-metadata", id: "r", modelId: "m" },
    { type: "text-start", id: "t" },
    ...Array.from({ length: parts }, (_, i) => ({ type: "text-delta", id: "t", delta: `w${i} ` })),
    { type: "text-end", id: "t" },
    {
      type: "finish",
      finishReason: { unified: "stop", raw: "stop" },
      usage: {
        inputTokens: { total: 1, noCache: 1, cacheRead: undefined, cacheWrite: undefined },
        outputTokens: { total: parts, text: parts, reasoning: undefined },
      },
    },
  ];
  return {
    specificationVersion: "v4",
    provider: "memory",
    modelId: "m",
    supportedUrls: {},
    doGenerate: () => Promise.reject(new Error("stream only")),
    doStream: async () => ({
      stream: new ReadableStream({
        start(controller) {
          for (const part of stream) controller.enqueue(part);
          controller.close();
        },
      }),
    }),
  };
}

/**
 * Nanoseconds per part of each reader, median of 40 reads after 10 of warm-up; the readers take
 * turns read by read, so a busy moment on a shared machine falls on both alike.
 */
async function nsPerPart(readers) {
  const samples = readers.map(() => []);
  for (let i = 0; i < 50; i++) {
    for (let r = 0; r < readers.length; r++) {
      const t0 = process.hrtime.bigint();
      const n = await readers[r]();
      if (i >= 10) samples[r].push(Number(process.hrtime.bigint() - t0) / n);
    }
  }
  return samples.map(median);
}

const model = memoryModel(PARTS);
const adapted = offstage.fromAiSdk(model);
const prompt = [{ role: "user", content: [{ type: "text", text: "hi" }] }];
const [direct, viaAdapter] = await nsPerPart([
  async () => {
    const { stream } = await model.doStream({ prompt, abortSignal: new AbortController().signal });
    let n = 0;
    for await (const _ of stream) n += 1;
    return n;
  },
  async () => {
    let n = 0;
    for await (const _ of await adapted.stream({
      prompt,
      tools: [],
      abortSignal: new AbortController().signal,
    }))
      n += 1;
    return n;
  },
]);
const adapter = {
  parts: PARTS,
  directNsPerPart: direct,
  adapterNsPerPart: viaAdapter,
  overheadNsPerPart: viaAdapter - direct,
};
table(
  ["reading a stream of text deltas", "ns per part"],
  [
    ["doStream directly", direct.toFixed(0)],
    ["fromAiSdk(model).stream()", viaAdapter.toFixed(0)],
    ["the adapter's own cost", (viaAdapter - direct).toFixed(0)],
  ],
);

const ratios = {
  "offstage-memory / ai-sdk": summary["offstage-memory"].perSecond / peer.perSecond,
  "offstage-sqlite-normal / ai-sdk": summary["offstage-sqlite-normal"].perSecond / peer.perSecond,
};
writeResult("model-loop", {
  conversations: CONVERSATIONS,
  reps: REPS,
  answerParts: ANSWER_PARTS,
  runs,
  summary,
  ratios,
  adapter,
});
process.exit(0);
