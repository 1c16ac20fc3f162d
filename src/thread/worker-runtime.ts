/**
 * `startRuntimeWorker`: the runtime in a `worker_threads` worker, so that nothing it does — model
 * streams, tool calls, store writes, a function agent's CPU work — takes a moment of the host's
 * thread. The host holds a `WorkerRuntime`: the runtime's API (sessions, `send`, handles,
 * `delegations`, `metrics`, `on`) plus `start`, `stop` and `port()`.
 *
 * Functions do not cross threads, so the agents, tools and models come from a module the worker
 * imports: its default export (or `exportName`) is the runtime's options, or a function of `data`
 * that returns the options or a runtime.
 *
 * Lifecycle (`state`): `created` → `starting` (the worker boots the runtime) → `running` →
 * `stopping` → `stopped`; `start()` again works. A worker that dies (`process.exit`, an uncaught
 * throw, `terminate`) moves it to `stopped` at once: every handle still open settles `interrupted`
 * with reason `crashed` naming the cause, pending calls reject with `OffstageError`
 * `WORKER_EXITED`, and listeners get an `error` event. The inputs stay in the store, so a
 * durable store runs them after the next `start()`.
 *
 * @packageDocumentation
 */
import { MessageChannel, type MessagePort, Worker } from "node:worker_threads";
import { BootError, OffstageError } from "../errors.js";
import { describeCause } from "../kernel/outcome.js";
import type { StopStatus } from "../kernel/shutdown/stop-status.js";
import type { HostExecutor } from "../runtime/ports/host-executor.js";
import type { RuntimeState, StopOptions } from "../runtime/runtime.js";
import { argumentsOf, checkDurationMs, checkId, checkOptions, fail, isInstance } from "../validate.js";
import { type HostTools, hostToolsOf } from "./host-calls.js";
import { isRuntime, loadExport } from "./module-export.js";
import { type BootMessage, WORDS } from "./protocol.js";
import { type ClientOptions, RuntimeClient } from "./runtime-client.js";
import { fromWire } from "./wire-error.js";

/** Options of {@link startRuntimeWorker}. */
export interface WorkerRuntimeOptions extends ClientOptions {
  /** The module's export to use (default `"default"`). */
  readonly exportName?: string;
  /** Plain data for the export when it is a function (it must survive a structured clone). */
  readonly data?: unknown;
  /** How long `stop()` waits for a worker that does not answer before it terminates it (default 10 000 ms). */
  readonly stopTimeoutMs?: number;
  /**
   * Where calls of tools with `executor: "host"` wait for this thread: `createHostQueue()`, drained
   * by your loop (`host.drain({ budgetMs })`). The worker forwards each call here; the tool itself is
   * found in the module, which `start()` then also imports in this thread (calling its export with
   * `data` here too).
   */
  readonly host?: HostExecutor;
}

/** What the worker's entry is given. */
export interface WorkerStart {
  readonly module: string;
  readonly exportName: string;
  readonly data: unknown;
  readonly port: MessagePort;
  readonly words: SharedArrayBuffer;
}

const START: ReturnType<typeof argumentsOf> = argumentsOf("startRuntimeWorker()");
const OPTION_KEYS = Object.keys({
  exportName: true,
  data: true,
  callTimeoutMs: true,
  stopTimeoutMs: true,
  host: true,
} satisfies Record<keyof WorkerRuntimeOptions, true>);
const ENTRY = new URL("./worker-main.js", import.meta.url);

/**
 * Starts the runtime in a worker thread: imports `module` there, creates the runtime from its
 * export and starts it. Resolves once it runs. Throws `InvalidInputError` `WORKER_NEEDS_MODULE` when
 * given anything but a module (agents or options themselves: their functions cannot cross threads),
 * and `BootError` when the module cannot be loaded (`BOOT_FAILED`), exports no options
 * (`WORKER_MODULE_INVALID`) or the runtime does not boot (its own code).
 *
 * @example
 * const runtime = await startRuntimeWorker(new URL("./agents.js", import.meta.url));
 * const handle = runtime.session("npc-1", { agent: "npc" }).send("hello");
 * // every frame, never awaiting:
 * const settled = handle.poll();
 */
