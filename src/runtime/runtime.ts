/**
 * The runtime: drives sessions' turns in the background so the host never waits.
 *
 * Lifecycle, as a state union: `created` → `start()` → `starting` (boot chain: open and migrate the
 * store, recover stored work) → `running` → `stop()` → `stopping` → `stopped` → `start()` again. A
 * failing boot chain throws `BootError` and returns to `stopped` with nothing running.
 *
 * State changes happen in dispatcher jobs or in the synchronous part of a public call; the kernel
 * decides (inbox policy, scheduler, turn machine) and this file performs what it decides. A turn's
 * end is written to the store and committed *before* its handles settle and its session is driven
 * again, so nobody is told about work a crash could still lose.
 *
 * This file is larger than most because it is the one place that ties the kernel's decisions to the
 * store, the handles and the turn runner; splitting it would scatter that story.
 *
 * @packageDocumentation
 */
import { BootError, CapacityError, describeValue, InvalidInputError, OffstageError } from "../errors.js";
import type { Limits } from "../kernel/limits.js";
import { type Message, systemMessage, userMessage } from "../kernel/messages.js";
import type { Reason, TerminalStatus, TurnOutcome } from "../kernel/outcome.js";
import {
  continueRun,
  createScheduler,
  offer,
  type Schedulable,
  type SchedulerState,
  takeReady,
  turnEnded,
  turnStarted,
} from "../kernel/scheduler/scheduler.js";
import {
  abandonTurn,
  accept,
  beginTurn,
  endTurn,
  type InboxState,
  POLICIES,
  type Policy,
  withdraw,
} from "../kernel/session/inbox.js";
import { type StopStatus, stopStatus } from "../kernel/shutdown/stop-status.js";
import {
  type CancelMode,
  type CancelRequest,
  type TurnEvent as KernelEvent,
  type NewTurn,
  stepTurn,
  TurnState,
} from "../kernel/turn/turn-machine.js";
import { createSqliteStore } from "../store/sqlite/sqlite-store.js";
import { createDelegateTool } from "../tools/builtin/delegate-tool.js";
import { createToolRegistry, type ToolRegistry } from "../tools/tool-registry.js";
import { type Agent, isFunctionAgent, type ModelAgent } from "./agent.js";
import type { TimerToken } from "./clock.js";
import { type DelegateResult, type DelegateSpec, Delegations } from "./delegations.js";
import { Dispatcher, type Stamp } from "./dispatcher.js";
import type { EventListener, RuntimeEvent, TurnEvent } from "./events.js";
import { LiveInput } from "./live-input.js";
import { MetricsCounters, type RuntimeMetrics } from "./metrics.js";
import { type ResolvedOptions, type RuntimeOptions, resolveOptions } from "./options.js";
import type {
  InputRecord,
  InputSnapshot,
  InterruptedTurn,
  RecoveredState,
  SessionSlot,
  Store,
} from "./ports/store.js";
import { type SendOptions, Session, type SessionOwner } from "./session.js";
import { type HandleOwner, type ResultOptions, TurnHandle, type TurnResult } from "./turn-handle.js";
import { type ActiveTurn, callModel, runFunction, runTools, type TurnHost } from "./turn-runner.js";
import { assertNotInTurnOf } from "./turn-scope.js";
import { createLocalWakeChannel, type WakeChannel } from "./wake-channel.js";

/** Where the runtime is in its lifecycle. */
export type RuntimeState = "created" | "starting" | "running" | "stopping" | "stopped";

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

/** A session in this process. It is its own inbox state (one object fewer to reach per turn). */
interface SessionEntry extends Schedulable, InboxState<LiveInput>, SessionSlot {
  readonly id: string;
  readonly agentName: string;
  /** The named agent, or a background child's agent derived from it. */
  readonly agent: Agent;
  /** The agent's tools; `undefined` for function agents. */
  readonly tools: ToolRegistry | undefined;
  /** The agent's system prompt as the message that opens every prompt (built once, shared). */
  readonly system: Message | undefined;
  /** The committed history, cached while the session has work. */
  history: Message[] | undefined;
  active: ActiveTurn | undefined;
  wakePending: boolean;
  facade: Session | undefined;
}

/** A turn running in this process: the kernel's state of it and what the runtime keeps beside. */
class RunningTurn extends TurnState implements ActiveTurn {
  declare readonly sessionId: string;
  declare readonly entry: SessionEntry;
  declare readonly history: readonly Message[];
  /** The live inputs it answers: the inbox's running inputs (steered ones join them there). */
  declare readonly inputs: LiveInput[];
  declare readonly startedAtMs: number;
  declare controller: AbortController | undefined;
  declare ended: boolean;
  /** Set at its end: steered inputs the model never saw, which go back to the queue. */
  declare unsteered: readonly string[];

  // Declared, then assigned once in the constructor (see TurnState for why).
  constructor(init: NewTurn, entry: SessionEntry, inputs: LiveInput[], startedAtMs: number) {
    super(init);
    this.sessionId = entry.id;
    this.entry = entry;
    this.history = entry.history!;
    this.inputs = inputs;
    this.startedAtMs = startedAtMs;
    this.controller = undefined;
    this.ended = false;
    this.unsteered = NO_IDS;
  }
}

/** Session ids: 1-256 characters, no control characters (they end up in logs and URLs). */
function validSessionId(id: unknown): id is string {
  if (typeof id !== "string" || id.length === 0 || id.length > 256) return false;
  for (let i = 0; i < id.length; i++) if (id.charCodeAt(i) < 0x20) return false;
  return true;
}
const DEFAULT_STOP_TIMEOUT_MS = 10_000;
/** Turn ends finished per dispatcher job; see `#finishCommitted`. */
const FINISHES_PER_JOB = 256;
/** How many turns started in one job share one reading of the clock (a no-op turn takes a few µs). */
const STARTS_PER_CLOCK_READ = 32;

const START: KernelEvent = { type: "start" };
const NO_IDS: readonly string[] = [];
const NO_INPUTS: readonly LiveInput[] = [];
const NO_SEND_OPTIONS: SendOptions = {};

/** How the handle of a queued input settles when the runtime stops (the input itself stays queued). */
const DETACHED: TurnOutcome = {
  status: "interrupted",
  reason: {
    code: "runtime_stopped",
    message: "the runtime stopped; the input stays queued and runs after the next start",
  },
};

/** Creates a runtime. Validates options (throws `BootError` `INVALID_OPTIONS`); starts nothing. */
export function createRuntime(options: RuntimeOptions): Runtime {
  return new Runtime(resolveOptions(options));
}

