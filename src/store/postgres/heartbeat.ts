/**
 * The PostgreSQL store's heartbeat: every `leaseMs / 3` it renews this process's leases on a
 * connection of its own, made again whenever it drops. When no renewal has succeeded for most of
 * the lease (`leaseMs * 0.8`, measured on this process's clock from the start of the last renewal
 * that succeeded), the process must assume its leases lapse before it can renew them: `onLapse`
 * tells the store to give them up at once — before another process, judging by the server's clock,
 * may take them over — so that a process cut off from the database stops running its sessions'
 * turns rather than running them beside their next holder.
 *
 * @packageDocumentation
 */
import pg from "pg";

/** The share of the lease after which a process that could not renew gives its leases up. */
const GIVE_UP_SHARE = 0.8;

export class Heartbeat {
  readonly #config: pg.ClientConfig;
  readonly #leaseMs: number;
  readonly #renew: (client: pg.Client) => Promise<void>;
  readonly #onLapse: () => void;
  readonly #timer: NodeJS.Timeout;
  /** Checks the lease more often than it beats: a renewal that hangs must not delay giving up. */
  readonly #checker: NodeJS.Timeout;
  #client: pg.Client | undefined;
  #renewedAtMs = performance.now();
  #lapsed = false;
  #beating = false;

  constructor(
    config: pg.ClientConfig,
    leaseMs: number,
    renew: (client: pg.Client) => Promise<void>,
    onLapse: () => void,
  ) {
    this.#config = config;
    this.#leaseMs = leaseMs;
    this.#renew = renew;
    this.#onLapse = onLapse;
    this.#timer = setInterval(() => void this.#beat(), Math.max(1, Math.floor(leaseMs / 3)));
    this.#timer.unref();
    this.#checker = setInterval(() => this.#check(), Math.max(1, Math.floor(leaseMs / 10)));
    this.#checker.unref();
  }

  /** Whether the leases were given up since the last renewal that succeeded. */
  get lapsed(): boolean {
    return this.#lapsed;
  }

  close(): void {
    clearInterval(this.#timer);
    clearInterval(this.#checker);
    this.#client?.end().catch(() => undefined);
    this.#client = undefined;
  }

  async #beat(): Promise<void> {
    if (this.#beating) return;
    this.#beating = true;
    const startedAtMs = performance.now();
    try {
      const client = this.#client ?? (await this.#connect());
      await this.#renew(client);
      this.#renewedAtMs = startedAtMs;
      this.#lapsed = false;
    } catch {
      this.#client?.end().catch(() => undefined);
      this.#client = undefined;
      this.#check();
    } finally {
      this.#beating = false;
    }
  }

  #check(): void {
    if (this.#lapsed || performance.now() - this.#renewedAtMs < this.#leaseMs * GIVE_UP_SHARE) return;
    this.#lapsed = true;
    this.#onLapse();
  }

  async #connect(): Promise<pg.Client> {
    const client = new pg.Client({ ...this.#config, connectionTimeoutMillis: Math.floor(this.#leaseMs / 3) });
    client.on("error", () => {
      if (this.#client === client) this.#client = undefined;
    });
    await client.connect();
    this.#client = client;
    return client;
  }
}
