// `npm run bench -- --write`: renders the numbers the benchmarks saved in bench/.tmp/*.json as Markdown
// and puts each benchmark's block into bench/RESULTS.md between its markers
//   <!-- bench:NAME:begin --> ... <!-- bench:NAME:end -->
// leaving everything else in the file as it is. A benchmark that did not run in this invocation keeps
// its previous block. Each block judges its numbers against lib/goals.mjs, so RESULTS.md needs no
// hand-written reading that could go stale.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fmtMs, fmtRate, fmtRatio } from "./format.mjs";
import {
  coreGoal,
  DURABLE_NORMAL_PER_S_MIN,
  durableGoal,
  FRAME_OVERRUN_P99_MS_MAX,
  FRAME_WORKER_VS_IN_THREAD_MIN,
  fleetGoal,
  modelsGoal,
  RECOVERY_FIRST_TURN_MS_MAX,
  SERVE_PACED_P99_MS_MAX,
  SERVE_VS_FLOOR_MIN,
} from "./goals.mjs";
import { cores, mdTable, provenance } from "./markdown.mjs";
import { RESULTS_DIR } from "./results.mjs";

const saved = (name) => new URL(`${name}.json`, RESULTS_DIR);
const RESULTS = new URL("../RESULTS.md", import.meta.url);

function renderCore(d, command) {
  const names = Object.keys(d.summary).filter((n) => n !== "ratios");
  const s = d.summary;
  const burst = mdTable(
    [
      "system",
      "turns/s (median)",
      "min – max",
      "turns per CPU-second",
      "bytes allocated/turn",
      "GC pauses",
      "send→start p50 / p99",
      "other load (cores)",
    ],
    names.map((n) => {
      const runs = d.runs[n];
      return [
        s[n].label,
        `**${fmtRate(s[n].perSecond)}**`,
        `${fmtRate(Math.min(...runs.map((r) => r.perSecond)))} – ${fmtRate(Math.max(...runs.map((r) => r.perSecond)))}`,
        fmtRate(s[n].perCpuSecond),
        s[n].allocPerTurn.toFixed(0),
        `${(100 * s[n].gcShare).toFixed(0)}%`,
        `${fmtMs(s[n].latency.p50Ms)} / ${fmtMs(s[n].latency.p99Ms)}`,
        cores(s[n].otherCores),
      ];
    }),
  );
  const ratios = mdTable(
    ["ratio", "wall-clock", "per CPU-second", "goal", "met?"],
    Object.entries(s.ratios).map(([pair, r]) => {
      const need = coreGoal(pair);
      return [
        pair,
        `**${fmtRatio(r.wall)}**`,
        fmtRatio(r.cpu),
        need === undefined ? "none" : `≥ ${need}×`,
        need === undefined ? "—" : r.wall >= need ? "yes" : "**no**",
      ];
    }),
  );
  const paced = mdTable(
    ["system", "inputs", "send→start p50", "p99", "max"],
    d.paced.map((r) => [
      s[r.name].label,
      r.total,
      fmtMs(r.latency.p50Ms),
      fmtMs(r.latency.p99Ms),
      fmtMs(r.latency.maxMs),
    ]),
  );
  return [
    provenance(d, command),
    "",
    `Burst: ${d.sessions} sessions × ${d.inputs} inputs = ${d.sessions * d.inputs} no-op turns per run, ${d.reps} repetitions (medians; send→start of the median repetition is queueing behind the backlog):`,
    "",
    burst,
    "",
    "Ratios (median of the per-repetition ratios):",
    "",
    ratios,
    "",
    `Paced: ${d.rate} inputs/s offered for ${d.pacedS} s, round-robin over the sessions (each system's own scheduling delay):`,
    "",
    paced,
  ].join("\n");
}

