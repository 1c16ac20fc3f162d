/**
 * Taking up stored work: the sessions a store hands back, their queued input and the turns a crash
 * cut short. Boot takes up everything the store holds; with a store shared by many processes
 * (`ports/session-leases.ts`) the lease keeper takes up, while the runtime runs, what a claim hands
 * back — sessions whose holder stopped or died, and input other processes accepted for sessions
 * this one holds.
 *
 * Queued input queues again in acceptance order, by the ordering part of its policy (`reject` was
 * applied when it was accepted). Input taken up while running (`route`) also does what its policy
 * asks of a running turn — `steer` joins it, `interrupt` cancels it — as a send here would have. A
 * turn a crash cut short resumes from its last step checkpoint or ends `failed`/`crashed`, as its
 * agent's `onCrash` and `maxAttempts` say.
 *
 * @packageDocumentation
 */
import { DEFAULTS } from "../kernel/limits.js";
import { userMessage } from "../kernel/messages.js";
import type { TurnOutcome } from "../kernel/outcome.js";
import { accept, type Policy, resumeTurn } from "../kernel/session/inbox.js";
import type { Stamp } from "./dispatcher.js";
import type { LiveInput } from "./live-input.js";
import type { LiveTurn } from "./live-turn.js";
import type { RuntimeParts } from "./parts.js";
import type { InputRecord, InterruptedTurn, RecoveredState } from "./ports/store.js";

const NO_USAGE = { inputTokens: 0, outputTokens: 0 } as const;

/** How stored work becomes live in this process. */
export interface TakeUp {
  /** The live input for a record (a new one, or one this process already holds a handle for). */
  live(record: InputRecord, status: "queued" | "running", policy: Policy, stamp: Stamp): LiveInput;
  /** Input taken up while running does what its policy asks of a running turn. */
  readonly route: boolean;
}

/**
 * Rebuilds the sessions, their queues and their interrupted turns; returns the turns to resume
 * (the caller commits, then starts them).
 */
export function recoverWork(parts: RuntimeParts, recovered: RecoveredState, takeUp: TakeUp): LiveTurn[] {
  const { sessions, intake, dispatcher, store, driver, scheduler } = parts;
  intake.nextSeq = Math.max(intake.nextSeq, recovered.nextSeq);
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
      const live = takeUp.live(input, "running", input.policy, taken(input));
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
  for (const input of recovered.queued) {
    // Taken up already, by a claim whose end did not reach the store: it is here once.
    if (takeUp.route && intake.find(input.sessionId, input.id) !== undefined) continue;
    const entry = sessions.get(input.sessionId)!;
    const policy: Policy =
      input.policy === "interrupt" || input.policy === "merge" || (takeUp.route && input.policy === "steer")
        ? input.policy
        : "enqueue";
    const live = takeUp.live(input, "queued", policy, taken(input));
    live.markStored(store.receipt);
    const turn = entry.turn;
    const decision = accept(entry, live, Number.POSITIVE_INFINITY);
    if (takeUp.route && decision.kind !== "refused") intake.route(entry, live, decision, turn);
  }
  // Only now, with the stored input back in the inboxes: failing a child's turn may write its
  // completion, which must queue behind its parent's older input, and a child with input still
  // queued has not finished.
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
