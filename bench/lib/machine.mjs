// What a number was measured on: the machine and the code. Every benchmark prints both first and
// saves them with its numbers, since this VM's speed drifts and a result without them cannot be
// compared with anything.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import { log } from "./log.mjs";

/** The machine, as RESULTS.md records it. */
export function machine() {
  let cpu = os.cpus()[0]?.model ?? "unknown";
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("model name"));
    if (line !== undefined) cpu = line.split(":")[1].trim();
  } catch {
    // Not Linux: os.cpus() is the next best source.
  }
  return {
    cores: os.availableParallelism(),
    cpu,
    ramGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    date: new Date().toISOString(),
    loadAvg: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

export function printMachine() {
  const m = machine();
  log(
    `machine: ${m.cores} cores, ${m.cpu}, ${m.ramGiB} GiB RAM, Node ${m.node}, ${m.platform}; ${m.date}; load average ${m.loadAvg.join(" ")}`,
  );
  const code = codeUnderTest();
  log(
    `code: commit ${code.commit}${code.dirty.length > 0 ? `, with uncommitted changes in ${code.dirty.join(", ")}` : ""}; build ${code.dist}`,
  );
}

/** Which commit the measured build comes from, and whether src/ differed from it (git, if present). */
export function codeUnderTest() {
  const dist = process.env.OFFSTAGE_DIST;
  if (dist !== undefined) {
    // A build of a clean checkout (e.g. `git archive HEAD`) may sit beside its dist/ with a COMMIT file.
    let commit = "unknown";
    try {
      commit = readFileSync(new URL("../COMMIT", `file://${dist}`), "utf8").trim();
    } catch {
      // No COMMIT file: say so.
    }
    return { commit, dirty: [], dist };
  }
  const root = new URL("../..", import.meta.url).pathname;
  const commit = sh("git", ["-C", root, "rev-parse", "--short", "HEAD"])?.trim() ?? "unknown";
  const dirty = (sh("git", ["-C", root, "status", "--porcelain", "--", "src"]) ?? "")
    .split("\n")
    .filter(Boolean)
    .map((l) => l.slice(3));
  return { commit, dirty, dist: "dist/ (npm run build of the work tree)" };
}

/** Runs a command; returns its stdout, or undefined when it fails. */
function sh(command, args) {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch {
    return undefined;
  }
}
