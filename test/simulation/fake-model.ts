/**
 * The fake model: each step answers from the seed's model stream — text, tool calls (some to tools
 * that do not exist, some with bad arguments), `delegate` calls for a delegating agent, a throw while
 * streaming — at once or after a virtual delay, sometimes ignoring its abort signal. It also checks
 * every prompt it gets is well-formed.
 */
import type { Message, ToolCallPart } from "../../src/kernel/messages.js";
import type { ModelAgent } from "../../src/runtime/agent.js";
import type { Model, ModelPart, ModelRequest } from "../../src/runtime/ports/model.js";
import type { SeededRandom } from "../../src/testing/seeded-random.js";
import { fakeTools } from "./fake-tools.js";
import { frozen } from "./process.js";
import { sleep, type World } from "./world.js";

const TOOL_NAMES = ["work", "work", "stubborn", "strict", "ghost"];

/**
 * Checks a prompt is well-formed: every assistant message that calls tools is followed at once by a
 * tool message answering exactly those calls, in order. Steered input may only join at a step
 * boundary, so a user message can never sit between a tool call and its result.
 */
export function promptProblem(prompt: readonly Message[]): string | undefined {
  for (let i = 0; i < prompt.length; i++) {
    const m = prompt[i]!;
    if (m.role === "system" && i !== 0) return `system message at position ${i}`;
    if (m.role === "tool") {
      const prev = prompt[i - 1];
      if (prev?.role !== "assistant") return `tool results at ${i} do not follow an assistant message`;
    }
    if (m.role !== "assistant") continue;
    const calls = m.content.filter((p): p is ToolCallPart => p.type === "tool-call");
    if (calls.length === 0) continue;
    const next = prompt[i + 1];
    if (next === undefined) return `assistant tool calls at ${i} end the prompt without results`;
    if (next.role !== "tool") return `assistant tool calls at ${i} are followed by a ${next.role} message`;
    const want = calls.map((c) => c.toolCallId).join(",");
    const got = next.content.map((r) => r.toolCallId).join(",");
    if (want !== got) return `tool results at ${i + 1} answer [${got}], the calls were [${want}]`;
  }
  return undefined;
}

/**
 * The `delegate` tool's input for 1-4 tasks; sometimes one the runtime must refuse (a tool the agent
 * lacks, or no task at all), which the model sees as a tool error.
 */
function delegateInput(world: World, r: SeededRandom): string {
  const roll = r.next();
  if (roll < 0.05) return `{"tasks":[]}`;
  const tasks: { goal: string; role: string; tools?: string[] }[] = [];
  const count = r.int(1, 4);
  for (let i = 0; i < count; i++) {
    const role = world.nextRole();
    const task: { goal: string; role: string; tools?: string[] } = { goal: `task for ${role}`, role };
    if (r.chance(0.4)) task.tools = r.chance(0.1) ? ["ghost"] : r.chance(0.5) ? ["work"] : [];
    tasks.push(task);
  }
  return JSON.stringify({ tasks });
}

function answerParts(
  r: SeededRandom,
  world: World,
  step: number,
  delegates: boolean,
): (ModelPart | "throw")[] {
  const config = world.config;
  const parts: (ModelPart | "throw")[] = [];
  const texts = r.int(0, 2);
  for (let i = 0; i < texts; i++) parts.push({ type: "text-delta", id: "t", delta: `w${r.int(0, 99)} ` });
  if (r.chance(0.55)) {
    const calls = r.int(1, config.toolCallsPerStepMax + 1);
    for (let i = 0; i < calls; i++) {
      const duplicate = i > 0 && r.chance(0.03);
      const input = r.chance(0.05) ? "{not json" : r.chance(0.1) ? "" : `{"n":${r.int(0, 9)}}`;
      parts.push({
        type: "tool-call",
        toolCallId: duplicate ? `c${step}.0` : `c${step}.${i}`,
        toolName: r.pick(TOOL_NAMES),
        input,
      });
    }
  }
  if (delegates && r.chance(config.delegation?.modelDelegateP ?? 0)) {
    parts.push({
      type: "tool-call",
      toolCallId: `c${step}.d`,
      toolName: "delegate",
      input: delegateInput(world, r),
    });
  }
  const end = r.next();
  if (end < 0.04) parts.push({ type: "error", error: new Error("fake model: error part") });
  else if (end < 0.08) parts.push("throw");
  else
    parts.push({
      type: "finish",
      finishReason: "stop",
      usage: { inputTokens: r.int(1, 50), outputTokens: r.int(1, 50) },
    });
  return parts;
}

function* syncAnswer(parts: (ModelPart | "throw")[]): Generator<ModelPart> {
  for (const part of parts) {
    if (part === "throw") throw new Error("fake model: threw while streaming (sync)");
    yield part;
  }
}

async function* asyncAnswer(
  world: World,
  request: ModelRequest,
  step: number,
  delegates: boolean,
): AsyncGenerator<ModelPart> {
  const r = world.streams.model;
  const ignoresAbort = r.chance(world.config.stubbornCallP);
  const delayMs = ignoresAbort ? r.int(0, world.config.stubbornMaxMs) : r.int(0, 120);
  const quietOnAbort = r.chance(0.5);
  const parts = answerParts(r, world, step, delegates);
  const midDelayMs = r.chance(0.3) ? r.int(1, 40) : 0;
  const call = world.calls.begin(world.process, "model", `model step ${step}`, ignoresAbort);
  if (ignoresAbort) world.count("model call ignoring abort");
  try {
    const signal = ignoresAbort ? undefined : request.abortSignal;
    try {
      await sleep(world.clock, delayMs, signal);
    } catch (error) {
      // An aborted stream may end quietly or throw; the runtime must handle both.
      if (quietOnAbort) return;
      throw error;
    }
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (part === "throw") throw new Error("fake model: threw while streaming");
      yield part;
      if (i === 0 && midDelayMs > 0) await sleep(world.clock, midDelayMs, signal);
    }
  } finally {
    world.calls.end(call);
  }
}

export function fakeModel(world: World): Model {
  let steps = 0;
  return {
    id: "sim-fake",
    stream(request: ModelRequest) {
      if (!world.alive()) return frozen();
      const problem = promptProblem(request.prompt);
      if (problem !== undefined) world.fail(`the model got a malformed prompt: ${problem}`);
      world.prompted(request.prompt);
      steps += 1;
      const r = world.streams.model;
      const delegates = request.tools.some((t) => t.name === "delegate");
      const roll = r.next();
      if (roll < 0.03) throw new Error("fake model: stream() threw");
      if (roll < 0.13) return syncAnswer(answerParts(r, world, steps, delegates));
      if (roll < 0.18) return Promise.resolve(asyncAnswer(world, request, steps, delegates));
      return asyncAnswer(world, request, steps, delegates);
    },
  };
}

/** A model agent; with `delegates`, its model also gets (and sometimes calls) the `delegate` tool. */
export function chatAgent(world: World, delegates = false): ModelAgent {
  return {
    delegates,
    model: fakeModel(world),
    system: "you are a simulated agent",
    tools: fakeTools(world),
    modelCallsPerTurnMax: world.config.modelCallsPerTurnMax,
    toolCallsPerStepMax: world.config.toolCallsPerStepMax,
    onCrash: world.config.onCrash,
    maxAttempts: world.config.maxAttempts,
  };
}
