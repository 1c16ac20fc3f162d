/**
 * The boot chain: resolve the models agents name by strings, open (and migrate) the store, check that every stored session's agent exists,
 * recover stored work, commit recovery's writes, then start the scheduler. Recovery drives every
 * input the store holds to a terminal state: queued inputs queue again in acceptance order, and a
 * turn a crash cut short resumes from its last step checkpoint or ends `failed`/`crashed`, as its
 * agent's `onCrash` and `maxAttempts` say.
 *
 * @packageDocumentation
 */
import { BootError } from "../errors.js";
import type { Reason } from "../kernel/outcome.js";
import type { LiveTurn } from "./live-turn.js";
import type { RuntimeParts } from "./parts.js";
import type { RecoveredState } from "./ports/store.js";
import { recoverWork } from "./recovery.js";

/** Runs the boot chain; throws `BootError` (or what the store threw) and leaves nothing running. */
export async function boot(parts: RuntimeParts): Promise<void> {
  const { store, options, events } = parts;
  // Before the store opens: a missing key or provider package fails with nothing to undo.
  await parts.models.resolveAll(options);
  const recovered = await openStore(parts);
  for (const session of recovered.sessions) {
    if (!options.agents.has(session.agent)) {
      await store.close();
      throw new BootError(
        "UNKNOWN_AGENT",
        `the store holds session ${JSON.stringify(session.id)} of agent ${JSON.stringify(session.agent)}, ` +
          `which options.agents does not define (known: ${[...options.agents.keys()].join(", ")})`,
      );
    }
  }
  const recovery = await recoverStored(parts, recovered);
  driveRecovered(parts, recovery);
  parts.observer.started(recovery.recoveredInputs, recovery.resumedTurns);
  events.emit({
    type: "runtime.started",
    recoveredInputs: recovery.recoveredInputs,
    resumedTurns: recovery.resumedTurns,
  });
}

/**
 * Opens the store (again, after it failed). A store that reads queued inputs session by session
 * leaves them to `queued-recovery.ts`.
 */
export function openStore(parts: RuntimeParts): Promise<RecoveredState> {
  const { store } = parts;
  const paged = store.queuedSessions !== undefined && store.queuedOf !== undefined;
  return store.open(paged ? { paged: true } : undefined);
}

/** What {@link recoverStored} rebuilt, for {@link driveRecovered} to run. */
export interface Recovery {
  readonly resumed: readonly LiveTurn[];
  readonly recoveredInputs: number;
  readonly resumedTurns: number;
}

/**
 * Rebuilds sessions, queues and interrupted turns from what an opened store holds, and commits
 * recovery's writes. Boot runs it, and so does the store's health when a failed store works again.
 * Throws what the store throws (its commit, above all).
 */
export async function recoverStored(parts: RuntimeParts, recovered: RecoveredState): Promise<Recovery> {
  const { store, children, scheduler, intake } = parts;
  scheduler.reset();
  // Before sessions are rebuilt: a running child's session runs the agent its record describes.
  const leases = store.leases;
  const held = children?.restore(leases === undefined ? undefined : (id) => leases.holds(id)) ?? [];
  intake.nextSeq = recovered.nextSeq;
  const resumed = recoverWork(parts, recovered, {
    live: (record, status, policy, stamp) => intake.track(record, status, policy, stamp),
    route: false,
  });
  // Recovery's writes — a resumed turn's next attempt above all — are committed before any turn
  // runs: a process that dies while a resumed step runs again has then spent that attempt, so
  // `maxAttempts` bounds how often a crash-looping turn's effects repeat.
  await store.commit();
  const reason: Reason = { code: "withdrawn", message: "a stale completion, held for the host to confirm" };
  for (const inputId of held) {
    const sessionId = store.input(inputId)?.sessionId;
    const live = sessionId === undefined ? undefined : intake.find(sessionId, inputId);
    // Only queued input can be withdrawn; a held completion's input already running (a file an
    // older release left) just runs on.
    if (live?.status === "queued") intake.endQueued(live, "withdrawn", reason, "hold");
  }
  const recoveredInputs = recovered.queuedCount ?? recovered.queued.length;
  return { resumed, recoveredInputs, resumedTurns: resumed.length };
}

/**
 * The runtime runs what was recovered: `running`, the scheduler open, resumed turns started and
 * every session driven. Synchronous, so that whoever announces the start does so before any turn
 * of the startup drive begins.
 */
export function driveRecovered(parts: RuntimeParts, recovery: Recovery): void {
  const { run, scheduler, driver, dispatcher } = parts;
  run.state = "running";
  run.storeError = undefined;
  if (recovery.resumedTurns > 0 || recovery.recoveredInputs > 0) parts.keepAlive.busy();
  scheduler.open();
  parts.leaseKeeper?.open();
  for (const turn of recovery.resumed) driver.start(turn);
  parts.recovery.drive();
  dispatcher.post("startup drive", () => scheduler.driveAll());
}
