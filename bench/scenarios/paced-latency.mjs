// Paced latency: inputs offered at a fixed rate below every system's capacity, so send→start shows
// each system's own scheduling delay rather than queueing behind a backlog (which is all a burst's
// latency shows). The core and durable benchmarks run it after their bursts, on the same systems.
//
// With `measureDurable`, also send→durable: until Offstage's receipt says "durable"
// (`handle.stored()`), or until BullMQ's addBulk / graphile-worker's addJobs call returns. Offstage
// may start a turn before its input's commit (it never reports the turn's end before it), the
// peers only after: send→start and send→durable together tell the whole story.
import { fmtMs, table } from "../lib/format.mjs";
import { log } from "../lib/log.mjs";
import { now, settleHeap } from "../lib/meters.mjs";

/**
 * Offers `total` inputs at `ratePerS`, round-robin over `sessions`: every ~1 ms timer tick, `send(s)`
 * whatever the rate owes by now (a few inputs per tick), then `afterTick()`. Resolves with the time
 * the offering took.
 */
async function pace({ total, ratePerS, sessions, send, afterTick = async () => {} }) {
  let sent = 0;
  let s = 0;
  const started = now();
  while (sent < total) {
    const owed = Math.min(total, Math.floor(((now() - started) * ratePerS) / 1000));
    for (; sent < owed; sent++) {
      send(s);
      s = s + 1 === sessions ? 0 : s + 1;
    }
    await afterTick();
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return now() - started;
}

/** One system: opened, paced, drained, closed; its send→start (and send→durable) percentiles. */
async function paced(system, { ratePerS, seconds, sessions, measureDurable }) {
  const total = Math.round(ratePerS * seconds);
  const inst = await system.open({ inputsPerSession: Math.ceil(total / sessions) + 1, trackAck: true });
  try {
    const started = now();
    // A durable system submits what was sent at each tick (BullMQ's addBulk, graphile-worker's addJobs).
    const afterTick = inst.flush === undefined ? undefined : () => inst.flush();
    await pace({ total, ratePerS, sessions, send: (s) => inst.send(s), afterTick });
    await inst.drained(total);
    const offeredMs = now() - started;
    return measureDurable
      ? { name: system.name, total, latency: inst.latency(), ack: inst.ackLatency() }
      : { name: system.name, total, offeredMs, latency: inst.latency() };
  } finally {
    await inst.close();
  }
}

/**
 * Runs each of `systems` in turn at `ratePerS` for `seconds` over `sessions` sessions, logs and
 * tabulates the percentiles; returns one result per system (saved in the benchmark's JSON).
 */
export async function pacedLatency({ systems, ratePerS, seconds, sessions, measureDurable = false }) {
  log(`paced: ${ratePerS} inputs/s offered for ${seconds} s, round-robin over ${sessions} sessions`);
  const results = [];
  for (const system of systems) {
    await settleHeap();
    const r = await paced(system, { ratePerS, seconds, sessions, measureDurable });
    const start = `p50 ${fmtMs(r.latency.p50Ms)}, p99 ${fmtMs(r.latency.p99Ms)}`;
    log(
      measureDurable
        ? `paced ${system.name}: send→start ${start}; send→durable p50 ${fmtMs(r.ack.p50Ms)}, p99 ${fmtMs(r.ack.p99Ms)}`
        : `paced ${system.name}: ${start}`,
    );
    results.push(r);
  }
  const label = (r) => systems.find((s) => s.name === r.name).label;
  const durableColumns = (r) => (measureDurable ? [fmtMs(r.ack.p50Ms), fmtMs(r.ack.p99Ms)] : []);
  table(
    [
      "system",
      "inputs",
      "send→start p50",
      "p99",
      "max",
      ...(measureDurable ? ["send→durable p50", "p99"] : []),
    ],
    results.map((r) => [
      label(r),
      r.total,
      fmtMs(r.latency.p50Ms),
      fmtMs(r.latency.p99Ms),
      fmtMs(r.latency.maxMs),
      ...durableColumns(r),
    ]),
  );
  return results;
}
