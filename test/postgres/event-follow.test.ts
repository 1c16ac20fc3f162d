/**
 * Following a session's events from another process, across SIGKILLs of the process that runs it:
 * a subscriber here sees the runner's committed events (replay, then live), each once and in order.
 * The runner is killed mid-turn and restarted under its name (it takes its session back at once),
 * then killed mid-turn again and replaced by a process of another name, which takes the session
 * over once the lease lapses (or the follower's runtime does: any process may). Each time the
 * subscriber resumes with `after` from the last number it saw, and the new holder numbers on from
 * the last event the killed one committed: no gap, no number given twice.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createRuntime } from "../../src/index.js";
import type { SessionEvent } from "../../src/runtime/ports/event-log.js";
import { createPostgresStore } from "../../src/store/postgres/index.js";
import { polled } from "../support/async.js";
import { onServer } from "./on-server.js";
import { PG_URL, sql } from "./server.js";

const server = onServer();

const HOOK = join(import.meta.dirname, "..", "crash", "ts-hook.ts");
const CHILD = join(import.meta.dirname, "event-follow-child.ts");
/** Long enough for a restart under the runner's name to beat any claim of its session (a slow spawn). */
const LEASE_MS = 4_000;

/** A runner named `name` that sends `payloads` to session `f`; the turn of `hangs` never ends. */
function runner(schema: string, name: string, hangs: string, payloads: readonly string[]): ChildProcess {
  const child = spawn(
    process.execPath,
    ["--import", HOOK, CHILD, schema, name, String(LEASE_MS), hangs, ...payloads],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  server.keep({ [Symbol.asyncDispose]: async () => void child.kill("SIGKILL") });
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

function ends(events: readonly SessionEvent[]): number {
  return events.filter((e) => e.event.type === "turn.ended").length;
}

function turnIdOf(event: SessionEvent): string | undefined {
  return "turnId" in event.event ? event.event.turnId : undefined;
}

describe("postgres event log: a follower in another process", () => {
  it("sees every event once and in order, and resumes with after across SIGKILLs, a restart and a takeover", async () => {
    const schema = server.schema("pgfol");
    const follower = createRuntime({
      agents: { step: { run: async (input: unknown) => `follower: ${String(input)}` } },
      store: createPostgresStore({
        connectionString: PG_URL,
        schema,
        processId: "follower",
        leaseMs: LEASE_MS,
      }),
      eventLog: true,
      pollIntervalMs: 50,
    });
    server.keep(follower);
    await follower.start();
    const seen: SessionEvent[] = [];
    /** Follows from the last number seen until `done` holds; the hanging turns' ids. */
    const hanging: string[] = [];
    async function follow(done: (event: SessionEvent) => boolean): Promise<void> {
      const events = follower.session("f").events({ after: seen.at(-1)?.seq ?? 0 });
      for await (const e of events) {
        seen.push(e);
        if (done(e)) return;
      }
    }

    const first = runner(schema, "runner", "hang", ["a1", "a2", "a3", "a4", "a5", "hang"]);
    // The follower finds the session in the store (`runtime.session(id)`) once the runner's row is in.
    await polled(
      async () => (await sql(`SELECT 1 FROM "${schema}".sessions WHERE id = 'f'`)).length === 1,
      20_000,
    );
    // Until the sixth turn (the one that hangs) has started; then the runner is killed mid-turn.
    await follow((e) => ends(seen) === 5 && e.event.type === "turn.started");
    hanging.push(turnIdOf(seen.at(-1)!)!);
    await kill(first);

    // Restarted under its name, the runner takes its session back at once (its lease is its own),
    // resumes the hanging turn, runs three more inputs, and hangs in the last.
    const second = runner(schema, "runner", "hang2", ["b1", "b2", "b3", "hang2"]);
    await follow((e) => ends(seen) === 9 && e.event.type === "turn.started");
    hanging.push(turnIdOf(seen.at(-1)!)!);
    await kill(second);

    // Another process: it takes the session over once the dead runner's lease lapses (unless the
    // follower's runtime claims it first), resumes the hanging turn and runs two more.
    const heir = runner(schema, "heir", "-", ["c1", "c2"]);
    await follow(() => ends(seen) === 12);
    await kill(heir);
    const [taker] = await sql<{ owner: string }>(`SELECT owner FROM "${schema}".sessions WHERE id = 'f'`);
    console.log(
      `${seen.length} events followed across 2 SIGKILLs; the session was taken over by ${taker?.owner}`,
    );

    const numbers = seen.map((e) => e.seq);
    expect(numbers).toEqual(numbers.map((_, n) => n + 1));
    const logged = await sql<{ seq: string; event: string }>(
      `SELECT seq, event FROM "${schema}".events WHERE session_id = 'f' ORDER BY seq`,
    );
    expect(logged.slice(0, seen.length).map((row) => Number(row.seq))).toEqual(numbers);
    expect(seen.map((e) => e.event)).toEqual(
      logged.slice(0, seen.length).map((row) => JSON.parse(row.event)),
    );
    // Each hanging turn started under the killed process and again under the next, and ended once.
    for (const turnId of hanging) {
      const types = seen.filter((e) => turnIdOf(e) === turnId).map((e) => e.event.type);
      expect(types).toEqual(["turn.started", "turn.started", "turn.ended"]);
    }
    const inputs = await sql<{ status: string }>(
      `SELECT status FROM "${schema}".inputs WHERE session_id = 'f'`,
    );
    expect(inputs.map((row) => row.status)).toEqual(Array(12).fill("completed"));
  }, 60_000);
});
