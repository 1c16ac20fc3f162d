/**
 * What one simulation seed expands to: the runtime's limits, the sessions and their agents, the
 * fault rates and the driver's action mix. Everything here comes from the seed, so printing the
 * config next to the seed says exactly what a failing run did.
 */
import { SeededRandom } from "../../src/testing/seeded-random.js";

/** How the driver weighs its actions for this seed. */
export type Profile = "mixed" | "cancel_storm" | "stop_heavy" | "steer_heavy" | "lossy";

export interface SimSession {
  readonly id: string;
  /**
   * `chat`: the fake model with fake tools; `fn`: the fake function agent; `boss`: the fake model with
   * the `delegate` tool too (only in seeds with delegation).
   */
  readonly agent: "chat" | "fn" | "boss";
}

/** Background children for this seed (`undefined`: the seed delegates nothing). */
export interface SimDelegation {
  readonly runningMax: number;
  readonly perParentRunningMax: number;
  readonly depthMax: number;
  /** The per-tree model-call budget, if any. */
  readonly modelCallsMax: number | undefined;
  readonly keepPerParent: number;
  /** Small in some seeds, so completions left pending across a restart are held. */
  readonly staleAfterMs: number;
  readonly mergeCompletions: boolean;
  /** Chance that a model step of an agent with the `delegate` tool calls it. */
  readonly modelDelegateP: number;
  /** Chance that a child spec carries `limits.timeoutMs`. */
  readonly timeoutP: number;
}

export interface SimConfig {
  readonly seed: number;
  /** Driver actions before the final stop/restart/drain. */
  readonly steps: number;
  readonly profile: Profile;
  readonly sessions: readonly SimSession[];
  readonly maxConcurrentTurns: number;
  readonly inboxLengthMax: number;
  readonly modelCallsPerTurnMax: number;
  readonly toolCallsPerStepMax: number;
  readonly toolTimeoutMs: number;
  /** Timeout of the `stubborn` tool, which ignores its abort signal. */
  readonly stubbornToolTimeoutMs: number;
  /** Longest run of a call that ignores its abort signal. */
  readonly stubbornMaxMs: number;
  /** Chance that a model or function call ignores its abort signal. */
  readonly stubbornCallP: number;
  readonly pollIntervalMs: number;
  /** How long a session may keep its slot for back-to-back turns (0: never). */
  readonly slotQuantumMs: number;
  readonly payloadBytesMax: number;
  /** Wake channel faults: each notify is dropped, delayed or duplicated with these chances. */
  readonly wakeDropP: number;
  readonly wakeDelayP: number;
  readonly wakeDupP: number;
  /** What recovery does with a turn a crash cut short (both agents). */
  readonly onCrash: "resume" | "fail";
  readonly maxAttempts: number;
  readonly delegation: SimDelegation | undefined;
}

export const DEFAULT_STEPS = 100;

/** Independent PRNG streams of one seed, so one part's draws never shift another part's. */
export interface SimStreams {
  readonly driver: SeededRandom;
  readonly model: SeededRandom;
  readonly tools: SeededRandom;
  readonly fn: SeededRandom;
  readonly wakes: SeededRandom;
  /** The driver's delegation actions and the specs they send. */
  readonly delegation: SeededRandom;
}

