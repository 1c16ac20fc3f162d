// p-queue, as a user would pick it for per-session serialized work: one PQueue({ concurrency: 1 })
// per session. The core benchmark's peer (running the same turn, or an empty task as `p-queue-bare`)
// and one of the idle-memory cases.
import PQueue from "p-queue";
import { Latency } from "../lib/latency.mjs";
import { now } from "../lib/meters.mjs";
import { peerTurn } from "./peer-turn.mjs";

/**
 * The core benchmark's system over `sessions` sessions: each task runs `peerTurn` with `model`, or,
 * when `work` is false, returns at once (an empty task, for reference).
 */
export function pQueueSystem({ sessions, model, work }) {
  return {
    name: work ? "p-queue" : "p-queue-bare",
    label: `p-queue (1 PQueue/session), ${work ? "same turn" : "empty task"}`,
    async open() {
      const queues = [];
      const histories = [];
      for (let s = 0; s < sessions; s++) {
        queues.push(new PQueue({ concurrency: 1 }));
        histories.push([]);
      }
      const last = new Array(sessions);
      const lat = new Latency();
      let done = 0;
      return {
        send(s) {
          const sentAt = now();
          last[s] = queues[s].add(async () => {
            lat.recordMs(now() - sentAt);
            const answer = work ? await peerTurn(model, histories[s], "hi") : "ok";
            done += 1;
            return answer;
          });
        },
        async drained() {
          await Promise.all(last.filter(Boolean));
        },
        done: () => done,
        latency: () => lat.stats(),
        async close() {},
      };
    },
  };
}

/** Idle memory: `n` idle queues in a Map, each of which ran one task; returns what keeps them alive. */
export async function pQueueIdle(n) {
  const queues = new Map();
  const pending = [];
  for (let s = 0; s < n; s++) {
    const queue = new PQueue({ concurrency: 1 });
    queues.set(`session-${s}`, queue);
    pending.push(queue.add(async () => "ok"));
  }
  await Promise.all(pending);
  pending.length = 0;
  return { queues };
}
