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

/** Builds the package unless `dist/` is up to date with `src/`. */
export function ensureBuilt(): void {
  let built = 0;
  try {
    built = statSync(join(ROOT, "dist", "index.js")).mtimeMs;
  } catch {
    // Not built yet.
  }
  if (built >= newest(join(ROOT, "src"))) return;
  execFileSync(
    process.execPath,
    [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"],
    {
      cwd: ROOT,
      stdio: "inherit",
    },
  );
}
