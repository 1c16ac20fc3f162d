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
import { DEFAULTS } from "../kernel/limits.js";
import { userMessage } from "../kernel/messages.js";
import type { Reason, TurnOutcome } from "../kernel/outcome.js";
import { resumeTurn } from "../kernel/session/inbox.js";
import type { Stamp } from "./dispatcher.js";
import type { LiveTurn } from "./live-turn.js";
import type { RuntimeParts } from "./parts.js";
import type { InputRecord, InterruptedTurn, RecoveredState } from "./ports/store.js";
import { queueRecovered } from "./queued-recovery.js";

const NO_USAGE = { inputTokens: 0, outputTokens: 0 } as const;

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
  const held = children?.restore() ?? [];
  const resumed = recover(parts, recovered);
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
  for (const turn of recovery.resumed) driver.start(turn);
  parts.recovery.drive();
  dispatcher.post("startup drive", () => scheduler.driveAll());
}

/** Rebuilds the sessions, their queues and their interrupted turns; returns the turns to resume. */
function recover(parts: RuntimeParts, recovered: RecoveredState): LiveTurn[] {
  const { sessions, intake, dispatcher, store, driver, scheduler } = parts;
  intake.nextSeq = recovered.nextSeq;
  for (const session of recovered.sessions) {
    if (sessions.get(session.id) === undefined) sessions.add(session.id, session.agent);
  }
  const resumed: LiveTurn[] = [];
  const crashed: { turn: InterruptedTurn; why: string }[] = [];
  const now = dispatcher.epochNow();
  const taken = (input: InputRecord): Stamp => ({
    epochMs: input.acceptedAtMs,
    monotonicMs: dispatcher.monotonicNow(),
  });
  for (const turn of recovered.interrupted) {
    const entry = sessions.get(turn.sessionId)!;
    const { agent } = entry;
    const attempt = turn.attempt + 1;
    if (agent.onCrash === "fail" || attempt > (agent.maxAttempts ?? DEFAULTS.crashAttemptsMax)) {
      crashed.push({
        turn,
        why: agent.onCrash === "fail" ? "onCrash is fail" : `attempt ${attempt} > maxAttempts`,
      });
      continue;
    }
    // Read back from the store: committed, so the receipt holds at once.
    const lives = turn.inputs.map((input) => {
      const live = intake.track(input, "running", input.policy, taken(input));
      live.markStored(store.receipt);
      return live;
    });
    const { turnId, sessionId, inputIds } = turn;
    store.startTurn({ turnId, sessionId, inputIds, attempt, startedAtMs: now });
    const messages =
      turn.messages.length > 0 ? turn.messages : turn.inputs.map((input) => userMessage(input.payload));
    const live = driver.open(entry, turnId, lives, { attempt, messages, step: turn.step });
    resumeTurn(entry, live);
    scheduler.claimSlot();
    driver.activate(live);
    resumed.push(live);
  }
  // Queued inputs come back in acceptance order: all of them now, or page by page from the first
  // dispatcher job on (a session that anything reaches first is read at that moment).
  for (const input of recovered.queued) queueRecovered(parts, sessions.get(input.sessionId)!, input);
  if (recovered.queued.length === 0 && (recovered.queuedCount ?? 0) > 0) {
    parts.recovery.begin(recovered.sessions.map((session) => session.id));
    // A session whose turn comes back has its queue in place before the turn ends, as it had it
    // when everything was read at boot (a child's end looks at what it has queued).
    for (const turn of recovered.interrupted) parts.recovery.load(sessions.get(turn.sessionId)!);
  }
  // Only now, with the stored input back in the inboxes (or read on demand): failing a child's turn
  // may write its completion, which must queue behind its parent's older input, and a child with
  // input still queued has not finished.
  for (const { turn, why } of crashed) failCrashed(parts, turn, why, now);
  return resumed;
}

/** Ends a crashed turn that may not resume `failed`/`crashed`. */
function failCrashed(parts: RuntimeParts, turn: InterruptedTurn, why: string, now: number): void {
  const { sessions, store, children, log } = parts;
  const entry = sessions.get(turn.sessionId)!;
  const outcome: TurnOutcome = {
    status: "failed",
    reason: {
      code: "crashed",
      message: `the process stopped while the turn ran (step ${turn.step}); ${why}`,
    },
  };
  store.endTurn({
    turnId: turn.turnId,
    sessionId: turn.sessionId,
    attempt: turn.attempt,
    outcome,
    messages:
      turn.messages.length > 0 ? turn.messages : turn.inputs.map((input) => userMessage(input.payload)),
    inputIds: turn.inputIds,
    requeued: [],
    usage: NO_USAGE,
    endedAtMs: now,
  });
  children?.turnEnded(turn.sessionId, outcome, turn.messages, NO_USAGE, entry.queue.length);
  log.warn(
    { sessionId: turn.sessionId, turnId: turn.turnId, inputIds: turn.inputIds, attempt: turn.attempt },
    `a turn cut short by a crash ends failed (crashed): ${why}`,
  );
}