/** See {@link createRuntime}. */
export class Runtime implements AsyncDisposable {
  readonly #options: ResolvedOptions;
  readonly #limits: Limits;
  readonly #store: Store;
  readonly #wakes: WakeChannel;
  readonly #dispatcher: Dispatcher;
  readonly #sessions = new Map<string, SessionEntry>();
  /**
   * Inputs ended while queued (withdrawn, cancelled) whose end waits for its commit, with their live
   * handle: the store already reads them as ended, but until the commit nobody may be told so.
   */
  readonly #endingQueued = new Map<string, TurnHandle>();
  /** Live inputs sent with an idempotency key, by session and key. */
  readonly #keys = new Map<string, LiveInput>();
  /** Turns started and not yet finished (their end may still wait for its commit). */
  #runningTurns = 0;
  readonly #tools = new Map<string, ToolRegistry>();
  readonly #delegations: Delegations | undefined;
  readonly #listeners: EventListener[] = [];
  readonly #metrics: MetricsCounters;
  readonly #host: TurnHost;
  readonly #handleOwner: HandleOwner;
  readonly #sessionOwner: SessionOwner<SessionEntry>;
  #scheduler: SchedulerState<SessionEntry>;
  #state: RuntimeState = "created";
  #seq = 1;
  #outstandingCalls = 0;
  /** Turns started since the clock was last re-read for them, modulo `STARTS_PER_CLOCK_READ`. */
  #starts = 0;
  /** Handles whose events someone iterates; when 0 and no listener, turn events are never built. */
  #handleSubscribers = 0;
  /** Handles of inputs written to a durable store and not yet sent to wait for a commit. */
  #unacknowledged: TurnHandle[] = [];
  /** Turns whose end was written and waits for the store's commit. */
  #ending: RunningTurn[] = [];
  /** Ends whose commit resolved, finished in order from `#committedHead` by bounded dispatcher jobs. */
  #committed: RunningTurn[] = [];
  #committedHead = 0;
  #pollTimer: TimerToken | undefined;
  #unsubscribe: (() => void) | undefined;
  #starting: Promise<void> | undefined;
  #stopping: Promise<StopStatus> | undefined;
  #onSettled: (() => void) | undefined;
  /** True while a draining `stop()` may still start queued turns; once it cancels, nothing starts. */
  #draining = false;

