/**
 * What a parent asks a child to do: the spec a host or a model hands to `delegate`, how it is checked
 * and stored, and the agent and first input a child is made from.
 *
 * @packageDocumentation
 */
import type { DelegationRejectCode } from "../../kernel/delegation/delegation-caps.js";
import {
  argumentsOf,
  checkArray,
  checkDurationMs,
  checkOptions,
  checkPositiveInteger,
  fail,
} from "../../validate.js";
import { type Agent, isFunctionAgent, type ModelAgent } from "../agent.js";
import type { StoredChildSpec } from "../ports/delegation-log.js";
import type { Model } from "../ports/model.js";

/** What a parent asks a child to do. */
export interface DelegateSpec {
  /** What the child must achieve; the child's first input. */
  readonly goal: string;
  /** What the child needs to know; it sees nothing of the parent's conversation. */
  readonly context?: string;
  /** Who the child is ("a careful reviewer"); added to its system prompt. */
  readonly role?: string;
  /** The agent the child is derived from (default: the parent's own agent). Must be a model agent. */
  readonly agent?: string;
  /** A key of `options.models` to use instead of the agent's model. */
  readonly model?: string;
  /** Tool names the child may use: a subset of its agent's tools (default: all of them). */
  readonly tools?: readonly string[];
  /** Model calls per turn for the child, and how long it may run before it ends `timed_out`. */
  readonly limits?: { readonly modelCallsMax?: number; readonly timeoutMs?: number };
}

/** The answer to a dispatch: at once, never after the child ran. */
export type DelegateResult =
  | { readonly status: "dispatched"; readonly ids: readonly string[] }
  | { readonly status: "rejected"; readonly code: DelegationRejectCode; readonly reason: string };

const DELEGATE = argumentsOf("delegate()");
const SPEC_KEYS = Object.keys({
  goal: true,
  context: true,
  role: true,
  agent: true,
  model: true,
  tools: true,
  limits: true,
} satisfies Record<keyof DelegateSpec, true>);
const LIMIT_KEYS = Object.keys({ modelCallsMax: true, timeoutMs: true } satisfies Record<
  keyof NonNullable<DelegateSpec["limits"]>,
  true
>);
/** Longest goal, context or role, in characters. */
const TEXT_MAX = 16_384;

/** What specs are checked against: the runtime's agents and named models. */
export interface SpecScope {
  readonly agents: ReadonlyMap<string, Agent>;
  readonly models: ReadonlyMap<string, Model | string>;
}

/** Checks a spec against the agents and models it may name; throws `InvalidInputError`. */
export function checkSpec(spec: unknown, parentAgent: string, scope: SpecScope): StoredChildSpec {
  const given = checkOptions(DELEGATE, "spec", spec as DelegateSpec, SPEC_KEYS);
  const goal = text("goal", given.goal)!;
  const agentName = given.agent ?? parentAgent;
  const agent = scope.agents.get(agentName);
  if (agent === undefined || isFunctionAgent(agent))
    fail(DELEGATE, "agent", agentName, "the name of a model agent");
  if (given.model !== undefined && !scope.models.has(given.model))
    fail(DELEGATE, "model", given.model, `a key of options.models (${[...scope.models.keys()].join(", ")})`);
  const own = (agent.tools ?? []).map((t) => t.name);
  const tools: readonly unknown[] =
    given.tools === undefined ? own : checkArray(DELEGATE, "tools", given.tools, "an array of tool names");
  for (const name of tools) {
    if (typeof name !== "string" || !own.includes(name))
      fail(DELEGATE, "tools", name, `one of agent ${agentName}'s tools (${own.join(", ")})`);
  }
  const limits = checkOptions(DELEGATE, "limits", given.limits ?? {}, LIMIT_KEYS);
  if (limits.modelCallsMax !== undefined)
    checkPositiveInteger(DELEGATE, "limits.modelCallsMax", limits.modelCallsMax);
  // The child's deadline is a timer: beyond what a timer honours it would fire at once.
  if (limits.timeoutMs !== undefined)
    checkDurationMs(DELEGATE, "limits.timeoutMs", limits.timeoutMs, { min: 1, integer: true });
  return {
    goal,
    context: given.context === undefined ? undefined : text("context", given.context),
    role: given.role === undefined ? undefined : text("role", given.role),
    model: given.model,
    tools: tools as string[],
    agent: agentName,
    modelCallsMax: limits.modelCallsMax,
    timeoutMs: limits.timeoutMs,
  };
}

function text(name: string, value: unknown): string {
  if (typeof value !== "string" || value.trim().length === 0 || value.length > TEXT_MAX)
    fail(DELEGATE, name, value, `a non-empty string of at most ${TEXT_MAX} characters`);
  return value;
}

/**
 * The agent a child runs: its base agent with the spec's model, tools and limits, and a system prompt
 * that tells it it works in the background. A child at the depth limit gets no `delegate` tool: it
 * could only be refused.
 */
export function childAgent(
  spec: StoredChildSpec,
  depth: number,
  depthMax: number,
  scope: SpecScope,
): ModelAgent {
  const base = scope.agents.get(spec.agent) as ModelAgent;
  const role = spec.role === undefined ? "" : `\nYour role: ${spec.role}.`;
  const brief =
    "You are a background worker: do the task you are given and answer with what you found. " +
    "Nobody can answer questions from you while you work.";
  const own = base.system;
  const withBrief = (system: string | undefined) =>
    `${system === undefined ? "" : `${system}\n\n`}${brief}${role}`;
  return {
    ...base,
    model: spec.model === undefined ? base.model : scope.models.get(spec.model)!,
    system: typeof own === "function" ? async (context) => withBrief(await own(context)) : withBrief(own),
    tools: (base.tools ?? []).filter((t) => spec.tools.includes(t.name)),
    delegates: base.delegates === true && depth < depthMax,
    ...(spec.modelCallsMax === undefined ? {} : { modelCallsPerTurnMax: spec.modelCallsMax }),
  };
}

/** The child's first input: its goal, and the context it was given. */
export function firstInput(spec: StoredChildSpec): string {
  return spec.context === undefined ? spec.goal : `${spec.goal}\n\nContext:\n${spec.context}`;
}

/** How deep a session sits, from its id: each `>` is one delegation (`>` is reserved for children). */
export function depthOf(sessionId: string): number {
  let depth = 0;
  for (let i = 0; i < sessionId.length; i++) if (sessionId.charCodeAt(i) === 0x3e) depth++;
  return depth;
}

/** The top-level session of a child's tree, from its id. */
export function rootOf(sessionId: string): string {
  const at = sessionId.indexOf(">");
  return at < 0 ? sessionId : sessionId.slice(0, at);
}

/** The delegation a child's session belongs to, from its id (`parent>id`). */
export function delegationIdOf(sessionId: string): string {
  return sessionId.slice(sessionId.lastIndexOf(">") + 1);
}
