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
import type { RuntimeParts } from "./parts.js";
import { recoverWork } from "./recovery.js";

/** Runs the boot chain; throws `BootError` (or what the store threw) and leaves nothing running. */
export async function boot(parts: RuntimeParts): Promise<void> {
  const { store, options, children, scheduler, run, dispatcher, driver, events, intake } = parts;
  // Before the store opens: a missing key or provider package fails with nothing to undo.
  await parts.models.resolveAll(options);
  const recovered = await store.open();
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
  run.state = "running";
  if (resumed.length > 0 || recovered.queued.length > 0) parts.keepAlive.busy();
  scheduler.open();
  parts.leaseKeeper?.open();
  for (const turn of resumed) driver.start(turn);
  dispatcher.post("startup drive", () => scheduler.driveAll());
  parts.observer.started(recovered.queued.length, resumed.length);
  events.emit({
    type: "runtime.started",
    recoveredInputs: recovered.queued.length,
    resumedTurns: resumed.length,
  });
}
