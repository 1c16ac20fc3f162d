// Summarises a V8 CPU profile (from `node --cpu-prof`): the functions with the most self time, and
// the time under (self + callees) each of Offstage's own functions.
//
//   npm exec -- node --expose-gc --cpu-prof --cpu-prof-dir bench/.tmp/prof bench/scenarios/core-burst.mjs \
//     --only offstage --reps 3 --paced-s 0
//   npm exec -- node bench/lab/profile-summary.mjs bench/.tmp/prof/<file>.cpuprofile [--top 30]
//   npm run bench -- profile            (both steps; bench/run.mjs)
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { count } from "../lib/args.mjs";

const TOP = count("top", 30);

/** The newest .cpuprofile of a directory, or the file itself. */
export function newestProfile(path) {
  if (!statSync(path).isDirectory()) return path;
  const files = readdirSync(path)
    .filter((f) => f.endsWith(".cpuprofile"))
    .map((f) => join(path, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (files.length === 0) throw new Error(`no .cpuprofile in ${path}`);
  return files[0];
}

function where(frame) {
  const url = frame.url.replace(/^file:\/\//, "").replace(/^.*\/(dist|node_modules|bench)\//, "$1/");
  return url === "" ? "" : `${url}:${frame.lineNumber + 1}`;
}

/** Returns { totalMs, self: [{ name, where, ms, pct }], inclusive: [...] } for a profile file. */
export function summarize(file) {
  const profile = JSON.parse(readFileSync(file, "utf8"));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Sample time: each sample lasts until the next one.
  const selfUs = new Map();
  const deltas = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = deltas[i + 1] ?? 0;
    selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + dt);
  }
  let totalUs = 0;
  for (const v of selfUs.values()) totalUs += v;
  const key = (n) => `${n.callFrame.functionName || "(anonymous)"}\t${where(n.callFrame)}`;
  const self = new Map();
  const inclusive = new Map();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    self.set(key(node), (self.get(key(node)) ?? 0) + us);
    // Inclusive: credit every distinct function on the stack once.
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const k = key(byId.get(cur));
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + us);
    }
  }
  // Line ticks (V8 records them per node): where inside a function its self time goes.
  const lines = new Map();
  for (const n of profile.nodes) {
    for (const { line, ticks } of n.positionTicks ?? []) {
      const k = `${n.callFrame.url}\t${line}\t${n.callFrame.functionName || "(anonymous)"}`;
      lines.set(k, (lines.get(k) ?? 0) + ticks);
    }
  }
  let lineTicks = 0;
  for (const v of lines.values()) lineTicks += v;
  const rows = (m) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .map(([k, us]) => {
        const [name, at] = k.split("\t");
        return { name, where: at, ms: us / 1000, pct: (100 * us) / totalUs };
      });
  const hotLines = [...lines]
    .sort((a, b) => b[1] - a[1])
    .map(([k, ticks]) => {
      const [url, line, name] = k.split("\t");
      return { url, line: Number(line), name, pct: (100 * ticks) / lineTicks };
    });
  return { totalMs: totalUs / 1000, self: rows(self), inclusive: rows(inclusive), hotLines };
}

export function printSummary(file, top = TOP) {
  const s = summarize(file);
  const line = (r) =>
    `${r.pct.toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${r.name}  ${r.where}`;
  console.log(`profile ${file}: ${(s.totalMs / 1000).toFixed(2)} s sampled`);
  console.log(`\ntop ${top} by self time:`);
  for (const r of s.self.slice(0, top)) console.log(line(r));
  console.log(`\nOffstage functions by inclusive time (self + callees), top ${top}:`);
  for (const r of s.inclusive.filter((r) => r.where.startsWith("dist/")).slice(0, top)) console.log(line(r));
  console.log(`\nhottest lines of Offstage's code (share of all line ticks), top ${top}:`);
  const sources = new Map();
  for (const r of s.hotLines.filter((r) => r.url.includes("/dist/")).slice(0, top)) {
    const path = r.url.replace(/^file:\/\//, "");
    if (!sources.has(path)) sources.set(path, readFileSync(path, "utf8").split("\n"));
    const text = (sources.get(path)[r.line - 1] ?? "").trim().slice(0, 90);
    const at = `${path.replace(/^.*\/dist\//, "dist/")}:${r.line}`;
    console.log(`${r.pct.toFixed(1).padStart(5)}%  ${r.name}  ${at}  ${text}`);
  }
  return s;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const target = process.argv.slice(2).find((a) => !a.startsWith("--") && !/^\d+$/.test(a));
  if (target === undefined) {
    console.error("usage: node bench/lab/profile-summary.mjs <file.cpuprofile | dir> [--top N]");
    process.exit(2);
  }
  printSummary(newestProfile(target));
}
