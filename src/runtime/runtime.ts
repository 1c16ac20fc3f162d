/**
 * The runtime: drives sessions' turns in the background so the host never waits.
 *
 * This file is the facade and the wiring. The work is done by parts, each in its own file: the boot
 * chain (`boot.ts`) and the stop (`shutdown.ts`); intake of input (`intake.ts`); the scheduler
 * (`scheduler.ts`), which begins turns, and the turn driver (`turn-driver.ts`), which runs them; the
 * commit gate (`commit-gate.ts`), which tells nobody about a write before it is committed; the event
 * bus; and the background children (`delegation/`). The kernel decides (inbox policy, scheduler,
 * turn machine) and the parts perform what it decides. State changes happen in dispatcher jobs or in
 * the synchronous part of a public call.
 *
 * @packageDocumentation
 */
import { markAsUncloneable } from "node:worker_threads";
import { BootError, InvalidInputError, OffstageError } from "../errors.js";
import { DEFAULTS } from "../kernel/limits.js";
import { describeCause } from "../kernel/outcome.js";
import type { StopStatus } from "../kernel/shutdown/stop-status.js";
import {
  argumentsOf,
  checkBoolean,
  checkDurationMs,
  checkFunction,
  checkId,
  checkOptions,
  fail,
  optionsOf,
  type Subject,
} from "../validate.js";
import { isFunctionAgent } from "./agent.js";
import { boot } from "./boot.js";
import { systemClock } from "./clock.js";
import { CommitGate } from "./commit-gate.js";
import { Children } from "./delegation/children.js";
import { Delegations } from "./delegation/delegations.js";
import { Dispatcher, type HogSource } from "./dispatcher.js";
import { EventBus } from "./event-bus.js";
import type { EventListener } from "./events.js";
import { GuardedStore } from "./guarded-store.js";
import { Intake } from "./intake.js";
import { KeepAlive } from "./keep-alive.js";
import { LeaseKeeper } from "./lease-keeper.js";
import { RuntimeLog } from "./logger.js";
import { MetricsCounters, type RuntimeMetrics, snapshotMetrics } from "./metrics.js";
import { ModelTable } from "./model-table.js";
import { Observer } from "./observer.js";
import { type ResolvedOptions, type RuntimeOptions, resolveOptions } from "./options.js";
import type { RuntimeParts } from "./parts.js";
import type { ModelResolver } from "./ports/model-resolver.js";
import type { Receipt, Store } from "./ports/store.js";
import { QueuedRecovery } from "./queued-recovery.js";
import { RunState, type RuntimeState } from "./run-state.js";
import { Scheduler } from "./scheduler.js";
import { Session } from "./session.js";
import { SessionEvents } from "./session-events.js";
import { SessionTable } from "./session-table.js";
import { shutdown } from "./shutdown.js";
import { StoreHealth } from "./store-health.js";
import { TurnDriver } from "./turn-driver.js";
import type { TurnHandle } from "./turn-handle.js";
import { WaitGraph } from "./turn-scope.js";

export type { RuntimeState } from "./run-state.js";

/** Options of {@link Runtime.stop}. */
export interface StopOptions {
  /** Finish queued and running work before stopping (default false: interrupt running turns). */
  readonly drain?: boolean;
  /** Deadline for the drain and for calls to return after their abort (default 10 000 ms). */
  readonly timeoutMs?: number;
  /** At the deadline, terminate executors that can be killed (worker pools) and report `force_killed`. */
  readonly force?: boolean;
}

/** Options of {@link Runtime.session}. */
export interface SessionOptions {
  /** The agent that runs the session's turns; required the first time a session is used. */
  readonly agent?: string;
}

const STOP: Subject = argumentsOf("stop()");
const SESSION: Subject = argumentsOf("session()");
const STOP_KEYS = Object.keys({ drain: true, timeoutMs: true, force: true } satisfies Record<
  keyof StopOptions,
  true
>);
const SESSION_KEYS = Object.keys({ agent: true } satisfies Record<keyof SessionOptions, true>);