function renderMemory(d, command) {
  const peer = (name) => d.results.find((r) => r.name.startsWith(name))?.perSession;
  const table = mdTable(
    ["case", "bytes per idle session", "total", "vs p-queue", `goal < ${d.goalBytes} B`],
    d.results.map((r) => [
      r.name,
      `**${r.perSession.toFixed(0)}**`,
      `${r.totalMiB.toFixed(1)} MiB`,
      fmtRatio(r.perSession / peer("p-queue")),
      r.name.startsWith("offstage") ? (r.perSession < d.goalBytes ? "met" : "**not met**") : "",
    ]),
  );
  return [provenance(d, command), "", `${d.sessions} sessions per case:`, "", table].join("\n");
}

function renderDurable(d, command) {
  const names = Object.keys(d.summary);
  const s = d.summary;
  const burst = mdTable(
    [
      "system",
      "durability",
      "turns/s (median)",
      "per repetition",
      "send→start p50 / p99",
      "other load (cores)",
    ],
    names.map((n) => [
      s[n].label,
      s[n].durability,
      `**${fmtRate(s[n].perSecond)}**`,
      d.runs[n].map((r) => fmtRate(r.perSecond)).join(", "),
      `${fmtMs(s[n].latency.p50Ms)} / ${fmtMs(s[n].latency.p99Ms)}`,
      cores(s[n].otherCores),
    ]),
  );
  const ratios = mdTable(
    ["ratio (turns/s)", "median of repetitions", "per repetition", "goal", "met?"],
    Object.entries(d.ratios).map(([pair, r]) => {
      const [o, p] = pair.split("/");
      const need = durableGoal(pair);
      return [
        pair,
        `**${fmtRatio(r)}**`,
        d.runs[o].map((x, i) => fmtRatio(x.perSecond / d.runs[p][i].perSecond)).join(", "),
        need === undefined ? "none" : `≥ ${need}×`,
        need === undefined ? "—" : r >= need ? "yes" : "**no**",
      ];
    }),
  );
  const normal = s["offstage-normal"]?.perSecond;
  const rateGoal =
    normal === undefined
      ? []
      : [
          "",
          `Goal (issue #3): ≥ ${DURABLE_NORMAL_PER_S_MIN / 1000}k durable turns/s with "normal": ` +
            `**${fmtRate(normal)}**, ${normal >= DURABLE_NORMAL_PER_S_MIN ? "met" : "**not met**"}.`,
        ];
  const paced = mdTable(
    ["system", "inputs", "send→start p50", "p99", "send→durable p50", "p99"],
    (d.paced ?? []).map((r) => [
      s[r.name]?.label ?? r.name,
      r.total,
      fmtMs(r.latency.p50Ms),
      fmtMs(r.latency.p99Ms),
      fmtMs(r.ack.p50Ms),
      fmtMs(r.ack.p99Ms),
    ]),
  );
  const recovery = mdTable(
    ["system", "start() → first turn (median)", "repetitions", "start() returned after", "inputs recovered"],
    (d.recovery ?? []).map((r) =>
      r.skipped
        ? [r.name, `skipped: ${r.skipped}`, "", "", ""]
        : [
            r.name,
            `**${fmtMs(r.firstTurnMs)}**${r.name.startsWith("offstage") ? (r.firstTurnMs < RECOVERY_FIRST_TURN_MS_MAX ? " (goal < 1 s: met)" : " (goal < 1 s: **not met**)") : ""}`,
            r.reps ? r.reps.map((x) => fmtMs(x.firstTurnMs)).join(", ") : "1",
            r.startMs === undefined ? "n/a (workers start when built)" : fmtMs(r.startMs),
            r.recovered,
          ],
    ),
  );
  const skipped = Object.entries(d.skipped ?? {}).map(([n, why]) => `- ${n} skipped: ${why}`);
  return [
    provenance(d, command),
    ...(skipped.length > 0 ? ["", ...skipped] : []),
    "",
    `Burst: ${d.sessions} sessions × ${d.inputs} inputs = ${d.sessions * d.inputs} durable no-op turns per run, ${d.reps} repetitions. ` +
      `"Other load" counts every other process, so for BullMQ and graphile-worker it includes Redis and PostgreSQL doing the peer's own work.`,
    "",
    burst,
    ...rateGoal,
    "",
    ratios,
    "",
    `Paced: ${d.pacedRate} inputs/s for ${d.pacedS} s. send→durable: until Offstage's receipt is "durable" (\`handle.stored()\`), or until BullMQ's \`addBulk\` / graphile-worker's \`addJobs\` returned.`,
    "",
    paced,
    "",
    "Recovery: 100 000 queued inputs; time from start() to the first turn (or job) starting.",
    "",
    recovery,
  ].join("\n");
}