  /** @internal Use {@link createRuntime}. */
  constructor(options: ResolvedOptions) {
    this.#options = options;
    this.#limits = options.limits;
    // Durable by default: work a host was told is accepted survives the process.
    this.#store = options.store ?? createSqliteStore();
    this.#wakes = options.wakes ?? createLocalWakeChannel();
    this.#scheduler = createScheduler(this.#limits.maxConcurrentTurns, options.slotQuantumMs);
    this.#metrics = new MetricsCounters(options.clock);
    this.#dispatcher = new Dispatcher({
      clock: options.clock,
      hogThresholdMs: options.hogThresholdMs,
      sliceMs: 10,
      onHog: ({ label, durationMs }) => {
        options.logger.warn(
          { label, durationMs },
          `dispatcher job "${label}" held the thread for ${durationMs.toFixed(1)} ms`,
        );
        this.#emit({ type: "dispatcher.hog", label, durationMs });
      },
      onJobError: (label, error) => this.#report(`dispatcher job ${label}`, error),
      ...(options.yieldToLoop === undefined ? {} : { yieldToLoop: options.yieldToLoop }),
    });
    const log = this.#store.delegations;
    this.#delegations =
      log === undefined
        ? undefined
        : new Delegations(
            {
              clock: options.clock,
              ids: options.ids,
              log,
              agents: options.agents,
              models: options.models,
              startChild: (id, base, agent, input) => this.#startChild(id, base, agent, input),
              deliver: (parent, text, delegationId) => this.#deliver(parent, text, delegationId),
              stopSession: (id, status, reason) => this.#stopSession(id, status, reason),
              sessionExists: (id) => this.#sessions.has(id),
              accepting: () => this.#state === "running",
              emit: (event) => this.#emit(event),
            },
            options.delegation,
          );
    for (const [name, agent] of options.agents) {
      if (isFunctionAgent(agent)) continue;
      if (agent.delegates === true && log === undefined) {
        throw new BootError(
          "INVALID_OPTIONS",
          `agent ${JSON.stringify(name)} delegates, but the ${this.#store.kind} store keeps no delegation log`,
        );
      }
      this.#tools.set(name, this.#toolsOf(agent));
    }
    this.#host = {
      clock: options.clock,
      dispatcher: this.#dispatcher,
      toolTimeoutMs: this.#limits.toolTimeoutMs,
      feed: (turn, event) => this.#feed(turn as RunningTurn, event),
      emit: (turn, build) => this.#emitTurn(turn as RunningTurn, build),
      observed: () => this.#observed(),
      callStarted: () => {
        this.#outstandingCalls += 1;
      },
      callEnded: () => {
        this.#outstandingCalls -= 1;
        this.#onSettled?.();
      },
    };
    this.#handleOwner = {
      clock: options.clock,
      eventBufferMax: this.#limits.handleEventBufferMax,
      cancel: (handle, mode, reason) => this.#cancel(handle, mode, reason),
      withdraw: (handle) => this.#withdraw(handle),
      assertMayWait: (sessionId) => assertNotInTurnOf(sessionId, "handle.result()"),
      subscribed: (delta) => {
        this.#handleSubscribers += delta;
      },
    };
    this.#sessionOwner = {
      send: (entry, payload, opts) => this.#send(entry, payload, opts),
      invoke: (entry, payload, opts) => this.#invoke(entry, payload, opts),
      history: (entry) => this.#store.history(entry.id, entry),
      agentOf: (entry) => entry.agentName,
      delegate: (entry, specs) => this.#delegate(entry, specs),
    };
  }

  /**
   * Background children: `list()`, `get(id)`, `cancel(id)`, `interruptAll(reason)`,
   * `stopChildren(parent)`, and the completions held after downtime. Throws `OffstageError`
   * `DELEGATION_UNSUPPORTED` when the store keeps no delegation log.
   */
  get delegations(): Delegations {
    if (this.#delegations === undefined) throw unsupported(this.#store.kind);
    return this.#delegations;
  }

  /** Where the runtime is in its lifecycle. */
  get state(): RuntimeState {
    return this.#state;
  }

  /** What an accepted input's receipt will say once committed: `stored` or `durable`. */
  get receipt(): "stored" | "durable" {
    return this.#store.receipt;
  }

  /**
   * Runs the boot chain: opens (and migrates) the store, recovers stored work (queued inputs are
   * driven; turns cut short by a crash resume or fail per their agent's `onCrash`), then starts the
   * scheduler and its recovery poll. Throws `BootError` and leaves nothing running on failure.
   */
  start(): Promise<void> {
    if (this.#state === "running" || this.#state === "starting") {
      return Promise.reject(new BootError("ALREADY_STARTED", `runtime is already ${this.#state}`));
    }
    if (this.#state === "stopping") {
      return Promise.reject(new BootError("STOPPING", "runtime is stopping; await stop() before start()"));
    }
    this.#stopping = undefined;
    this.#state = "starting";
    this.#starting = this.#boot().catch((error: unknown) => {
      this.#state = "stopped";
      throw error instanceof BootError
        ? error
        : new BootError(
            "BOOT_FAILED",
            `boot failed: ${error instanceof Error ? error.message : String(error)}`,
            { cause: error },
          );
    });
    return this.#starting;
  }

  /**
   * Stops the runtime and reports what happened: `clean`, `drained_with_discards` (drain asked, work
   * left at the deadline), `timeout` (calls ignored their abort and were abandoned) or `force_killed`.
   * Without `drain`, running turns end `interrupted` (`runtime_stopped`). Queued inputs stay stored
   * and run after the next start; their in-process handles settle `interrupted` now, so no waiter
   * hangs. Idempotent: a second call returns the first call's promise.
   */
  stop(options: StopOptions = {}): Promise<StopStatus> {
    if (typeof options !== "object" || options === null) {
      return Promise.reject(
        new InvalidInputError(
          "INVALID_ARGUMENT",
          `stop(): options must be an object, got ${describeValue(options)}`,
        ),
      );
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    if (typeof timeoutMs !== "number" || !(timeoutMs >= 0) || !Number.isFinite(timeoutMs)) {
      return Promise.reject(
        new InvalidInputError(
          "INVALID_ARGUMENT",
          `stop(): timeoutMs must be a finite number >= 0, got ${describeValue(timeoutMs)}`,
        ),
      );
    }
    for (const flag of ["drain", "force"] as const) {
      const value: unknown = options[flag];
      if (value !== undefined && typeof value !== "boolean") {
        return Promise.reject(
          new InvalidInputError(
            "INVALID_ARGUMENT",
            `stop(): ${flag} must be a boolean, got ${describeValue(value)}`,
          ),
        );
      }
    }
    if (this.#stopping !== undefined) return this.#stopping;
    if (this.#state === "created" || this.#state === "stopped") return Promise.resolve("clean");
    // Kept until the next start(), so every later stop() returns this same promise.
    this.#stopping = this.#shutdown(options.drain === true, timeoutMs, options.force === true);
    return this.#stopping;
  }

  /** `await using runtime = createRuntime(...)` stops it (without drain) at scope exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
    await this.#store.close();
  }

  /**
   * Gets a session, creating it on first use with the named agent. Throws `InvalidInputError`
   * (`INVALID_ARGUMENT`, `UNKNOWN_AGENT`, `UNKNOWN_SESSION` when a new session names no agent) and
   * `OffstageError` `NOT_RUNNING` before `start()`.
   */
  session(id: string, options: SessionOptions = {}): Session {
    this.#assertAccepting();
    if (!validSessionId(id)) {
      throw new InvalidInputError(
        "INVALID_ARGUMENT",
        `session id must be 1-256 printable characters, got ${describeValue(id)}`,
      );
    }
    if (typeof options !== "object" || options === null) {
      throw new InvalidInputError(
        "INVALID_ARGUMENT",
        `session(): options must be an object, got ${describeValue(options)}`,
      );
    }
    const agentName = options.agent;
    if (agentName !== undefined && !this.#options.agents.has(agentName)) {
      throw new InvalidInputError(
        "UNKNOWN_AGENT",
        `unknown agent ${describeValue(agentName)}; known agents: ${[...this.#options.agents.keys()].join(", ")}`,
      );
    }
    let entry = this.#sessions.get(id);
    if (entry === undefined) {
      if (id.includes(">")) {
        throw new InvalidInputError(
          "INVALID_ARGUMENT",
          `session id ${JSON.stringify(id)}: ">" is reserved for the sessions of background children`,
        );
      }
      if (agentName === undefined) {
        throw new InvalidInputError(
          "UNKNOWN_SESSION",
          `no session ${JSON.stringify(id)}; pass { agent } to create it`,
        );
      }
      entry = this.#addSession(id, agentName);
      this.#store.createSession({ id, agent: agentName, createdAtMs: this.#dispatcher.epochNow() }, entry);
    } else if (agentName !== undefined && agentName !== entry.agentName) {
      throw new InvalidInputError(
        "INVALID_ARGUMENT",
        `session ${JSON.stringify(id)} belongs to agent ${JSON.stringify(entry.agentName)}, not ${JSON.stringify(agentName)}`,
      );
    }
    entry.facade ??= new Session(this.#sessionOwner, id, entry);
    return entry.facade;
  }

  /** Ids of every known session. */
  sessionIds(): string[] {
    return [...this.#sessions.keys()];
  }

  /**
   * A handle for an input by id: the live handle while it is queued or running (or its end waits
   * for its commit), else a settled handle built from the store (for inputs accepted before a
   * restart). `undefined` when unknown.
   */
  handle(inputId: string): TurnHandle | undefined {
    if (typeof inputId !== "string") {
      throw new InvalidInputError(
        "INVALID_ARGUMENT",
        `handle(): input id must be a string, got ${describeValue(inputId)}`,
      );
    }
    const snapshot = this.#store.input(inputId);
    const live = snapshot === undefined ? undefined : this.#find(snapshot.sessionId, inputId);
    if (live !== undefined) return live;
    // Before the store's answer: a store that keeps few ended inputs may have forgotten this one
    // already, while its end still waits for the commit.
    const ending = this.#endingQueued.get(inputId);
    if (ending !== undefined) return ending;
    return snapshot === undefined ? undefined : this.#settledHandle(snapshot);
  }

  /** Counters, gauges and latency percentiles (dispatcher lag, send→start). */
  metrics(): RuntimeMetrics {
    let queuedInputs = 0;
    for (const entry of this.#sessions.values()) queuedInputs += entry.queue.length;
    return this.#metrics.snapshot({
      state: this.#state,
      sessions: this.#sessions.size,
      queuedInputs,
      readySessions: this.#scheduler.waiting,
      runningTurns: this.#runningTurns,
      outstandingCalls: this.#outstandingCalls,
      dispatcherDepth: this.#dispatcher.depth,
      dispatcherLag: this.#dispatcher.lag(),
    });
  }

  /** Subscribes to the event stream; returns a function that unsubscribes. */
  on(listener: EventListener): () => void {
    if (typeof listener !== "function") {
      throw new InvalidInputError(
        "INVALID_ARGUMENT",
        `on(): listener must be a function, got ${describeValue(listener)}`,
      );
    }
    this.#listeners.push(listener);
    return () => {
      const at = this.#listeners.indexOf(listener);
      if (at >= 0) this.#listeners.splice(at, 1);
    };
  }

  // ---- boot and stop -------------------------------------------------------------------------

  async #boot(): Promise<void> {
    const recovered = await this.#store.open();
    for (const session of recovered.sessions) {
      if (!this.#options.agents.has(session.agent)) {
        await this.#store.close();
        throw new BootError(
          "UNKNOWN_AGENT",
          `the store holds session ${JSON.stringify(session.id)} of agent ${JSON.stringify(session.agent)}, ` +
            `which options.agents does not define (known: ${[...this.#options.agents.keys()].join(", ")})`,
        );
      }
    }
    this.#scheduler = createScheduler(this.#limits.maxConcurrentTurns, this.#options.slotQuantumMs);
    // Before sessions are rebuilt: a running child's session runs the agent its record describes.
    const held = this.#delegations?.restore() ?? [];
    const resumed = this.#recover(recovered);
    // Recovery's writes — a resumed turn's next attempt above all — are committed before any turn
    // runs: a process that dies while a resumed step runs again has then spent that attempt, so
    // `maxAttempts` bounds how often a crash-looping turn's effects repeat.
    await this.#store.commit();
    for (const inputId of held) {
      const sessionId = this.#store.input(inputId)?.sessionId;
      const live = sessionId === undefined ? undefined : this.#find(sessionId, inputId);
      const reason: Reason = {
        code: "withdrawn",
        message: "a stale completion, held for the host to confirm",
      };
      // Only queued input can be withdrawn; a held completion's input already running (a file an
      // older release left) just runs on.
      if (live?.status === "queued") this.#endQueued(live, "withdrawn", reason, "hold");
    }
    this.#state = "running";
    this.#unsubscribe = this.#wakes.subscribe((sessionId) => this.#wake(sessionId));
    for (const turn of resumed) this.#feed(turn, { type: "start" });
    this.#dispatcher.post("startup drive", () => this.#driveAll());
    this.#schedulePoll();
    this.#emit({
      type: "runtime.started",
      recoveredInputs: recovered.queued.length,
      resumedTurns: resumed.length,
    });
  }

  #recover(recovered: RecoveredState): RunningTurn[] {
    this.#seq = recovered.nextSeq;
    for (const session of recovered.sessions) {
      if (!this.#sessions.has(session.id)) this.#addSession(session.id, session.agent);
    }
    const resumed: RunningTurn[] = [];
    const crashed: { turn: InterruptedTurn; why: string }[] = [];
    const now = this.#dispatcher.epochNow();
    for (const turn of recovered.interrupted) {
      const entry = this.#sessions.get(turn.sessionId)!;
      const agent = entry.agent;
      const attempt = turn.attempt + 1;
      if (agent.onCrash === "fail" || attempt > (agent.maxAttempts ?? 3)) {
        crashed.push({
          turn,
          why: agent.onCrash === "fail" ? "onCrash is fail" : `attempt ${attempt} > maxAttempts`,
        });
        continue;
      }
      // Read back from the store: committed, so the receipt holds at once.
      const lives = turn.inputs.map((input) => {
        const live = this.#trackInput(input, "running", input.policy, this.#recoveredStamp(input));
        live.markStored(this.#store.receipt);
        return live;
      });
      entry.running = { turnId: turn.turnId, inputs: lives };
      this.#store.startTurn(
        {
          turnId: turn.turnId,
          sessionId: turn.sessionId,
          inputIds: turn.inputIds,
          attempt,
          startedAtMs: now,
        },
        entry,
      );
      const messages =
        turn.messages.length > 0 ? turn.messages : turn.inputs.map((input) => userMessage(input.payload));
      resumed.push(this.#activate(entry, turn.turnId, attempt, lives, { messages, step: turn.step }));
    }
    for (const input of recovered.queued) {
      const entry = this.#sessions.get(input.sessionId)!;
      // Re-queue in acceptance order with the ordering part of the policy only: a recovered input was
      // accepted already, so `reject` and `steer` no longer apply to it.
      const policy: Policy =
        input.policy === "interrupt" || input.policy === "merge" ? input.policy : "enqueue";
      const live = this.#trackInput(input, "queued", policy, this.#recoveredStamp(input));
      live.markStored(this.#store.receipt);
      accept(entry, live, Number.POSITIVE_INFINITY);
    }
    // Only now, with the stored input back in the inboxes: failing a child's turn may write its
    // completion, which must queue behind its parent's older input, and a child with input still
    // queued has not finished.
    for (const { turn, why } of crashed) this.#failCrashed(turn, why, now);
    return resumed;
  }

  #failCrashed(turn: InterruptedTurn, why: string, now: number): void {
    const entry = this.#sessions.get(turn.sessionId)!;
    const outcome: TurnOutcome = {
      status: "failed",
      reason: {
        code: "crashed",
        message: `the process stopped while the turn ran (step ${turn.step}); ${why}`,
      },
    };
    this.#store.endTurn(
      {
        turnId: turn.turnId,
        sessionId: turn.sessionId,
        attempt: turn.attempt,
        outcome,
        messages:
          turn.messages.length > 0 ? turn.messages : turn.inputs.map((input) => userMessage(input.payload)),
        inputIds: turn.inputIds,
        requeued: [],
        usage: { inputTokens: 0, outputTokens: 0 },
        endedAtMs: now,
      },
      entry,
    );
    this.#delegations?.turnEnded(
      turn.sessionId,
      outcome,
      turn.messages,
      { inputTokens: 0, outputTokens: 0 },
      entry.queue.length,
    );
  }

  /**
   * A live input of a record: a stored one (its stamp the stored time of acceptance, and now in
   * this process) or the runtime's own; its handle's receipt is for the caller to give.
   */
  #trackInput(
    input: Omit<InputRecord, "acceptedAtMs">,
    status: "queued" | "running",
    policy: Policy,
    stamp: Stamp,
  ): LiveInput {
    const live = new LiveInput(this.#handleOwner, status, input, policy, stamp);
    if (input.idempotencyKey !== undefined)
      this.#keys.set(keyOf(input.sessionId, input.idempotencyKey), live);
    return live;
  }

  #recoveredStamp(input: InputRecord): Stamp {
    return { epochMs: input.acceptedAtMs, monotonicMs: this.#dispatcher.monotonicNow() };
  }

  async #shutdown(drain: boolean, timeoutMs: number, force: boolean): Promise<StopStatus> {
    if (this.#state === "starting") await this.#starting?.catch(() => undefined);
    if (this.#state !== "running") return "clean";
    this.#state = "stopping";
    const clock = this.#options.clock;
    const deadline = clock.monotonicMs() + timeoutMs;
    if (this.#pollTimer !== undefined) clock.clearTimeout(this.#pollTimer);
    this.#pollTimer = undefined;
    let discarded = 0;
    if (drain) {
      this.#draining = true;
      // The recovery poll is off now: drive every session once, so input whose wake was lost drains too.
      this.#dispatcher.post("drain drive", () => this.#driveAll());
      await this.#until(() => this.#runningTurns === 0 && this.#queuedCount() === 0, deadline);
      this.#draining = false;
      discarded = this.#runningTurns + this.#queuedCount();
    }
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    const reason: Reason = { code: "runtime_stopped", message: "the runtime stopped" };
    for (const entry of this.#sessions.values()) {
      const turn = entry.active as RunningTurn | undefined;
      if (turn === undefined) continue;
      this.#feed(turn, { type: "cancel", request: { mode: "immediate", status: "interrupted", reason } });
    }
    await this.#until(() => this.#runningTurns === 0 && this.#outstandingCalls === 0, deadline);
    const abandonedCalls = this.#outstandingCalls;
    await this.#store.commit().catch((error: unknown) => this.#report("final commit", error));
    this.#detachQueued();
    this.#delegations?.dispose();
    const status = stopStatus({ drain, discarded, abandonedCalls, force });
    this.#state = "stopped";
    this.#emit({ type: "runtime.stopped", status });
    return status;
  }

  /** Queued inputs stay stored for the next start; their in-process waiters settle now. */
  #detachQueued(): void {
    this.#keys.clear();
    this.#runningTurns = 0;
    for (const entry of this.#sessions.values()) {
      for (const live of entry.queue) live.settle(DETACHED, undefined, undefined);
      // Turns a timed-out stop abandoned: their calls ignored the abort and will never be heard.
      for (const live of (entry.active as RunningTurn | undefined)?.inputs ?? NO_INPUTS)
        live.settle(DETACHED, undefined, undefined);
      entry.queue.length = 0;
      entry.merges = 0;
      entry.running = undefined;
      entry.active = undefined;
      entry.history = undefined;
      entry.wakePending = false;
      entry.waiting = false;
    }
  }

  /** Resolves when `done()` holds (checked whenever work settles) or the deadline passes. */
  #until(done: () => boolean, deadlineMs: number): Promise<void> {
    if (done()) return Promise.resolve();
    const clock = this.#options.clock;
    return new Promise<void>((resolve) => {
      const finish = () => {
        this.#onSettled = undefined;
        clock.clearTimeout(timer);
        resolve();
      };
      const timer = clock.setTimeout(finish, Math.max(0, deadlineMs - clock.monotonicMs()));
      this.#onSettled = () => {
        if (done()) finish();
      };
    });
  }

  #queuedCount(): number {
    let n = 0;
    for (const entry of this.#sessions.values()) n += entry.queue.length;
    return n;
  }

  #schedulePoll(): void {
    this.#pollTimer = this.#options.clock.setTimeout(() => {
      if (this.#state !== "running") return;
      this.#dispatcher.post("recovery poll", () => this.#driveAll());
      this.#schedulePoll();
    }, this.#options.pollIntervalMs);
  }

  // ---- sending -------------------------------------------------------------------------------

  #assertAccepting(): void {
    if (this.#state === "running") return;
    if (this.#state === "stopping")
      throw new OffstageError("STOPPING", "the runtime is stopping and accepts no new work");
    throw new OffstageError("NOT_RUNNING", `the runtime is ${this.#state}; call start() first`);
  }

  #send(entry: SessionEntry, payload: unknown, options: SendOptions = NO_SEND_OPTIONS): TurnHandle {
    this.#assertAccepting();
    const sessionId = entry.id;
    if (typeof options !== "object" || options === null) {
      throw new InvalidInputError(
        "INVALID_ARGUMENT",
        `send(): options must be an object, got ${describeValue(options)}`,
      );
    }
    const policy = options.policy ?? "enqueue";
    if (!POLICIES.has(policy)) {
      throw new InvalidInputError(
        "INVALID_ARGUMENT",
        `send(): unknown policy ${describeValue(policy)}; use ${[...POLICIES].join(", ")}`,
      );
    }
    const key = options.idempotencyKey;
    if (key !== undefined && (typeof key !== "string" || key.length === 0 || key.length > 256)) {
      throw new InvalidInputError(
        "INVALID_ARGUMENT",
        `send(): idempotencyKey must be a string of 1-256 characters, got ${describeValue(key)}`,
      );
    }
    // A short string needs no JSON now: it cannot exceed the size limit (JSON escaping at most
    // sextuples a character) and is its own private copy. Its JSON is made if a resend asks.
    const json =
      typeof payload === "string" &&
      payload.length * 6 + 2 <= this.#limits.payloadBytesMax &&
      key === undefined
        ? undefined
        : this.#encode(payload);
    if (key !== undefined) {
      const existing = this.#idempotent(sessionId, key, json!);
      if (existing !== undefined) return existing;
    }
    const inputId = this.#options.ids();
    const live = new LiveInput(
      this.#handleOwner,
      "queued",
      {
        id: inputId,
        sessionId,
        seq: this.#seq,
        // A private copy, so the caller mutating its object later cannot change what was accepted.
        payload: typeof payload === "string" ? payload : JSON.parse(json!),
        idempotencyKey: key,
      },
      // A turn that already decided to end (its end awaits the commit) can take no steer: the input
      // would settle with an answer that never saw it. It queues for the next turn instead.
      policy === "steer" && entry.active?.ended === true ? "enqueue" : policy,
      this.#dispatcher.stamp(),
    );
    const decision = accept(entry, live, this.#limits.inboxLengthMax);
    if (decision.kind === "refused") {
      throw new CapacityError(decision.code, decision.message, { details: { sessionId, policy } });
    }
    this.#seq += 1;
    this.#store.accept(live, entry);
    this.#acknowledge(live);
    if (key !== undefined) this.#keys.set(keyOf(sessionId, key), live);
    this.#metrics.accepted();
    if (this.#listeners.length > 0) this.#emit({ type: "input.accepted", sessionId, inputId, policy });
    if (decision.kind === "steered") {
      const turn = entry.active as RunningTurn;
      this.#store.steer({ inputId, sessionId, turnId: turn.turnId, attempt: turn.attempt }, entry);
      live.markRunning(turn.turnId);
      this.#feed(turn, { type: "steer", inputId, message: userMessage(live.payload) });
      return live;
    }
    if (decision.interrupt !== undefined) {
      const turn = entry.active as RunningTurn;
      const request: CancelRequest = {
        mode: "immediate",
        status: "interrupted",
        reason: { code: "interrupted_by_input", message: `interrupted by input ${inputId}` },
      };
      this.#dispatcher.post("interrupt", () => this.#feed(turn, { type: "cancel", request }));
    }
    this.#notify(entry);
    return live;
  }

  /**
   * Gives the handle of an input just written its receipt: `stored` at once with a store whose
   * receipt is `stored`; `durable` with a durable store, but only once the commit holding the input
   * resolved (until then it says `stored`, and `handle.stored()` waits).
   */
  #acknowledge(handle: TurnHandle): void {
    if (this.#store.receipt !== "durable") {
      handle.markStored("stored");
      return;
    }
    this.#unacknowledged.push(handle);
    if (this.#unacknowledged.length === 1) queueMicrotask(this.#commitAccepted);
  }

  /**
   * One commit wait per burst of sends instead of one per send. Taken a microtask after the first,
   * like the turn ends: every input in the group was written before `commit()` is asked, so the
   * commit it waits for holds them all.
   */
  readonly #commitAccepted = (): void => {
    const group = this.#unacknowledged.splice(0);
    this.#store.commit().then(
      () => {
        for (const handle of group) handle.markStored("durable");
      },
      (error: unknown) => this.#report("commit", error),
    );
  };

  #encode(payload: unknown): string {
    let json: string | undefined;
    try {
      json = JSON.stringify(payload);
    } catch (error) {
      throw new InvalidInputError(
        "INVALID_ARGUMENT",
        `send(): payload is not JSON-serialisable: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (json === undefined) {
      throw new InvalidInputError(
        "INVALID_ARGUMENT",
        `send(): payload must be a JSON value, got ${describeValue(payload)}`,
      );
    }
    const max = this.#limits.payloadBytesMax;
    if (json.length * 3 > max) {
      const bytes = Buffer.byteLength(json, "utf8");
      if (bytes > max) {
        throw new InvalidInputError(
          "PAYLOAD_TOO_LARGE",
          `send(): payload is ${bytes} bytes as JSON; the limit is ${max} (limits.payloadBytesMax)`,
          {
            details: { bytes, limit: max },
          },
        );
      }
    }
    return json;
  }

  #idempotent(sessionId: string, key: string, json: string): TurnHandle | undefined {
    const live = this.#keys.get(keyOf(sessionId, key));
    if (live !== undefined) {
      // The payload is a private copy made from JSON (or a string), so it serialises back to the same.
      if (JSON.stringify(live.payload) !== json) throw conflict(sessionId, key, live.id);
      return live;
    }
    const stored = this.#store.findByIdempotencyKey(sessionId, key);
    if (stored === undefined) return undefined;
    if (JSON.stringify(stored.payload) !== json) throw conflict(sessionId, key, stored.id);
    return this.#endingQueued.get(stored.id) ?? this.#settledHandle(stored);
  }

  #settledHandle(snapshot: InputSnapshot): TurnHandle {
    const handle = new TurnHandle(this.#handleOwner, snapshot.id, snapshot.sessionId, snapshot.status);
    handle.markStored(this.#store.receipt);
    if (snapshot.outcome !== undefined) handle.settle(snapshot.outcome, snapshot.turnId, undefined);
    // Not live and not terminal: the runtime is not running. Settle it as stop() settles live handles,
    // or nothing would ever settle it (the next start tracks the input with a new handle).
    else handle.settle(DETACHED, undefined, undefined);
    return handle;
  }

  async #invoke(
    entry: SessionEntry,
    payload: unknown,
    options: SendOptions & ResultOptions,
  ): Promise<TurnResult> {
    assertNotInTurnOf(entry.id, "session.invoke()");
    const { timeout, signal, ...sendOptions } = options;
    const handle = this.#send(entry, payload, sendOptions);
    return handle.result({
      ...(timeout === undefined ? {} : { timeout }),
      ...(signal === undefined ? {} : { signal }),
    });
  }

  #withdraw(handle: TurnHandle): void {
    this.#endQueued(
      handle,
      "withdrawn",
      { code: "withdrawn", message: "withdrawn before it started" },
      "withdraw",
    );
  }

  #cancel(handle: TurnHandle, mode: CancelMode, message: string): void {
    if (this.#find(handle.sessionId, handle.id) === undefined) return;
    const entry = this.#sessions.get(handle.sessionId)!;
    const reason: Reason = { code: "cancel_requested", message };
    const turn = entry.active as RunningTurn | undefined;
    if (turn?.inputs.some((live) => live.id === handle.id)) {
      this.#feed(turn, {
        type: "cancel",
        request: { mode, status: "cancelled", reason, inputId: handle.id },
      });
      return;
    }
    this.#endQueued(handle, "cancelled", reason, "cancel");
  }

  #endQueued(handle: TurnHandle, status: TerminalStatus, reason: Reason, verb: string): void {
    const live = this.#find(handle.sessionId, handle.id);
    const entry = this.#sessions.get(handle.sessionId);
    const where = live === undefined || entry === undefined ? "unknown" : withdraw(entry, handle.id);
    if (where !== "withdrawn") {
      throw new OffstageError(
        "NOT_WITHDRAWABLE",
        `cannot ${verb} input ${handle.id}: it is ${where === "running" ? "running" : handle.status}; only queued input can be withdrawn`,
        { details: { inputId: handle.id, status: handle.status } },
      );
    }
    this.#endAlone(live!, entry!, handle, status, reason, verb);
  }

  /** A steered input the model never saw leaves its turn (the turn goes on) and ends on its own. */
  #drop(turn: RunningTurn, inputId: string, status: TerminalStatus, reason: Reason): void {
    // The turn's inputs are its inbox's running inputs: taken out here, it is out of both.
    const at = turn.inputs.findIndex((live) => live.id === inputId);
    if (at < 0) return;
    const live = turn.inputs[at]!;
    turn.inputs.splice(at, 1);
    live.leaveTurn();
    this.#endAlone(live, turn.entry, live, status, reason, "cancel");
  }

  /** Ends an input that no turn answers; its handles settle once the end is committed. */
  #endAlone(
    live: LiveInput,
    entry: SessionEntry,
    handle: TurnHandle,
    status: TerminalStatus,
    reason: Reason,
    verb: string,
  ): void {
    this.#forget(live);
    this.#store.endInput(
      {
        inputId: handle.id,
        sessionId: handle.sessionId,
        status,
        reason,
        endedAtMs: this.#dispatcher.epochNow(),
      },
      entry,
    );
    // A completion that will never start a turn is dropped, or its record would wait forever.
    const delegationId = live.delegationId;
    if (delegationId !== undefined) this.#delegations?.inputEnded(delegationId, handle.id, verb);
    // A child left with nothing to run has finished (a stopped child completes through its stop).
    const active = entry.active;
    if (verb !== "stop" && entry.queue.length === 0 && (active === undefined || active.ended))
      this.#delegations?.idle(entry.id);
    const outcome: TurnOutcome = { status, reason };
    this.#metrics.ended(status);
    this.#endingQueued.set(handle.id, live);
    void this.#store.commit().then(
      () => {
        this.#endingQueued.delete(handle.id);
        // The caller's handle may be an older one of the same input (from before a restart).
        live.settle(outcome, undefined, undefined);
        handle.settle(outcome, undefined, undefined);
        this.#emit({ type: "input.status", sessionId: handle.sessionId, inputId: handle.id, status });
      },
      (error: unknown) => this.#report("commit", error),
    );
  }

  /**
   * The live input (queued, or in the session's running turn) with this id. A scan of one session:
   * cancels and look-ups by id are rare, and an index of every live input would cost each send a
   * write into a map of every input in flight.
   */
  #find(sessionId: string, inputId: string): LiveInput | undefined {
    const entry = this.#sessions.get(sessionId);
    if (entry === undefined) return undefined;
    for (const live of entry.queue) if (live.id === inputId) return live;
    for (const live of (entry.active as RunningTurn | undefined)?.inputs ?? NO_INPUTS)
      if (live.id === inputId) return live;
    return undefined;
  }

  #forget(live: LiveInput): void {
    if (live.idempotencyKey !== undefined) this.#keys.delete(keyOf(live.sessionId, live.idempotencyKey));
  }

  // ---- scheduling ----------------------------------------------------------------------------

  /**
   * Tells the scheduler the session has new input. A session whose wake is already posted gets
   * none: that wake's poke sees this input too, and a burst of sends to one session would otherwise
   * pay a wake, and its look-up, per input.
   */
  #notify(entry: SessionEntry): void {
    if (!entry.wakePending) this.#wakes.notify(entry.id);
  }

  #wake(sessionId: string): void {
    const entry = this.#sessions.get(sessionId);
    if (entry === undefined || entry.wakePending) return;
    entry.wakePending = true;
    this.#dispatcher.post("wake", () => {
      entry.wakePending = false;
      this.#poke(entry);
    });
  }

  #driveAll(): void {
    for (const entry of this.#sessions.values()) this.#poke(entry);
  }

  /** Starts a turn for the session if it is idle with queued input and a slot is free. */
  #poke(entry: SessionEntry): void {
    if (this.#state !== "running" && !this.#draining) return;
    if (entry.active !== undefined || entry.running !== undefined || entry.queue.length === 0) return;
    if (!offer(this.#scheduler, entry)) return;
    const turn = this.#begin(entry);
    if (turn !== undefined) this.#start(turn);
  }

  /**
   * Starts turns while slots are free: first the next turns of the sessions whose turns
   * `#committed[from, to)` just finished, while their run goes on (`continueRun`), then those of
   * waiting sessions. It begins them all, then runs them, since beginning a turn and running one are
   * both a lot of code and each then stays in the instruction cache.
   */
  #pump(from = 0, to = 0): void {
    if (this.#state !== "running" && !this.#draining) return;
    const begun: RunningTurn[] = [];
    const now = this.#dispatcher.monotonicNow();
    for (let i = from; i < to; i++) {
      const { entry, startedAtMs } = this.#committed[i]!;
      if (entry.active !== undefined) continue;
      if (!continueRun(this.#scheduler, entry, entry.queue.length > 0, startedAtMs, now)) continue;
      const turn = this.#begin(entry);
      if (turn !== undefined) begun.push(turn);
    }
    for (;;) {
      const entry = takeReady(this.#scheduler);
      if (entry === undefined) break;
      if (entry.active !== undefined || entry.queue.length === 0) continue;
      const turn = this.#begin(entry);
      if (turn !== undefined) begun.push(turn);
    }
    for (const turn of begun) this.#start(turn);
  }

  /**
   * Feeds a begun turn its start. The turns a job starts (and, with a synchronous model, ends) are
   * stamped with the job's time; it is re-read every few starts to stay close. A throw (a store
   * write of its end that failed) is reported, so that the job's other turns still start.
   */
  #start(turn: RunningTurn): void {
    this.#starts = (this.#starts + 1) % STARTS_PER_CLOCK_READ;
    if (this.#starts === 0) this.#dispatcher.refreshTime();
    try {
      this.#feed(turn, START);
    } catch (error) {
      this.#report(`start of turn ${turn.turnId}`, error);
    }
  }

  /**
   * Begins a turn of the session's queued input: returns it, ready to be fed its `start`. When its
   * start cannot be stored, the error is reported and the inputs go back to the front of the queue,
   * for a later drive (the recovery poll's, at the latest) to try again; other sessions still start.
   */
  #begin(entry: SessionEntry): RunningTurn | undefined {
    const turnId = this.#options.ids();
    const taken = beginTurn(entry, turnId, this.#delegations?.mergeCompletions ?? true);
    if (taken === undefined) return undefined;
    try {
      this.#store.startTurn(
        {
          turnId,
          sessionId: entry.id,
          inputIds: idsOf(taken),
          attempt: 1,
          startedAtMs: this.#dispatcher.epochNow(),
        },
        entry,
      );
    } catch (error) {
      abandonTurn(entry, turnId);
      this.#report(`start of turn ${turnId}`, error);
      return undefined;
    }
    return this.#activate(entry, turnId, 1, taken, undefined);
  }

  /** Makes `inputs` (which it keeps) the running turn of the session. */
  #activate(
    entry: SessionEntry,
    turnId: string,
    attempt: number,
    inputs: LiveInput[],
    resumed: { messages: readonly Message[]; step: number } | undefined,
  ): RunningTurn {
    turnStarted(this.#scheduler);
    this.#runningTurns += 1;
    const agent = entry.agent;
    const fn = isFunctionAgent(agent);
    if (entry.history === undefined) entry.history = [...this.#store.history(entry.id, entry)];
    const now = this.#dispatcher.monotonicNow();
    const turn = new RunningTurn(
      {
        turnId,
        attempt,
        kind: fn ? "function" : "model",
        modelCallsMax: (!fn && agent.modelCallsPerTurnMax) || this.#limits.modelCallsPerTurnMax,
        toolCallsPerStepMax: (!fn && agent.toolCallsPerStepMax) || this.#limits.toolCallsPerStepMax,
        inputs: openingMessages(inputs),
        resumedMessages: resumed?.messages,
        resumedStep: resumed?.step,
      },
      entry,
      inputs,
      now,
    );
    let completions: string[] | undefined;
    for (let i = 0; i < inputs.length; i++) {
      const live = inputs[i]!;
      live.markRunning(turnId);
      this.#metrics.started(now - live.sentAtMs);
      if (!live.completion) continue;
      completions ??= [];
      completions.push(live.delegationId!);
    }
    entry.active = turn;
    if (completions !== undefined) this.#delegations?.delivered(completions);
    if (this.#observed())
      this.#emitTurn(turn, () => ({
        type: "turn.started",
        sessionId: entry.id,
        turnId,
        inputIds: idsOf(turn.inputs),
        attempt,
      }));
    return turn;
  }

  // ---- turns ---------------------------------------------------------------------------------

  #feed(turn: RunningTurn, event: KernelEvent): void {
    const effects = stepTurn(turn, event);
    // Indexed: a for-of over the kernel's shared (frozen) effect arrays allocates an iterator result
    // per effect.
    for (let i = 0; i < effects.length; i++) {
      const effect = effects[i]!;
      switch (effect.type) {
        case "call_model": {
          if (effect.step > 1) {
            this.#store.checkpoint(
              {
                turnId: turn.turnId,
                sessionId: turn.sessionId,
                attempt: turn.attempt,
                step: effect.step - 1,
                messages: turn.messages,
              },
              turn.entry,
            );
          }
          const verdict = this.#delegations?.admit(turn.entry.id, turn.usage);
          if (verdict?.kind === "exceeded") {
            const reason: Reason = { code: "budget_exceeded", message: verdict.message };
            this.#feed(turn, { type: "cancel", request: { mode: "immediate", status: "failed", reason } });
            break;
          }
          const agent = turn.entry.agent;
          if (!isFunctionAgent(agent))
            callModel(this.#host, turn, agent, turn.entry.system, turn.entry.tools!, effect.step);
          break;
        }
        case "run_tools":
          runTools(this.#host, turn, turn.entry.tools!, effect.step, effect.calls);
          break;
        case "run_function": {
          const agent = turn.entry.agent;
          if (isFunctionAgent(agent)) runFunction(this.#host, turn, agent);
          break;
        }
        case "drop":
          this.#drop(turn, effect.inputId, effect.status, effect.reason);
          break;
        case "abort":
          turn.controller ??= new AbortController();
          turn.controller.abort(new OffstageError("TURN_CANCELLED", effect.reason.message));
          break;
        case "end":
          this.#end(turn, effect.outcome, effect.unsteered);
          break;
      }
    }
  }

  #end(turn: RunningTurn, outcome: TurnOutcome, unsteered: readonly string[]): void {
    turn.ended = true;
    const { entry } = turn;
    this.#store.endTurn(
      {
        turnId: turn.turnId,
        sessionId: entry.id,
        attempt: turn.attempt,
        outcome,
        messages: turn.messages,
        inputIds: idsOf(turn.inputs),
        requeued: unsteered,
        usage: turn.usage,
        endedAtMs: this.#dispatcher.epochNow(),
      },
      entry,
    );
    // A child that is now settled writes its completion in this same store group.
    const queued = entry.queue.length + unsteered.length;
    this.#delegations?.turnEnded(entry.id, outcome, turn.messages, turn.usage, queued);
    // One commit wait and one dispatcher job per group of ends, not per turn.
    turn.unsteered = unsteered;
    this.#ending.push(turn);
    if (this.#ending.length === 1) queueMicrotask(this.#commitEnding);
  }

  /**
   * Takes the ends written so far as one group (a microtask after the first, so a burst of ends in
   * one job shares a commit) and waits for the commit that holds them. Ends written meanwhile form
   * the next group: they are not covered by this commit.
   */
  readonly #commitEnding = (): void => this.#commitEnds(this.#ending.splice(0));

  /** A failed commit is reported and retried for the same group. */
  #commitEnds(group: RunningTurn[]): void {
    this.#store.commit().then(
      () => {
        const idle = this.#committed.length === this.#committedHead;
        // Indexed: this runs once per group, too rarely to be optimised, and a for-of would then
        // allocate an iterator result per turn.
        for (let i = 0; i < group.length; i++) this.#committed.push(group[i]!);
        if (idle) this.#dispatcher.post("turn ends", this.#finishCommitted);
      },
      (error: unknown) => {
        this.#report("commit of turn ends (retrying in 1 s)", error);
        this.#options.clock.setTimeout(() => this.#commitEnds(group), 1000);
      },
    );
  }

  /**
   * Finishes committed ends in bounded jobs: a group can hold thousands, and each may start (and,
   * with a synchronous model, end) its session's next turn, so one job for all of them would hold
   * the thread for long enough to starve host IO and timers.
   *
   * A job finishes all of its turns first, then drives the scheduler for them: a finish is a little
   * code and a turn's start (with a synchronous model, the whole turn) a lot, and running all of one,
   * then all of the other, keeps each in the instruction cache. Measured 1.07-1.14x the throughput
   * of finishing and driving turn by turn (bench/RESULTS.md §1).
   */
  readonly #finishCommitted = (): void => {
    const first = this.#committedHead;
    const stop = Math.min(this.#committed.length, first + FINISHES_PER_JOB);
    while (this.#committedHead < stop) {
      const turn = this.#committed[this.#committedHead]!;
      this.#committedHead += 1;
      this.#finish(turn);
    }
    this.#dispatcher.refreshTime();
    this.#pump(first, stop);
    for (let i = first; i < stop; i++) this.#poke(this.#committed[i]!.entry);
    this.#onSettled?.();
    if (this.#committedHead < this.#committed.length) {
      this.#dispatcher.post("turn ends", this.#finishCommitted);
    } else {
      this.#committed = [];
      this.#committedHead = 0;
    }
  };

  /** The turn's end is committed: settle its handles and free its slot (its caller drives). */
  #finish(turn: RunningTurn): void {
    const { entry, unsteered } = turn;
    const outcome = turn.outcome!;
    if (entry.active !== turn) return;
    // Taken before the inbox moves the unseen steered inputs back to its queue: the turn's end is
    // told to every input it held.
    const held = this.#observed() ? [...turn.inputs] : undefined;
    const requeued =
      unsteered.length === 0 ? NO_INPUTS : turn.inputs.filter((live) => unsteered.includes(live.id));
    endTurn(entry, turn.turnId, requeued);
    entry.active = undefined;
    this.#runningTurns -= 1;
    turnEnded(this.#scheduler);
    if (entry.history !== undefined) for (const m of turn.messages) entry.history.push(m);
    if (held !== undefined)
      this.#emitTo(held, {
        type: "turn.ended",
        sessionId: entry.id,
        turnId: turn.turnId,
        inputIds: idsOf(held),
        outcome,
        usage: turn.usage,
        durationMs: this.#dispatcher.monotonicNow() - turn.startedAtMs,
      });
    for (const live of requeued) live.markQueued();
    for (const live of turn.inputs) {
      this.#forget(live);
      live.settle(outcome, turn.turnId, turn.usage);
      this.#metrics.ended(outcome.status);
    }
    if (entry.queue.length === 0) entry.history = undefined;
  }

  #addSession(id: string, agentName: string, own?: ModelAgent): SessionEntry {
    const named = this.#options.agents.get(agentName)!;
    const agent = own ?? this.#delegations?.agentFor(id) ?? named;
    const entry: SessionEntry = {
      id,
      agentName,
      agent,
      tools: isFunctionAgent(agent)
        ? undefined
        : agent === named
          ? this.#tools.get(agentName)
          : this.#toolsOf(agent),
      system: isFunctionAgent(agent) || agent.system === undefined ? undefined : systemMessage(agent.system),
      queue: [],
      running: undefined,
      merges: 0,
      history: undefined,
      active: undefined,
      wakePending: false,
      waiting: false,
      runStartedAtMs: undefined,
      runTurns: 0,
      facade: undefined,
      storeState: undefined,
    };
    this.#sessions.set(id, entry);
    return entry;
  }

  #toolsOf(agent: ModelAgent): ToolRegistry {
    const tools = agent.tools ?? [];
    if (agent.delegates !== true) return createToolRegistry(tools);
    return createToolRegistry([
      ...tools,
      createDelegateTool((sessionId, specs) => this.#delegate(this.#sessions.get(sessionId)!, specs)),
    ]);
  }

  // ---- delegation ----------------------------------------------------------------------------

  #delegate(entry: SessionEntry, specs: readonly DelegateSpec[]): DelegateResult {
    this.#assertAccepting();
    const delegations = this.delegations;
    return delegations.dispatch(entry.id, entry.agentName, specs);
  }

  #startChild(childSessionId: string, baseAgent: string, agent: ModelAgent, input: string): void {
    const entry = this.#addSession(childSessionId, baseAgent, agent);
    this.#store.createSession(
      { id: childSessionId, agent: baseAgent, createdAtMs: this.#dispatcher.epochNow() },
      entry,
    );
    this.#acceptInternal(entry, input, undefined);
  }

  #deliver(parentSessionId: string, text: string, delegationId: string): string {
    return this.#acceptInternal(this.#sessions.get(parentSessionId)!, text, delegationId);
  }

  /**
   * Queues input the runtime itself produced (a child's goal, a completion). It skips the inbox
   * length limit: refusing it would lose a result; the delegation caps bound how much there is.
   */
  #acceptInternal(entry: SessionEntry, payload: string, delegationId: string | undefined): string {
    const live = this.#trackInput(
      {
        id: this.#options.ids(),
        sessionId: entry.id,
        seq: this.#seq,
        payload,
        policy: "enqueue",
        delegationId,
      },
      "queued",
      "enqueue",
      this.#dispatcher.stamp(),
    );
    this.#seq += 1;
    // The live input is the record, as for a send.
    this.#store.accept(live, entry);
    this.#acknowledge(live);
    accept(entry, live, Number.POSITIVE_INFINITY);
    this.#metrics.accepted();
    this.#notify(entry);
    // A draining stop runs no recovery poll to make up for a lost wake, and a completion written
    // meanwhile must still drain: drive its session here too.
    if (this.#draining) this.#wake(entry.id);
    return live.id;
  }

  /** Ends a session's queued input and running turn; true when a turn was running (its end follows). */
  #stopSession(sessionId: string, status: "cancelled" | "interrupted", reason: Reason): boolean {
    const entry = this.#sessions.get(sessionId);
    if (entry === undefined) return false;
    for (const live of [...entry.queue]) this.#endQueued(live, status, reason, "stop");
    const turn = entry.active as RunningTurn | undefined;
    if (turn === undefined || turn.ended) return false;
    this.#feed(turn, { type: "cancel", request: { mode: "immediate", status, reason } });
    return true;
  }

  // ---- events --------------------------------------------------------------------------------

  #observed(): boolean {
    return this.#listeners.length > 0 || this.#handleSubscribers > 0;
  }

  #emitTurn(turn: RunningTurn, build: () => RuntimeEvent): void {
    if (this.#observed()) this.#emitTo(turn.inputs, build());
  }

  /** Emits a turn's event to the listeners and to the handles of `inputs`. */
  #emitTo(inputs: readonly LiveInput[], event: RuntimeEvent): void {
    this.#emit(event);
    for (const live of inputs) live.emit(event as TurnEvent);
  }

  #emit(event: RuntimeEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#options.logger.error(
          { event: event.type, error: String(error) },
          "an event listener threw; it was contained",
        );
      }
    }
  }

  #report(where: string, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.#options.logger.error({ where, error: message }, `offstage: ${where} failed`);
    this.#emit({ type: "error", where, message });
  }
}

