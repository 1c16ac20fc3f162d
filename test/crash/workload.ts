/**
 * The crash child's agents and inputs: model agents on the demo model (random latency, real file
 * tools) and function agents, each with `onCrash: "resume"` and `"fail"`, and a `lead` model agent
 * that delegates (its inputs say `delegate <task>; delegate <task>`, which the demo model turns into
 * a `delegate` tool call). Background children are derived from the model agents, so a child's
 * crashed turn resumes or fails as its base agent says. Every tool execution and every function
 * call appends a marker to `effects.log` the moment it happens, so the parent can count effects
 * across kills without trusting the process that performed them.
 *
 * @packageDocumentation
 */
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleepFor } from "node:timers/promises";
import type {
  Agent,
  DelegateSpec,
  DelegationOptions,
  FunctionContext,
  Model,
  Tool,
  ToolContext,
} from "../../src/index.js";
import { createDemoModel } from "../../src/models/demo/index.js";
import { SeededRandom } from "../../src/testing/seeded-random.js";
import { createFileTools } from "../../src/tools/index.js";
import { digest, type Marker } from "./protocol.js";

/** Attempts a resumable turn gets across kills; the checks bound effect repeats by it. */
export const MAX_ATTEMPTS = 4;

/** The agents, by the session index that uses them. */
export const AGENT_NAMES = ["model-resume", "fn-resume", "model-fail", "fn-fail", "lead"] as const;
export type AgentName = (typeof AGENT_NAMES)[number];

/** The agents host-side delegations derive children from (a `lead` child may delegate again). */
const CHILD_AGENTS: readonly AgentName[] = ["model-resume", "model-fail", "lead"];

/**
 * Small caps, so fan-outs are rejected now and then. No record is ever pruned: the final checks
 * account for every delegation the file ever held.
 */
export const DELEGATION: DelegationOptions & { runningMax: number; perParentRunningMax: number } = {
  runningMax: 24,
  perParentRunningMax: 4,
  depthMax: 2,
  keepPerParent: 1_000_000,
};

export function sessionId(index: number): string {
  return `s${index}`;
}

export function agentOfSession(id: string): AgentName {
  return AGENT_NAMES[Number(id.slice(1)) % AGENT_NAMES.length]!;
}

export function isFunctionSession(id: string): boolean {
  return agentOfSession(id).startsWith("fn-");
}

/** True for agents whose crashed turns fail instead of resuming: their effects never repeat. */
export function failsOnCrash(agent: AgentName): boolean {
  return agent.endsWith("-fail");
}

/** Appends effect markers; each line starts on its own line even after a torn write. */
export function markerLog(path: string): (marker: Marker) => void {
  return (marker) => appendFileSync(path, `\n${JSON.stringify(marker)}\n`);
}

/** The read-only files the tools work on; the same every run. */
export function writeWorkspace(root: string): void {
  mkdirSync(join(root, "notes"), { recursive: true });
  writeFileSync(join(root, "a.txt"), "alpha\nbeta\ngamma\n");
  writeFileSync(join(root, "b.txt"), "one line\n");
  writeFileSync(join(root, "notes", "c.md"), "# notes\n\n- first\n- second\n");
}

const DIRECTIVES = ["list .", "read a.txt", "read notes/c.md", "count .", "stat b.txt", "read missing.txt"];

/** A child's goal: directives for its tools, or none (it echoes), never a token or `boom`. */
const TASKS = [...DIRECTIVES, "read a.txt and stat b.txt", "say hello", "list notes slow"];

/**
 * The payload for a token: a pure function of the session and token, so an idempotent resend in a
 * later process rebuilds exactly what the first send carried.
 */
export function payloadFor(session: string, token: string): unknown {
  const r = new SeededRandom(Number.parseInt(digest(token), 16));
  if (isFunctionSession(session)) {
    if (r.chance(0.05)) return `${token} boom`;
    return r.chance(0.5) ? { token, op: "add", amount: r.int(1, 9) } : `${token} tick`;
  }
  if (agentOfSession(session) === "lead" && r.chance(0.8)) {
    const tasks = Array.from({ length: r.int(1, 3) }, () => `delegate ${r.pick(TASKS)}`);
    return `${token} ${tasks.join("; ")}${r.chance(0.04) ? " boom" : ""}`;
  }
  const words = [token];
  const directives = r.int(0, 2);
  for (let i = 0; i < directives; i++) words.push(r.pick(DIRECTIVES));
  if (r.chance(0.04)) words.push("boom");
  if (r.chance(0.1)) words.push("slow");
  return words.join(" ");
}

/**
 * One to three specs for a host-side `delegate`/`delegateAll`: varied agents, tools, context and
 * limits; a small `timeoutMs` ends some children `timed_out`, `modelCallsMax: 1` fails those that
 * need a tool; a `lead` child told to delegate makes grandchildren.
 */
