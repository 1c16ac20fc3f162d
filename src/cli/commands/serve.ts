/**
 * `offstage serve`: the HTTP API (`offstage/server`) over the runtime a config module describes.
 * The config is `--config <file>`, else `offstage.config.ts`, `.mts`, `.js` or `.mjs` in the
 * working directory (a `.ts` file runs through Node's type stripping). SIGINT or SIGTERM stops
 * gracefully: streams end with a final event, requests in flight finish, the runtime stops and the
 * store is closed; queued work stays stored for the next start.
 *
 * @packageDocumentation
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Command } from "commander";
import { describeValue, isOffstageError } from "../../errors.js";
import { type ServeConfig, serveConfig } from "../../server/serve-config.js";

const CONFIG_NAMES = [
  "offstage.config.ts",
  "offstage.config.mts",
  "offstage.config.js",
  "offstage.config.mjs",
];

/** What `offstage serve` was asked for. */
interface ServeFlags {
  readonly config?: string;
  readonly port?: string;
  readonly host?: string;
}

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("serve sessions over HTTP + SSE, with the agents of offstage.config.ts (or .js)")
    .option("--config <file>", "the config module (default: offstage.config.ts, .mts, .js or .mjs here)")
    .option("--port <port>", "port to listen on (default: the config's, else 8787)")
    .option("--host <host>", "address to listen on (default: the config's, else 127.0.0.1)")
    .action(async (flags: ServeFlags) => {
      process.exitCode = await runServe(flags);
    });
}

async function runServe(flags: ServeFlags): Promise<number> {
  const say = (line: string) => process.stderr.write(`offstage serve: ${line}\n`);
  const path = flags.config ?? CONFIG_NAMES.find((name) => existsSync(name));
  if (path === undefined) {
    say(
      `no config: write ${CONFIG_NAMES[0]} (export default { runtime: { agents: { ... } } }) or pass --config`,
    );
    return 2;
  }
  let config: ServeConfig;
  try {
    const loaded = (await import(pathToFileURL(resolve(path)).href)) as { default?: ServeConfig };
    if (loaded.default === undefined) throw new Error("it has no default export");
    config = loaded.default;
  } catch (error) {
    say(`cannot load ${path}: ${error instanceof Error ? error.message : describeValue(error)}`);
    return 2;
  }
  const port = flags.port === undefined ? config.port : Number(flags.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65_535)) {
    say(`--port must be a port number; got ${describeValue(flags.port)}`);
    return 2;
  }
  let served: Awaited<ReturnType<typeof serveConfig>>;
  try {
    served = await serveConfig(
      {
        ...config,
        ...(port === undefined ? {} : { port }),
        ...(flags.host === undefined ? {} : { host: flags.host }),
      },
      process.env,
    );
  } catch (error) {
    say(`cannot start: ${isOffstageError(error) ? `${error.code}: ${error.message}` : String(error)}`);
    return 2;
  }
  say(`listening on ${served.server.url} (config ${path})`);
  await new Promise<void>((done) => {
    process.once("SIGTERM", done);
    process.once("SIGINT", done);
  });
  say("stopping");
  await served.stop();
  say("stopped");
  return 0;
}
