import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSqliteStore, type SqliteStore, type Store } from "../../src/index.js";
import { runStoreConformance } from "../../src/testing/index.js";

const dirs: string[] = [];

function freshPath(): string {
  const dir = mkdtempSync(join(tmpdir(), "offstage-sqlite-"));
  dirs.push(dir);
  return join(dir, "store.db");
}

runStoreConformance("sqlite", {
  create: () => createSqliteStore({ path: freshPath() }),
  reopen: (store) => createSqliteStore({ path: (store as SqliteStore).path }),
  crash: (store) => (store as Store as SqliteStore).abandon(),
  cleanup: () => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  },
});