export function delegateSpecs(random: SeededRandom): DelegateSpec[] {
  return Array.from({ length: random.int(1, 3) }, () => {
    const agent = random.pick(CHILD_AGENTS);
    const goal =
      agent === "lead" && random.chance(0.5)
        ? `delegate ${random.pick(TASKS)}; delegate ${random.pick(TASKS)}`
        : random.pick(TASKS);
    const limits = {
      ...(random.chance(0.25) ? { timeoutMs: random.int(5, 150) } : {}),
      ...(random.chance(0.1) ? { modelCallsMax: 1 } : {}),
    };
    return {
      goal,
      agent,
      ...(random.chance(0.3) ? { context: "asked by the crash test's host" } : {}),
      ...(random.chance(0.2) ? { role: "a careful reader" } : {}),
      ...(random.chance(0.2) ? { tools: ["read_file", "list_files"] } : {}),
      ...(Object.keys(limits).length === 0 ? {} : { limits }),
    };
  });
}

/** Running children against the caps: what is over, or `undefined` when both hold. */
export function overCaps(
  running: number,
  parent: string,
  runningUnderParent: number,
  caps: { readonly runningMax: number; readonly perParentRunningMax: number },
): string | undefined {
  if (running > caps.runningMax) return `${running} children run, over runningMax ${caps.runningMax}`;
  if (runningUnderParent > caps.perParentRunningMax)
    return `${runningUnderParent} children of ${parent} run, over perParentRunningMax ${caps.perParentRunningMax}`;
  return undefined;
}

/** Builds the agents for one process. `random` drives latencies only, never what is said. */
export function createAgents(options: {
  readonly incarnation: number;
  readonly workspace: string;
  readonly random: SeededRandom;
  readonly mark: (marker: Marker) => void;
}): Record<AgentName, Agent> {
  const { incarnation: inc, random, mark } = options;
  let nonces = 0;
  const nonce = () => `${inc}.${++nonces}`;
  const demo = createDemoModel({
    latencyMs: 1,
    slowOn: "slow",
    slowMs: 40,
    sleep: async (ms, signal) => {
      await sleepFor(ms > 1 ? random.int(ms / 2, ms) : random.int(0, 8), undefined, { signal });
    },
  });
  // Not the demo's own `failOn`: it reads the whole exchange, and a failed turn never closes its
  // exchange, so one failure would fail every later turn of the session.
  const model: Model = {
    id: "demo-failing-on-boom",
    stream(request) {
      const last = request.prompt.at(-1);
      if (
        last?.role === "user" &&
        last.content.some((part) => part.type === "text" && part.text.includes("boom"))
      )
        return [{ type: "error", error: new Error("the input asked the model to fail") }];
      return demo.stream(request);
    },
  };
  const tools = createFileTools({ root: options.workspace }).map((tool) =>
    recorded(tool, { inc, random, mark, nonce }),
  );
  const run = (input: unknown, context: FunctionContext) =>
    ledgerRun(input, context, { inc, random, mark, nonce });
  return {
    "model-resume": { model, tools, onCrash: "resume", maxAttempts: MAX_ATTEMPTS },
    "model-fail": { model, tools, onCrash: "fail" },
    "fn-resume": { run, onCrash: "resume", maxAttempts: MAX_ATTEMPTS },
    "fn-fail": { run, onCrash: "fail" },
    lead: { model, tools, delegates: true, onCrash: "resume", maxAttempts: MAX_ATTEMPTS },
  };
}

interface EffectContext {
  readonly inc: number;
  readonly random: SeededRandom;
  readonly mark: (marker: Marker) => void;
  readonly nonce: () => string;
}

/** A real tool that records each execution and names it in its output. */
function recorded(tool: Tool, effects: EffectContext): Tool {
  return {
    name: tool.name,
    description: tool.description,
    inputSchema: tool.inputSchema,
    check: (args) => tool.check(args),
    async execute(args: unknown, context: ToolContext) {
      await sleepFor(effects.random.int(0, 6), undefined, { signal: context.signal });
      const value: unknown = await tool.execute(args, context);
      const nonce = effects.nonce();
      effects.mark({
        k: "tool",
        inc: effects.inc,
        session: context.sessionId,
        turnId: context.turnId,
        callId: context.toolCallId,
        nonce,
      });
      return `[effect ${nonce}] ${typeof value === "string" ? value : JSON.stringify(value)}`;
    },
  };
}

/**
 * The function agent: marks its start, works a little (stopping at once when aborted), then marks
 * its end and returns the nonce of this execution, so the committed output names the run it came from.
 */
function ledgerRun(input: unknown, context: FunctionContext, effects: EffectContext): Promise<unknown> {
  const { sessionId: session, turnId } = context;
  const nonce = effects.nonce();
  const mark = (k: "fn-start" | "fn-done" | "fn-abort" | "fn-throw") =>
    effects.mark({ k, inc: effects.inc, session, turnId, nonce });
  mark("fn-start");
  return new Promise((resolve, reject) => {
    const { signal } = context;
    // Marked in the abort listener itself: the runtime aborts before it ends the turn, so the end
    // marker precedes any later turn of the session and the log shows one turn at a time.
    const onAbort = () => {
      clearTimeout(timer);
      mark("fn-abort");
      reject(signal.reason);
    };
    const timer = setTimeout(
      () => {
        signal.removeEventListener("abort", onAbort);
        if (JSON.stringify(input).includes("boom")) {
          mark("fn-throw");
          reject(new Error("the input asked the function agent to fail"));
          return;
        }
        mark("fn-done");
        resolve({ nonce, inputs: context.inputs.length, historyLength: context.history.length });
      },
      effects.random.int(0, 12),
    );
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
}
