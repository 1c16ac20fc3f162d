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
 * The actions live by concern: `actions.ts` picks the next one, `send-driver.ts` (sends, invokes),
 * `handle-driver.ts` (cancel, withdraw, result, look-ups, event iterators), `lifecycle-driver.ts`
 * (stop, start, the final stops), `bad-argument.ts`, `delegation-driver.ts`; `spawn-process.ts`
 * builds each simulated process. This file holds the run loop: time, the steps, the final phase.
 */
import type { StopStatus } from "../../src/kernel/shutdown/stop-status.js";
import type { Runtime } from "../../src/runtime/runtime.js";
import type { Session } from "../../src/runtime/session.js";
import type { TurnHandle } from "../../src/runtime/turn-handle.js";
import { createMemoryStore } from "../../src/store/memory/memory-store.js";
import type { SeededRandom } from "../../src/testing/seeded-random.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";
import { type Action, pickAction } from "./actions.js";
import { badArgument } from "./bad-argument.js";
import type { SimConfig } from "./config.js";
import { DEFAULT_STEPS, describeConfig, expandConfig, streamsOf } from "./config.js";
import { DelegationDriver } from "./delegation-driver.js";
import type { DriverParts } from "./driver-parts.js";
import { promptProblem } from "./fake-model.js";
import { HandleDriver } from "./handle-driver.js";
import { Checker, SimulationFailure } from "./invariants.js";
import { LifecycleDriver } from "./lifecycle-driver.js";
import { commitLabel, replayCommand, seedLabel } from "./replay.js";
import { SendDriver } from "./send-driver.js";
import { type SimProcess, spawnProcess } from "./spawn-process.js";
import { Trace } from "./trace.js";
import { CallTracker } from "./world.js";

export { replayCommand, seedLabel } from "./replay.js";

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
  /** The current simulated process; a crash replaces it. */
  #process: SimProcess;
  #ids = 0;
  #step = -1;
  #handleCount = 0;
  #roles = 0;
  readonly #sends: SendDriver;
  readonly #handles: HandleDriver;
  readonly #lifecycle: LifecycleDriver;
  readonly #parts: DriverParts;
  /** Host-side delegation actions, in seeds that delegate. */
  readonly #delegation: DelegationDriver | undefined;
  readonly #spawn: (id: number) => SimProcess;

  constructor(seed: number, options: SimOptions) {
    this.seed = seed;
    this.#options = options;
    this.config = expandConfig(seed, options.steps ?? DEFAULT_STEPS);
    const streams = streamsOf(seed);
    this.#r = streams.driver;
    this.#trace = new Trace(() => this.#clock.monotonicMs(), options.verbose === true);
    const calls = new CallTracker(this.#clock);
    this.#calls = calls;
    this.#checker = new Checker({
      config: this.config,
      clock: this.#clock,
      store: this.#store,
      calls,
      trace: this.#trace,
      runtime: () => this.#runtime,
    });
    this.#parts = {
      config: this.config,
      r: this.#r,
      clock: this.#clock,
      trace: this.#trace,
      checker: this.#checker,
      runtime: () => this.#runtime,
      session: (id) => this.#session(id),
      keep: (handle, how) => this.#keep(handle, how),
      pickHandle: () => this.#pickHandle(),
      fingerprint: () => this.#fingerprint(),
    };
    this.#sends = new SendDriver(this.#parts);
    this.#handles = new HandleDriver(this.#parts);
    this.#lifecycle = new LifecycleDriver(this.#parts);
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
    const spawnParts = {
      config: this.config,
      clock: this.#clock,
      store: this.#store,
      streams,
      calls,
      trace: this.#trace,
      checker: this.#checker,
      // Unique across processes, as ids must be across restarts.
      nextId: () => `i${(this.#ids++).toString(36)}`,
      nextRole: () => this.#nextRole(),
      keep: (handle: TurnHandle, how: string) => this.#keep(handle, how),
    };
    this.#spawn = (id) => spawnProcess(id, spawnParts);
    this.#process = this.#spawn(1);
  }

  #nextRole(): string {
    this.#roles += 1;
    return `r${this.#roles}`;
  }

  get #runtime(): Runtime {
    return this.#process.runtime;
  }

  /** Kills the process at this quiescent point and starts a new one that recovers from the store. */
  #crash(): void {
    const dead = this.#process;
    this.#trace.add(`> crash process ${dead.id} (${dead.runtime.state})`);
    dead.kill();
    this.#calls.crash(dead.id);
    this.#checker.crashed();
    this.#process = this.#spawn(dead.id + 1);
    this.#lifecycle.startRuntime();
  }

  async run(): Promise<void> {
    this.#trace.add(`seed ${seedLabel(this.seed)}: ${describeConfig(this.config)}`);
    this.#lifecycle.startRuntime();
    await this.#settle("initial start");
    for (this.#step = 0; this.#step < this.config.steps; this.#step++) {
      const delegates = this.#delegation === undefined ? 0 : 1;
      await this.#act(pickAction(this.#r, this.#runtime.state, this.config.profile, delegates));
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
        `commit: ${commitLabel()}`,
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
  readonly #until = async (done: () => boolean, what: string, timersMax = 200_000): Promise<void> => {
    for (let i = 0; i < timersMax; i++) {
      await this.#settle(`waiting for ${what}`);
      if (done()) return;
      const due = this.#clock.nextDueMs();
      if (due === undefined)
        throw new SimulationFailure(`${what} never happened, and no timer is left to fire (a hang)`);
      this.#clock.fireNext();
    }
    throw new SimulationFailure(`${what} did not happen within ${timersMax} timer firings`);
  };

  // ---- actions -----------------------------------------------------------------------------------

  async #act(action: Action): Promise<void> {
    switch (action) {
      case "send":
        return this.#sends.send(false);
      case "keyed":
        return this.#sends.send(true);
      case "invoke":
        return this.#sends.invoke();
      case "cancel":
        return this.#handles.cancel();
      case "withdraw":
        return this.#handles.withdraw();
      case "result":
        return this.#handles.result();
      case "lookup":
        return this.#handles.lookup();
      case "follow":
        return this.#handles.follow();
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
        return this.#lifecycle.stop();
      case "start":
        return this.#lifecycle.start();
      case "crash":
        return this.#crash();
      case "invalid":
        return badArgument(this.#parts);
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
      this.#lifecycle.startRuntime();
      await this.#until(() => runtime.state === "running", "the final start");
    }
    // Completions held at a start wait for the host: settle them, so every one is delivered or dropped.
    this.#delegation?.settleHeld();
    await this.#lifecycle.finalStop(true, this.#until);
    this.#checker.checkFinal();
    this.#trace.add("> final: restart with nothing to recover, stop");
    this.#lifecycle.startRuntime();
    await this.#until(() => runtime.state === "running", "the restart");
    await this.#lifecycle.finalStop(false, this.#until);
    this.#checker.checkFinal();
    for (const id of this.#checker.sessionIds()) {
      const problem = promptProblem(this.#store.history(id));
      if (problem !== undefined)
        throw new SimulationFailure(`session ${id}'s history is malformed: ${problem}`);
    }
  }
}
