/**
 * The deterministic simulation driver: `runSeed(seed)` builds a runtime on a virtual clock with seeded
 * ids, a lossy wake channel, a fake model, fake tools and a fake function agent, then drives it with
 * random actions drawn from the seed — sends under every policy (idempotent re-sends with the same or
 * a different payload included), `invoke()`, cancels (immediate and after_step), withdraws, waits with
 * timeouts, handle look-ups and event iterators, stops with and without drain (random deadlines,
 * sometimes `force`), restarts, process crashes, bad arguments, and virtual time passing; in seeds
 * that delegate, also background children (`delegation-driver.ts`: host-side fan-out, the control
 * verbs, held completions; the fake model of a `boss` agent calls the `delegate` tool itself) — and
 * checks every invariant of `invariants.ts` and `delegation-invariants.ts` after each action and after
 * every timer the clock fires. The run ends with a final draining stop, a restart with nothing left
 * to recover, and a stop.
 *
 * Determinism: the runtime only waits on the injected clock (checked: no real timer is used when a
 * clock and `yieldToLoop` are given), and the driver moves time one timer at a time, draining the
 * microtask queue in between with `setImmediate` — with no IO and no real timers in the run, that
 * drain reaches the same quiescent state every time. So a seed replays exactly; the replay test
 * compares whole-trace hashes of two runs.
 *
 * This file is longer than most because the driver's actions and the predictions it checks them
 * against read best side by side.
 */
import { execSync } from "node:child_process";
import { createRuntime } from "../../src/create-runtime.js";
import { isOffstageError, TurnCancelled, TurnTimeout } from "../../src/errors.js";
import type { Policy } from "../../src/kernel/session/inbox.js";
import type { StopStatus } from "../../src/kernel/shutdown/stop-status.js";
import { silentLogger } from "../../src/runtime/logger.js";
import type { Runtime } from "../../src/runtime/runtime.js";
import type { Session } from "../../src/runtime/session.js";
import type { TurnHandle } from "../../src/runtime/turn-handle.js";
import { createMemoryStore } from "../../src/store/memory/memory-store.js";
import type { SeededRandom } from "../../src/testing/seeded-random.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";
import type { SimConfig, SimStreams } from "./config.js";
import { DEFAULT_STEPS, describeConfig, expandConfig, streamsOf } from "./config.js";
import { DelegationDriver } from "./delegation-driver.js";
import { CallTracker, chatAgent, functionAgent, lossyWakes, promptProblem, type World } from "./fakes.js";
import { Checker, SimulationFailure } from "./invariants.js";
import { fencedClock, fencedStore } from "./process.js";
import { Trace } from "./trace.js";

export interface SimOptions {
  /** Driver actions before the final stop/restart/drain (default {@link DEFAULT_STEPS}). */
  readonly steps?: number;
  /** Keep the whole trace in the report (for `npm run sim`). */
  readonly verbose?: boolean;
}

export interface SimReport {
  readonly seed: number;
  readonly config: SimConfig;
  readonly virtualMs: number;
  readonly inputs: number;
  readonly turns: number;
  readonly statuses: Readonly<Record<string, number>>;
  readonly stops: readonly StopStatus[];
  readonly traceLines: number;
  readonly traceHash: string;
  /** How often each interesting fault and outcome happened. */
  readonly coverage: Readonly<Record<string, number>>;
  /** The whole trace when `verbose`, else empty. */
  readonly trace: string;
}

/** `0x4d2` style, as `npm run sim -- --seed` accepts it. */
export function seedLabel(seed: number): string {
  return `0x${(seed >>> 0).toString(16)}`;
}

export function replayCommand(seed: number): string {
  return `npm run sim -- --seed ${seedLabel(seed)}`;
}

/** Runs one seed; throws {@link SimulationFailure} with the seed, config, replay command and trace tail. */
export async function runSeed(seed: number, options: SimOptions = {}): Promise<SimReport> {
  const sim = new Simulation(seed >>> 0, options);
  try {
    await sim.run();
  } catch (error) {
    throw sim.decorate(error);
  }
  return sim.report();
}

