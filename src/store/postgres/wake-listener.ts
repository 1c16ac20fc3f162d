/**
 * The PostgreSQL store's wake listener: one connection of its own that `LISTEN`s on the schema's
 * channel and hands each notification's session id on. When the connection drops it reconnects
 * with backoff; wakes sent meanwhile are lost, which the runtime's recovery poll makes up for.
 *
 * @packageDocumentation
 */
import pg from "pg";
import { quoteIdent } from "./migrations.js";

const RECONNECT_MIN_MS = 50;
const RECONNECT_MAX_MS = 2_000;

export class WakeListener {
  readonly #config: pg.ClientConfig;
  readonly #channel: string;
  readonly #onWake: (sessionId: string) => void;
  #client: pg.Client | undefined;
  #timer: NodeJS.Timeout | undefined;
  #delayMs = RECONNECT_MIN_MS;
  #closed = false;

  constructor(config: pg.ClientConfig, channel: string, onWake: (sessionId: string) => void) {
    this.#config = config;
    this.#channel = channel;
    this.#onWake = onWake;
    void this.#connect();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#client?.end().catch(() => undefined);
    this.#client = undefined;
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client(this.#config);
    let dropped = false;
    const retry = () => {
      if (dropped) return;
      dropped = true;
      if (this.#client === client) this.#client = undefined;
      client.end().catch(() => undefined);
      if (this.#closed) return;
      this.#timer = setTimeout(() => void this.#connect(), this.#delayMs);
      this.#timer.unref();
      this.#delayMs = Math.min(this.#delayMs * 2, RECONNECT_MAX_MS);
    };
    client.on("error", retry);
    client.on("end", retry);
    client.on("notification", (message) => {
      if (message.channel === this.#channel && message.payload !== undefined) this.#onWake(message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteIdent(this.#channel)}`);
      if (this.#closed) {
        await client.end();
        return;
      }
      this.#client = client;
      this.#delayMs = RECONNECT_MIN_MS;
    } catch {
      retry();
    }
  }
}