function renderFleet(d, command) {
  const s = d.summary;
  const runs = mdTable(
    [
      "system",
      "turns/s (median)",
      "per repetition",
      "turns per CPU-second",
      "turns run per input",
      "send→start p50 / p99",
      "other load (cores)",
    ],
    Object.entries(s).map(([n, x]) => [
      x.label,
      `**${fmtRate(x.perSecond)}**`,
      d.runs[n].map((r) => fmtRate(r.perSecond)).join(", "),
      fmtRate(x.perCpuSecond),
      // More than 1: some turns (jobs) ran again, in another process or after a failure.
      d.runs[n]
        .map((r) => (r.ranPerMember.reduce((a, b) => a + b, 0) / (d.sessions * d.inputs)).toFixed(2))
        .join(", "),
      `${fmtMs(x.latency.p50Ms)} / ${fmtMs(x.latency.p99Ms)}`,
      cores(x.otherCores),
    ]),
  );
  const ratios = mdTable(
    ["ratio (turns/s)", "wall-clock", "per repetition", "per CPU-second", "goal", "met?"],
    Object.entries(d.ratios).map(([pair, r]) => {
      const need = fleetGoal(pair);
      return [
        pair,
        `**${fmtRatio(r.wall)}**`,
        r.perRep.map(fmtRatio).join(", "),
        fmtRatio(r.cpu),
        need === undefined ? "none" : `≥ ${need}×`,
        need === undefined ? "—" : r.wall >= need ? "yes" : "**no**",
      ];
    }),
  );
  const skipped = Object.entries(d.skipped ?? {}).map(([n, why]) => `- ${n} skipped: ${why}`);
  return [
    provenance(d, command),
    ...(skipped.length > 0 ? ["", ...skipped] : []),
    "",
    `${d.sessions} sessions × ${d.inputs} inputs = ${d.sessions * d.inputs} durable no-op turns per run, ${d.reps} repetitions, every system with synchronous_commit on. ` +
      "Turns per CPU-second divide by the CPU of the fleet's processes and of the PostgreSQL backends serving them (from /proc), " +
      'so other users of this shared machine stay out of it; "other load" is what the rest of the machine used meanwhile; ' +
      '"turns run per input" counts the turns (jobs) the processes started, per input sent, in each repetition.',
    "",
    runs,
    "",
    ratios,
  ].join("\n");
}

/** The delegation benchmark's systems as a reader knows them. */
const DELEGATION_LABELS = {
  "offstage-normal": 'offstage, SQLite "normal"',
  "offstage-full": 'offstage, SQLite "full"',
  bullmq: "BullMQ flows (per parent)",
};

function renderDelegation(d, command) {
  const rows = [];
  for (const shape of d.results) {
    const name = `${shape.parents} parent(s) × ${shape.children} children`;
    const peer = shape.rows.find((r) => r.system === "bullmq" && !r.skipped);
    for (const r of shape.rows) {
      const label = DELEGATION_LABELS[r.system] ?? r.system;
      if (r.skipped) {
        rows.push([name, label, `skipped: ${r.skipped}`, "", "", "", ""]);
        continue;
      }
      rows.push([
        name,
        label,
        `**${fmtRate(r.perSecond)}**`,
        peer === undefined ? "n/a" : fmtRatio(r.perSecond / peer.perSecond),
        `${fmtMs(r.latency.p50Ms)} / ${fmtMs(r.latency.p99Ms)}`,
        r.latencyOf,
        cores(r.otherCores),
      ]);
    }
  }
  const table = mdTable(
    ["shape", "system", "children/s", "vs BullMQ flows", "p50 / p99", "latency of", "other load (cores)"],
    rows,
  );
  return [
    provenance(d, command),
    "",
    "Bursts: every dispatch made at once, so latency includes queueing. No goal is set (issue #4).",
    "",
    table,
  ].join("\n");
}

