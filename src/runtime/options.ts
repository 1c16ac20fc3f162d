/**
 * Runtime options and their validation (each agent's checks are in `agent-options.ts`). Bad options
 * throw `BootError` `INVALID_OPTIONS` from `createRuntime`, before anything starts; the message
 * quotes the offending value.
 *
 * @packageDocumentation
 */
import { isOffstageError } from "../errors.js";
import { DEFAULT_LIMITS, DEFAULTS, type Limits } from "../kernel/limits.js";
import {
  checkDurationMs,
  checkFunction,
  checkObject,
  checkOptions,
  checkPositiveInteger,
  fail,
  hasMethods,
  optionsOf,
  type Subject,
  unreadable,
} from "../validate.js";
import type { Agent } from "./agent.js";
import { checkAgents, checkExecutors } from "./agent-options.js";
import { type Clock, systemClock } from "./clock.js";
import {
  type DelegationOptions,
  type ResolvedDelegationOptions,
  resolveDelegationOptions,
} from "./delegation/delegation-options.js";
import {
  type EventLogOptions,
  type ResolvedEventLogOptions,
  resolveEventLogOptions,
} from "./event-log-options.js";
import { type Logger, stderrLogger } from "./logger.js";
import { checkProviders } from "./model-agent-options.js";
import type { HostExecutor } from "./ports/host-executor.js";
import type { Model } from "./ports/model.js";
import type { ModelResolver, ProviderSettings } from "./ports/model-resolver.js";
import type { Store } from "./ports/store.js";
import type { Telemetry } from "./ports/telemetry.js";
import type { WorkerExecutor } from "./ports/worker-executor.js";
import { createLocalWakeChannel, type WakeChannel } from "./wake-channel.js";

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
   * its data is still at hand, which is worth about 1.2x the throughput of a saturated runtime.
   */
  readonly slotQuantumMs?: number;
  /** A synchronous job holding the thread longer than this is reported (default 50 ms). */
  readonly hogThresholdMs?: number;
  /**
   * Where the runtime logs, with levels and structured fields (default: warnings and errors to
   * stderr). A `pino` logger fits as it is; secrets are redacted before it sees a line.
   */
  readonly logger?: Logger;
  /**
   * Traces and GenAI metrics of turns, model calls and tool calls (default: none, at no cost). Pass
   * `otelTelemetry()` from `offstage/otel` to report through `@opentelemetry/api`.
   */
  readonly telemetry?: Telemetry;
  readonly clock?: Clock;
  /** Makes input and turn ids (default: a random per-runtime prefix plus a counter). The simulation passes a seeded one. */
  readonly ids?: () => string;
  /** How sends wake the scheduler (default: in-process). */
  readonly wakes?: WakeChannel;
  /** How the dispatcher yields between slices (default `setImmediate`). */
  readonly yieldToLoop?: (next: () => void) => void;
  /** Caps, retention, budget and merging of background children. */
  readonly delegation?: DelegationOptions;
  /** Models a delegation spec may name (`spec.model`) instead of its agent's model: models or model names. */
  readonly models?: Readonly<Record<string, Model | string>>;
  /**
   * Provider settings for models named by strings (`{ openai: { apiKey, baseURL } }`); each wins
   * over the provider's environment variable.
   */
  readonly providers?: Readonly<Record<string, ProviderSettings>>;
  /** Resolves model names at start (default, from `createRuntime`: the installed AI SDK providers). */
  readonly modelResolver?: ModelResolver;
  /** Random numbers in [0, 1) for retry jitter (default `Math.random`). The simulation passes a seeded one. */
  readonly random?: () => number;
  /**
   * Where calls of tools with `executor: "host"` wait for the host's thread: `createHostQueue()`,
   * drained by the host's loop. Required when an agent has such a tool.
   */
  readonly host?: HostExecutor;
  /**
   * Where calls of tools with `executor: "worker"` run: `createWorkerPool()` from `offstage/workers`.
   * Required when an agent has such a tool.
   */
  readonly workers?: WorkerExecutor;
  /**
   * Records each session's events in the store (numbered per session, the oldest trimmed), so that
   * `session.events({ after })` and `handle.events({ from: "start" })` replay them, across restarts
   * (default off, at no cost). Needs a store with an event log (memory, SQLite).
   */
  readonly eventLog?: EventLogOptions | boolean;
}

