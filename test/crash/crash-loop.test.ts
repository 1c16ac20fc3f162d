/**
 * A turn that kills its process every time it runs must stop being resumed after `maxAttempts`
 * runs (its effects are at-least-once, bounded). Regression test with real `kill -9`s: the resumed
 * attempt was only written, not committed, when the turn ran again, so a process that died at once
 * never spent the attempt and the turn ran again on every restart, forever.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

const sqliteMissing = await import("node:sqlite").then(
  () => undefined,
  () => `node:sqlite is missing in Node ${process.version}; run through npm so the pinned Node 24 is used`,
);
const HERE = fileURLToPath(new URL(".", import.meta.url));
/** Matches `MAX_ATTEMPTS` of the child (not imported: that would run the child here). */
const MAX_ATTEMPTS = 3;
const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface Ran {
  readonly stdout: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Runs the child; `killOnLine` kills it (SIGKILL) as soon as it printed a line. */
function runChild(args: string[], killOnLine: boolean): Promise<Ran> {
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", join(HERE, "ts-hook.ts"), join(HERE, "crash-loop-child.ts"), ...args],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let stdout = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    stdout += chunk;
    if (killOnLine && stdout.includes("\n")) child.kill("SIGKILL");
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  return new Promise((resolve) => {
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ stdout, code, signal });
    });
  });
}

describe.skipIf(sqliteMissing !== undefined)(
  `a turn that crashes its process every time${sqliteMissing === undefined ? "" : ` (skipped: ${sqliteMissing})`}`,
  () => {
    it(`runs at most maxAttempts (${MAX_ATTEMPTS}) times, then ends failed/crashed`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "offstage-crash-loop-"));
      dirs.push(dir);
      const path = join(dir, "store.sqlite");
      const marker = join(dir, "runs.log");
      const first = await runChild([path, marker, "first"], true);
      const id = first.stdout.trim();
      expect(id, "the first process reported its input").not.toBe("");
      let outcome: string | undefined;
      for (let restart = 0; restart < MAX_ATTEMPTS + 3 && outcome === undefined; restart++) {
        const again = await runChild([path, marker, "again", id], false);
        if (again.code === 0) outcome = again.stdout.trim();
        else expect(again.signal, "a resumed run kills its process").toBe("SIGKILL");
      }
      const runs = readFileSync(marker, "utf8").split("\n").filter(Boolean).length;
      expect(runs).toBeLessThanOrEqual(MAX_ATTEMPTS);
      expect(JSON.parse(outcome ?? "null")).toMatchObject({ status: "failed", reason: { code: "crashed" } });
    });
  },
);