function renderModels(d, command) {
  const s = d.summary;
  const peer = s["ai-sdk"];
  const systems = mdTable(
    [
      "system",
      "conversations/s (median)",
      "vs streamText",
      "step p50 / p99",
      "CPU ms per conversation",
      "other load (cores)",
    ],
    Object.values(s).map((r) => [
      r.label,
      `**${fmtRate(r.perSecond)}**`,
      fmtRatio(r.perSecond / peer.perSecond),
      `${fmtMs(r.stepP50Ms)} / ${fmtMs(r.stepP99Ms)}`,
      r.cpuMsPerConversation.toFixed(2),
      cores(r.otherCores),
    ]),
  );
  const goals = mdTable(
    ["ratio", "conversations/s", "goal", "met?", "step p99 below streamText's?"],
    Object.entries(d.ratios).map(([pair, ratio]) => {
      const need = modelsGoal(pair);
      const system = s[pair.split(" / ")[0]];
      return [
        pair,
        `**${fmtRatio(ratio)}**`,
        `≥ ${need}×`,
        ratio >= need ? "yes" : "**no**",
        system.stepP99Ms < peer.stepP99Ms ? "yes" : "**no**",
      ];
    }),
  );
  const a = d.adapter;
  const adapter = mdTable(
    ["reading a stream of text deltas", "ns per part"],
    [
      ["`doStream` directly", a.directNsPerPart.toFixed(0)],
      ["`fromAiSdk(model).stream()`", a.adapterNsPerPart.toFixed(0)],
      ["the adapter's own cost", `**${a.overheadNsPerPart.toFixed(0)}**`],
    ],
  );
  return [
    provenance(d, command),
    "",
    `${d.conversations} conversations at once, ${d.reps} repetition(s), medians; a step lasts from its model call's start to the next one's (the last: to the answer), so it holds the call, its stream, the tools and the loop's own work between.`,
    "",
    systems,
    "",
    goals,
    "",
    `The adapter's own cost per streamed part, ${a.parts} text deltas already in memory (median of 40 reads, the two readers taking turns):`,
    "",
    adapter,
  ].join("\n");
}

