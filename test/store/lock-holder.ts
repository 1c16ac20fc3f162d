/**
 * A second process for the boot-gate tests: opens the SQLite store at `argv[2]`, prints `ready` and
 * holds it until it is killed, or prints `refused <code>` and exits 1. Run with
 * `node --import ./test/crash/ts-hook.ts`.
 */
import { createSqliteStore } from "../../src/store/sqlite/sqlite-store.js";

const store = createSqliteStore({ path: process.argv[2]! });
try {
  await store.open();
} catch (error) {
  process.stdout.write(`refused ${(error as { code?: string }).code}\n`);
  process.exit(1);
}
process.stdout.write("ready\n");
setInterval(() => {}, 60_000);
