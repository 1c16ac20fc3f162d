/**
 * A TCP proxy in front of the PostgreSQL server, for fault tests that must not disturb the shared
 * server: `cut()` drops every connection through it and refuses new ones, as a network outage or a
 * server restart does to its clients; `restore()` lets connections through again. It runs on a
 * thread of its own: the store's synchronous reads block the test's thread while they wait for the
 * server, and a proxy there could not forward their bytes.
 */
import { once } from "node:events";
import { Worker } from "node:worker_threads";

export interface TcpProxy extends AsyncDisposable {
  readonly port: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

const PROXY = `
const { createConnection, createServer } = require("node:net");
const { parentPort, workerData } = require("node:worker_threads");
const sockets = new Set();
let open = true;
const server = createServer((client) => {
  if (!open) return client.destroy();
  const upstream = createConnection(workerData.port, workerData.host);
  sockets.add(client);
  sockets.add(upstream);
  const drop = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
  client.on("error", drop).on("close", drop);
  upstream.on("error", drop).on("close", drop);
  client.pipe(upstream);
  upstream.pipe(client);
});
server.listen(0, "127.0.0.1", () => parentPort.postMessage({ port: server.address().port }));
parentPort.on("message", (command) => {
  if (command === "cut") { open = false; for (const s of sockets) s.destroy(); sockets.clear(); }
  if (command === "restore") open = true;
  if (command === "close") { open = false; for (const s of sockets) s.destroy(); server.close(() => process.exit(0)); }
  parentPort.postMessage({ done: command });
});
`;

export async function startProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
  const worker = new Worker(PROXY, { eval: true, workerData: { port: targetPort, host: targetHost } });
  const [{ port }] = (await once(worker, "message")) as [{ port: number }];
  const command = async (name: string): Promise<void> => {
    worker.postMessage(name);
    for (;;) {
      const [reply] = (await once(worker, "message")) as [{ done?: string }];
      if (reply.done === name) return;
    }
  };
  const close = async () => {
    await command("close").catch(() => undefined);
    await worker.terminate();
  };
  return {
    port,
    cut: () => command("cut"),
    restore: () => command("restore"),
    close,
    [Symbol.asyncDispose]: close,
  };
}
