/**
 * Runtime options and their validation. Bad options throw `BootError` `INVALID_OPTIONS` from
 * `createRuntime`, before anything starts; the message quotes the offending value.
 *
 * @packageDocumentation
 */
import { BootError, describeValue } from "../errors.js";
import { DEFAULT_LIMITS, type Limits } from "../kernel/limits.js";
import { createToolRegistry } from "../tools/tool-registry.js";
import { type Agent, isFunctionAgent, type ModelAgent } from "./agent.js";
import { type Clock, systemClock } from "./clock.js";
import type { DelegationOptions } from "./delegations.js";
import { type Logger, stderrLogger } from "./events.js";
import type { Model } from "./ports/model.js";
import type { Store } from "./ports/store.js";
import type { WakeChannel } from "./wake-channel.js";

/** Options of {@link createRuntime}. */
export interface RuntimeOptions {
  /** Agents by name; a session names the agent that runs its turns. */
  readonly agents: Readonly<Record<string, Agent>>;
  /**
   * Where work is kept (default: the SQLite file `./.offstage/offstage.db`, created on start). Pass
   * `createMemoryStore()` for work that need not outlive the process (tests, scratch runtimes).
   */
  readonly store?: Store;
  readonly limits?: Partial<Limits>;
  /** How often the recovery poll drives sessions whose wake was lost (default 400 ms). */
  readonly pollIntervalMs?: number;
  /**
   * How long a session may keep its turn slot for back-to-back turns while other sessions wait for
   * one (default 10 ms; 0: a slot goes to the longest-waiting session after every turn). A session
   * whose turns take longer never keeps it; one whose turns take microseconds runs several while
   * its data is in the CPU's caches, which is worth about 1.2x the throughput of a saturated runtime.
   */
  readonly slotQuantumMs?: number;
  /** A synchronous job holding the thread longer than this is reported (default 50 ms). */
  readonly hogThresholdMs?: number;
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** Makes input and turn ids (default: a random per-runtime prefix plus a counter). The simulation passes a seeded one. */
  readonly ids?: () => string;
  /** How sends wake the scheduler (default: in-process). */
  readonly wakes?: WakeChannel;
  /** How the dispatcher yields between slices (default `setImmediate`). */
  readonly yieldToLoop?: (next: () => void) => void;
  /** Caps, retention, budget and merging of background children. */
  readonly delegation?: DelegationOptions;
  /** Models a delegation spec may name (`spec.model`) instead of its agent's model. */
  readonly models?: Readonly<Record<string, Model>>;
}

export interface ResolvedOptions {
  readonly agents: ReadonlyMap<string, Agent>;
  readonly store: Store | undefined;
  readonly limits: Limits;
  readonly pollIntervalMs: number;
  readonly slotQuantumMs: number;
  readonly hogThresholdMs: number;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly ids: () => string;
  readonly wakes: WakeChannel | undefined;
  readonly yieldToLoop: ((next: () => void) => void) | undefined;
  readonly delegation: DelegationOptions;
  readonly models: ReadonlyMap<string, Model>;
}

const AGENT_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;

export function resolveOptions(options: RuntimeOptions): ResolvedOptions {
  if (typeof options !== "object" || options === null) fail("options", options, "an object");
  const { agents } = options;
  if (typeof agents !== "object" || agents === null) fail("agents", agents, "an object of agents by name");
  const byName = new Map<string, Agent>();
  for (const [name, agent] of Object.entries(agents)) {
    if (!AGENT_NAME.test(name)) fail("agent name", name, "1-128 letters, digits, or _ . : -");
    checkAgent(name, agent);
    byName.set(name, agent);
  }
  if (byName.size === 0) fail("agents", agents, "at least one agent");
  const limits: Limits = { ...DEFAULT_LIMITS };
  if (options.limits !== undefined && (typeof options.limits !== "object" || options.limits === null))
    fail("limits", options.limits, "an object of limits by name");
  for (const [key, value] of Object.entries(options.limits ?? {})) {
    if (!(key in DEFAULT_LIMITS))
      fail(`limits.${key}`, value, `one of ${Object.keys(DEFAULT_LIMITS).join(", ")}`);
    positiveInteger(`limits.${key}`, value);
    (limits as unknown as Record<string, number>)[key] = value as number;
  }
  const pollIntervalMs = options.pollIntervalMs ?? 400;
  positiveInteger("pollIntervalMs", pollIntervalMs);
  const slotQuantumMs = options.slotQuantumMs ?? 10;
  if (typeof slotQuantumMs !== "number" || !Number.isSafeInteger(slotQuantumMs) || slotQuantumMs < 0)
    fail("slotQuantumMs", slotQuantumMs, "an integer number of milliseconds >= 0");
  const hogThresholdMs = options.hogThresholdMs ?? 50;
  positiveInteger("hogThresholdMs", hogThresholdMs);
  if (options.store !== undefined && typeof options.store?.open !== "function") {
    fail("store", options.store, "a Store (createMemoryStore(), createSqliteStore(...))");
  }
  if (options.ids !== undefined && typeof options.ids !== "function") fail("ids", options.ids, "a function");
  const { logger, clock, wakes, yieldToLoop } = options;
  if (logger !== undefined && !hasMethods(logger, ["warn", "error"]))
    fail("logger", logger, "a Logger with warn() and error() (a pino logger works)");
  if (clock !== undefined && !hasMethods(clock, ["monotonicMs", "epochMs", "setTimeout", "clearTimeout"]))
    fail("clock", clock, "a Clock (systemClock, or VirtualClock from offstage/testing)");
  if (wakes !== undefined && !hasMethods(wakes, ["notify", "subscribe"]))
    fail("wakes", wakes, "a WakeChannel with notify() and subscribe()");
  if (yieldToLoop !== undefined && typeof yieldToLoop !== "function")
    fail("yieldToLoop", yieldToLoop, "a function");
  const models = new Map<string, Model>();
  if (options.models !== undefined && (typeof options.models !== "object" || options.models === null))
    fail("models", options.models, "an object of models by name");
  for (const [name, model] of Object.entries(options.models ?? {})) {
    if (typeof model?.stream !== "function") fail(`models.${name}`, model, "a Model with stream()");
    models.set(name, model);
  }
  return {
    agents: byName,
    store: options.store,
    limits,
    pollIntervalMs,
    slotQuantumMs,
    hogThresholdMs,
    logger: options.logger ?? stderrLogger,
    clock: options.clock ?? systemClock,
    ids: options.ids ?? processIds(),
    wakes: options.wakes,
    yieldToLoop: options.yieldToLoop,
    delegation: checkDelegation(options.delegation),
    models,
  };
}

