// Delegation (issue #4), the `delegation` benchmark: background children on the SQLite store, whose
// completions come back to their parents as new turns (systems/offstage-delegation.mjs, durability
// "normal" and "full"), beside the peer a user would otherwise pick for parent/child jobs, BullMQ
// flows (systems/bullmq-flows.mjs). Both shapes are bursts: every dispatch is made at once, so
// latency includes queueing.
//
// Shapes: fan-out 1 parent × 1,000 children, and 1,000 parents × 10 children.
// Flags (or BENCH_<NAME>): --wide 1000 --parents 1000 --children 10 --systems offstage-normal,...
//   --redis-url redis://127.0.0.1:6379 --quick
// Saves bench/.tmp/delegation.json.
import { count, flag, QUICK } from "../lib/args.mjs";
import { fmtCores, fmtMs, fmtRate, fmtRatio, table } from "../lib/format.mjs";
import { log } from "../lib/log.mjs";
import { printMachine } from "../lib/machine.mjs";
import { loadOffstage } from "../lib/offstage.mjs";
import { writeResult } from "../lib/results.mjs";
import { bullmqFlowsSystem } from "../systems/bullmq-flows.mjs";
import { offstageDelegationSystem } from "../systems/offstage-delegation.mjs";

const WIDE = count("wide", QUICK ? 100 : 1000);
const PARENTS = count("parents", QUICK ? 100 : 1000);
const CHILDREN = count("children", 10);
const WANTED = flag("systems", "offstage-normal,offstage-full,bullmq").split(",");

const offstage = await loadOffstage();
const ALL = [
  offstageDelegationSystem({ offstage, durability: "normal" }),
  offstageDelegationSystem({ offstage, durability: "full" }),
  bullmqFlowsSystem(),
];
// In the order --systems names them, as before.
const SYSTEMS = WANTED.map((name) => {
  const system = ALL.find((s) => s.name === name);
  if (system === undefined) throw new Error(`--systems: unknown system ${JSON.stringify(name)}`);
  return system;
});

/** One shape: each system in turn, logged and tabulated with its ratio to BullMQ flows. */
async function shape(name, parents, children) {
  log(`${name}: ${parents} parent(s) × ${children} children`);
  const rows = [];
  for (const system of SYSTEMS) {
    const run = await system.run({ parents, children });
    rows.push(run);
    if (run.skipped) log(`  ${system.name}: skipped (${run.skipped})`);
    else
      log(
        `  ${system.name}: ${fmtRate(run.perSecond)} children, p50 ${fmtMs(run.latency.p50Ms)}, p99 ${fmtMs(run.latency.p99Ms)}`,
      );
  }
  const peer = rows.find((r) => r.system === "bullmq" && !r.skipped);
  table(
    ["system", "children/s", "vs bullmq", "p50", "p99", "latency of", "other load"],
    rows
      .filter((r) => !r.skipped)
      .map((r) => [
        r.system,
        fmtRate(r.perSecond),
        peer === undefined ? "n/a" : fmtRatio(r.perSecond / peer.perSecond),
        fmtMs(r.latency.p50Ms),
        fmtMs(r.latency.p99Ms),
        r.latencyOf,
        fmtCores(r.otherCores),
      ]),
  );
  return { name, parents, children, rows };
}

printMachine();
// Warm-up, unrecorded: the first system measured would otherwise pay for the JIT of all of them.
log("warm-up (not recorded)");
await ALL[0].run({ parents: 20, children: 10 });
const results = [await shape("fan-out", 1, WIDE), await shape("many parents", PARENTS, CHILDREN)];
writeResult("delegation", { results });
// Exit as soon as the numbers are saved, rather than wait for every client socket to wind down.
process.exit(0);
