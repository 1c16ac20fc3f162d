/**
 * The fake function agent: it answers at once or after a virtual delay, fails or throws, sometimes
 * ignores its abort signal, sends to other sessions from inside its turn, and probes that waiting on
 * its own session's input is refused as a deadlock.
 */
import { isOffstageError } from "../../src/errors.js";
import type { Policy } from "../../src/kernel/session/inbox.js";
import type { FunctionAgent, FunctionContext } from "../../src/runtime/agent.js";
import type { Runtime } from "../../src/runtime/runtime.js";
import type { SeededRandom } from "../../src/testing/seeded-random.js";
import { frozen } from "./process.js";
import { sleep, type World } from "./world.js";

const NESTED_POLICIES: Policy[] = ["enqueue", "enqueue", "merge", "interrupt", "steer", "reject"];
const NESTED_REFUSALS = new Set(["SESSION_BUSY", "INBOX_FULL", "STOPPING", "NOT_RUNNING"]);

/** Sends to another session from inside a turn (allowed: it never waits). */
function nestedSend(world: World, context: FunctionContext, r: SeededRandom): void {
  const others = world.config.sessions.filter((s) => s.id !== context.sessionId);
  if (others.length === 0) return;
  const target = r.pick(others);
  const policy = r.pick(NESTED_POLICIES);
  try {
    const session = world.runtime().session(target.id, { agent: target.agent });
    const handle = session.send({ from: context.turnId, n: r.int(0, 999) }, { policy });
    world.trace.add(`fn ${context.turnId}: nested send to ${target.id} (${policy}) -> ${handle.id}`);
    world.count("nested send from a turn");
    world.keepHandle(handle);
  } catch (error) {
    if (!isOffstageError(error) || !NESTED_REFUSALS.has(error.code)) {
      world.fail(`nested send from ${context.turnId} threw unexpectedly: ${String(error)}`);
    }
  }
}

/** Waiting on one's own session from inside its turn must be refused with DeadlockError. */
function deadlockProbe(world: World, context: FunctionContext): void {
  let session: ReturnType<Runtime["session"]>;
  try {
    session = world.runtime().session(context.sessionId);
  } catch (error) {
    if (!isOffstageError(error, "STOPPING")) world.fail(`deadlock probe: session() threw ${String(error)}`);
    return;
  }
  session.invoke("deadlock probe").then(
    () => world.fail(`invoke() from inside turn ${context.turnId} of its own session resolved`),
    (error: unknown) => {
      if (!isOffstageError(error, "DEADLOCK")) {
        world.fail(`invoke() from inside turn ${context.turnId} of its own session threw ${String(error)}`);
      }
    },
  );
}

export function functionAgent(world: World): FunctionAgent {
  return {
    onCrash: world.config.onCrash,
    maxAttempts: world.config.maxAttempts,
    run(input, context) {
      if (!world.alive()) return frozen();
      const r = world.streams.fn;
      const roll = r.next();
      if (roll < 0.05) throw new Error("fn threw synchronously");
      if (roll < 0.15) return { echo: input, sync: true };
      const ignoresAbort = r.chance(world.config.stubbornCallP);
      const delayMs = ignoresAbort ? r.int(0, world.config.stubbornMaxMs) : r.int(0, 150);
      const fails = r.chance(0.1);
      const probe = r.chance(0.05);
      const nested = r.chance(0.12);
      const call = world.calls.begin(world.process, "function", `fn ${context.turnId}`, ignoresAbort);
      return (async () => {
        try {
          if (probe) deadlockProbe(world, context);
          if (nested) nestedSend(world, context, r);
          await sleep(world.clock, delayMs, ignoresAbort ? undefined : context.signal);
          if (fails) throw new Error("fn failed");
          return { echo: input };
        } finally {
          world.calls.end(call);
        }
      })();
    },
  };
}
