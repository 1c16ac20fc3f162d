// The systems of the `models` benchmark: the same tool-using conversation (3 steps, 2 tools) through
// the same provider package (`@ai-sdk/openai-compatible`) and the same loopback server, run by
//   - Offstage, its agent's model `fromAiSdk(provider)`, on the memory store or SQLite `normal`;
//   - the AI SDK's own agent loop, `streamText` with tools and `stopWhen: stepCountIs(5)`.
// Each starts `conversations` conversations at once and resolves when all have answered.
//
// Per step: the provider model is wrapped (both systems alike) to note when each conversation's
// model calls start; a step lasts from its call's start to the next call's start (the model call,
// its stream, the tool calls and whatever the loop does between), the last one to the
// conversation's end.
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { stepCountIs, streamText, tool } from "ai";
import { z } from "zod";
import { Latency } from "../lib/latency.mjs";
import { cpuMeter, now } from "../lib/meters.mjs";
import { freshSqliteStore } from "./offstage-sqlite.mjs";

/** The provider's model on the server, wrapped to note each call's start by conversation. */
function instrumentedModel(baseURL, starts) {
  const model = createOpenAICompatible({
    name: "loopback",
    baseURL,
    apiKey: "bench",
    includeUsage: true,
  }).chatModel("bench-model");
  return {
    specificationVersion: model.specificationVersion,
    provider: model.provider,
    modelId: model.modelId,
    supportedUrls: model.supportedUrls,
    doGenerate: (options) => model.doGenerate(options),
    doStream(options) {
      starts.note(conversationOf(options.prompt), now());
      return model.doStream(options);
    },
  };
}

/** The conversation a prompt belongs to: its first user message is `conversation <n>`. */
function conversationOf(prompt) {
  for (const message of prompt) {
    if (message.role !== "user") continue;
    const part = message.content.find((p) => p.type === "text");
    return Number(part?.text.slice("conversation ".length));
  }
  return -1;
}

/** Model-call start times by conversation, turned into step latencies when a conversation ends. */
class StepClock {
  #starts = new Map();
  latency = new Latency();
  steps = 0;

  note(conversation, at) {
    let list = this.#starts.get(conversation);
    if (list === undefined) {
      list = [];
      this.#starts.set(conversation, list);
    }
    list.push(at);
  }

  ended(conversation, at) {
    const list = this.#starts.get(conversation) ?? [];
    for (let i = 0; i < list.length; i++) this.latency.recordMs((list[i + 1] ?? at) - list[i]);
    this.steps += list.length;
    this.#starts.delete(conversation);
  }
}

const lookup = async ({ key }) => `value-of-${key}`;
const weather = async ({ city }) => `sunny in ${city}`;
const LOOKUP = z.object({ key: z.string() });
const WEATHER = z.object({ city: z.string() });

/** Offstage on the memory store (`store: "memory"`) or SQLite `normal` (`"sqlite-normal"`). */
export function offstageModelLoopSystem({ offstage, store: kind }) {
  return {
    name: `offstage-${kind}`,
    label: kind === "memory" ? "offstage, memory store" : 'offstage, SQLite durability "normal"',
    async run({ conversations, baseURL }) {
      const starts = new StepClock();
      const fresh =
        kind === "memory"
          ? { store: offstage.createMemoryStore(), remove: async () => {} }
          : freshSqliteStore(offstage, "normal", "offstage-bench-models-");
      const tools = [
        offstage.defineTool({
          name: "lookup",
          description: "Looks a key up.",
          schema: LOOKUP,
          execute: lookup,
        }),
        offstage.defineTool({
          name: "weather",
          description: "The weather in a city.",
          schema: WEATHER,
          execute: weather,
        }),
      ];
      const runtime = offstage.createRuntime({
        store: fresh.store,
        logger: offstage.silentLogger,
        limits: { maxConcurrentTurns: conversations },
        agents: { a: { model: offstage.fromAiSdk(instrumentedModel(baseURL, starts)), tools } },
      });
      await runtime.start();
      const meter = cpuMeter();
      const t0 = now();
      const done = [];
      for (let i = 0; i < conversations; i++) {
        const handle = runtime.session(`c${i}`, { agent: "a" }).send(`conversation ${i}`);
        done.push(
          handle.result({ timeoutMs: 600_000 }).then((r) => {
            if (r.status !== "completed")
              throw new Error(`conversation ${i} ended ${r.status}: ${r.reason.message}`);
            starts.ended(i, now());
          }),
        );
      }
      await Promise.all(done);
      const seconds = (now() - t0) / 1000;
      const cpu = meter.end();
      await runtime.stop();
      await fresh.remove();
      return summary(conversations, seconds, starts, cpu);
    },
  };
}

/** The AI SDK's own agent loop. */
export function aiSdkStreamTextSystem() {
  return {
    name: "ai-sdk",
    label: "AI SDK streamText, stopWhen steps",
    async run({ conversations, baseURL }) {
      const starts = new StepClock();
      const model = instrumentedModel(baseURL, starts);
      const tools = {
        lookup: tool({ description: "Looks a key up.", inputSchema: LOOKUP, execute: lookup }),
        weather: tool({ description: "The weather in a city.", inputSchema: WEATHER, execute: weather }),
      };
      const meter = cpuMeter();
      const t0 = now();
      const done = [];
      for (let i = 0; i < conversations; i++) {
        const result = streamText({ model, prompt: `conversation ${i}`, tools, stopWhen: stepCountIs(5) });
        done.push(
          result.text.then(() => {
            starts.ended(i, now());
          }),
        );
      }
      await Promise.all(done);
      const seconds = (now() - t0) / 1000;
      return summary(conversations, seconds, starts, meter.end());
    },
  };
}

function summary(conversations, seconds, starts, cpu) {
  if (starts.steps !== conversations * 3)
    throw new Error(`expected ${conversations * 3} model calls, counted ${starts.steps}`);
  return {
    conversations,
    seconds,
    perSecond: conversations / seconds,
    step: starts.latency.stats(),
    cpuMs: cpu.ownCpuMs,
    otherCores: cpu.otherCores,
  };
}
