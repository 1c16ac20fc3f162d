/**
 * The simulated world around the runtime: a fake model, fake tools, a fake function agent and a lossy
 * wake channel. Faults come from these swapped ports, never from hooks in the runtime. All waiting is
 * on the virtual clock and every choice is drawn from the seed's streams, so a seed replays exactly.
 *
 * Every model, tool and function call that can outlive a microtask is recorded in the
 * {@link CallTracker}, with whether it ignores its abort signal: the invariants compare it with the
 * runtime's own count of outstanding calls and with what `stop()` reports.
 *
 * One file for all the fakes (longer than most): they share the world, the call tracker and the way
 * they wait and fail, and a reader checking what the simulation can throw at the runtime wants them
 * side by side.
 */
import { isOffstageError } from "../../src/errors.js";
import type { Message, ToolCallPart } from "../../src/kernel/messages.js";
import type { Policy } from "../../src/kernel/session/inbox.js";
import type { FunctionAgent, FunctionContext, ModelAgent } from "../../src/runtime/agent.js";
import type { Model, ModelPart, ModelRequest } from "../../src/runtime/ports/model.js";
import type { Tool } from "../../src/runtime/ports/tool.js";
import type { Runtime } from "../../src/runtime/runtime.js";
import type { TurnHandle } from "../../src/runtime/turn-handle.js";
import type { WakeChannel } from "../../src/runtime/wake-channel.js";
import type { SeededRandom } from "../../src/testing/seeded-random.js";
import type { VirtualClock } from "../../src/testing/virtual-clock.js";
import type { SimConfig, SimStreams } from "./config.js";
import { frozen } from "./process.js";
import type { Trace } from "./trace.js";

export interface CallRecord {
  readonly id: number;
  /** The simulated process that made the call. */
  readonly process: number;
  readonly kind: "model" | "tool" | "function";
  readonly label: string;
  readonly ignoresAbort: boolean;
  readonly startedAtMs: number;
}

/** Calls in flight in the fakes. */
export class CallTracker {
  readonly live = new Map<number, CallRecord>();
  #next = 1;
  /** Called when a call starts (the invariants refuse calls while the runtime is stopped). */
  onBegin: ((call: CallRecord) => void) | undefined;
  readonly #clock: VirtualClock;

  constructor(clock: VirtualClock) {
    this.#clock = clock;
  }

  begin(process: number, kind: CallRecord["kind"], label: string, ignoresAbort: boolean): CallRecord {
    const call = {
      id: this.#next++,
      process,
      kind,
      label,
      ignoresAbort,
      startedAtMs: this.#clock.monotonicMs(),
    };
    this.live.set(call.id, call);
    this.onBegin?.(call);
    return call;
  }

  end(call: CallRecord): void {
    this.live.delete(call.id);
  }

  /** The process died: its calls died with it. */
  crash(process: number): void {
    for (const call of [...this.live.values()]) if (call.process === process) this.live.delete(call.id);
  }
}

/** What the fakes of one simulated process share. */
export interface World {
  /** The simulated process these fakes belong to. */
  readonly process: number;
  /** False once the process crashed: its fakes freeze (a dead process never gets an answer). */
  alive(): boolean;
  readonly config: SimConfig;
  readonly clock: VirtualClock;
  readonly streams: SimStreams;
  readonly calls: CallTracker;
  readonly trace: Trace;
  /** Records an invariant violation found inside a fake (a throw there would be contained). */
  fail(message: string): void;
  /** The runtime, for the function agent's nested sends. */
  runtime(): Runtime;
  /** Keeps a handle the function agent got, so the invariants can check it settles. */
  keepHandle(handle: TurnHandle): void;
  /** Counts a fault or event for the coverage report. */
  count(what: string): void;
  /**
   * The fake model got this prompt (the invariants learn from it which steered input the model saw,
   * and from a child's system prompt which delegation tree the call is charged to).
   */
  prompted(prompt: readonly Message[]): void;
  /** A fresh role for a child spec: unique in the run, so a child's model calls can be told apart. */
  nextRole(): string;
}