function renderFrame(d, command) {
  const modes = Object.keys(d.results);
  const table = mdTable(
    [
      "mode",
      "frame overrun p50",
      "p99",
      "max",
      "frames",
      "turns completed",
      "host-thread CPU on the turns per frame p50 / p99",
      "poll() p99 per frame",
      "OS preemption in a frame p99",
      "send p50 / p99",
      "other load (cores)",
    ],
    modes.map((m) => {
      const r = d.results[m];
      return [
        d.labels[m],
        fmtMs(r.overrun.p50Ms),
        `**${fmtMs(r.overrun.p99Ms)}**`,
        fmtMs(r.overrun.maxMs),
        r.frames,
        r.completed,
        `${fmtMs(r.hostCpu.p50Ms)} / ${fmtMs(r.hostCpu.p99Ms)}`,
        fmtMs(r.poll.p99Ms),
        fmtMs(r.preempted.p99Ms),
        r.send === undefined ? "—" : `${fmtMs(r.send.p50Ms)} / ${fmtMs(r.send.p99Ms)}`,
        cores(r.otherCores),
      ];
    }),
  );
  const worker = d.results.worker?.overrun.p99Ms;
  const ratio = d.ratio;
  const goals =
    worker === undefined || ratio === undefined
      ? "Goals not judged: the run lacks the worker or the in-thread mode."
      : mdTable(
          ["goal", "measured", "met?"],
          [
            [
              `worker p99 overrun < ${FRAME_OVERRUN_P99_MS_MAX} ms`,
              fmtMs(worker),
              worker < FRAME_OVERRUN_P99_MS_MAX ? "yes" : "**no**",
            ],
            [
              `in-thread p99 / worker p99 ≥ ${FRAME_WORKER_VS_IN_THREAD_MIN}× (median of the repetitions)`,
              fmtRatio(ratio),
              ratio >= FRAME_WORKER_VS_IN_THREAD_MIN ? "yes" : "**no**",
            ],
            ...(d.results.floor === undefined
              ? []
              : [
                  [
                    "(for reading the above) worker p99 / floor p99: what the worker adds to the machine's own overrun",
                    fmtRatio(worker / Math.max(d.results.floor.overrun.p99Ms, 0.001)),
                    "—",
                  ],
                ]),
          ],
        );
  return [
    provenance(d, command),
    "",
    `A synchronous 60 Hz loop doing ${d.busyMs} ms of work per frame and polling every unsettled handle every frame, while ${d.sessions * d.inputs} turns (${d.sessions} sessions × ${d.inputs}; a model step, a tool call, a model step, the model waiting ${d.latencyMinMs}–${d.latencyMaxMs} ms per step) run on the SQLite store. Overrun: how late a frame starts after its scheduled time. OS preemption: the longest time the operating system took the CPU from the loop during a frame's busy work (machine noise, not Offstage); the floor row is the same loop with no turns at all, the best any way of running them could do on this machine at that moment. Host-thread CPU on the turns: CPU time the loop's thread spent per frame on anything but its own work and waiting (polling, and whatever ran when it yielded), which machine noise does not inflate. The turns are sent before the first frame. ${d.reps ?? 1} repetition(s), the modes alternating; each row is the mode's repetition of median p99 overrun.`,
    "",
    table,
    "",
    goals,
  ].join("\n");
}

const SERVE_LABELS = {
  offstage: "`offstage serve` (SQLite normal, event log on)",
  "offstage-b": "`offstage serve`, build B",
  floor: "floor: bare Hono handler, same row into SQLite",
};

