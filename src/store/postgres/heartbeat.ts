/**
 * The PostgreSQL store's heartbeat, main-thread side. A thread of its own (`heartbeat-worker.ts`)
 * renews this process's leases every `leaseMs / 3` on a connection of its own, made again whenever
 * it drops — off this thread, so that a process busy here (in the store's synchronous reads above
 * all, which block this thread on `Atomics.wait`) keeps its leases while it lives.
 *
 * It tells this side three things. Sessions another process took over (`onLost`): this one was cut
 * off past its lease. A lapse (`onLapse`): no renewal succeeded for most of the lease
 * (`leaseMs * 0.8`, measured on the worker's clock from the start of the last renewal that
 * succeeded), so the leases may lapse before they are renewed — they are given up at once, before
 * another process, judging by the server's clock, may take them over, so that a process cut off
 * from the database stops running its sessions' turns rather than running them beside their next
 * holder. And the first renewal after a lapse (`onBack`): the leases given up, still named as this
 * process's, can be handed back.
 *
 * This side sends the worker the sessions it holds at every beat of its own; that message is also
 * how the worker knows this thread is alive: after `silentMs` without one, renewals stop.
 *
 * @packageDocumentation
 */
import { Worker } from "node:worker_threads";
import type pg from "pg";
import type { HeartbeatData, HeartbeatReport, HeldMessage } from "./heartbeat-worker.js";

/** Where the worker's module is: beside this one, as `.ts` when running from source. */
const WORKER_URL = new URL(
  import.meta.url.endsWith(".ts") ? "./heartbeat-worker.ts" : "./heartbeat-worker.js",
  import.meta.url,
);

/** How many leases this thread may stay silent for before the worker stops renewing. */
const SILENT_LEASES = 10;

export interface HeartbeatOptions {
  readonly config: pg.ClientConfig;
  readonly processId: string;
  readonly leaseMs: number;
  /** The statements the worker runs (see `HeartbeatData`). */
  readonly renewSql: string;
  readonly lostSql: string;
  /** The sessions this process holds, with their epochs. */
  readonly held: () => Iterable<readonly [string, number]>;
  /** See the worker's `lost` report: id, the epoch held, the epoch the database has. */
  readonly onLost: (sessions: readonly (readonly [string, number, number])[]) => void;
  readonly onLapse: () => void;
  readonly onBack: () => void;
}

export class Heartbeat {
  readonly #worker: Worker;
  readonly #timer: NodeJS.Timeout;
  readonly #held: () => Iterable<readonly [string, number]>;
  readonly #flags = new Int32Array(new SharedArrayBuffer(4));

  constructor(options: HeartbeatOptions) {
    const { leaseMs } = options;
    this.#held = options.held;
    const data: HeartbeatData = {
      offstageHeartbeat: true,
      config: options.config,
      processId: options.processId,
      leaseMs,
      silentMs: Math.max(30_000, leaseMs * SILENT_LEASES),
      shared: this.#flags.buffer as SharedArrayBuffer,
      renewSql: options.renewSql,
      lostSql: options.lostSql,
    };
    this.#worker = new Worker(WORKER_URL, { workerData: data });
    // A heartbeat never keeps its host alive: the leases matter only while something else does.
    this.#worker.unref();
    this.#worker.on("message", (message: HeartbeatReport) => {
      if (message.kind === "lost") options.onLost(message.sessions);
      else if (message.kind === "lapsed") options.onLapse();
      else options.onBack();
    });
    this.#worker.on("error", () => {
      // Without its thread this process can no longer promise it is alive: its leases lapse, and it
      // gives them up as a process cut off does.
      options.onLapse();
    });
    this.#send();
    this.#timer = setInterval(() => this.#send(), Math.max(1, Math.floor(leaseMs / 3)));
    this.#timer.unref();
  }

  /**
   * Whether the worker found the leases lapsed (no renewal for most of the lease), and no renewal
   * succeeded since: read from shared memory, so it holds before this thread hears of the lapse.
   */
  get lapsed(): boolean {
    return Atomics.load(this.#flags, 0) === 1;
  }

  close(): void {
    clearInterval(this.#timer);
    void this.#worker.terminate();
  }

  #send(): void {
    const message: HeldMessage = { held: [...this.#held()] };
    this.#worker.postMessage(message);
  }
}