function mix(seed: number, stream: number): number {
  let h = (seed ^ Math.imul(stream + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export function streamsOf(seed: number): SimStreams {
  return {
    driver: new SeededRandom(mix(seed, 1)),
    model: new SeededRandom(mix(seed, 2)),
    tools: new SeededRandom(mix(seed, 3)),
    fn: new SeededRandom(mix(seed, 4)),
    wakes: new SeededRandom(mix(seed, 5)),
    delegation: new SeededRandom(mix(seed, 6)),
  };
}

export function expandConfig(seed: number, steps: number = DEFAULT_STEPS): SimConfig {
  const r = new SeededRandom(mix(seed, 0));
  const profile = r.pick<Profile>(["mixed", "mixed", "cancel_storm", "stop_heavy", "steer_heavy", "lossy"]);
  const sessionCount = r.int(1, 4);
  const sessions: SimSession[] = [];
  for (let i = 0; i < sessionCount; i++) sessions.push({ id: `s${i}`, agent: r.chance(0.6) ? "chat" : "fn" });
  const lossy = profile === "lossy";
  // Drawn from a stream of its own, so the draws above (and what seeds without delegation do) stay put.
  const delegation = delegationOf(new SeededRandom(mix(seed, 7)), sessions);
  const slotQuantumMs = new SeededRandom(mix(seed, 8)).pick([0, 10, 10, 1000]);
  return {
    seed,
    steps,
    profile,
    sessions,
    maxConcurrentTurns: r.pick([1, 1, 2, 3, 256]),
    inboxLengthMax: r.pick([1, 2, 4, 8, 1000]),
    modelCallsPerTurnMax: r.int(1, 4),
    toolCallsPerStepMax: r.int(1, 3),
    toolTimeoutMs: r.pick([20, 100, 1000]),
    stubbornToolTimeoutMs: r.pick([10, 60, 400]),
    stubbornMaxMs: r.pick([50, 300, 1500]),
    stubbornCallP: r.pick([0, 0, 0.05, 0.2]),
    pollIntervalMs: r.pick([10, 50, 200, 400]),
    slotQuantumMs,
    payloadBytesMax: 4096,
    wakeDropP: lossy ? r.pick([0.5, 1]) : r.pick([0, 0, 0.1, 0.3]),
    wakeDelayP: r.pick([0, 0.1, 0.3]),
    wakeDupP: r.pick([0, 0.1]),
    onCrash: r.chance(0.75) ? "resume" : "fail",
    maxAttempts: r.pick([1, 2, 3]),
    delegation,
  };
}

/**
 * The share of seeds that delegate. The others keep the driver's plain sessions and draw nothing
 * from the delegation streams, so they run as they did before delegation was simulated; three in
 * four cost the default 2000-seed run a few seconds.
 */
export const DELEGATION_SEED_P = 0.75;

function delegationOf(r: SeededRandom, sessions: SimSession[]): SimDelegation | undefined {
  if (!r.chance(DELEGATION_SEED_P)) return undefined;
  // Some model sessions become bosses, which delegate on their own; at least one when there is a model session.
  let bosses = 0;
  for (let i = 0; i < sessions.length; i++) {
    const s = sessions[i]!;
    if (s.agent === "chat" && (bosses === 0 || r.chance(0.5))) {
      sessions[i] = { id: s.id, agent: "boss" };
      bosses += 1;
    }
  }
  return {
    runningMax: r.pick([1, 2, 3, 5, 8, 64]),
    perParentRunningMax: r.pick([1, 2, 3, 4, 8]),
    depthMax: r.pick([1, 2, 2, 3]),
    modelCallsMax: r.chance(0.4) ? r.int(1, 12) : undefined,
    keepPerParent: r.pick([1, 2, 100]),
    staleAfterMs: r.chance(0.3) ? r.int(20, 400) : 24 * 60 * 60 * 1000,
    mergeCompletions: r.chance(0.75),
    modelDelegateP: r.pick([0.1, 0.2, 0.35]),
    timeoutP: r.pick([0, 0.2, 0.5]),
  };
}

export function describeConfig(config: SimConfig): string {
  const sessions = config.sessions.map((s) => `${s.id}:${s.agent}`).join(",");
  const rest = Object.entries(config)
    .filter(([key]) => key !== "sessions" && key !== "seed" && key !== "delegation")
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(" ");
  const d = config.delegation;
  const delegation =
    d === undefined
      ? "delegation=off"
      : `delegation={${Object.entries(d)
          .map(([key, value]) => `${key}=${String(value)}`)
          .join(" ")}}`;
  return `sessions=${sessions} ${rest} ${delegation}`;
}
