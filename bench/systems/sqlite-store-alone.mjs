// Offstage's SQLite store alone, without a runtime: the same writes the runtime makes for the
// durable benchmark's turns (a session on first send, each input's accept, then each turn's history
// read, start and end with its two messages), committed every 256 turns, as many as the runtime runs
// at once. Not a system a user would run: it is the ceiling of any runtime on this store on one
// thread, measured beside the peers so the ratio the store itself allows reads off the same run.
// Burst only.
import { Latency } from "../lib/latency.mjs";
import { now } from "../lib/meters.mjs";
import { describeDurability, freshSqliteStore, sqliteMissing } from "./offstage-sqlite.mjs";

/** As many turns as the runtime runs at once (its default maxConcurrentTurns), so commits group alike. */
const TURNS_PER_COMMIT = 256;

const OUTCOME = { status: "completed", output: "ok", reason: { code: "completed", message: "completed" } };
const USAGE = { modelCalls: 1, inputTokens: 0, outputTokens: 0 };

/** The durable benchmark's ceiling for `durability` over `sessions` sessions. */
export function sqliteStoreAloneSystem({ offstage, durability, sessions }) {
  return {
    name: `store-${durability}`,
    label: `Offstage's SQLite store alone (no runtime), "${durability}": the ceiling`,
    durability: describeDurability(durability),
    burstOnly: true,
    check: async () => sqliteMissing(offstage),
    open: () => openStoreAlone(offstage, durability, sessions),
  };
}

async function openStoreAlone(offstage, durability, sessions) {
  const { store, remove } = freshSqliteStore(offstage, durability);
  await store.open();
  const created = new Array(sessions).fill(false);
  const queued = [];
  const lat = new Latency();
  let seq = 0;
  let ended = 0;
  return {
    send(s) {
      const sessionId = `s${s}`;
      if (!created[s]) {
        store.createSession({ id: sessionId, agent: "bench", createdAtMs: Date.now() });
        created[s] = true;
      }
      seq += 1;
      const id = `i${seq}`;
      store.accept({ id, sessionId, seq, payload: "hi", policy: "enqueue", acceptedAtMs: Date.now() });
      queued.push({ id, sessionId, sentAt: now() });
    },
    flush: async () => {},
    done: () => ended,
    async drained() {
      const started = new Set();
      for (const { id, sessionId, sentAt } of queued) {
        if (!started.has(sessionId)) {
          started.add(sessionId);
          store.history(sessionId);
        }
        lat.recordMs(now() - sentAt);
        const turnId = `t${id}`;
        const inputIds = [id];
        store.startTurn({ turnId, sessionId, inputIds, attempt: 1, startedAtMs: Date.now() });
        const messages = [
          { role: "user", content: "hi" },
          { role: "assistant", content: "ok" },
        ];
        store.endTurn({
          turnId,
          sessionId,
          attempt: 1,
          outcome: OUTCOME,
          messages,
          inputIds,
          requeued: [],
          usage: USAGE,
          endedAtMs: Date.now(),
        });
        ended += 1;
        if (ended % TURNS_PER_COMMIT === 0) await store.commit();
      }
      await store.commit();
    },
    latency: () => lat.stats(),
    extra: () => store.stats?.(),
    close: remove,
  };
}
