/**
 * The built package (`dist/`), for tests that use it as a user would: by name, or through its `bin`.
 * Built here when `dist/` is older than `src/` (CI's `npm run lint` builds it before the tests).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's root folder. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The newest modification time of the files under `dir`. */
function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

function fresh(): boolean {
  try {
    return statSync(join(ROOT, "dist", "index.js")).mtimeMs >= newest(join(ROOT, "src"));
  } catch {
    return false;
  }
}

/**
 * Builds the package unless `dist/` is up to date with `src/`. Test files run in parallel: one builds
 * while the others wait for it (a folder is the lock: making one is atomic).
 */
export function ensureBuilt(): void {
  const lock = join(ROOT, "dist.build-lock");
  const deadline = Date.now() + 300_000;
  while (!fresh()) {
    try {
      mkdirSync(lock);
    } catch {
      if (Date.now() > deadline) throw new Error(`gave up waiting for another test's build (${lock})`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
      continue;
    }
    try {
      if (!fresh()) {
        const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
        execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "inherit" });
      }
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
}
