/**
 * A TCP proxy in front of the PostgreSQL server, for fault tests that must not disturb the shared
 * server: `cut()` drops every connection through it and refuses new ones, as a network outage or a
 * server restart does to its clients; `restore()` lets connections through again. `hold()` accepts
 * new connections but forwards nothing of them, as a server too busy to answer a connection's start
 * does, until `release()`; `held()` says how many wait. `deafenAtCommit()` lets the next `COMMIT` a
 * client sends through but drops every answer on that connection from then on: the server commits,
 * the client never hears so. It runs on a
 * thread of its own: the store's synchronous reads block the test's thread while they wait for the
 * server, and a proxy there could not forward their bytes.
 */
import { once } from "node:events";
import { Worker } from "node:worker_threads";

export interface TcpProxy extends AsyncDisposable {
  readonly port: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  hold(): Promise<void>;
  deafenAtCommit(): Promise<void>;
  release(): Promise<void>;
  held(): Promise<number>;
  close(): Promise<void>;
}

const PROXY = `
const { createConnection, createServer } = require("node:net");
const { parentPort, workerData } = require("node:worker_threads");
const sockets = new Set();
let open = true;
let holding = false;
const waiting = [];
let deafenAtCommit = false;
const server = createServer((client) => {
  if (!open) return client.destroy();
  if (!holding) return forward(client);
  client.pause();
  waiting.push(client);
});
function forward(client) {
  client.resume();
  const upstream = createConnection(workerData.port, workerData.host);
  sockets.add(client);
  sockets.add(upstream);
  const drop = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
  client.on("error", drop).on("close", drop);
  upstream.on("error", drop).on("close", drop);
  client.pipe(upstream);
  upstream.pipe(client);
  client.on("data", (chunk) => {
    if (!deafenAtCommit || !chunk.includes("COMMIT")) return;
    deafenAtCommit = false;
    upstream.unpipe(client);
    upstream.resume();
  });
}
server.listen(0, "127.0.0.1", () => parentPort.postMessage({ port: server.address().port }));
parentPort.on("message", (command) => {
  if (command === "cut") { open = false; for (const s of [...sockets, ...waiting.splice(0)]) s.destroy(); sockets.clear(); }
  if (command === "restore") open = true;
  if (command === "hold") holding = true;
  if (command === "deafenAtCommit") deafenAtCommit = true;
  if (command === "release") { holding = false; for (const c of waiting.splice(0)) if (!c.destroyed) forward(c); }
  if (command === "held") return parentPort.postMessage({ done: command, held: waiting.filter((c) => !c.destroyed).length });
  if (command === "close") { open = false; for (const s of [...sockets, ...waiting.splice(0)]) s.destroy(); server.close(() => process.exit(0)); }
  parentPort.postMessage({ done: command });
});
`;

export async function startProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
  const worker = new Worker(PROXY, { eval: true, workerData: { port: targetPort, host: targetHost } });
  const [{ port }] = (await once(worker, "message")) as [{ port: number }];
  const command = async (name: string): Promise<{ held?: number }> => {
    worker.postMessage(name);
    for (;;) {
      const [reply] = (await once(worker, "message")) as [{ done?: string; held?: number }];
      if (reply.done === name) return reply;
    }
  };
  const close = async () => {
    await command("close").catch(() => undefined);
    await worker.terminate();
  };
  return {
    port,
    cut: async () => void (await command("cut")),
    restore: async () => void (await command("restore")),
    hold: async () => void (await command("hold")),
    deafenAtCommit: async () => void (await command("deafenAtCommit")),
    release: async () => void (await command("release")),
    held: async () => (await command("held")).held ?? 0,
    close,
    [Symbol.asyncDispose]: close,
  };
}
