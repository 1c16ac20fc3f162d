// The local servers the durable peers need (Redis, PostgreSQL): a benchmark makes sure one answers,
// starting it with the machine's own command when it does not, and skips the peer with a sentence
// saying why when it cannot, rather than failing the whole run.
import { execFileSync } from "node:child_process";
import { log } from "./log.mjs";
import { sleep } from "./meters.mjs";

export const REDIS_START =
  'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log';
export const POSTGRES_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start";

/**
 * Makes sure a local service answers, starting it with `startCommand` (a shell command) if it does
 * not. `probe()` resolves truthy when the service is up. Returns undefined when it is up, or a
 * sentence saying why it is missing.
 */
export async function ensureService(name, probe, startCommand) {
  if (await probe().catch(() => false)) return undefined;
  log(`${name} is not answering; starting it: ${startCommand}`);
  try {
    execFileSync("sh", ["-c", startCommand], { stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
  } catch (error) {
    return `${name} is down and could not be started (${
      String(error.stderr ?? error.message)
        .trim()
        .split("\n")[0]
    })`;
  }
  for (let i = 0; i < 50; i++) {
    if (await probe().catch(() => false)) return undefined;
    await sleep(200);
  }
  return `${name} was started but does not answer`;
}

/** The systems that can run here (each `check()` answers undefined), and the others with why not. */
export async function usableSystems(systems) {
  const skipped = {};
  const usable = [];
  for (const system of systems) {
    const reason = await system.check();
    if (reason === undefined) usable.push(system);
    else {
      skipped[system.name] = reason;
      log(`SKIPPED ${system.name}: ${reason}`);
    }
  }
  return { usable, skipped };
}
