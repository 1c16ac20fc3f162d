/**
 * Agents: what runs a session's turns. Either a model conversation (model, system prompt, tools,
 * limits) or a plain async function, for sessions that are state machines or workflows. Both get the
 * same inbox, ordering, durability and handles.
 *
 * @packageDocumentation
 */
import type { Message } from "../kernel/messages.js";
import type { Model } from "./ports/model.js";
import type { Tool } from "./ports/tool.js";

/**
 * What happens to a turn that was running when the process died.
 *
 * Effects in flight are at-least-once under `resume`: the step the crash cut short runs again from
 * the last checkpoint, so a tool call (or a function agent's call) that had started, even finished,
 * but whose step was not yet committed runs again — in at most `maxAttempts` processes, never twice
 * in one. Make such tools idempotent, or choose `fail`. A turn whose end was committed never runs
 * again, and its output is recorded once. Under `fail` nothing of a crashed turn runs again.
 */
export type CrashPolicy = "resume" | "fail";

interface AgentCommon {
  /**
   * `resume` (default) restarts a crashed turn from its last step checkpoint; `fail` ends it
   * `failed`/`crashed`. See {@link CrashPolicy} for what runs again.
   */
  readonly onCrash?: CrashPolicy;
  /** Attempts a turn gets across crashes before it ends `failed`/`crashed` (default 3). */
  readonly maxAttempts?: number;
}

/** An agent that holds a model conversation. */
export interface ModelAgent extends AgentCommon {
  readonly model: Model;
  readonly system?: string;
  readonly tools?: readonly Tool[];
  /** Model calls in one turn (default `limits.modelCallsPerTurnMax`). */
  readonly modelCallsPerTurnMax?: number;
  /** Tool calls one model step may ask for (default `limits.toolCallsPerStepMax`). */
  readonly toolCallsPerStepMax?: number;
  readonly maxOutputTokens?: number;
  /**
   * Gives the model the built-in `delegate` tool, to hand work to background children whose results
   * come back as new turns (default false).
   */
  readonly delegates?: boolean;
}

/** What a function agent receives with its input. */
export interface FunctionContext {
  readonly sessionId: string;
  readonly turnId: string;
  /** Fires when the turn is cancelled or interrupted. */
  readonly signal: AbortSignal;
  /** Every input payload of the turn, oldest first (several when inputs were merged). */
  readonly inputs: readonly unknown[];
  /** The session's history before this turn. */
  readonly history: readonly Message[];
}

/** An agent that is a plain async function; its return value is the turn's output. */
export interface FunctionAgent extends AgentCommon {
  run(input: unknown, context: FunctionContext): unknown;
}

/** A model agent or a function agent. */
export type Agent = ModelAgent | FunctionAgent;

/** True when the agent is a function agent. */
export function isFunctionAgent(agent: Agent): agent is FunctionAgent {
  return typeof (agent as FunctionAgent).run === "function";
}
