/**
 * The child of `keep-alive.test.ts`: one scenario per run, on the real clock and the memory store,
 * with nothing else keeping the process alive. It prints what happened as lines on stdout; the test
 * reads them and the exit code (13 is Node's "unsettled top-level await").
 *
 * @packageDocumentation
 */
import {
  createMemoryStore,
  createRuntime,
  isOffstageError,
  silentLogger,
  type WakeChannel,
} from "../../../src/index.js";

const scenario = process.argv[2];

/** Resolves after `ms` on a timer that does not keep the process alive by itself. */
function unrefSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** A wake channel that loses every wake: only the recovery poll finds the input. */
const losingWakes: WakeChannel = { notify: () => {}, subscribe: () => () => {} };

const runtime = createRuntime({
  store: createMemoryStore(),
  logger: silentLogger,
  pollIntervalMs: 50,
  ...(scenario === "lost-wake" ? { wakes: losingWakes } : {}),
  agents: {
    // Its work awaits only unref'd timers, as a model whose sockets are unref'd would.
    slow: {
      run: async (input) => {
        await unrefSleep(300);
        return `done ${String(input)}`;
      },
    },
    // Never answers: its promise waits on nothing at all.
    never: { run: () => new Promise(() => {}) },
    quick: { run: (input) => `done ${String(input)}` },
  },
});
await runtime.start();

switch (scenario) {
  case "await-result": {
    const handle = runtime.session("s", { agent: "slow" }).send("x");
    console.log((await handle.result({ timeoutMs: 10_000 })).output);
    break;
  }
  case "lost-wake": {
    const handle = runtime.session("s", { agent: "quick" }).send("x");
    console.log((await handle.result({ timeoutMs: 10_000 })).output);
    break;
  }
  case "result-timeout": {
    const handle = runtime.session("s", { agent: "never" }).send("x");
    try {
      await handle.result({ timeoutMs: 200 });
    } catch (error) {
      console.log(isOffstageError(error, "TURN_TIMEOUT") ? "timed out" : String(error));
    }
    console.log(await runtime.stop({ timeoutMs: 200 }));
    break;
  }
  case "idle-exits": {
    // Without stop(): once the work settled, the idle runtime must let the process end.
    const handle = runtime.session("s", { agent: "quick" }).send("x");
    console.log((await handle.result()).output);
    console.log(`settled at ${Math.round(performance.now())}`);
    break;
  }
  case "withdrawn-exits": {
    const busy = runtime.session("s", { agent: "never" }).send("busy");
    const queued = runtime.session("s").send("queued");
    queued.withdraw();
    await busy.cancel();
    console.log(`${busy.status} ${queued.status}`);
    console.log(`settled at ${Math.round(performance.now())}`);
    break;
  }
  default:
    throw new Error(`unknown scenario ${scenario}`);
}