export interface ResolvedOptions {
  readonly agents: ReadonlyMap<string, Agent>;
  readonly store: Store | undefined;
  readonly limits: Limits;
  readonly pollIntervalMs: number;
  readonly slotQuantumMs: number;
  readonly hogThresholdMs: number;
  readonly logger: Logger;
  readonly telemetry: Telemetry | undefined;
  readonly clock: Clock;
  readonly ids: () => string;
  readonly wakes: WakeChannel;
  readonly yieldToLoop: ((next: () => void) => void) | undefined;
  readonly delegation: ResolvedDelegationOptions;
  readonly models: ReadonlyMap<string, Model | string>;
  readonly providers: Readonly<Record<string, ProviderSettings>>;
  readonly modelResolver: ModelResolver | undefined;
  readonly random: () => number;
  readonly host: HostExecutor | undefined;
  readonly workers: WorkerExecutor | undefined;
  readonly eventLog: ResolvedEventLogOptions | undefined;
}

const OPTIONS: Subject = optionsOf("createRuntime()");

/**
 * The keys each options object may have; any other is refused (a misspelt option would silently
 * do nothing). Records over the interfaces' keys, so adding an option without listing it fails to
 * compile.
 */
const RUNTIME_KEYS = Object.keys({
  agents: true,
  store: true,
  limits: true,
  pollIntervalMs: true,
  slotQuantumMs: true,
  hogThresholdMs: true,
  logger: true,
  clock: true,
  ids: true,
  wakes: true,
  yieldToLoop: true,
  delegation: true,
  models: true,
  telemetry: true,
  providers: true,
  modelResolver: true,
  random: true,
  host: true,
  workers: true,
  eventLog: true,
} satisfies Record<keyof RuntimeOptions, true>);
const LIMIT_KEYS = Object.keys(DEFAULT_LIMITS);

/** Checks the options of `createRuntime` and applies the defaults; throws `BootError` `INVALID_OPTIONS`. */
export function resolveOptions(options: RuntimeOptions): ResolvedOptions {
  try {
    return resolve(options);
  } catch (error) {
    if (isOffstageError(error)) throw error;
    // Reading what the caller handed in threw (a getter, a proxy): that is a bad option too.
    throw unreadable(OPTIONS, "options", error);
  }
}