function unsupported(kind: string): OffstageError {
  return new OffstageError("DELEGATION_UNSUPPORTED", `the ${kind} store keeps no delegation log`);
}

/**
 * A turn's opening user messages, one per input. One message gets an array with room for the
 * model's answer, which the turn appends: a full one-element array would grow to 17 slots for it.
 */
function openingMessages(inputs: readonly LiveInput[]): Message[] {
  if (inputs.length > 1) return inputs.map((input) => userMessage(input.payload));
  const opening = userMessage(inputs[0]!.payload);
  const messages = [opening, opening];
  messages.pop();
  return messages;
}

/** The ids of live inputs (a new array: a turn's inputs change when input is steered). */
function idsOf(inputs: readonly LiveInput[]): string[] {
  return inputs.length === 1 ? [inputs[0]!.id] : inputs.map((live) => live.id);
}

function keyOf(sessionId: string, key: string): string {
  return `${sessionId}\u0000${key}`;
}

function conflict(sessionId: string, key: string, inputId: string): InvalidInputError {
  return new InvalidInputError(
    "IDEMPOTENCY_CONFLICT",
    `idempotency key ${JSON.stringify(key)} of session ${JSON.stringify(sessionId)} was used for input ${inputId} with a different payload`,
    { details: { sessionId, idempotencyKey: key, inputId } },
  );
}