/** Waits `ms` of virtual time; rejects with the signal's reason if it fires first. */
export function sleep(clock: VirtualClock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

// ---- model -------------------------------------------------------------------------------------

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

// ---- tools -------------------------------------------------------------------------------------

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

// ---- function agent ----------------------------------------------------------------------------

const NESTED_POLICIES: Policy[] = ["enqueue", "enqueue", "merge", "interrupt", "steer", "reject"];
const NESTED_REFUSALS = new Set(["SESSION_BUSY", "INBOX_FULL", "STOPPING", "NOT_RUNNING"]);

/** Sends to another session from inside a turn (allowed: it never waits). */
function nestedSend(world: World, context: FunctionContext, r: SeededRandom): void {
  const others = world.config.sessions.filter((s) => s.id !== context.sessionId);
  if (others.length === 0) return;
  const target = r.pick(others);
  const policy = r.pick(NESTED_POLICIES);
  try {
    const session = world.runtime().session(target.id, { agent: target.agent });
    const handle = session.send({ from: context.turnId, n: r.int(0, 999) }, { policy });
    world.trace.add(`fn ${context.turnId}: nested send to ${target.id} (${policy}) -> ${handle.id}`);
    world.count("nested send from a turn");
    world.keepHandle(handle);
  } catch (error) {
    if (!isOffstageError(error) || !NESTED_REFUSALS.has(error.code)) {
      world.fail(`nested send from ${context.turnId} threw unexpectedly: ${String(error)}`);
    }
  }
}

/** Waiting on one's own session from inside its turn must be refused with DeadlockError. */
function deadlockProbe(world: World, context: FunctionContext): void {
  let session: ReturnType<Runtime["session"]>;
  try {
    session = world.runtime().session(context.sessionId);
  } catch (error) {
    if (!isOffstageError(error, "STOPPING")) world.fail(`deadlock probe: session() threw ${String(error)}`);
    return;
  }
  session.invoke("deadlock probe").then(
    () => world.fail(`invoke() from inside turn ${context.turnId} of its own session resolved`),
    (error: unknown) => {
      if (!isOffstageError(error, "DEADLOCK")) {
        world.fail(`invoke() from inside turn ${context.turnId} of its own session threw ${String(error)}`);
      }
    },
  );
}

export function functionAgent(world: World): FunctionAgent {
  return {
    onCrash: world.config.onCrash,
    maxAttempts: world.config.maxAttempts,
    run(input, context) {
      if (!world.alive()) return frozen();
      const r = world.streams.fn;
      const roll = r.next();
      if (roll < 0.05) throw new Error("fn threw synchronously");
      if (roll < 0.15) return { echo: input, sync: true };
      const ignoresAbort = r.chance(world.config.stubbornCallP);
      const delayMs = ignoresAbort ? r.int(0, world.config.stubbornMaxMs) : r.int(0, 150);
      const fails = r.chance(0.1);
      const probe = r.chance(0.05);
      const nested = r.chance(0.12);
      const call = world.calls.begin(world.process, "function", `fn ${context.turnId}`, ignoresAbort);
      return (async () => {
        try {
          if (probe) deadlockProbe(world, context);
          if (nested) nestedSend(world, context, r);
          await sleep(world.clock, delayMs, ignoresAbort ? undefined : context.signal);
          if (fails) throw new Error("fn failed");
          return { echo: input };
        } finally {
          world.calls.end(call);
        }
      })();
    },
  };
}

// ---- wakes -------------------------------------------------------------------------------------

/** A wake channel that drops, delays and duplicates wakes; the recovery poll must cover for it. */
export function lossyWakes(world: World): WakeChannel {
  let receiver: ((sessionId: string) => void) | undefined;
  const { wakeDropP, wakeDelayP, wakeDupP } = world.config;
  const r = world.streams.wakes;
  return {
    notify(sessionId) {
      if (!world.alive()) return;
      const roll = r.next();
      if (roll < wakeDropP) {
        world.count("wake dropped");
        world.trace.add(`wake ${sessionId} dropped`);
        return;
      }
      if (roll < wakeDropP + wakeDelayP) {
        const delayMs = r.int(0, 60);
        world.trace.add(`wake ${sessionId} delayed ${delayMs}ms`);
        world.clock.setTimeout(() => receiver?.(sessionId), delayMs);
        return;
      }
      receiver?.(sessionId);
      if (r.chance(wakeDupP)) receiver?.(sessionId);
    },
    subscribe(next) {
      receiver = next;
      return () => {
        if (receiver === next) receiver = undefined;
      };
    },
  };
}
