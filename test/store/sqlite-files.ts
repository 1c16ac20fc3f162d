/**
 * Temporary SQLite files for the store tests: a fresh folder per file, removed after each test, and
 * the hash of a file's bytes to prove a refused file was left untouched.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dirs: string[] = [];

/** A new, empty folder. */
export function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "offstage-sqlite-"));
  dirs.push(dir);
  return dir;
}

/** A path for a database file that does not exist yet, in a new folder. */
export function freshPath(): string {
  return join(freshDir(), "store.db");
}

/** Removes every folder made since the last call. */
export function removeFiles(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** The names in the folder of `path`, to show nothing was created beside a refused file. */
export function siblings(path: string): string[] {
  return readdirSync(join(path, "..")).sort();
}
