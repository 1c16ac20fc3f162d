// `serve`: `offstage serve` under HTTP load on loopback (issue #20), beside a floor — a bare Hono
// handler that inserts the same row into SQLite (systems/serve-child.mjs) — in the same run.
//   1. peak: autocannon with --connections clients for --seconds s posting inputs to --sessions
//      sessions in turn: accepted (2xx) inputs/s, p50/p99 POST latency;
//   2. paced: POSTs at 50 % of each system's own peak rate, evenly spaced (open loop: a request is
//      sent when its time comes, whether or not earlier ones were answered, over up to --connections
//      keep-alive connections), latency from the time it was due: p50/p99 (goal: p99 < 10 ms).
//      Not autocannon's --overallRate: that lets every connection send back to back until it has
//      made its share of the second, then pauses until the next, so it measures bursts at full
//      concurrency (the peak's latency), and adds made-up samples for coordinated omission.
//   3. streams: --streams SSE streams held open on offstage for --stream-s s while inputs arrive at
//      --stream-rate/s: the server's heap and RSS before and after, per stream.
// Flags: --seconds 10 --connections 32 --sessions 1000 --streams 1000 --stream-s 60 --stream-rate 200
//        --only offstage,floor --skip-streams --rounds 1
//        --paced-rate R   pace every system at R/s instead of half its own peak (an A/B at one rate)
//        --cpu-prof DIR   each server process writes a CPU profile (node --cpu-prof) into DIR
//        --b DIST   also `offstage-b`: offstage from another build (a dist folder), for A/B in one run
//        --semi-space LIST   every system once per young-generation size: Node's --max-semi-space-size
//                   (MiB) for each value of LIST, `default` for Node's own (systems named `offstage@16`)
// With --rounds N, the systems take turns N times (A B C, then C B A, ...) and each figure is the
// median of its rounds, so a drift of the machine's speed meets every system alike.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import autocannon from "autocannon";
import { SERVE_PACED_P99_MS_MAX, SERVE_VS_FLOOR_MIN } from "../lib/goals.mjs";
import { Latency } from "../lib/latency.mjs";
import { writeResult } from "../lib/results.mjs";
import { TOKEN } from "../systems/serve-child.mjs";

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0
    ? args[at + 1]
    : (process.env[`BENCH_${name.toUpperCase().replaceAll("-", "_")}`] ?? fallback);
};
const QUICK = args.includes("--quick");
const SECONDS = Number(flag("seconds", QUICK ? 3 : 10));
const CONNECTIONS = Number(flag("connections", 32));
const SESSIONS = Number(flag("sessions", 1000));
const STREAMS = Number(flag("streams", QUICK ? 100 : 1000));
const STREAM_S = Number(flag("stream-s", QUICK ? 5 : 60));
const STREAM_RATE = Number(flag("stream-rate", 200));
const ROUNDS = Number(flag("rounds", 1));
const B_DIST = flag("b", undefined);
const PROF_DIR = flag("cpu-prof", undefined);
const PACED_RATE = flag("paced-rate", undefined);
const SYSTEMS = [
  ...flag("only", "offstage,floor").split(","),
  ...(B_DIST === undefined ? [] : ["offstage-b"]),
];
const SEMI_SPACES = flag("semi-space", undefined)?.split(",");
const ONLY =
  SEMI_SPACES === undefined
    ? SYSTEMS
    : SEMI_SPACES.flatMap((mib) => SYSTEMS.map((system) => `${system}@${mib}`));
const child = new URL("../systems/serve-child.mjs", import.meta.url).pathname;

