/**
 * The config module of `offstage serve` (`offstage.config.ts` or `.js`), and what it becomes: a
 * runtime on its store (SQLite `./.offstage/offstage.db` unless the config names one), recording
 * session events when the store keeps them, behind a server with the config's tokens plus
 * `OFFSTAGE_TOKEN` from the environment.
 *
 * @packageDocumentation
 */
import { createRuntime } from "../create-runtime.js";
import { DEFAULTS } from "../kernel/limits.js";
import type { RuntimeOptions } from "../runtime/options.js";
import type { Runtime } from "../runtime/runtime.js";
import { createSqliteStore } from "../store/sqlite/index.js";
import { checkObject, readKeys } from "../validate.js";
import type { AppOptions } from "./app.js";
import { type RunningServer, type ServerOptions, startServer, storeWritable } from "./server.js";
import { SERVE, type TokenConfig } from "./tokens.js";

/** What a config module exports (as `default`). */
export interface ServeConfig
  extends Omit<ServerOptions, "runtime" | "tokens" | "storeWritable">,
    Pick<AppOptions, "defaultAgent"> {
  /** The runtime's options: agents (with their tools and models), models, providers, store, limits. */
  readonly runtime: RuntimeOptions;
  /** Tokens besides `OFFSTAGE_TOKEN` (which may do everything on every session). */
  readonly tokens?: readonly TokenConfig[];
}

/** Types a config module: `export default defineConfig({ runtime: { agents: { ... } } })`. */
export function defineConfig(config: ServeConfig): ServeConfig {
  return config;
}

/** A runtime and its server, started from a config. */
export interface Served extends AsyncDisposable {
  readonly runtime: Runtime;
  readonly server: RunningServer;
  /** Stops the server (gracefully), then the runtime, then closes the store. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts the runtime a config describes and serves it. `env` gives `OFFSTAGE_TOKEN`. Throws
 * `BootError` (bad config, no tokens, a store that will not open); nothing is left running then.
 */
export async function serveConfig(
  config: ServeConfig,
  env: Readonly<Record<string, string | undefined>> = {},
): Promise<Served> {
  checkObject(SERVE, "config", config, "an object with runtime: { agents: { ... } }");
  const { runtime: given } = readKeys(SERVE, "config", config, ["runtime"]);
  checkObject(SERVE, "config.runtime", given, "the runtime's options: { agents: { ... } }");
  const { runtime: options, tokens = [], ...server } = config;
  const fromEnv: TokenConfig[] =
    env.OFFSTAGE_TOKEN === undefined || env.OFFSTAGE_TOKEN === ""
      ? []
      : [{ token: env.OFFSTAGE_TOKEN, name: "OFFSTAGE_TOKEN" }];
  const store = options.store ?? createSqliteStore({ path: DEFAULTS.sqliteStore.path });
  const runtime = createRuntime({
    ...options,
    store,
    eventLog: options.eventLog ?? store.eventLog !== undefined,
  });
  await runtime.start();
  let served: RunningServer;
  try {
    served = await startServer({
      ...server,
      runtime,
      tokens: [...tokens, ...fromEnv],
      storeWritable: () => storeWritable(store),
    });
  } catch (error) {
    await runtime.stop();
    await store.close();
    throw error;
  }
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await served.close();
      await runtime.stop();
      await store.close();
    })();
    return stopped;
  };
  return { runtime, server: served, stop, [Symbol.asyncDispose]: stop };
}
