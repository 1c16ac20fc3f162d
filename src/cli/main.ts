#!/usr/bin/env node
/**
 * The `offstage` command line. It checks the Node.js version first, and only then loads the commands
 * (`program.ts`), whose imports need a newer Node than some machines ship.
 */
import { nodeVersionProblem } from "./node-version.js";

const problem = nodeVersionProblem(process.versions.node);
if (problem === undefined) {
  await import("./program.js");
} else {
  process.stderr.write(`${problem}\n`);
  process.exitCode = 1;
}