/** Starts a system's server in its own process; resolves with its URL and a handle to stop it. */
function start(name) {
  const [system, semiSpace] = name.split("@");
  const young =
    semiSpace === undefined || semiSpace === "default" ? [] : [`--max-semi-space-size=${semiSpace}`];
  const dir = mkdtempSync(join(tmpdir(), "offstage-serve-bench-"));
  const env =
    system === "offstage-b" ? { ...process.env, OFFSTAGE_DIST: resolve(B_DIST, "index.js") } : process.env;
  const profile =
    PROF_DIR === undefined
      ? []
      : ["--cpu-prof", "--cpu-prof-dir", PROF_DIR, "--cpu-prof-name", `${system}-${Date.now()}.cpuprofile`];
  const proc = spawn(
    process.execPath,
    ["--expose-gc", ...young, ...profile, child, system.replace(/-b$/, ""), dir],
    {
      stdio: ["ignore", "pipe", "inherit"],
      env,
    },
  );
  let buffered = "";
  const waiters = [];
  proc.stdout.setEncoding("utf8");
  proc.stdout.on("data", (chunk) => {
    buffered += chunk;
    for (let at = buffered.indexOf("\n"); at >= 0; at = buffered.indexOf("\n")) {
      const line = buffered.slice(0, at);
      buffered = buffered.slice(at + 1);
      waiters.shift()?.(line);
    }
  });
  // A server that dies fails the run instead of leaving it waiting for a line that never comes.
  proc.once("exit", (code, signal) => {
    for (const waiter of waiters.splice(0))
      waiter(undefined, new Error(`${system} server exited (${code ?? signal})`));
  });
  const nextLine = () =>
    new Promise((resolve, reject) => waiters.push((line, error) => (error ? reject(error) : resolve(line))));
  return nextLine().then((line) => ({
    url: line.replace(/^READY /, ""),
    async memory() {
      const answer = nextLine();
      proc.kill("SIGUSR2");
      return JSON.parse((await answer).replace(/^MEMORY /, ""));
    },
    async stop() {
      const exited = new Promise((resolve) => proc.once("exit", resolve));
      proc.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  }));
}

/** Closed loop: CONNECTIONS clients, each sending its next POST once answered. */
function load(url) {
  let n = 0;
  return autocannon({
    url,
    connections: CONNECTIONS,
    duration: SECONDS,
    requests: [
      {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        setupRequest(request) {
          n += 1;
          return {
            ...request,
            path: `/v1/sessions/s${n % SESSIONS}/inputs`,
            body: JSON.stringify({ payload: { n } }),
          };
        },
      },
    ],
  });
}

/**
 * A load's figures; `cpuMsPerInput`: the server process's CPU time per accepted input; `loopP99Ms`,
 * `loopMaxMs`: the server's event-loop delay p99 and max; `commits`, `commitMsMax`: the SQLite
 * store's groups (offstage); `walPasses`, `loopCheckpoints`: its WAL checkpoints on the worker and on
 * the loop (`wal-checkpointer.ts`).
 */
/**
 * One keep-alive HTTP/1.1 connection on a raw socket, one request at a time: far cheaper per request
 * than node:http's client, so the load generator is not what limits a paced run.
 */
class Connection {
  #socket;
  #buffered = Buffer.alloc(0);
  #done;

  constructor(port, host) {
    this.#socket = net.connect(port, host);
    this.#socket.setNoDelay(true);
    this.#socket.on("data", (chunk) => this.#read(chunk));
    this.#socket.on("error", () => this.#finish(undefined));
    this.#socket.on("close", () => this.#finish(undefined));
  }

  /** Sends `request` (bytes); `done(status)` once its answer is read (`undefined` on a failure). */
  send(request, done) {
    this.#done = done;
    // A socket that failed before this request reports no more events: fail the request itself.
    if (this.#socket.destroyed) queueMicrotask(() => this.#finish(undefined));
    else this.#socket.write(request);
  }

  #read(chunk) {
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    const headEnd = this.#buffered.indexOf("\r\n\r\n");
    if (headEnd < 0) return;
    const head = this.#buffered.toString("latin1", 0, headEnd);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? Number.NaN);
    let end;
    if (Number.isFinite(length)) end = headEnd + 4 + length;
    else {
      const last = this.#buffered.indexOf("\r\n0\r\n\r\n", headEnd);
      end = last < 0 ? Number.POSITIVE_INFINITY : last + 7;
    }
    if (this.#buffered.length < end) return;
    this.#buffered = this.#buffered.subarray(end);
    this.#finish(Number(head.slice(9, 12)));
  }

  #finish(status) {
    const done = this.#done;
    this.#done = undefined;
    done?.(status);
  }

  /** Closed, by either side (the server closes a keep-alive connection left idle for 5 s). */
  get closed() {
    return this.#socket.destroyed;
  }

  close() {
    this.#socket.destroy();
  }
}

/**
 * Open-loop paced POSTs at `rate`/s for SECONDS s over up to CONNECTIONS connections (a request due
 * while all are busy waits for one): an autocannon-shaped result (`2xx`, `latency` p50/p99 in ms
 * from each request's due time, `non2xx`, `errors`, `duration`).
 */
async function paced(url, rate) {
  const target = new URL(url);
  const latency = new Latency();
  const lateness = new Latency();
  const result = { "2xx": 0, non2xx: 0, errors: 0, timeouts: 0, duration: SECONDS };
  const free = [];
  const all = [];
  const waiting = [];
  let opened = 0;
  let n = 0;
  let pending = 0;
  let drained;
  /** Set once the run gave up waiting: answers after it are not counted. */
  let over = false;
  const requestOf = () => {
    n += 1;
    const body = JSON.stringify({ payload: { n } });
    return Buffer.from(
      `POST /v1/sessions/s${n % SESSIONS}/inputs HTTP/1.1\r\nhost: ${target.host}\r\n` +
        `authorization: Bearer ${TOKEN}\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  };
  const start = (connection, dueMs) => {
    connection.send(requestOf(), (status) => {
      if (over) return;
      if (status === undefined) result.errors += 1;
      else if (status >= 200 && status < 300) {
        result["2xx"] += 1;
        latency.recordMs(performance.now() - dueMs);
      } else result.non2xx += 1;
      pending -= 1;
      if (status === undefined) {
        opened -= 1;
        connection.close();
        // A request already due must not wait for a connection that may never free up.
        const next = waiting.length > 0 ? connect() : undefined;
        if (next !== undefined) start(next, waiting.shift());
      } else if (waiting.length > 0) start(connection, waiting.shift());
      else free.push(connection);
      if (pending === 0) drained?.();
    });
  };
  /** A new connection, unless CONNECTIONS are open. */
  const connect = () => {
    if (opened >= CONNECTIONS) return undefined;
    opened += 1;
    const connection = new Connection(Number(target.port), target.hostname);
    all.push(connection);
    return connection;
  };
  /** A free connection the server has not closed meanwhile, or a new one. */
  const idle = () => {
    for (let connection = free.pop(); connection !== undefined; connection = free.pop()) {
      if (!connection.closed) return connection;
      opened -= 1;
    }
    return connect();
  };
  const post = (dueMs) => {
    // How late this process got to a request: its own loop's part of the latency, not the server's.
    lateness.recordMs(performance.now() - dueMs);
    pending += 1;
    const connection = idle();
    if (connection === undefined) waiting.push(dueMs);
    else start(connection, dueMs);
  };
  const startMs = performance.now();
  const endMs = startMs + SECONDS * 1000;
  let sent = 0;
  await new Promise((resolve) => {
    const tick = () => {
      const nowMs = Math.min(performance.now(), endMs);
      // Every request due by now, each with its own due time.
      const due = Math.floor(((nowMs - startMs) * rate) / 1000);
      for (; sent < due; sent++) post(startMs + (sent * 1000) / rate);
      if (nowMs >= endMs) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  // Answers still missing 30 s after the last request was due count as timeouts, not a hung run.
  if (pending > 0) {
    let timer;
    const late = new Promise((resolve) => {
      timer = setTimeout(() => {
        result.timeouts += pending;
        over = true;
        resolve();
      }, 30_000);
    });
    await Promise.race([new Promise((resolve) => (drained = resolve)), late]);
    clearTimeout(timer);
  }
  for (const connection of all) connection.close();
  const { p50Ms, p99Ms } = latency.stats();
  return { ...result, latency: { p50: p50Ms, p99: p99Ms }, senderLateP99Ms: lateness.stats().p99Ms };
}

function summary(result, before, after) {
  const cpuMicros = after.cpu.user - before.cpu.user + after.cpu.system - before.cpu.system;
  const accepted = result["2xx"] / (result.duration || SECONDS);
  return {
    acceptedPerS: Math.round(accepted),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    ...(result.senderLateP99Ms === undefined ? {} : { senderLateP99Ms: result.senderLateP99Ms }),
    cpuMsPerInput: result["2xx"] > 0 ? Number((cpuMicros / 1000 / result["2xx"]).toFixed(3)) : null,
    loopP99Ms: Number(after.loopMs.p99.toFixed(1)),
    loopMaxMs: Number(after.loopMs.max.toFixed(1)),
    handledP99Ms: Number(after.handledMs.p99.toFixed(1)),
    handledMaxMs: Number(after.handledMs.max.toFixed(1)),
    scavenges: after.gc.scavenges - before.gc.scavenges,
    scavengeMsMax: Number(after.gc.scavengeMsMax.toFixed(1)),
    ...(after.store === undefined
      ? {}
      : {
          commits: after.store.commits - before.store.commits,
          commitMsMax: Number(after.store.commitMsMax.toFixed(1)),
          sweptInputs: after.store.swept.inputs - before.store.swept.inputs,
          // WAL checkpoints run on the loop (all of them, before the checkpointer thread).
          ...(after.store.loopCheckpoints === undefined
            ? {}
            : {
                walPasses: after.store.walPasses - before.store.walPasses,
                loopCheckpoints: after.store.loopCheckpoints - before.store.loopCheckpoints,
                loopCheckpointMsMax: Number(after.store.loopCheckpointMsMax.toFixed(1)),
              }),
        }),
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

/** Runs `load` on the server and returns its summary, with the server's CPU time meanwhile. */
async function measured(server, options) {
  const before = await server.memory();
  const result = options.rate === undefined ? await load(server.url) : await paced(server.url, options.rate);
  return summary(result, before, await server.memory());
}

const median = (values) => {
  const sorted = values.filter((v) => v !== null).sort((a, b) => a - b);
  return sorted.length === 0 ? null : sorted[Math.floor((sorted.length - 1) / 2)];
};
/** The median of each figure over the rounds. */
const medianOf = (runs) =>
  Object.fromEntries(Object.keys(runs[0]).map((key) => [key, median(runs.map((r) => r[key]))]));

console.log(
  `young generation: ${SEMI_SPACES === undefined ? "Node's default (no --max-semi-space-size) for every server" : `--max-semi-space-size ${SEMI_SPACES.join(", ")} MiB, each for every server`}`,
);
const runs = Object.fromEntries(ONLY.map((system) => [system, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const system of round % 2 === 0 ? ONLY : [...ONLY].reverse()) {
    const server = await start(system);
    await load(server.url); // warm-up (also fills the store a little, as a running service's would be)
    const peak = await measured(server, {});
    const rate = PACED_RATE === undefined ? Math.round(peak.acceptedPerS / 2) : Number(PACED_RATE);
    const paced = await measured(server, { rate: Math.max(1, rate) });
    runs[system].push({ peak, paced });
    console.log(
      `${system}${ROUNDS > 1 ? ` (round ${round + 1})` : ""}: peak ${JSON.stringify(peak)}; at 50 % of peak ${JSON.stringify(paced)}`,
    );
    await server.stop();
  }
}
const rows = ONLY.map((system) => ({
  system,
  peak: medianOf(runs[system].map((r) => r.peak)),
  paced: medianOf(runs[system].map((r) => r.paced)),
}));
if (ROUNDS > 1)
  for (const row of rows) console.log(`${row.system} (median of ${ROUNDS}): ${JSON.stringify(row)}`);
const offstage = rows.find((r) => r.system === "offstage");
const floor = rows.find((r) => r.system === "floor");
const offstageB = rows.find((r) => r.system === "offstage-b");
if (offstage !== undefined && floor !== undefined) {
  const ratio = offstage.peak.acceptedPerS / floor.peak.acceptedPerS;
  console.log(
    `offstage/floor accepted inputs/s: ${ratio.toFixed(2)} (goal >= ${SERVE_VS_FLOOR_MIN}); offstage p99 at 50 % of its peak: ${offstage.paced.p99Ms} ms (goal < ${SERVE_PACED_P99_MS_MAX} ms)`,
  );
}
if (offstage !== undefined && offstageB !== undefined) {
  const perRound = runs.offstage.map((r, i) => runs["offstage-b"][i].peak.acceptedPerS / r.peak.acceptedPerS);
  console.log(
    `offstage-b/offstage accepted inputs/s: ${median(perRound).toFixed(2)} (median of the rounds' ratios: ${perRound.map((r) => r.toFixed(2)).join(", ")}); ` +
      `CPU ms per input ${offstage.peak.cpuMsPerInput} → ${offstageB.peak.cpuMsPerInput}; paced p99 ${offstage.paced.p99Ms} → ${offstageB.paced.p99Ms} ms`,
  );
}

let streamsResult;
if (!args.includes("--skip-streams") && ONLY.includes("offstage")) {
  const server = await start("offstage");
  const post = (path, body) =>
    fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const sessions = Math.max(1, Math.round(STREAMS / 10));
  for (let s = 0; s < sessions; s++) await post(`/v1/sessions/st${s}/inputs`, { payload: 0 });
  const before = await server.memory();
  const agent = new http.Agent({ keepAlive: true, maxSockets: STREAMS + 10 });
  let frames = 0;
  const streams = await Promise.all(
    Array.from(
      { length: STREAMS },
      (_, i) =>
        new Promise((resolve, reject) => {
          const req = http.get(
            `${server.url}/v1/sessions/st${i % sessions}/events`,
            { agent, headers: { authorization: `Bearer ${TOKEN}` } },
            (res) => {
              res.on("data", (chunk) => {
                frames += chunk.toString().split("\n\n").length - 1;
              });
              resolve(req);
            },
          );
          req.on("error", reject);
        }),
    ),
  );
  const opened = await server.memory();
  const startedAt = Date.now();
  let sent = 0;
  while (Date.now() - startedAt < STREAM_S * 1000) {
    await post(`/v1/sessions/st${sent % sessions}/inputs`, { payload: sent });
    sent += 1;
    await new Promise((r) => setTimeout(r, 1000 / STREAM_RATE));
  }
  const held = await server.memory();
  const perStream = (m) => Math.round((m.heapUsed - before.heapUsed) / STREAMS);
  streamsResult = {
    streams: STREAMS,
    sessions,
    seconds: STREAM_S,
    inputs: sent,
    frames,
    heapPerStreamOpenB: perStream(opened),
    heapPerStreamEndB: perStream(held),
    rssMiB: [before, opened, held].map((m) => Math.round(m.rss / 2 ** 20)),
    heapTotalMiB: [before, opened, held].map((m) => Math.round(m.heapTotal / 2 ** 20)),
    externalMiB: [before, opened, held].map((m) => Math.round(m.external / 2 ** 20)),
  };
  console.log(
    `streams: ${STREAMS} SSE streams on ${sessions} sessions for ${STREAM_S} s, ${sent} inputs, ${frames} frames read; ` +
      `server heap per stream: ${perStream(opened)} B once open, ${perStream(held)} B at the end; ` +
      `RSS ${streamsResult.rssMiB.join(" → ")} MiB (V8 heap reserved ${streamsResult.heapTotalMiB.join(" → ")}, ` +
      `external ${streamsResult.externalMiB.join(" → ")} MiB)`,
  );
  for (const req of streams) req.destroy();
  agent.destroy();
  await server.stop();
}

writeResult("serve-load", {
  seconds: SECONDS,
  connections: CONNECTIONS,
  sessions: SESSIONS,
  rounds: ROUNDS,
  ...(SEMI_SPACES === undefined ? {} : { semiSpaces: SEMI_SPACES }),
  rows,
  runs,
  streams: streamsResult,
});