/**
 * Creates a runtime on `options.store`, or on the store `defaultStore` makes when none is given, and
 * with `options.modelResolver`, or `defaultResolver`, for models named by strings. Validates options
 * (throws `BootError` `INVALID_OPTIONS`); starts nothing.
 *
 * @internal The package entry passes its defaults; applications call `createRuntime`.
 */
export function createRuntimeWith(
  options: RuntimeOptions,
  defaultStore: () => Store,
  defaultResolver?: ModelResolver,
): Runtime {
  const resolved = resolveOptions(options);
  return new Runtime(resolved, resolved.store ?? defaultStore(), resolved.modelResolver ?? defaultResolver);
}

/** A runtime: see `createRuntime`. */
export class Runtime implements AsyncDisposable {
  readonly #parts: RuntimeParts;
  readonly #delegations: Delegations | undefined;
  #starting: Promise<void> | undefined;
  #stopping: Promise<StopStatus> | undefined;

  /** @internal Use `createRuntime`. */
  constructor(options: ResolvedOptions, store: Store, resolver?: ModelResolver) {
    const parts = wire(options, store, resolver);
    this.#parts = parts;
    markAsUncloneable(this);
    this.#delegations = parts.children === undefined ? undefined : new Delegations(parts, parts.children);
    for (const [name, agent] of options.agents) {
      if (!isFunctionAgent(agent) && agent.delegates === true && parts.children === undefined) {
        fail(
          optionsOf("createRuntime()"),
          `agents.${name}.delegates`,
          agent.delegates,
          `false with the ${store.kind} store, which keeps no delegation log`,
        );
      }
    }
  }

