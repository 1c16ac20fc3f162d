#!/usr/bin/env node
/**
 * The `offstage` command line. `offstage demo` runs the guided demo on the embedded defaults.
 */
import { Command, Option } from "commander";
import { runDemo } from "./demo.js";

const program = new Command()
  .name("offstage")
  .description(
    "Run AI-agent work off the host's loop: durable sessions, turns, tools and background sub-agents.",
  );

program
  .command("demo")
  .description(
    "run the guided demo: several sessions, real file tools, every inbox policy, a cancel, a summary",
  )
  .addOption(
    new Option("--workspace <dir>", "folder the file tools work in").default("./.offstage/demo-workspace"),
  )
  .addOption(new Option("--quiet", "print only the summary"))
  .action(async (options: { workspace: string; quiet?: boolean }) => {
    process.exitCode = await runDemo({
      dbPath: undefined,
      workspace: options.workspace,
      quiet: options.quiet === true,
      out: process.stdout,
    });
  });

await program.parseAsync(process.argv);
