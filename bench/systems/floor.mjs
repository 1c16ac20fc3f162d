// The reference floor of the core benchmark (scenarios/core-burst.mjs, lab/cache-sim.mjs): not a
// peer anyone would pick, but the least a runtime of Offstage's shape can do for the same turn.
import { Latency } from "../lib/latency.mjs";
import { now } from "../lib/meters.mjs";

/** A handle of the floor: what a sender holds, with a result promise made only when awaited. */
class FloorHandle {
  constructor(id, sessionId, payload, sentAt) {
    this.id = id;
    this.sessionId = sessionId;
    this.payload = payload;
    this.sentAt = sentAt;
    this.status = "queued";
    this.turnId = undefined;
    this.outcome = undefined;
    this.waiters = undefined;
  }

  result() {
    if (this.outcome !== undefined) return Promise.resolve(this.outcome);
    return new Promise((resolve) => {
      this.waiters ??= [];
      this.waiters.push(resolve);
    });
  }

  settle(outcome, turnId) {
    this.status = outcome.status;
    this.outcome = outcome;
    this.turnId = turnId;
    for (const resolve of this.waiters ?? []) resolve(outcome);
    this.waiters = undefined;
  }
}

/**
 * The floor as a system of the core benchmark, over `sessions` sessions calling `model`. Each input
 * gets a handle (an id, a status, a result promise made only when awaited) that waits in its
 * session's queue; a session runs one turn at a time; a turn keeps a record of itself, calls `model`
 * as the benchmark's peers do (a copy of the history as the prompt, an abort signal), appends both
 * messages to the history and settles the handle; ready sessions run in batches off the event loop.
 * It has no kernel, store port, events, policies, cancellation or commit, so no real runtime reaches
 * it: the ratio to it says how much of a turn's cost is Offstage's own.
 */
export function floorSystem({ sessions, model }) {
  return {
    name: "floor",
    label: "reference floor (not a peer; see bench/systems/floor.mjs)",
    open: async () => openFloor(sessions, model),
  };
}

function openFloor(sessionCount, model) {
  const BATCH = 4096;
  const sessions = new Map();
  for (let s = 0; s < sessionCount; s++)
    sessions.set(`s${s}`, { id: `s${s}`, queue: [], busy: false, history: [], turn: undefined });
  const last = new Array(sessionCount);
  const lat = new Latency();
  let done = 0;
  let ids = 0;
  const ready = [];
  let scheduled = false;
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(drive);
  };
  const runTurn = (session) => {
    const input = session.queue.shift();
    const turnId = `t_${(ids++).toString(36)}`;
    input.status = "running";
    input.turnId = turnId;
    lat.recordMs(now() - input.sentAt);
    const user = { role: "user", content: [{ type: "text", text: input.payload }] };
    const turn = { id: turnId, inputs: [input], messages: [user], controller: new AbortController() };
    session.turn = turn;
    const parts = model.stream({
      prompt: session.history.concat(turn.messages),
      tools: [],
      maxOutputTokens: undefined,
      abortSignal: turn.controller.signal,
    });
    let text = "";
    let usage;
    for (const part of parts) {
      if (part.type === "text-delta") text += part.delta;
      else if (part.type === "finish") usage = part.usage;
    }
    turn.messages.push({ role: "assistant", content: [{ type: "text", text }] });
    for (const m of turn.messages) session.history.push(m);
    session.turn = undefined;
    input.settle({ status: "completed", output: text, usage }, turnId);
    done += 1;
  };
  const drive = () => {
    scheduled = false;
    const batch = ready.splice(0, BATCH);
    for (const session of batch) {
      runTurn(session);
      if (session.queue.length > 0) ready.push(session);
      else session.busy = false;
    }
    if (ready.length > 0) schedule();
  };
  return {
    send(s) {
      const session = sessions.get(`s${s}`);
      const handle = new FloorHandle(`in_${(ids++).toString(36)}`, session.id, "hi", now());
      session.queue.push(handle);
      last[s] = handle;
      if (session.busy) return;
      session.busy = true;
      ready.push(session);
      schedule();
    },
    async drained() {
      await Promise.all(last.filter(Boolean).map((h) => h.result()));
    },
    done: () => done,
    latency: () => lat.stats(),
    async close() {},
  };
}
