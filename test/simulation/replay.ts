/**
 * What a failing seed prints so it can be replayed exactly: the seed as `npm run sim -- --seed`
 * takes it, the command, and the commit it ran at.
 */
import { execSync } from "node:child_process";

/** `0x4d2` style, as `npm run sim -- --seed` accepts it. */
export function seedLabel(seed: number): string {
  return `0x${(seed >>> 0).toString(16)}`;
}

export function replayCommand(seed: number): string {
  return `npm run sim -- --seed ${seedLabel(seed)}`;
}

let commitCache: string | undefined;
/** The commit a failure was found at, marked when the work tree differs from it. */
export function commitLabel(): string {
  if (commitCache === undefined) {
    try {
      commitCache = execSync("git rev-parse --short HEAD", { stdio: ["ignore", "pipe", "ignore"] })
        .toString()
        .trim();
      const dirty = execSync("git status --porcelain --untracked-files=no", {
        stdio: ["ignore", "pipe", "ignore"],
      })
        .toString()
        .trim();
      if (dirty !== "") commitCache += " (with uncommitted changes)";
    } catch {
      commitCache = "unknown";
    }
  }
  return commitCache;
}