function checkDelegation(delegation: DelegationOptions | undefined): DelegationOptions {
  if (delegation === undefined) return {};
  if (typeof delegation !== "object" || delegation === null)
    fail("delegation", delegation, "an object of delegation options");
  const integers = [
    "runningMax",
    "perParentRunningMax",
    "depthMax",
    "keepPerParent",
    "staleAfterMs",
  ] as const;
  for (const key of integers) {
    if (delegation[key] !== undefined) positiveInteger(`delegation.${key}`, delegation[key]);
  }
  if (delegation.mergeCompletions !== undefined && typeof delegation.mergeCompletions !== "boolean")
    fail("delegation.mergeCompletions", delegation.mergeCompletions, "a boolean");
  const budget = delegation.budget;
  if (budget !== undefined) {
    if (typeof budget !== "object" || budget === null) fail("delegation.budget", budget, "an object");
    for (const key of ["modelCallsMax", "tokensMax"] as const) {
      if (budget[key] !== undefined) positiveInteger(`delegation.budget.${key}`, budget[key]);
    }
  }
  return delegation;
}

/**
 * Ids unique across processes and restarts: a random per-runtime prefix and a counter. Cheaper than
 * a UUID per input and turn, which the throughput benchmark feels.
 */
function processIds(): () => string {
  const prefix = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
  let counter = 0;
  // `toLowerCase()` changes nothing here (hex and base 36 are lower case already) but returns the
  // concatenation as one flat string: V8 keeps a joined string this long as a two-part rope, two
  // objects instead of one in every queued input and every turn, for each scavenge to copy.
  return () => `${prefix}${(counter++).toString(36)}`.toLowerCase();
}

function checkAgent(name: string, agent: Agent): void {
  if (typeof agent !== "object" || agent === null) fail(`agents.${name}`, agent, "an agent object");
  if (!isFunctionAgent(agent)) {
    if (typeof agent.model?.stream !== "function") {
      fail(`agents.${name}`, agent, "a model agent ({ model }) or a function agent ({ run })");
    }
    for (const key of ["modelCallsPerTurnMax", "toolCallsPerStepMax", "maxOutputTokens"] as const) {
      if (agent[key] !== undefined) positiveInteger(`agents.${name}.${key}`, agent[key]);
    }
    if (agent.delegates !== undefined && typeof agent.delegates !== "boolean")
      fail(`agents.${name}.delegates`, agent.delegates, "a boolean");
    if (agent.system !== undefined && typeof agent.system !== "string")
      fail(`agents.${name}.system`, agent.system, "a string");
    checkTools(name, agent);
  }
  if (agent.onCrash !== undefined && agent.onCrash !== "resume" && agent.onCrash !== "fail") {
    fail(`agents.${name}.onCrash`, agent.onCrash, `"resume" or "fail"`);
  }
  if (agent.maxAttempts !== undefined) positiveInteger(`agents.${name}.maxAttempts`, agent.maxAttempts);
}

/** The agent's tools, as the runtime's registry will take them (with `delegate` added if it delegates). */
function checkTools(name: string, agent: ModelAgent): void {
  const tools = agent.tools ?? [];
  try {
    createToolRegistry(tools);
  } catch (error) {
    throw new BootError("INVALID_OPTIONS", `invalid agents.${name}.${(error as Error).message}`, {
      details: { option: `agents.${name}.tools` },
    });
  }
  for (const [i, tool] of tools.entries()) {
    if (tool.timeoutMs !== undefined) positiveInteger(`agents.${name}.tools[${i}].timeoutMs`, tool.timeoutMs);
    if (agent.delegates === true && tool.name === "delegate")
      fail(`agents.${name}.tools[${i}].name`, tool.name, "a name other than delegate (the agent delegates)");
  }
}

function hasMethods(value: unknown, methods: readonly string[]): boolean {
  if (typeof value !== "object" || value === null) return false;
  return methods.every((m) => typeof (value as Record<string, unknown>)[m] === "function");
}

function positiveInteger(what: string, value: unknown): void {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0)
    fail(what, value, "a positive integer");
}

function fail(what: string, value: unknown, expected: string): never {
  throw new BootError("INVALID_OPTIONS", `invalid ${what}: ${describeValue(value)}; expected ${expected}`, {
    details: { option: what },
  });
}
