/**
 * Restart at scale (#15): recovery reads queued inputs page by page, so the first turn starts before
 * the backlog is read, and nothing that reaches a session before its page does sees it out of order:
 * a send queues behind the session's stored inputs, a look-up by id finds the live input, and a
 * resend with an idempotency key finds the stored one.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Runtime, TurnHandle } from "../../src/index.js";
import { createSqliteStore, type SqliteStore } from "../../src/store/sqlite/index.js";
import { eventually } from "../support/async.js";
import { testRuntime } from "../support/runtime.js";
import { freshPath, removeFiles } from "./sqlite-files.js";

const SESSIONS = 60;
const PER_SESSION = 5;

const open: { runtime: Runtime; store: SqliteStore }[] = [];
afterEach(async () => {
  for (const { runtime, store } of open.splice(0)) {
    await runtime.stop();
    await store.close();
  }
  removeFiles();
});

/** A file with `PER_SESSION` queued inputs in each of `SESSIONS` sessions, accepted round-robin. */
async function backlog(): Promise<string> {
  const path = freshPath();
  const store = createSqliteStore({ path, groupCommitMs: 0 });
  await store.open();
  for (let s = 0; s < SESSIONS; s++) store.createSession({ id: `s${s}`, agent: "f", createdAtMs: 1 });
  let seq = 0;
  for (let n = 0; n < PER_SESSION; n++) {
    for (let s = 0; s < SESSIONS; s++) {
      seq += 1;
      store.accept({
        id: `in-${s}-${n}`,
        sessionId: `s${s}`,
        seq,
        payload: `${s}:${n}`,
        policy: "enqueue",
        idempotencyKey: `key-${s}-${n}`,
        acceptedAtMs: seq,
      });
    }
  }
  await store.close();
  return path;
}

/** A runtime on `path` whose function agent records each input it runs, per session. */
function restart(path: string) {
  const ran = new Map<string, string[]>();
  const store = createSqliteStore({ path, groupCommitMs: 0, durability: "normal" });
  const { runtime } = testRuntime(
    {
      f: {
        run: (input, { sessionId }) => {
          ran.set(sessionId, [...(ran.get(sessionId) ?? []), String(input)]);
          return input;
        },
      },
    },
    { store },
  );
  open.push({ runtime, store });
  return { runtime, store, ran };
}

function expected(s: number, extra: string[] = []): string[] {
  return [...Array.from({ length: PER_SESSION }, (_, n) => `${s}:${n}`), ...extra];
}

describe("recovery page by page", () => {
  it("starts the first turn before the whole backlog is read, and runs every input once, in order", async () => {
    const { runtime, ran } = restart(await backlog());
    let readAtFirstTurn: number | undefined;
    let recovered: number | undefined;
    runtime.on((event) => {
      if (event.type === "runtime.started") recovered = event.recoveredInputs;
      if (event.type === "turn.started" && readAtFirstTurn === undefined) {
        const m = runtime.metrics();
        readAtFirstTurn = m.queuedInputs + m.turnsStarted;
      }
    });
    await runtime.start();
    expect(recovered).toBe(SESSIONS * PER_SESSION);
    await eventually(() => runtime.metrics().ended.completed === SESSIONS * PER_SESSION, "every input");
    expect(readAtFirstTurn).toBeGreaterThan(0);
    expect(readAtFirstTurn).toBeLessThan((SESSIONS * PER_SESSION) / 2);
    for (let s = 0; s < SESSIONS; s++) expect(ran.get(`s${s}`)).toEqual(expected(s));
  });

  it("reads a session at once when a send, a look-up or a resend reaches it before its page", async () => {
    const { runtime, ran } = restart(await backlog());
    const early: { sent?: TurnHandle; found?: TurnHandle | undefined; resent?: TurnHandle } = {};
    // Sessions come back in pages from the first dispatcher job after start: at `runtime.started`,
    // none is read yet.
    runtime.on((event) => {
      if (event.type !== "runtime.started") return;
      early.sent = runtime.session("s41", { agent: "f" }).send("41:new");
      early.found = runtime.handle("in-42-3");
      early.resent = runtime.session("s43", { agent: "f" }).send("43:1", { idempotencyKey: "key-43-1" });
    });
    await runtime.start();
    expect(early.found?.status).toBe("queued");
    expect(early.resent?.id).toBe("in-43-1");
    await eventually(() => runtime.metrics().ended.completed === SESSIONS * PER_SESSION + 1, "every input");
    expect(ran.get("s41")).toEqual(expected(41, ["41:new"]));
    expect((await early.found!.result()).output).toBe("42:3");
    expect((await early.resent!.result()).output).toBe("43:1");
    for (let s = 0; s < SESSIONS; s++) if (s !== 41) expect(ran.get(`s${s}`)).toEqual(expected(s));
  });

  it("a draining stop runs the inputs no page has read yet", async () => {
    const { runtime, ran } = restart(await backlog());
    let stopping: Promise<unknown> | undefined;
    runtime.on((event) => {
      if (event.type === "runtime.started") stopping = runtime.stop({ drain: true });
    });
    await runtime.start();
    expect(await stopping).toBe("clean");
    expect(runtime.metrics().ended.completed).toBe(SESSIONS * PER_SESSION);
    for (let s = 0; s < SESSIONS; s++) expect(ran.get(`s${s}`)).toEqual(expected(s));
  });
});
