/**
 * The commands of `offstage` (loaded by `main.ts` once the Node.js version is known to be new enough).
 * `offstage demo` runs the guided demo on the embedded defaults; `offstage inspect <store>` shows what
 * a store holds, read-only; `offstage unlock <db>` clears the holder a SQLite store names once that
 * runtime is gone; `offstage chat` is an interactive terminal chat; `offstage mcp` serves
 * sessions over MCP; `offstage serve` serves them over HTTP + SSE; `offstage --version` prints the
 * package's version.
 */
import { readFileSync } from "node:fs";
import { Command, Option } from "commander";
import { registerInspect } from "./commands/inspect.js";
import { registerChat, registerMcp } from "./commands/register-chat.js";
import { registerServe } from "./commands/serve.js";
import { registerUnlock } from "./commands/unlock.js";
import { runDemo } from "./demo.js";

/** The package's version, from its package.json (two folders up, in `src/` and in `dist/` alike). */
const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

const program = new Command()
  .name("offstage")
  .version(version, "-V, --version", "print the version of offstage")
  .description(
    "Run AI-agent work off the host's loop: durable sessions, turns, tools and background sub-agents.",
  );

program
  .command("demo")
  .description(
    "run the guided demo: several sessions, real file tools, every inbox policy, a cancel, a summary",
  )
  .addOption(
    new Option("--db <path>", "SQLite file the sessions are kept in").default("./.offstage/offstage.db"),
  )
  .addOption(new Option("--memory", "keep everything in memory instead (nothing survives the run)"))
  .addOption(
    new Option("--workspace <dir>", "folder the file tools work in").default("./.offstage/demo-workspace"),
  )
  .addOption(new Option("--quiet", "print only the summary"))
  .action(async (options: { db: string; memory?: boolean; workspace: string; quiet?: boolean }) => {
    process.exitCode = await runDemo({
      dbPath: options.memory === true ? undefined : options.db,
      workspace: options.workspace,
      quiet: options.quiet === true,
      out: process.stdout,
    });
  });

registerInspect(program);
registerUnlock(program);
registerChat(program);
registerMcp(program);
registerServe(program);

await program.parseAsync(process.argv);
