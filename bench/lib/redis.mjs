// The local Redis the BullMQ peers run on: where it is (--redis-url), whether it answers, and
// starting it if it does not.
import { Redis } from "ioredis";
import { flag } from "./args.mjs";
import { ensureService, REDIS_START } from "./services.mjs";

const url = new URL(flag("redis-url", "redis://127.0.0.1:6379"));

/** ioredis options for BullMQ (which needs maxRetriesPerRequest: null). */
export const REDIS = { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };

/** True when Redis answers PING; never retries, so a missing server fails fast. */
export async function redisUp() {
  const client = new Redis({ ...REDIS, lazyConnect: true, retryStrategy: () => null });
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } finally {
    client.disconnect();
  }
}

/** Starts Redis if it is down; undefined when it is up, else why it is missing. */
export function ensureRedis() {
  return ensureService("Redis", redisUp, REDIS_START);
}
