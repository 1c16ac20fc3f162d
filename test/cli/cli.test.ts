/**
 * The `offstage` command as a user runs it: the built package's `bin`, in a child process. On a
 * Node.js older than the package needs it says which Node is needed (instead of crashing on
 * `node:sqlite`); `--version` prints the version; `demo --quiet` prints only the summary; the demo
 * streams each answer, every line of it, as the model writes it.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeVersionProblem } from "../../src/cli/node-version.js";
import { ensureBuilt, ROOT } from "../support/build.js";

const MAIN = join(ROOT, "dist", "cli", "main.js");
let dir = "";

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "offstage-cli-"));
}, 300_000);

afterAll(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

function offstage(args: string[], node = process.execPath) {
  return spawnSync(node, [MAIN, ...args], { cwd: dir, encoding: "utf8", timeout: 120_000 });
}

/** A `node` older than 22 on this machine: the PATH's, or Debian's. */
function oldNode(): { path: string; version: string } | undefined {
  const candidates = [
    ...(process.env.PATH ?? "").split(delimiter).map((folder) => join(folder, "node")),
    "/usr/bin/node",
    "/usr/local/bin/node",
  ];
  for (const path of candidates) {
    if (!existsSync(path)) continue;
    const version = execFileSync(path, ["-p", "process.versions.node"], { encoding: "utf8" }).trim();
    if (Number.parseInt(version, 10) < 22) return { path, version };
  }
  return undefined;
}

describe("offstage on a Node.js that is too old", () => {
  it("nodeVersionProblem says which Node is needed, and accepts the supported ones", () => {
    expect(nodeVersionProblem("20.20.2")).toContain("needs Node.js 22.13 or later");
    expect(nodeVersionProblem("20.20.2")).toContain("this is Node.js 20.20.2");
    expect(nodeVersionProblem("22.12.0")).toBeDefined();
    for (const fine of ["22.13.0", "22.16.1", "24.21.0", "26.0.0"])
      expect(nodeVersionProblem(fine)).toBeUndefined();
  });

  it("the command says so, with exit code 1, instead of crashing on node:sqlite", () => {
    const old = oldNode();
    if (old === undefined)
      throw new Error(
        "no Node.js older than 22 found on PATH or in /usr/bin (Debian's nodejs 20 is expected)",
      );
    const ran = offstage(["demo", "--memory"], old.path);
    expect(ran.stderr).toContain(`offstage needs Node.js 22.13 or later`);
    expect(ran.stderr).toContain(`this is Node.js ${old.version}`);
    expect(ran.stderr).not.toContain("ERR_UNKNOWN_BUILTIN_MODULE");
    expect(ran.status).toBe(1);
  });
});

describe("offstage", () => {
  it("--version prints the package's version", () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    for (const flag of ["--version", "-V"]) {
      const ran = offstage([flag]);
      expect(ran.stdout.trim()).toBe(version);
      expect(ran.status).toBe(0);
    }
  });

  it("demo --quiet prints only the summary", () => {
    const ran = offstage(["demo", "--memory", "--quiet", "--workspace", join(dir, "quiet")]);
    expect(ran.stderr).toBe("");
    expect(ran.status).toBe(0);
    const lines = ran.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("Summary");
    expect(lines.slice(1).every((line) => line.startsWith("  "))).toBe(true);
    expect(ran.stdout).toContain("stop status: clean");
  }, 120_000);

  it("demo streams every line of each answer, labelled with its session", () => {
    const ran = offstage(["demo", "--memory", "--workspace", join(dir, "loud")]);
    expect(ran.status).toBe(0);
    const lines = ran.stdout.split("\n");
    // Bob reads notes/todo.txt first: the answer's second line says what the tool read.
    expect(
      lines.some((line) => /^ {2}\[bob\] │ - read_file notes\/todo\.txt: write the report/.test(line)),
    ).toBe(true);
    // Multi-line answers come through whole, a line at a time, not just their first line.
    const answerLines = lines.filter((line) => line.startsWith("  [alice] │ "));
    expect(answerLines.length).toBeGreaterThan(3);
    expect(ran.stdout).toContain("Summary");
  }, 120_000);
});