  /**
   * Background children: `list()`, `get(id)`, `cancel(id)`, `interruptAll(reason)`,
   * `stopChildren(parent)`, and the completions held after downtime. Throws `OffstageError`
   * `DELEGATION_UNSUPPORTED` when the store keeps no delegation log.
   */
  get delegations(): Delegations {
    if (this.#delegations === undefined)
      throw new OffstageError(
        "DELEGATION_UNSUPPORTED",
        `the ${this.#parts.store.kind} store keeps no delegation log`,
      );
    return this.#delegations;
  }

  /** Where the runtime is in its lifecycle; `degraded` while its store fails (see {@link RuntimeState}). */
  get state(): RuntimeState {
    return this.#parts.run.state;
  }

  /** What an accepted input's receipt will say once committed: `stored` or `durable`. */
  get receipt(): Receipt {
    return this.#parts.store.receipt;
  }

  /**
   * Runs the boot chain: opens (and migrates) the store, recovers stored work (queued inputs are
   * driven; turns cut short by a crash resume or fail per their agent's `onCrash`), then starts the
   * scheduler and its recovery poll. Throws `BootError` and leaves nothing running on failure.
   */
  start(): Promise<void> {
    const { run } = this.#parts;
    if (run.state === "running" || run.state === "starting" || run.state === "degraded")
      return Promise.reject(new BootError("ALREADY_STARTED", `runtime is already ${run.state}`));
    if (run.state === "stopping")
      return Promise.reject(new BootError("STOPPING", "runtime is stopping; await stop() before start()"));
    this.#stopping = undefined;
    run.state = "starting";
    this.#parts.health.started();
    this.#starting = boot(this.#parts).catch((error: unknown) => {
      run.state = "stopped";
      throw error instanceof BootError
        ? error
        : new BootError("BOOT_FAILED", `boot failed: ${describeCause(error)}`, {
            cause: error,
          });
    });
    return this.#starting;
  }

  /**
   * Stops the runtime and reports what happened: `clean`, `drained_with_discards` (drain asked, work
   * left at the deadline), `timeout` (calls ignored their abort and were abandoned), `force_killed`,
   * or `store_failed` (the store failed and has not worked since: the `runtime.stopped` event says how
   * many inputs were never written). Stopping a `degraded` runtime returns at once.
   * Without `drain`, running turns end `interrupted` (`runtime_stopped`). Queued inputs stay stored
   * and run after the next start; their in-process handles settle `interrupted` now, so no waiter
   * hangs. Idempotent: a second call returns the first call's promise.
   */
  stop(options: StopOptions = {}): Promise<StopStatus> {
    let given: StopOptions;
    try {
      given = checkOptions(STOP, "options", options, STOP_KEYS);
      const { drain, force, timeoutMs } = given;
      if (timeoutMs !== undefined) checkDurationMs(STOP, "timeoutMs", timeoutMs);
      if (drain !== undefined) checkBoolean(STOP, "drain", drain);
      if (force !== undefined) checkBoolean(STOP, "force", force);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#stopping !== undefined) return this.#stopping;
    const { state } = this.#parts.run;
    if (state === "created" || state === "stopped") return Promise.resolve("clean");
    // Kept until the next start(), so every later stop() returns this same promise.
    this.#stopping = this.#stop(
      given.drain === true,
      given.timeoutMs ?? DEFAULTS.stopTimeoutMs,
      given.force === true,
    );
    return this.#stopping;
  }

  /** `await using runtime = createRuntime(...)` stops it (without drain) at scope exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
    await this.#parts.store.close();
  }

  /**
   * Gets a session, creating it on first use with the named agent; on a store processes share, one
   * another process created is found there without `agent` (one read). Throws `InvalidInputError`
   * (`INVALID_ARGUMENT`, `UNKNOWN_AGENT`, `UNKNOWN_SESSION` when a new session names no agent) and
   * `OffstageError` `NOT_RUNNING` before `start()`.
   */
  session(id: string, options: SessionOptions = {}): Session {
    const { run, options: resolved, sessions, store, dispatcher } = this.#parts;
    run.assertAccepting();
    checkId(SESSION, "session id", id);
    const agentName = checkOptions(SESSION, "options", options, SESSION_KEYS).agent;
    if (agentName !== undefined && !resolved.agents.has(agentName))
      fail(SESSION, "agent", agentName, `one of the agents (${[...resolved.agents.keys()].join(", ")})`, {
        code: "UNKNOWN_AGENT",
      });
    let entry = sessions.get(id);
    if (entry === undefined) {
      if (id.includes(">"))
        fail(SESSION, "session id", id, 'free of ">" (reserved for the sessions of background children)');
      if (agentName !== undefined) {
        entry = sessions.add(id, agentName);
        store.createSession({ id, agent: agentName, createdAtMs: dispatcher.epochNow() });
      } else {
        // On a store shared by processes, another one may have made it since this one started.
        const made = this.#parts.leaseKeeper?.lookup(id);
        if (made === undefined || !resolved.agents.has(made.agent))
          throw new InvalidInputError(
            "UNKNOWN_SESSION",
            `no session ${JSON.stringify(id)}; pass { agent } to create it`,
          );
        entry = sessions.add(id, made.agent);
      }
    } else if (agentName !== undefined && agentName !== entry.agentName) {
      fail(
        SESSION,
        "agent",
        agentName,
        `${JSON.stringify(entry.agentName)}, the agent of session ${JSON.stringify(id)}`,
      );
    }
    entry.facade ??= new Session(this.#parts, entry);
    return entry.facade;
  }

  /** Ids of every known session. */
  sessionIds(): string[] {
    return this.#parts.sessions.ids();
  }

  /**
   * A handle for an input by id: the live handle while it is queued or running (or its end waits
   * for its commit), else a settled handle built from the store (for inputs accepted before a
   * restart). `undefined` when unknown.
   */
  handle(inputId: string): TurnHandle | undefined {
    checkId(argumentsOf("handle()"), "input id", inputId);
    return this.#parts.intake.handle(inputId);
  }

  /**
   * Counters, gauges and latency percentiles: dispatcher lag, send→start, model and tool calls by
   * name, tokens by agent and model, retries, cancel→settled. `renderPrometheus(runtime.metrics())`
   * renders them in the Prometheus text format.
   */
  metrics(): RuntimeMetrics {
    return snapshotMetrics(this.#parts);
  }

  /** Subscribes to the event stream; returns a function that unsubscribes. */
  on(listener: EventListener): () => void {
    checkFunction(argumentsOf("on()"), "listener", listener);
    return this.#parts.events.on(listener);
  }

  async #stop(drain: boolean, timeoutMs: number, force: boolean): Promise<StopStatus> {
    const { run } = this.#parts;
    if (run.state === "starting") await this.#starting?.catch(() => undefined);
    // A probe of a failed store in flight finishes first: it may bring the runtime back to running.
    const probing = this.#parts.health.probing;
    if (probing !== undefined) await probing;
    if (run.state !== "running" && run.state !== "degraded") return "clean";
    return shutdown(this.#parts, drain, timeoutMs, force);
  }
}

/** Makes the parts of a runtime and hands each the others (see `parts.ts`). */
function wire(options: ResolvedOptions, store: Store, resolver: ModelResolver | undefined): RuntimeParts {
  const { clock } = options;
  const log = new RuntimeLog(options.logger);
  const events = new EventBus(log);
  const parts = {
    options,
    limits: options.limits,
    clock,
    run: new RunState(),
    log,
    events,
    metrics: new MetricsCounters(clock),
    models: new ModelTable(resolver),
    dispatcher: new Dispatcher({
      clock,
      hogThresholdMs: options.hogThresholdMs,
      sliceMs: DEFAULTS.dispatcherSliceMs,
      onHog: ({ label, durationMs, source }) => {
        log.warn({ label, durationMs, source }, hogMessage(label, durationMs, source));
        events.emit({ type: "dispatcher.hog", label, durationMs, source });
      },
      watchStalls: clock === systemClock,
      onJobError: (label, error) => events.report(`dispatcher job ${label}`, error),
      ...(options.yieldToLoop === undefined ? {} : { yieldToLoop: options.yieldToLoop }),
    }),
  } as { -readonly [K in keyof RuntimeParts]: RuntimeParts[K] };
  parts.store = new GuardedStore(store, parts);
  parts.health = new StoreHealth(parts);
  parts.observer = new Observer(parts);
  parts.sessions = new SessionTable(parts);
  parts.gate = new CommitGate(parts);
  parts.intake = new Intake(parts);
  parts.scheduler = new Scheduler(parts);
  parts.driver = new TurnDriver(parts);
  const delegations = parts.store.delegations;
  parts.children = delegations === undefined ? undefined : new Children(parts, delegations);
  parts.waits = new WaitGraph();
  parts.keepAlive = new KeepAlive(parts);
  parts.recovery = new QueuedRecovery(parts);
  parts.sessionEvents = sessionEventsOf(parts, options, parts.store);
  parts.leaseKeeper = store.leases === undefined ? undefined : new LeaseKeeper(parts, store.leases);
  return parts;
}

/** The recorder of session events when the options ask for one, listening from now on. */
function sessionEventsOf(
  parts: RuntimeParts,
  options: ResolvedOptions,
  store: Store,
): SessionEvents | undefined {
  if (options.eventLog === undefined) return undefined;
  if (store.eventLog === undefined)
    fail(
      optionsOf("start()"),
      "eventLog",
      options.eventLog,
      `unset with the ${store.kind} store, which keeps no event log`,
    );
  const recorder = new SessionEvents(parts, store.eventLog, options.eventLog);
  parts.events.on(recorder.record);
  return recorder;
}

/** The log line of a hog, saying what held the thread: a job, a call's own code, or a stall while calls ran. */
function hogMessage(label: string, durationMs: number, source: HogSource): string {
  const ms = durationMs.toFixed(1);
  switch (source) {
    case "job":
      return `dispatcher job "${label}" held the thread for ${ms} ms`;
    case "call":
      return `${label} held the thread for ${ms} ms (its own synchronous code)`;
    case "stall":
      return `${label} was in flight while something held the thread for ${ms} ms (its code after an await, or the host's own code)`;
  }
}
