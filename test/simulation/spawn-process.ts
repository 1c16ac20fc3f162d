/**
 * A simulated process: a runtime over the shared store and clock, with fakes of its own. A crash
 * kills it (its clock, store writes and fakes freeze: see `process.ts`) and the simulation spawns the
 * next one, which recovers from the store.
 */
import { createRuntime } from "../../src/create-runtime.js";
import { silentLogger } from "../../src/runtime/logger.js";
import type { Store } from "../../src/runtime/ports/store.js";
import type { Runtime } from "../../src/runtime/runtime.js";
import type { TurnHandle } from "../../src/runtime/turn-handle.js";
import type { VirtualClock } from "../../src/testing/virtual-clock.js";
import type { SimConfig, SimStreams } from "./config.js";
import { functionAgent } from "./fake-function.js";
import { chatAgent } from "./fake-model.js";
import type { Checker } from "./invariants.js";
import { lossyWakes } from "./lossy-wakes.js";
import { fencedClock, fencedStore } from "./process.js";
import type { Trace } from "./trace.js";
import type { CallTracker, World } from "./world.js";

export interface SimProcess {
  readonly id: number;
  readonly runtime: Runtime;
  /** From now on nothing this process does reaches the store, the clock or the checker. */
  kill(): void;
}

export interface SpawnParts {
  readonly config: SimConfig;
  /** The clock every process shares (each sees it through a fence). */
  readonly clock: VirtualClock;
  /** The store every process shares (each writes through a fence). */
  readonly store: Store;
  readonly streams: SimStreams;
  readonly calls: CallTracker;
  readonly trace: Trace;
  readonly checker: Checker;
  /** The next input or turn id: unique across processes, as ids must be across restarts. */
  nextId(): string;
  nextRole(): string;
  /** Keeps a handle a fake got (the function agent's nested sends). */
  keep(handle: TurnHandle, how: string): void;
}

/** Starts process `id` (not its runtime: the caller starts it). */
export function spawnProcess(id: number, p: SpawnParts): SimProcess {
  let alive = true;
  const isAlive = () => alive;
  const clock = fencedClock(p.clock, isAlive);
  const world: World = {
    process: id,
    alive: isAlive,
    config: p.config,
    clock: p.clock,
    streams: p.streams,
    calls: p.calls,
    trace: p.trace,
    fail: (message) => p.checker.fail(message),
    runtime: () => runtime,
    keepHandle: (handle) => {
      if (!alive) return;
      p.checker.sent(handle);
      p.keep(handle, "nested");
    },
    count: (what) => p.checker.count(what),
    prompted: (prompt) => {
      if (alive) p.checker.prompted(prompt);
    },
    nextRole: () => p.nextRole(),
  };
  const d = p.config.delegation;
  const runtime = createRuntime({
    agents: {
      chat: chatAgent(world),
      fn: functionAgent(world),
      ...(d === undefined ? {} : { boss: chatAgent(world, true) }),
    },
    store: fencedStore(p.store, isAlive, {
      accepted: (input) => p.checker.storeAccepted(input),
      steered: (steer) => p.checker.storeSteered(steer),
      inputEnded: (end) => p.checker.storeInputEnded(end),
      delivery: (id, state) => p.checker.delegations?.deliveryWritten(id, state),
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
      maxConcurrentTurns: p.config.maxConcurrentTurns,
      inboxLengthMax: p.config.inboxLengthMax,
      toolTimeoutMs: p.config.toolTimeoutMs,
      payloadBytesMax: p.config.payloadBytesMax,
    },
    pollIntervalMs: p.config.pollIntervalMs,
    slotQuantumMs: p.config.slotQuantumMs,
    logger: silentLogger,
    clock,
    ids: () => p.nextId(),
    wakes: lossyWakes(world),
    yieldToLoop: (next) => clock.setTimeout(next, 0),
  });
  runtime.on((event) => {
    if (alive) p.checker.listener(event);
  });
  return {
    id,
    runtime,
    kill: () => {
      alive = false;
    },
  };
}