export async function startRuntimeWorker(
  module: string | URL,
  options: WorkerRuntimeOptions = {},
): Promise<WorkerRuntime> {
  const runtime = new WorkerRuntime(module, options);
  await runtime.start();
  return runtime;
}

/** A runtime in a worker thread, held by the thread that started it. */
export class WorkerRuntime extends RuntimeClient implements AsyncDisposable {
  readonly #start: Omit<WorkerStart, "port" | "words">;
  readonly #stopTimeoutMs: number;
  readonly #host: HostExecutor | undefined;
  /** The module's host tools, found in this thread at the first start. */
  #hostTools: HostTools | undefined;
  #state: RuntimeState = "created";
  #worker: Worker | undefined;
  #starting: Promise<void> | undefined;
  #stopping: Promise<StopStatus> | undefined;

  /** @internal Use {@link startRuntimeWorker}. Validates; starts nothing. */
  constructor(module: string | URL, options: WorkerRuntimeOptions = {}) {
    const given = checkWorkerOptions(module, options);
    super(given);
    this.#start = {
      module: typeof module === "string" ? module : module.href,
      exportName: given.exportName ?? "default",
      data: given.data,
    };
    this.#stopTimeoutMs = given.stopTimeoutMs ?? 10_000;
    this.#host = given.host;
  }

  /** Where the runtime is in its lifecycle (the worker's death moves it to `stopped`). */
  get state(): RuntimeState {
    return this.#state;
  }

  /** The worker's thread id while it runs. */
  get threadId(): number | undefined {
    return this.#worker?.threadId;
  }

  /** Starts a worker and the runtime in it; `BootError` when it does not boot (nothing is left running). */
  start(): Promise<void> {
    if (this.#state === "running" || this.#state === "starting")
      return Promise.reject(new BootError("ALREADY_STARTED", `runtime is already ${this.#state}`));
    if (this.#state === "stopping")
      return Promise.reject(new BootError("STOPPING", "runtime is stopping; await stop() before start()"));
    this.#state = "starting";
    this.#stopping = undefined;
    this.#starting = this.#boot();
    return this.#starting;
  }

  /**
   * Stops the runtime in the worker (see `Runtime.stop`), closes its store and ends the worker;
   * resolves with the runtime's stop status. A worker that does not answer within `timeoutMs` (or
   * `stopTimeoutMs`) is terminated: `force_killed` when `force` was asked, else `timeout`.
   * Idempotent.
   */
  stop(options: StopOptions = {}): Promise<StopStatus> {
    if (this.#stopping !== undefined) return this.#stopping;
    if (this.#state === "created" || this.#state === "stopped") return Promise.resolve("clean");
    this.#stopping = this.#stop(options);
    return this.#stopping;
  }

  /** `await using runtime = await startRuntimeWorker(...)` stops it at scope exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #boot(): Promise<void> {
    const { port1, port2 } = new MessageChannel();
    const words = new SharedArrayBuffer(WORDS * Int32Array.BYTES_PER_ELEMENT);
    const workerData: WorkerStart = { ...this.#start, port: port2, words };
    const worker = new Worker(ENTRY, { workerData, transferList: [port2], name: "offstage-runtime" });
    this.#worker = worker;
    let thrown: unknown;
    const hostTools = this.#loadHostTools();
    worker.on("error", (error) => {
      thrown = error;
    });
    const booted = new Promise<void>((resolve, reject) => {
      worker.once("message", (message: BootMessage) => {
        if (message.t === "started") resolve();
        else reject(fromWire(message.error));
      });
      worker.once("exit", (code) =>
        reject(
          new BootError(
            "BOOT_FAILED",
            `the runtime's worker exited (code ${code}) before the runtime started${thrown === undefined ? "" : `: ${describeCause(thrown)}`}`,
          ),
        ),
      );
    });
    let host: { queue: HostExecutor; tools: HostTools } | undefined;
    try {
      const [tools] = await Promise.all([hostTools, booted]);
      if (this.#host !== undefined && tools !== undefined) host = { queue: this.#host, tools };
    } catch (error) {
      this.#state = "stopped";
      this.#worker = undefined;
      port1.close();
      await worker.terminate();
      throw error;
    }
    this.attach(port1, words, host);
    this.#state = "running";
    worker.unref();
    worker.once("exit", (code) => this.#exited(worker, code, thrown));
  }

  /** The host tools of the module, imported in this thread once, when a host queue was given. */
  async #loadHostTools(): Promise<HostTools | undefined> {
    if (this.#host === undefined) return undefined;
    if (this.#hostTools === undefined) {
      const made = await loadExport(this.#start);
      this.#hostTools = isRuntime(made) ? new Map() : hostToolsOf(made.agents);
    }
    return this.#hostTools;
  }

  /** @internal The worker died: as for any client, and the runtime is `stopped`, ready to start again. */
  override lost(code: number, cause: string | undefined): void {
    this.#worker = undefined;
    this.#state = "stopped";
    super.lost(code, cause);
  }

  /** The worker ended: a stop's own end, or a death the handles must hear of (if its last message did not say). */
  #exited(worker: Worker, code: number, thrown: unknown): void {
    if (this.#worker !== worker) return;
    if (this.#state !== "stopping") {
      this.lost(code, thrown === undefined ? undefined : describeCause(thrown));
      return;
    }
    this.#worker = undefined;
    this.#state = "stopped";
    this.detach(
      {
        reason: { code: "runtime_stopped", message: "the runtime stopped" },
        error: () => new OffstageError("NOT_RUNNING", "the runtime is stopped; call start() first"),
      },
      false,
    );
  }

  async #stop(options: StopOptions): Promise<StopStatus> {
    if (this.#state === "starting") await this.#starting?.catch(() => undefined);
    const worker = this.#worker;
    if (this.#state !== "running" || worker === undefined) return "clean";
    this.#state = "stopping";
    const deadlineMs = (options.timeoutMs ?? this.#stopTimeoutMs) + 1000;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), deadlineMs);
    });
    const gone = new Promise<"gone">((resolve) => worker.once("exit", () => resolve("gone")));
    let status: StopStatus;
    try {
      const answer = await Promise.race([this.connection().ask("stop", [options]), late, gone]);
      status =
        answer === "late"
          ? options.force === true
            ? "force_killed"
            : "timeout"
          : answer === "gone"
            ? "clean"
            : (answer as StopStatus);
    } finally {
      clearTimeout(timer);
    }
    await worker.terminate();
    this.#exited(worker, 0, undefined);
    return status;
  }
}

/** Checks what `startRuntimeWorker` was given; throws `InvalidInputError`. */
function checkWorkerOptions(module: unknown, options: WorkerRuntimeOptions): WorkerRuntimeOptions {
  if (!(typeof module === "string" || isInstance(module, URL)))
    fail(
      START,
      "module",
      module,
      "the URL of a module that exports the runtime's options (agents, tools and models are functions, " +
        'and functions cannot cross to a worker thread: put them in a module and pass new URL("./agents.js", import.meta.url))',
      { code: "WORKER_NEEDS_MODULE" },
    );
  const given = checkOptions(START, "options", options, OPTION_KEYS);
  if (given.exportName !== undefined) checkId(START, "exportName", given.exportName);
  if (given.callTimeoutMs !== undefined)
    checkDurationMs(START, "callTimeoutMs", given.callTimeoutMs, { min: 1 });
  if (given.stopTimeoutMs !== undefined) checkDurationMs(START, "stopTimeoutMs", given.stopTimeoutMs);
  if (
    given.host !== undefined &&
    (typeof given.host !== "object" || typeof given.host?.submit !== "function")
  )
    fail(START, "host", given.host, "a host queue (createHostQueue())");
  if (given.data !== undefined) {
    try {
      structuredClone(given.data);
    } catch (error) {
      fail(
        START,
        "options.data",
        given.data,
        `data that can cross to the worker, which it cannot (${describeCause(error)}); functions (agents, tools, models) belong in the module the worker imports`,
        { code: "WORKER_NEEDS_MODULE", cause: error },
      );
    }
  }
  return given;
}