/** Drains the microtask queue: nothing else (no IO, no real timer) can be pending in a run. */
function flush(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

const POLICY_WEIGHTS: Record<"default" | "steer_heavy", [Policy, number][]> = {
  default: [
    ["enqueue", 30],
    ["reject", 15],
    ["interrupt", 15],
    ["merge", 15],
    ["steer", 25],
  ],
  steer_heavy: [
    ["enqueue", 15],
    ["reject", 5],
    ["interrupt", 20],
    ["merge", 15],
    ["steer", 45],
  ],
};

type Action =
  | "send"
  | "keyed"
  | "cancel"
  | "withdraw"
  | "result"
  | "lookup"
  | "follow"
  | "invoke"
  | "tick"
  | "wait"
  | "stop"
  | "start"
  | "crash"
  | "invalid"
  | "delegate"
  | "control"
  | "stale";

function weighted<T>(r: SeededRandom, table: readonly [T, number][]): T {
  let total = 0;
  for (const [, w] of table) total += w;
  let x = r.next() * total;
  for (const [item, w] of table) {
    x -= w;
    if (x < 0) return item;
  }
  return table[table.length - 1]![0];
}

type Prediction =
  | { readonly kind: "refused"; readonly code: string }
  | { readonly kind: "same"; readonly inputId: string }
  | { readonly kind: "queued"; readonly interrupts: string | undefined }
  | { readonly kind: "steered"; readonly turnId: string };

class Simulation {
  readonly seed: number;
  readonly config: SimConfig;
  readonly #options: SimOptions;
  readonly #r: SeededRandom;
  readonly #clock = new VirtualClock();
  readonly #store = createMemoryStore({ endedInputsMax: 1_000_000 });
  readonly #trace: Trace;
  readonly #calls: CallTracker;
  readonly #checker: Checker;
  readonly #streams: SimStreams;
  /** The current simulated process; a crash replaces it. */
  #process!: { readonly id: number; readonly runtime: Runtime; kill(): void };
  #ids = 0;
  /** Idempotency keys the driver used, per session: key → the input it names and its payload JSON. */
  readonly #keys = new Map<string, Map<string, { inputId: string; json: string; payload: unknown }>>();
  #step = -1;
  #payloads = 0;
  #handleCount = 0;
  #stopping: Promise<StopStatus> | undefined;
  #roles = 0;
  /** Host-side delegation actions, in seeds that delegate. */
  readonly #delegation: DelegationDriver | undefined;

  constructor(seed: number, options: SimOptions) {
    this.seed = seed;
    this.#options = options;
    this.config = expandConfig(seed, options.steps ?? DEFAULT_STEPS);
    const streams = streamsOf(seed);
    this.#streams = streams;
    this.#r = streams.driver;
    this.#trace = new Trace(() => this.#clock.monotonicMs(), options.verbose === true);
    this.#calls = new CallTracker(this.#clock);
    this.#checker = new Checker({
      config: this.config,
      clock: this.#clock,
      store: this.#store,
      calls: this.#calls,
      trace: this.#trace,
      runtime: () => this.#runtime,
    });
    const delegation = this.config.delegation;
    const ledger = this.#checker.delegations;
    this.#delegation =
      delegation === undefined || ledger === undefined
        ? undefined
        : new DelegationDriver({
            config: this.config,
            delegation,
            r: streams.delegation,
            trace: this.#trace,
            checker: this.#checker,
            ledger,
            runtime: () => this.#runtime,
            session: (id) => this.#session(id),
            nextRole: () => this.#nextRole(),
          });
    this.#spawn(1);
  }

  #nextRole(): string {
    this.#roles += 1;
    return `r${this.#roles}`;
  }

  get #runtime(): Runtime {
    return this.#process.runtime;
  }

  /** Starts a simulated process: a runtime over the shared store and clock, with its own fakes. */
  #spawn(id: number): void {
    let alive = true;
    const isAlive = () => alive;
    const clock = fencedClock(this.#clock, isAlive);
    const world: World = {
      process: id,
      alive: isAlive,
      config: this.config,
      clock: this.#clock,
      streams: this.#streams,
      calls: this.#calls,
      trace: this.#trace,
      fail: (message) => this.#checker.fail(message),
      runtime: () => runtime,
      keepHandle: (handle) => {
        if (!alive) return;
        this.#checker.sent(handle);
        this.#keep(handle, "nested");
      },
      count: (what) => this.#checker.count(what),
      prompted: (prompt) => {
        if (alive) this.#checker.prompted(prompt);
      },
      nextRole: () => this.#nextRole(),
    };
    const d = this.config.delegation;
    const runtime = createRuntime({
      agents: {
        chat: chatAgent(world),
        fn: functionAgent(world),
        ...(d === undefined ? {} : { boss: chatAgent(world, true) }),
      },
      store: fencedStore(this.#store, isAlive, {
        accepted: (input) => this.#checker.storeAccepted(input),
        steered: (steer) => this.#checker.storeSteered(steer),
        inputEnded: (end) => this.#checker.storeInputEnded(end),
        delivery: (id, state) => this.#checker.delegations?.deliveryWritten(id, state),
      }),
      ...(d === undefined
        ? {}
        : {
            delegation: {
              runningMax: d.runningMax,
              perParentRunningMax: d.perParentRunningMax,
              depthMax: d.depthMax,
              keepPerParent: d.keepPerParent,
              staleAfterMs: d.staleAfterMs,
              mergeCompletions: d.mergeCompletions,
              ...(d.modelCallsMax === undefined ? {} : { budget: { modelCallsMax: d.modelCallsMax } }),
            },
          }),
      limits: {
        maxConcurrentTurns: this.config.maxConcurrentTurns,
        inboxLengthMax: this.config.inboxLengthMax,
        toolTimeoutMs: this.config.toolTimeoutMs,
        payloadBytesMax: this.config.payloadBytesMax,
      },
      pollIntervalMs: this.config.pollIntervalMs,
      slotQuantumMs: this.config.slotQuantumMs,
      logger: silentLogger,
      clock,
      // Unique across processes, as ids must be across restarts.
      ids: () => `i${(this.#ids++).toString(36)}`,
      wakes: lossyWakes(world),
      yieldToLoop: (next) => clock.setTimeout(next, 0),
    });
    runtime.on((event) => {
      if (alive) this.#checker.listener(event);
    });
    this.#process = {
      id,
      runtime,
      kill: () => {
        alive = false;
      },
    };
  }

  /** Kills the process at this quiescent point and starts a new one that recovers from the store. */
  #crash(): void {
    const dead = this.#process;
    this.#trace.add(`> crash process ${dead.id} (${dead.runtime.state})`);
    dead.kill();
    this.#calls.crash(dead.id);
    this.#checker.crashed();
    this.#spawn(dead.id + 1);
    this.#startRuntime();
  }

  async run(): Promise<void> {
    this.#trace.add(`seed ${seedLabel(this.seed)}: ${describeConfig(this.config)}`);
    this.#startRuntime();
    await this.#settle("initial start");
    for (this.#step = 0; this.#step < this.config.steps; this.#step++) {
      await this.#act(this.#pick());
      await this.#settle(`step ${this.#step}`);
    }
    await this.#final();
  }

  report(): SimReport {
    const statuses: Record<string, number> = {};
    for (const f of this.#checker.inputs.values()) {
      const key = f.status ?? f.state;
      statuses[key] = (statuses[key] ?? 0) + 1;
    }
    return {
      seed: this.seed,
      config: this.config,
      virtualMs: this.#clock.monotonicMs(),
      inputs: this.#checker.inputs.size,
      turns: this.#checker.turns.size,
      statuses,
      stops: this.#checker.stopStatuses,
      traceLines: this.#trace.lines,
      traceHash: this.#trace.hash,
      coverage: this.#checker.coverage,
      trace: this.#trace.all(),
    };
  }

  decorate(error: unknown): Error {
    const what =
      error instanceof SimulationFailure
        ? error.message
        : `unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
    const where =
      this.#step < 0
        ? "before the first step"
        : this.#step >= this.config.steps
          ? "in the final phase"
          : `at step ${this.#step}`;
    const failure = new SimulationFailure(
      [
        `simulation seed ${this.seed} (${seedLabel(this.seed)}) failed ${where}, virtual time ${this.#clock.monotonicMs()}ms`,
        what,
        `replay: ${replayCommand(this.seed)}${this.config.steps === DEFAULT_STEPS ? "" : ` --steps ${this.config.steps}`}`,
        `commit: ${commit()}`,
        `config: ${describeConfig(this.config)}`,
        this.#options.verbose === true
          ? `trace:\n${this.#trace.all()}`
          : `last trace lines:\n${this.#trace.tail()}`,
      ].join("\n"),
    );
    return failure;
  }

  // ---- time --------------------------------------------------------------------------------------

  /** Drains microtasks and checks every invariant. */
  async #settle(where: string): Promise<void> {
    await flush();
    this.#checker.check(where);
  }

  /** Moves virtual time forward by `ms`, one timer at a time, checking after each. */
  async #advance(ms: number): Promise<void> {
    const target = this.#clock.monotonicMs() + ms;
    for (;;) {
      const due = this.#clock.nextDueMs();
      if (due === undefined || due > target) break;
      this.#clock.fireNext();
      await this.#settle(`timer at ${due}ms`);
    }
    this.#clock.advance(target - this.#clock.monotonicMs());
  }

  /** Fires timers until `done()` holds; fails if nothing is left to happen first. */
  async #until(done: () => boolean, what: string, timersMax = 200_000): Promise<void> {
    for (let i = 0; i < timersMax; i++) {
      await this.#settle(`waiting for ${what}`);
      if (done()) return;
      const due = this.#clock.nextDueMs();
      if (due === undefined)
        throw new SimulationFailure(`${what} never happened, and no timer is left to fire (a hang)`);
      this.#clock.fireNext();
    }
    throw new SimulationFailure(`${what} did not happen within ${timersMax} timer firings`);
  }

  // ---- actions -----------------------------------------------------------------------------------

  #pick(): Action {
    const { profile } = this.config;
    const state = this.#runtime.state;
    if (state === "starting") return "tick";
    const delegates = this.#delegation === undefined ? 0 : 1;
    if (state === "stopping") {
      return weighted<Action>(this.#r, [
        ["delegate", 0.5 * delegates],
        ["control", 1 * delegates],
        ["stale", 0.5 * delegates],
        ["tick", 10],
        ["wait", 4],
        ["cancel", 2],
        ["withdraw", 1],
        ["send", 1],
        ["keyed", 0.5],
        ["stop", 1],
        ["start", 1],
        ["lookup", 1],
        ["result", 1],
        ["crash", 1],
      ]);
    }
    if (state !== "running") {
      return weighted<Action>(this.#r, [
        ["delegate", 0.3 * delegates],
        ["control", 0.3 * delegates],
        ["stale", 0.5 * delegates],
        ["start", 10],
        ["tick", 2],
        ["send", 1],
        ["cancel", 1],
        ["withdraw", 1],
        ["result", 0.5],
        ["stop", 0.5],
        ["lookup", 1],
        ["crash", 1],
      ]);
    }
    const storm = profile === "cancel_storm";
    return weighted<Action>(this.#r, [
      ["delegate", 8 * delegates],
      ["control", (storm ? 6 : 2) * delegates],
      ["stale", 1 * delegates],
      ["send", 26],
      ["keyed", 8],
      ["cancel", storm ? 20 : 6],
      ["withdraw", storm ? 10 : 5],
      ["result", 5],
      ["lookup", 2],
      ["follow", 2],
      ["invoke", 2],
      ["tick", 22],
      ["wait", 6],
      ["stop", profile === "stop_heavy" ? 8 : 2.5],
      ["start", 0.5],
      ["crash", profile === "stop_heavy" ? 3 : 1],
      ["invalid", 2],
    ]);
  }

  async #act(action: Action): Promise<void> {
    switch (action) {
      case "send":
        return this.#send(false);
      case "keyed":
        return this.#send(true);
      case "cancel":
        return this.#cancel();
      case "withdraw":
        return this.#withdraw();
      case "result":
        return this.#result();
      case "lookup":
        return this.#lookup();
      case "follow":
        return this.#follow();
      case "invoke":
        return this.#invoke();
      case "tick": {
        const ms = this.#r.int(0, 30);
        this.#trace.add(`> tick ${ms}ms`);
        return this.#advance(ms);
      }
      case "wait": {
        const ms = this.#r.int(50, 3 * this.config.pollIntervalMs + 50);
        this.#trace.add(`> wait ${ms}ms`);
        return this.#advance(ms);
      }
      case "stop":
        return this.#stop();
      case "start":
        return this.#start();
      case "crash":
        return this.#crash();
      case "invalid":
        return this.#invalid();
      case "delegate":
        return this.#delegation?.delegate();
      case "control":
        return this.#delegation?.control();
      case "stale":
        return this.#delegation?.stale();
    }
  }

  #keep(handle: TurnHandle, how: string): void {
    this.#handleCount += 1;
    this.#checker.keep(handle, `#${this.#handleCount} ${how} ${handle.id}`);
  }

  #pickHandle(): TurnHandle | undefined {
    const kept = this.#checker.handles();
    if (kept.length === 0) return undefined;
    // Mostly recent handles, sometimes any (old handles from before a restart included).
    const from = this.#r.chance(0.7) ? Math.max(0, kept.length - 12) : 0;
    return kept[this.#r.int(from, kept.length - 1)]!.handle;
  }

  #fingerprint(): string {
    const m = this.#runtime.metrics();
    return `${this.#runtime.state}|events=${this.#checker.eventCount}|queued=${m.queuedInputs}|running=${m.runningTurns}|accepted=${m.inputsAccepted}`;
  }

  #session(id: string): Session {
    const agent = this.config.sessions.find((s) => s.id === id)!.agent;
    return this.#runtime.session(id, { agent });
  }

  /** What the runtime must do with this send, from the ledger alone. */
  #predict(sessionId: string, policy: Policy, key: string | undefined, json: string): Prediction {
    const state = this.#runtime.state;
    if (state !== "running")
      return { kind: "refused", code: state === "stopping" ? "STOPPING" : "NOT_RUNNING" };
    const known = key === undefined ? undefined : this.#keys.get(sessionId)?.get(key);
    if (known !== undefined) {
      return known.json === json
        ? { kind: "same", inputId: known.inputId }
        : { kind: "refused", code: "IDEMPOTENCY_CONFLICT" };
    }
    const open = this.#checker.openTurn(sessionId);
    const queued = this.#checker.queued(sessionId).length;
    if (policy === "reject" && (open !== undefined || queued > 0))
      return { kind: "refused", code: "SESSION_BUSY" };
    if (policy === "steer" && open !== undefined) return { kind: "steered", turnId: open.id };
    if (queued >= this.config.inboxLengthMax) return { kind: "refused", code: "INBOX_FULL" };
    return { kind: "queued", interrupts: policy === "interrupt" ? open?.id : undefined };
  }

  #send(keyed: boolean): void {
    const r = this.#r;
    const sessionId = r.pick(this.config.sessions).id;
    const policy = weighted(
      r,
      POLICY_WEIGHTS[this.config.profile === "steer_heavy" ? "steer_heavy" : "default"],
    );
    let key: string | undefined;
    let payload: unknown;
    if (keyed) {
      key = `k${r.int(0, 3)}`;
      const known = this.#keys.get(sessionId)?.get(key);
      payload = known !== undefined && r.chance(0.6) ? known.payload : this.#payload();
    } else payload = this.#payload();
    const json = JSON.stringify(payload);
    const expect = this.#predict(sessionId, policy, key, json);
    const before = this.#fingerprint();
    let handle: TurnHandle | undefined;
    let error: unknown;
    try {
      handle = this.#session(sessionId).send(
        payload,
        key === undefined ? { policy } : { policy, idempotencyKey: key },
      );
    } catch (e) {
      error = e;
    }
    if (handle !== undefined) this.#checker.sent(handle);
    const got =
      handle !== undefined
        ? `${handle.id} ${handle.status}`
        : `threw ${isOffstageError(error) ? error.code : String(error)}`;
    this.#trace.add(
      `> send ${sessionId} ${json} ${policy}${key === undefined ? "" : ` key=${key}`} -> ${got} (expected ${expect.kind}${"code" in expect ? ` ${expect.code}` : ""})`,
    );
    const fail = (why: string) =>
      this.#checker.fail(
        `send to ${sessionId} (${policy}${key === undefined ? "" : `, key ${key}`}): ${why}`,
      );
    this.#checker.count(`send ${expect.kind}${"code" in expect ? ` ${expect.code}` : ""}`);
    if (expect.kind === "refused") {
      if (handle !== undefined) {
        fail(`accepted as ${handle.id}; expected ${expect.code}`);
        return;
      }
      if (!isOffstageError(error) || error.code !== expect.code) {
        fail(`threw ${String(error)}; expected ${expect.code}`);
        return;
      }
      if (this.#fingerprint() !== before)
        fail(`a refused send changed state: ${before} -> ${this.#fingerprint()}`);
      return;
    }
    if (handle === undefined) {
      fail(`threw ${String(error)}; expected ${expect.kind}`);
      return;
    }
    if (expect.kind === "same") {
      if (handle.id !== expect.inputId) {
        fail(`returned input ${handle.id}; the key names ${expect.inputId}`);
        return;
      }
      const live = this.#checker.inputs.get(handle.id)?.state !== "terminal";
      if (live && handle !== this.#runtime.handle(handle.id))
        fail(`an idempotent re-send returned a copy, not the live handle`);
      if (this.#fingerprint() !== before)
        fail(`an idempotent re-send changed state: ${before} -> ${this.#fingerprint()}`);
      this.#keep(handle, "resend");
      return;
    }
    const fact = this.#checker.inputs.get(handle.id);
    if (fact === undefined) {
      fail(`input ${handle.id} was accepted without an input.accepted event`);
      return;
    }
    if (key !== undefined) {
      let keys = this.#keys.get(sessionId);
      if (keys === undefined) {
        keys = new Map();
        this.#keys.set(sessionId, keys);
      }
      keys.set(key, { inputId: handle.id, json, payload });
    }
    this.#keep(handle, "send");
    if (expect.kind === "steered") {
      if (handle.status !== "running" || handle.turnId !== expect.turnId)
        fail(
          `expected to be steered into ${expect.turnId}; the handle is ${handle.status} in ${String(handle.turnId)}`,
        );
      return;
    }
    if (handle.status !== "queued" || fact.state !== "queued")
      fail(`expected queued; handle ${handle.status}, ledger ${fact.state}`);
    if (expect.interrupts !== undefined)
      this.#checker.expectTurnEnd(expect.interrupts, ["interrupted"], `interrupt send ${handle.id}`);
  }

  #payload(): unknown {
    this.#payloads += 1;
    return this.#r.chance(0.3) ? `m${this.#payloads}` : { n: this.#payloads, by: "driver" };
  }

  #cancel(): void {
    const handle = this.#pickHandle();
    if (handle === undefined) return;
    const mode = this.#r.chance(0.7) ? "immediate" : "after_step";
    const fact = this.#checker.inputs.get(handle.id);
    const state = this.#runtime.state;
    const live =
      (state === "running" || state === "stopping") &&
      !handle.done &&
      fact !== undefined &&
      fact.state !== "terminal";
    const mustCancel = live && (mode === "immediate" || fact.state === "queued");
    const was = fact?.state;
    this.#trace.add(`> cancel ${handle.id} ${mode} (${handle.status}${live ? ", live" : ""})`);
    // A steered input the model never saw leaves its turn alone; any other running input's cancel
    // ends its turn.
    const unseenSteer = fact?.steeredInto !== undefined && !fact.seen;
    if (mustCancel && fact.state === "running" && fact.turnId !== undefined && !unseenSteer)
      this.#checker.expectTurnEnd(fact.turnId, ["cancelled"], `immediate cancel of ${handle.id}`);
    const promise = handle.cancel({ mode, reason: "simulated cancel" });
    this.#checker.watch(promise, `cancel(${handle.id})`);
    promise.then(
      (status) => {
        this.#trace.add(`  cancel(${handle.id}) -> ${status}`);
        if (!handle.done)
          this.#checker.fail(`cancel(${handle.id}) resolved ${status} before its handle settled`);
        else if (handle.status !== status)
          this.#checker.fail(`cancel(${handle.id}) resolved ${status}; the handle is ${handle.status}`);
        if (mustCancel && status !== "cancelled")
          this.#checker.fail(
            `cancel(${handle.id}, ${mode}) of a ${String(was)} input resolved ${status}, expected cancelled`,
          );
      },
      (error: unknown) => this.#checker.fail(`cancel(${handle.id}) rejected: ${String(error)}`),
    );
  }

  #withdraw(): void {
    const handle = this.#pickHandle();
    if (handle === undefined) return;
    const fact = this.#checker.inputs.get(handle.id);
    const state = this.#runtime.state;
    const expectOk = (state === "running" || state === "stopping") && fact?.state === "queued";
    const before = this.#fingerprint();
    let error: unknown;
    try {
      handle.withdraw();
    } catch (e) {
      error = e;
    }
    this.#trace.add(
      `> withdraw ${handle.id} (${handle.status}) -> ${error === undefined ? "ok" : isOffstageError(error) ? error.code : String(error)}`,
    );
    if (error === undefined) this.#checker.count("withdraw of a queued input");
    if (error === undefined && !expectOk)
      this.#checker.fail(
        `withdraw(${handle.id}) succeeded but the input was ${String(fact?.state)} (runtime ${state})`,
      );
    if (error !== undefined) {
      if (expectOk) this.#checker.fail(`withdraw(${handle.id}) of a queued input threw ${String(error)}`);
      else if (!isOffstageError(error, "NOT_WITHDRAWABLE"))
        this.#checker.fail(`withdraw(${handle.id}) threw ${String(error)}`);
      if (this.#fingerprint() !== before)
        this.#checker.fail(`a refused withdraw changed state: ${before} -> ${this.#fingerprint()}`);
    }
  }

  #result(): void {
    const handle = this.#pickHandle();
    if (handle === undefined) return;
    const timeout = this.#r.chance(0.2) ? undefined : this.#r.int(0, 300);
    const startedAtMs = this.#clock.monotonicMs();
    this.#trace.add(`> result ${handle.id} timeout=${String(timeout)} (${handle.status})`);
    const promise = handle.result(timeout === undefined ? {} : { timeoutMs: timeout });
    this.#checker.watch(promise, `result(${handle.id}, timeout ${String(timeout)})`);
    const fail = (why: string) => this.#checker.fail(`result(${handle.id}): ${why}`);
    promise.then(
      (value) => {
        this.#trace.add(`  result(${handle.id}) -> ${value.status}`);
        if (!handle.done) fail(`resolved before the handle settled`);
        if (value.inputId !== handle.id || value.status !== handle.status)
          fail(`resolved ${value.inputId} ${value.status}; handle ${handle.status}`);
      },
      (error: unknown) => {
        this.#trace.add(
          `  result(${handle.id}) threw ${isOffstageError(error) ? error.code : String(error)}`,
        );
        if (error instanceof TurnTimeout) {
          this.#checker.count("result() timed out");
          const waited = this.#clock.monotonicMs() - startedAtMs;
          if (timeout === undefined || waited < timeout)
            fail(`TurnTimeout after ${waited}ms with timeout ${String(timeout)}`);
          if (handle.done) fail(`TurnTimeout though the handle settled ${handle.status}`);
        } else if (error instanceof TurnCancelled) {
          if (!["cancelled", "interrupted", "withdrawn"].includes(handle.status))
            fail(`TurnCancelled for a ${handle.status} handle`);
        } else fail(`threw ${String(error)}`);
      },
    );
  }

  #lookup(): void {
    const ids = [...this.#checker.inputs.keys()];
    if (ids.length === 0) return;
    const id = ids[this.#r.int(0, ids.length - 1)]!;
    const handle = this.#runtime.handle(id);
    this.#trace.add(`> lookup ${id} -> ${handle === undefined ? "nothing" : handle.status}`);
    if (handle === undefined) {
      this.#checker.fail(`runtime.handle(${id}) found nothing for an accepted input`);
      return;
    }
    const fact = this.#checker.inputs.get(id)!;
    if (fact.state === "terminal" && handle.status !== fact.status)
      this.#checker.fail(`runtime.handle(${id}) says ${handle.status}; the input ended ${fact.status}`);
    this.#keep(handle, "lookup");
  }

  /** Follows a handle's event iterator: it must end once the handle settles, never before. */
  #follow(): void {
    const handle = this.#pickHandle();
    if (handle === undefined) return;
    this.#trace.add(`> follow events of ${handle.id} (${handle.status})`);
    const events: string[] = [];
    const following = (async () => {
      for await (const event of handle) {
        events.push(event.type);
        if (event.sessionId !== handle.sessionId)
          this.#checker.fail(
            `handle ${handle.id} of ${handle.sessionId} got a ${event.type} event of ${event.sessionId}`,
          );
      }
    })();
    this.#checker.watch(following, `events of ${handle.id}`);
    following.then(
      () => {
        this.#trace.add(`  events of ${handle.id}: ${events.join(",") || "none"}`);
        if (!handle.done)
          this.#checker.fail(`the event iterator of ${handle.id} ended before the handle settled`);
      },
      (error: unknown) => this.#checker.fail(`the event iterator of ${handle.id} threw ${String(error)}`),
    );
  }

  /** `session.invoke()`: send and wait in one call (never with steer: its handle is not returned). */
  #invoke(): void {
    const r = this.#r;
    const sessionId = r.pick(this.config.sessions).id;
    const policy = r.pick<Policy>(["enqueue", "reject", "interrupt", "merge"]);
    const payload = this.#payload();
    const expect = this.#predict(sessionId, policy, undefined, JSON.stringify(payload));
    const timeout = r.int(0, 400);
    const before = this.#fingerprint();
    const promise = this.#session(sessionId).invoke(payload, { policy, timeoutMs: timeout });
    this.#trace.add(
      `> invoke ${sessionId} ${JSON.stringify(payload)} ${policy} timeout=${timeout} (expected ${expect.kind})`,
    );
    this.#checker.watch(promise, `invoke(${sessionId})`);
    const refused = expect.kind === "refused";
    if (refused && this.#fingerprint() !== before)
      this.#checker.fail(`a refused invoke changed state: ${before} -> ${this.#fingerprint()}`);
    if (!refused && this.#fingerprint() === before)
      this.#checker.fail(`invoke (${policy}) accepted nothing; expected ${expect.kind}`);
    promise.then(
      (result) => {
        this.#trace.add(`  invoke -> ${result.inputId} ${result.status}`);
        if (refused) this.#checker.fail(`invoke (${policy}) resolved; expected ${expect.code}`);
      },
      (error: unknown) => {
        this.#trace.add(`  invoke threw ${isOffstageError(error) ? error.code : String(error)}`);
        if (refused) {
          if (!isOffstageError(error) || error.code !== expect.code)
            this.#checker.fail(`invoke (${policy}) threw ${String(error)}; expected ${expect.code}`);
        } else if (!(error instanceof TurnTimeout) && !(error instanceof TurnCancelled)) {
          this.#checker.fail(`invoke (${policy}) threw ${String(error)}`);
        }
      },
    );
  }

  #stop(): void {
    const r = this.#r;
    const drain = r.chance(0.5);
    const force = r.chance(0.1);
    const timeoutMs = r.pick([0, r.int(1, 100), r.int(100, 1000), r.int(1000, 5000)]);
    const state = this.#runtime.state;
    this.#trace.add(`> stop drain=${drain} timeoutMs=${timeoutMs} force=${force} (${state})`);
    const promise = this.#runtime.stop({ drain, timeoutMs, force });
    if (this.#stopping !== undefined) {
      // Until the next start(), every stop() returns the first call's promise.
      if (promise !== this.#stopping)
        this.#checker.fail(`stop() after stop() (runtime ${state}) returned a new promise`);
      return;
    }
    if (state !== "running" && state !== "starting") {
      promise.then(
        (status) => {
          if (status !== "clean") this.#checker.fail(`stop() of a ${state} runtime returned ${status}`);
        },
        (error: unknown) => this.#checker.fail(`stop() of a ${state} runtime rejected: ${String(error)}`),
      );
      return;
    }
    this.#checker.stopCalled(drain, force, timeoutMs);
    this.#stopping = promise;
    promise.then(
      (status) => {
        this.#trace.add(`  stop -> ${status}`);
        this.#checker.stopResolved(status);
      },
      (error: unknown) => this.#checker.fail(`stop() rejected: ${String(error)}`),
    );
  }

  #startRuntime(): void {
    this.#stopping = undefined;
    this.#runtime.start().then(
      () => this.#trace.add("  start -> running"),
      (error: unknown) => this.#checker.fail(`start() failed: ${String(error)}`),
    );
  }

  #start(): void {
    const state = this.#runtime.state;
    this.#trace.add(`> start (${state})`);
    if (state === "stopped" || state === "created") {
      this.#startRuntime();
      if (this.#r.chance(0.1)) this.#stop();
      return;
    }
    const want = state === "stopping" ? "STOPPING" : "ALREADY_STARTED";
    this.#runtime.start().then(
      () => this.#checker.fail(`start() of a ${state} runtime resolved`),
      (error: unknown) => {
        if (!isOffstageError(error, want))
          this.#checker.fail(`start() of a ${state} runtime threw ${String(error)}, expected ${want}`);
      },
    );
  }

  /** A bad argument to a public entry point: a typed error, and nothing changes. */
  #invalid(): void {
    const r = this.#r;
    const before = this.#fingerprint();
    const session = this.#session(r.pick(this.config.sessions).id);
    const handle = this.#pickHandle();
    const cases: [string, string, () => unknown][] = [
      [
        "send with an unknown policy",
        "INVALID_ARGUMENT",
        () => session.send("x", { policy: "later" as Policy }),
      ],
      ["send of undefined", "INVALID_ARGUMENT", () => session.send(undefined)],
      ["send with an empty key", "INVALID_ARGUMENT", () => session.send("x", { idempotencyKey: "" })],
      [
        "send of a payload too large",
        "PAYLOAD_TOO_LARGE",
        () => session.send("y".repeat(this.config.payloadBytesMax + 1)),
      ],
      ["session with an empty id", "INVALID_ARGUMENT", () => this.#runtime.session("")],
      ["new session without an agent", "UNKNOWN_SESSION", () => this.#runtime.session("nobody")],
      ["session of an unknown agent", "UNKNOWN_AGENT", () => this.#runtime.session("s0", { agent: "ghost" })],
      ["stop with a negative timeout", "INVALID_ARGUMENT", () => this.#runtime.stop({ timeoutMs: -1 })],
    ];
    if (handle !== undefined) {
      cases.push([
        "cancel with an unknown mode",
        "INVALID_ARGUMENT",
        () => handle.cancel({ mode: "soon" as "immediate" }),
      ]);
      cases.push([
        "result with a negative timeout",
        "INVALID_ARGUMENT",
        () => handle.result({ timeoutMs: -5 }),
      ]);
    }
    const [what, code, call] = r.pick(cases);
    const check = (error: unknown) => {
      this.#trace.add(`> invalid: ${what} -> ${isOffstageError(error) ? error.code : String(error)}`);
      if (!isOffstageError(error, code as "INVALID_ARGUMENT"))
        this.#checker.fail(`${what}: threw ${String(error)}, expected ${code}`);
      if (this.#fingerprint() !== before)
        this.#checker.fail(`${what} changed state: ${before} -> ${this.#fingerprint()}`);
    };
    try {
      const out = call();
      if (out instanceof Promise) out.then(() => this.#checker.fail(`${what}: resolved`), check);
      else {
        this.#trace.add(`> invalid: ${what} -> accepted`);
        this.#checker.fail(`${what}: accepted`);
      }
    } catch (error) {
      check(error);
    }
  }

  // ---- the end -----------------------------------------------------------------------------------

  /** Final stop, restart and drain: afterwards every input is terminal and every handle settled. */
  async #final(): Promise<void> {
    const runtime = this.#runtime;
    this.#trace.add("> final: let start/stop finish");
    await this.#until(
      () => runtime.state !== "starting" && runtime.state !== "stopping",
      "a pending start/stop",
    );
    if (runtime.state !== "running") {
      this.#trace.add("> final: start");
      this.#startRuntime();
      await this.#until(() => runtime.state === "running", "the final start");
    }
    // Completions held at a start wait for the host: settle them, so every one is delivered or dropped.
    this.#delegation?.settleHeld();
    await this.#finalStop(true);
    this.#checker.checkFinal();
    this.#trace.add("> final: restart with nothing to recover, stop");
    this.#startRuntime();
    await this.#until(() => runtime.state === "running", "the restart");
    await this.#finalStop(false);
    this.#checker.checkFinal();
    for (const id of this.#checker.sessionIds()) {
      const problem = promptProblem(this.#store.history(id));
      if (problem !== undefined)
        throw new SimulationFailure(`session ${id}'s history is malformed: ${problem}`);
    }
  }

  async #finalStop(drain: boolean): Promise<void> {
    const timeoutMs = 600_000;
    this.#trace.add(`> final: stop drain=${drain} timeoutMs=${timeoutMs}`);
    this.#checker.stopCalled(drain, false, timeoutMs);
    let status: StopStatus | undefined;
    this.#stopping = this.#runtime.stop({ drain, timeoutMs });
    this.#stopping.then(
      (s) => {
        status = s;
        this.#trace.add(`  stop -> ${s}`);
        this.#checker.stopResolved(s);
      },
      (error: unknown) => this.#checker.fail(`stop() rejected: ${String(error)}`),
    );
    await this.#until(() => status !== undefined, "the final stop");
    if (status !== "clean")
      throw new SimulationFailure(
        `the final stop (drain=${drain}, ${timeoutMs}ms) returned ${status}, expected clean`,
      );
  }
}

let commitCache: string | undefined;
function commit(): string {
  if (commitCache === undefined) {
    try {
      commitCache = execSync("git rev-parse --short HEAD", { stdio: ["ignore", "pipe", "ignore"] })
        .toString()
        .trim();
      const dirty = execSync("git status --porcelain --untracked-files=no", {
        stdio: ["ignore", "pipe", "ignore"],
      })
        .toString()
        .trim();
      if (dirty !== "") commitCache += " (with uncommitted changes)";
    } catch {
      commitCache = "unknown";
    }
  }
  return commitCache;
}