function renderServe(d, command) {
  const table = mdTable(
    [
      "system",
      "accepted inputs/s (peak)",
      "POST p50 / p99 at peak",
      "server CPU per input",
      "paced rate (50 % of peak)",
      "POST p50 / p99 paced",
      "sender late p99 paced",
      "in the server p99 / max paced",
      "server loop delay p99 / max paced",
      "longest scavenge paced",
    ],
    d.rows.map((r) => [
      r.system.includes("@")
        ? `${SERVE_LABELS[r.system.split("@")[0]] ?? r.system}, semi-space ${r.system.split("@")[1]}`
        : (SERVE_LABELS[r.system] ?? r.system),
      `**${fmtRate(r.peak.acceptedPerS)}**`,
      `${fmtMs(r.peak.p50Ms)} / ${fmtMs(r.peak.p99Ms)}`,
      fmtMs(r.peak.cpuMsPerInput),
      `${fmtRate(r.paced.acceptedPerS)}`,
      `${fmtMs(r.paced.p50Ms)} / **${fmtMs(r.paced.p99Ms)}**`,
      r.paced.senderLateP99Ms === undefined ? "—" : fmtMs(r.paced.senderLateP99Ms),
      r.paced.handledP99Ms === undefined
        ? "—"
        : `${fmtMs(r.paced.handledP99Ms)} / ${fmtMs(r.paced.handledMaxMs)}`,
      r.paced.loopMaxMs === undefined
        ? fmtMs(r.paced.loopP99Ms)
        : `${fmtMs(r.paced.loopP99Ms)} / ${fmtMs(r.paced.loopMaxMs)}`,
      r.paced.scavengeMsMax === undefined ? "—" : fmtMs(r.paced.scavengeMsMax),
    ]),
  );
  const offstage = d.rows.find((r) => r.system === "offstage");
  const floor = d.rows.find((r) => r.system === "floor");
  const goals =
    offstage === undefined || floor === undefined
      ? ""
      : (() => {
          const ratio = offstage.peak.acceptedPerS / floor.peak.acceptedPerS;
          const p99 = offstage.paced.p99Ms;
          return mdTable(
            ["goal", "measured", "met?"],
            [
              [
                `accepted inputs/s ≥ ${SERVE_VS_FLOOR_MIN}× the floor's`,
                fmtRatio(ratio),
                ratio >= SERVE_VS_FLOOR_MIN ? "yes" : "**no**",
              ],
              [
                `POST p99 < ${SERVE_PACED_P99_MS_MAX} ms at 50 % of peak`,
                fmtMs(p99),
                p99 < SERVE_PACED_P99_MS_MAX ? "yes" : "**no**",
              ],
            ],
          );
        })();
  const s = d.streams;
  const streams =
    s === undefined
      ? []
      : [
          "",
          `Streams: ${s.streams} SSE streams held on ${s.sessions} sessions for ${s.seconds} s while ${s.inputs} inputs arrived (${s.frames} frames read): ` +
            `server heap **${s.heapPerStreamOpenB} B per stream** once open, ${s.heapPerStreamEndB} B at the end; RSS ${s.rssMiB.join(" → ")} MiB.`,
        ];
  return [
    provenance(d, command),
    "",
    `POSTs of inputs over loopback to ${d.sessions} sessions, each server in its own process. Peak: autocannon, ${d.connections} connections, ${d.seconds} s. ` +
      `Paced: 50 % of each system's own peak rate, evenly spaced and open loop (a request is sent when due, over up to ${d.connections} keep-alive connections), latency from its due time. ` +
      `Sender late: how long after its due time the load generator got to a request (its own loop's part of the latency). ` +
      `In the server: from Node handing a request to the app to the last byte of its answer written (what the app and its commit take; the rest of a POST's latency is the queue in front of it). ` +
      `Server CPU per input: the server process's CPU time over accepted inputs. ${d.rounds} round(s), the systems taking turns; medians. ` +
      `Young generation: ${d.semiSpaces === undefined ? "Node's default (no `--max-semi-space-size`) for every server" : `\`--max-semi-space-size\` ${d.semiSpaces.join(", ")} MiB, each for every server`}.`,
    "",
    table,
    "",
    goals,
    ...streams,
  ].join("\n");
}

const RENDER = {
  core: ["core-throughput", renderCore],
  memory: ["idle-memory", renderMemory],
  durable: ["durable-throughput", renderDurable],
  fleet: ["fleet-throughput", renderFleet],
  delegation: ["delegation", renderDelegation],
  models: ["model-loop", renderModels],
  frame: ["frame-loop", renderFrame],
  serve: ["serve-load", renderServe],
};

/** Replaces the blocks of the named benchmarks in RESULTS.md; returns the names written. */
export function writeResults(names, command) {
  let text = existsSync(RESULTS) ? readFileSync(RESULTS, "utf8") : "# Benchmark results\n";
  const written = [];
  for (const name of names) {
    if (!(name in RENDER)) continue;
    const [file, render] = RENDER[name];
    if (!existsSync(saved(file))) continue;
    const block = render(JSON.parse(readFileSync(saved(file), "utf8")), command);
    const begin = `<!-- bench:${name}:begin -->`;
    const end = `<!-- bench:${name}:end -->`;
    const fresh = `${begin}\n${block}\n${end}`;
    const at = text.indexOf(begin);
    const to = text.indexOf(end);
    text =
      at >= 0 && to > at
        ? text.slice(0, at) + fresh + text.slice(to + end.length)
        : `${text.trimEnd()}\n\n## ${name}\n\n${fresh}\n`;
    written.push(name);
  }
  writeFileSync(RESULTS, text);
  return written;
}
