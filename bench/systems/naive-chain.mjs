// The naive promise chain: a Map<session, Promise> whose entry is chained with .then() per input,
// the least code a user could write for per-session serialized work. The core benchmark's peer
// (running the same turn, or an empty task as `naive-bare`) and one of the idle-memory cases.
import { Latency } from "../lib/latency.mjs";
import { now } from "../lib/meters.mjs";
import { peerTurn } from "./peer-turn.mjs";

/**
 * The core benchmark's system over `sessions` sessions: each link runs `peerTurn` with `model`, or,
 * when `work` is false, returns at once (an empty task, for reference).
 */
export function naiveChainSystem({ sessions, model, work }) {
  return {
    name: work ? "naive" : "naive-bare",
    label: `naive Map<session, Promise>, ${work ? "same turn" : "empty task"}`,
    async open() {
      const chains = new Map();
      const histories = new Map();
      for (let s = 0; s < sessions; s++) {
        chains.set(`s${s}`, Promise.resolve());
        histories.set(`s${s}`, []);
      }
      const lat = new Latency();
      let done = 0;
      return {
        send(s) {
          const key = `s${s}`;
          const sentAt = now();
          chains.set(
            key,
            chains.get(key).then(() => {
              lat.recordMs(now() - sentAt);
              if (!work) {
                done += 1;
                return "ok";
              }
              return peerTurn(model, histories.get(key), "hi").then((answer) => {
                done += 1;
                return answer;
              });
            }),
          );
        },
        async drained() {
          await Promise.all(chains.values());
        },
        done: () => done,
        latency: () => lat.stats(),
        async close() {},
      };
    },
  };
}

/** Idle memory: `n` chains in a Map, each of which ran one task; returns what keeps them alive. */
export async function naiveChainIdle(n) {
  const chains = new Map();
  for (let s = 0; s < n; s++)
    chains.set(
      `session-${s}`,
      Promise.resolve().then(() => "ok"),
    );
  await Promise.all(chains.values());
  return { chains };
}
