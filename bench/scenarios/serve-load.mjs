// `serve`: `offstage serve` under HTTP load on loopback (issue #20), beside a floor — a bare Hono
// handler that inserts the same row into SQLite (systems/serve-child.mjs) — in the same run.
//   1. peak: autocannon with --connections clients for --seconds s posting inputs to --sessions
//      sessions in turn: accepted (2xx) inputs/s, p50/p99 POST latency;
//   2. paced: the same at 50 % of each system's own peak rate: p50/p99 (goal: p99 < 10 ms);
//   3. streams: --streams SSE streams held open on offstage for --stream-s s while inputs arrive at
//      --stream-rate/s: the server's heap and RSS before and after, per stream.
// Flags: --seconds 10 --connections 32 --sessions 1000 --streams 1000 --stream-s 60 --stream-rate 200
//        --only offstage,floor --skip-streams
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
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
const ONLY = flag("only", "offstage,floor").split(",");
const child = new URL("../systems/serve-child.mjs", import.meta.url).pathname;

/** Starts a system's server in its own process; resolves with its URL and a handle to stop it. */
function start(system) {
  const dir = mkdtempSync(join(tmpdir(), "offstage-serve-bench-"));
  const proc = spawn(process.execPath, ["--expose-gc", child, system, dir], {
    stdio: ["ignore", "pipe", "inherit"],
  });
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
  const nextLine = () => new Promise((resolve) => waiters.push(resolve));
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

function load(url, { rate } = {}) {
  let n = 0;
  return autocannon({
    url,
    connections: CONNECTIONS,
    duration: SECONDS,
    ...(rate === undefined ? {} : { overallRate: rate }),
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

function summary(result) {
  const accepted = result["2xx"] / (result.duration || SECONDS);
  return {
    acceptedPerS: Math.round(accepted),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

const rows = [];
for (const system of ONLY) {
  const server = await start(system);
  await load(server.url, {}); // warm-up (also fills the store a little, as a running service's would be)
  const peak = summary(await load(server.url));
  const paced = summary(await load(server.url, { rate: Math.max(1, Math.round(peak.acceptedPerS / 2)) }));
  rows.push({ system, peak, paced });
  console.log(`${system}: peak ${JSON.stringify(peak)}; at 50 % of peak ${JSON.stringify(paced)}`);
  await server.stop();
}
const offstage = rows.find((r) => r.system === "offstage");
const floor = rows.find((r) => r.system === "floor");
if (offstage !== undefined && floor !== undefined) {
  const ratio = offstage.peak.acceptedPerS / floor.peak.acceptedPerS;
  console.log(
    `offstage/floor accepted inputs/s: ${ratio.toFixed(2)} (goal >= 0.5); offstage p99 at 50 % of its peak: ${offstage.paced.p99Ms} ms (goal < 10 ms)`,
  );
}

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
  console.log(
    `streams: ${STREAMS} SSE streams on ${sessions} sessions for ${STREAM_S} s, ${sent} inputs, ${frames} frames read; ` +
      `server heap per stream: ${perStream(opened)} B once open, ${perStream(held)} B at the end; ` +
      `RSS ${Math.round(before.rss / 2 ** 20)} → ${Math.round(opened.rss / 2 ** 20)} → ${Math.round(held.rss / 2 ** 20)} MiB`,
  );
  for (const req of streams) req.destroy();
  agent.destroy();
  await server.stop();
}
