// Where a benchmark's numbers go: JSON in bench/.tmp/ (gitignored), with the machine, the code and
// the arguments beside them. `bench/run.mjs --write` renders these files into RESULTS.md
// (lib/report.mjs), so the tables there are never typed by hand.
import { mkdirSync, writeFileSync } from "node:fs";
import { flag } from "./args.mjs";
import { log } from "./log.mjs";
import { codeUnderTest, machine } from "./machine.mjs";

/** The folder of the saved numbers. */
export const RESULTS_DIR = new URL("../.tmp/", import.meta.url);

/** Saves a benchmark's numbers as JSON in bench/.tmp/NAME.json. */
export function writeResult(name, data) {
  mkdirSync(RESULTS_DIR, { recursive: true });
  // --out NAME saves under another name (the profile run does, so it keeps the full run's numbers).
  const file = new URL(`${flag("out", name)}.json`, RESULTS_DIR);
  writeFileSync(
    file,
    `${JSON.stringify({ machine: machine(), code: codeUnderTest(), argv: process.argv.slice(2), ...data }, null, 2)}\n`,
  );
  log(`numbers saved to ${file.pathname}`);
}
