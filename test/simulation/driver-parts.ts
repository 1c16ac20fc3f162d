/**
 * What the driver's actions share: the seed's config and driver stream, the checker they report to,
 * the trace, and the simulation's view of the current process (its runtime, the sessions, the handles
 * kept so far).
 */
import type { Runtime } from "../../src/runtime/runtime.js";
import type { Session } from "../../src/runtime/session.js";
import type { TurnHandle } from "../../src/runtime/turn-handle.js";
import type { SeededRandom } from "../../src/testing/seeded-random.js";
import type { VirtualClock } from "../../src/testing/virtual-clock.js";
import type { SimConfig } from "./config.js";
import type { Checker } from "./invariants.js";
import type { Trace } from "./trace.js";

export interface DriverParts {
  readonly config: SimConfig;
  /** The driver's random stream: every action draws from it, in order. */
  readonly r: SeededRandom;
  readonly clock: VirtualClock;
  readonly trace: Trace;
  readonly checker: Checker;
  /** The runtime of the current process (a crash replaces it). */
  runtime(): Runtime;
  /** A driver session by id (created on first use, on the agent the config gives it). */
  session(id: string): Session;
  /** Keeps a handle for the checker, which requires it to settle with its input. */
  keep(handle: TurnHandle, how: string): void;
  /** A kept handle: mostly a recent one, sometimes any (old handles from before a restart included). */
  pickHandle(): TurnHandle | undefined;
  /** A summary of the runtime's state that any accepted call changes and a refused one must not. */
  fingerprint(): string;
}