function resolve(given: RuntimeOptions): ResolvedOptions {
  const options = checkOptions(OPTIONS, "options", given, RUNTIME_KEYS);
  const { agents } = options;
  checkObject(OPTIONS, "agents", agents, "an object of agents by name");
  const byName = checkAgents(OPTIONS, agents);
  const pollIntervalMs = options.pollIntervalMs ?? DEFAULTS.pollIntervalMs;
  checkDurationMs(OPTIONS, "pollIntervalMs", pollIntervalMs, { min: 1, integer: true });
  const slotQuantumMs = options.slotQuantumMs ?? DEFAULTS.slotQuantumMs;
  checkDurationMs(OPTIONS, "slotQuantumMs", slotQuantumMs, { integer: true });
  const hogThresholdMs = options.hogThresholdMs ?? DEFAULTS.hogThresholdMs;
  checkDurationMs(OPTIONS, "hogThresholdMs", hogThresholdMs, { min: 1, integer: true });
  const { store, ids, logger, clock, wakes, yieldToLoop, telemetry } = options;
  if (store !== undefined && !hasMethods(store, ["open"]))
    fail(OPTIONS, "store", store, "a Store (createMemoryStore(), createSqliteStore(...))");
  if (ids !== undefined) checkFunction(OPTIONS, "ids", ids);
  if (logger !== undefined && !hasMethods(logger, ["warn", "error"]))
    fail(OPTIONS, "logger", logger, "a Logger with warn() and error() (a pino logger works)");
  if (
    telemetry !== undefined &&
    !hasMethods(telemetry, ["captureContext", "startTurn", "attach", "toCarrier", "fromCarrier"])
  )
    fail(OPTIONS, "telemetry", telemetry, "a Telemetry adapter (otelTelemetry() from offstage/otel)");
  if (clock !== undefined && !hasMethods(clock, ["monotonicMs", "epochMs", "setTimeout", "clearTimeout"]))
    fail(OPTIONS, "clock", clock, "a Clock (systemClock, or VirtualClock from offstage/testing)");
  if (wakes !== undefined && !hasMethods(wakes, ["notify", "subscribe"]))
    fail(OPTIONS, "wakes", wakes, "a WakeChannel with notify() and subscribe()");
  if (yieldToLoop !== undefined) checkFunction(OPTIONS, "yieldToLoop", yieldToLoop);
  const { providers, modelResolver, random } = options;
  if (providers !== undefined) checkProviders(OPTIONS, providers);
  if (modelResolver !== undefined && !hasMethods(modelResolver, ["resolve"]))
    fail(OPTIONS, "modelResolver", modelResolver, "a ModelResolver with resolve()");
  if (random !== undefined) checkFunction(OPTIONS, "random", random);
  const { host, workers } = options;
  if (host !== undefined && !hasMethods(host, ["submit", "metrics"]))
    fail(OPTIONS, "host", host, "a HostExecutor (createHostQueue())");
  if (workers !== undefined && !hasMethods(workers, ["run"]))
    fail(OPTIONS, "workers", workers, "a WorkerExecutor (createWorkerPool() from offstage/workers)");
  checkExecutors(OPTIONS, byName, host, workers);
  return {
    agents: byName,
    store,
    limits: resolveLimits(options.limits),
    pollIntervalMs,
    slotQuantumMs,
    hogThresholdMs,
    logger: logger ?? stderrLogger,
    telemetry,
    clock: clock ?? systemClock,
    ids: ids ?? processIds(),
    wakes: wakes ?? createLocalWakeChannel(),
    yieldToLoop,
    delegation: resolveDelegationOptions(OPTIONS, options.delegation),
    models: resolveModels(options.models),
    providers: providers ?? {},
    modelResolver,
    random: random ?? Math.random,
    host,
    workers,
    eventLog: resolveEventLogOptions(OPTIONS, options.eventLog),
  };
}

function resolveLimits(given: Partial<Limits> | undefined): Limits {
  if (given === undefined) return DEFAULT_LIMITS;
  const copy = checkOptions(OPTIONS, "limits", given, LIMIT_KEYS, "an object of limits by name");
  const limits: Record<string, number> = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(copy)) {
    // A duration becomes a timer: beyond what a timer honours it would fire at once.
    if (key.endsWith("Ms")) checkDurationMs(OPTIONS, `limits.${key}`, value, { min: 1, integer: true });
    else checkPositiveInteger(OPTIONS, `limits.${key}`, value);
    limits[key] = value;
  }
  return limits as unknown as Limits;
}

function resolveModels(
  given: Readonly<Record<string, Model | string>> | undefined,
): ReadonlyMap<string, Model | string> {
  const models = new Map<string, Model | string>();
  if (given === undefined) return models;
  checkObject(OPTIONS, "models", given, "an object of models by name");
  for (const [name, model] of Object.entries(given)) {
    if (typeof model !== "string" && typeof model?.stream !== "function")
      fail(OPTIONS, `models.${name}`, model, "a Model with stream(), or a model name");
    models.set(name, model);
  }
  return models;
}

/**
 * Ids unique across processes and restarts: a random per-runtime prefix and a counter. Cheaper than
 * a UUID per input and turn.
 */
function processIds(): () => string {
  const prefix = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
  let counter = 0;
  // `toLowerCase()` flattens the concatenation into one string (bench/NOTES.md: flat ids).
  return () => `${prefix}${(counter++).toString(36)}`.toLowerCase();
}
