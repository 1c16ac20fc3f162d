/**
 * Agents: what runs a session's turns. Either a model conversation (model, system prompt, tools,
 * limits) or a plain async function, for sessions that are state machines or workflows. Both get the
 * same inbox, ordering, durability and handles.
 *
 * @packageDocumentation
 */
import type { Message } from "../kernel/messages.js";
import type { Usage } from "../kernel/outcome.js";
import type { RetryPolicy } from "../kernel/retry-policy.js";
import type { Model, ModelSettings } from "./ports/model.js";
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

/**
 * How a model step retries a transient failure — a 429, a 408 or 409, a 5xx, a timeout, a dropped
 * connection, a stream that ended without finishing. Every field is optional; the defaults are
 * `DEFAULTS.retry` (3 tries, 1 s backoff doubling up to 30 s, `retry-after` honoured up to 60 s, a try
 * abandoned after 180 s without a streamed part). Other failures (400, 401, 403, 404, a thrown
 * error) fail the turn at once with the provider's message.
 */
export type RetryOptions = Partial<RetryPolicy>;

/** What a `system` function receives. */
export interface SystemContext {
  readonly sessionId: string;
  readonly turnId: string;
  /** Fires when the turn is cancelled or interrupted. */
  readonly signal: AbortSignal;
  /** The session's history before this turn. */
  readonly history: readonly Message[];
}

/** What `prepareStep` receives before each model call. */
export interface StepContext {
  readonly sessionId: string;
  readonly turnId: string;
  /** The model call's number in the turn, from 1. */
  readonly step: number;
  readonly signal: AbortSignal;
  /** The system prompt the step would use (the agent's `system`, resolved). */
  readonly system: string | undefined;
  /**
   * What the model would see, oldest first: the session's history, then this turn's messages. A
   * new array each step; the messages in it are the stored ones, so never change them: return new
   * ones instead.
   */
  readonly messages: readonly Message[];
  /** Tokens the turn used so far. */
  readonly usage: Usage;
}

/**
 * What `prepareStep` may change for one model call. Nothing it returns is stored: the session's
 * history stays whole, and the next step starts again from it.
 */
export interface StepOverrides extends ModelSettings {
  readonly system?: string;
  /** The messages to send instead (trimmed, windowed, summarised); see `lastMessages`, `fitTokenBudget`. */
  readonly messages?: readonly Message[];
  /** Names of the tools to offer on this call (default: all of the agent's tools). */
  readonly activeTools?: readonly string[];
}

/** An agent that holds a model conversation. */
export interface ModelAgent extends AgentCommon, ModelSettings {
  /**
   * The model: a {@link Model} (`fromAiSdk(openai("gpt-5-mini"))`, `createDemoModel()`), or its name,
   * resolved when the runtime starts: `"openai:gpt-5-mini"`, `"anthropic:claude-sonnet-4-5"`,
   * `"openai-compatible:http://127.0.0.1:11434/v1:llama3.2"`.
   */
  readonly model: Model | string;
  /**
   * The system prompt: a string, or a function of the session called at the start of each turn
   * (its answer opens every model call of that turn). A function that throws fails the turn with
   * reason `context_error`.
   */
  readonly system?: string | ((context: SystemContext) => string | Promise<string>);
  readonly tools?: readonly Tool[];
  /** Model calls in one turn (default `limits.modelCallsPerTurnMax`). */
  readonly modelCallsPerTurnMax?: number;
  /** Tool calls one model step may ask for (default `limits.toolCallsPerStepMax`). */
  readonly toolCallsPerStepMax?: number;
  /**
   * Gives the model the built-in `delegate` tool, to hand work to background children whose results
   * come back as new turns (default false).
   */
  readonly delegates?: boolean;
  /** How a model step retries transient failures; see {@link RetryOptions}. */
  readonly retry?: RetryOptions;
  /**
   * Called before each model call; may trim, window or summarise the prompt, change the system
   * prompt, the tools on offer or the settings for that one call. Never changes what is stored. A
   * hook that throws fails the turn with reason `context_error`.
   */
  readonly prepareStep?: (
    context: StepContext,
  ) => StepOverrides | undefined | Promise<StepOverrides | undefined>;
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
