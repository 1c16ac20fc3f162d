/**
 * A handle must not settle before the commit that holds its end (the store port's rule: nobody is
 * told about a write a crash could still lose). Regression test, with a real `kill -9`, for handles
 * handed out by `runtime.handle(id)` and by an idempotent resend while a withdrawal of the same
 * input was still waiting for its commit: they settled `withdrawn` at once, and after the kill the
 * input was `queued` again and ran.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { createSqliteStore } from "../../src/store/sqlite/index.js";

const sqliteMissing = await import("node:sqlite").then(
  () => undefined,
  () => `node:sqlite is missing in Node ${process.version}; run through npm so the pinned Node 24 is used`,
);
const HERE = fileURLToPath(new URL(".", import.meta.url));
const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(sqliteMissing !== undefined)(
  `an ended input's handle settles only after the commit${sqliteMissing === undefined ? "" : ` (skipped: ${sqliteMissing})`}`,
  () => {
    it("a withdrawal killed before its commit was never reported by runtime.handle() or a resend", async () => {
      const dir = mkdtempSync(join(tmpdir(), "offstage-early-settle-"));
      dirs.push(dir);
      const path = join(dir, "store.sqlite");
      const child = spawnSync(
        process.execPath,
        ["--import", join(HERE, "ts-hook.ts"), join(HERE, "early-settle-child.ts"), path],
        { encoding: "utf8", timeout: 30_000 },
      );
      expect(child.signal, child.stderr).toBe("SIGKILL");
      const told = JSON.parse(child.stdout) as { id: string; byId?: string; byKey?: string };
      const store = createSqliteStore({ path });
      await store.open();
      const kept = store.input(told.id)?.status;
      await store.close();
      // What a handle said before the kill must be what the file kept.
      for (const status of [told.byId, told.byKey]) if (status !== undefined) expect(status).toBe(kept);
      expect(kept).toBe("queued");
    });
  },
);
