/**
 * The fleet campaign, parent side: `processes` crash children (`test/crash/child.ts`, with their
 * mixed workload: every policy, cancels, withdrawals, idempotent resends, background children and
 * their control verbs) run at once on one PostgreSQL schema, each sending to any of the sessions,
 * so most sends land on a session another process holds. Until the time is up, one of them is
 * SIGKILLed at a random moment and restarted — under a new process name mostly, so the others must
 * take its sessions over when its leases lapse, sometimes under the same name, which takes them back
 * at once. Then every process is killed and one last process drains everything and stops cleanly.
 *
 * Lease takeover latency: at each kill the campaign notes the sessions the dead process held with
 * live input (queued or running), then watches the lease table until another process holds each —
 * a different owner, or a new epoch. Kills followed by a restart under the same name are not
 * measured: that restart takes the leases back by design.
 *
 * @packageDocumentation
 */
import pg from "pg";
import { SeededRandom } from "../../src/testing/seeded-random.js";
import { awaitDrain, type ChildRun, startChild } from "../crash/campaign.js";
import { Ledger } from "../crash/ledger.js";
import { type ChildConfig, pathsOf } from "../crash/protocol.js";
import { writeWorkspace } from "../crash/workload.js";

export interface FleetOptions {
  readonly seed: number;
  /** How long processes are killed and restarted. */
  readonly seconds: number;
  readonly processes: number;
  readonly sessions: number;
  readonly dir: string;
  readonly connectionString: string;
  readonly schema: string;
  readonly leaseMs: number;
  readonly log: (line: string) => void;
}

export interface FleetResult {
  readonly ledger: Ledger;
  readonly kills: number;
  /** Kills whose process came back under the same name. */
  readonly sameName: number;
  /** Per measured session: ms from its holder's death to another process holding it. */
  readonly takeoversMs: number[];
  /** Sessions whose takeover was not seen within {@link TAKEOVER_WATCH_MS}. */
  readonly notTakenOver: string[];
  readonly elapsedMs: number;
}

/** A process that has not reported `ready` by then is hung in its boot chain. */
const READY_TIMEOUT_MS = 60_000;
/** The final drain, after every lease lapsed. */
const DRAIN_TIMEOUT_MS = 150_000;
/** How long a killed process's sessions are watched for a new holder. */
export const TAKEOVER_WATCH_MS = 30_000;
const WATCH_EVERY_MS = 20;

interface Slot {
  child: ChildRun;
  name: string;
  inc: number;
}

export async function runFleet(options: FleetOptions): Promise<FleetResult> {
  const { dir, schema } = options;
  writeWorkspace(pathsOf(dir).workspace);
  const random = new SeededRandom(options.seed);
  const ledger = new Ledger();
  // A pool: the takeover watches poll at once, and one client must not run two queries.
  const db = new pg.Pool({ connectionString: options.connectionString, max: 4 });
  const started = performance.now();
  const takeoversMs: number[] = [];
  const notTakenOver: string[] = [];
  const watches: Promise<void>[] = [];
  // Set when every process is killed at the end: nobody is left to take over, so watching stops.
  const ending = { now: false };
  let inc = 0;
  const start = (name: string): Slot => {
    const n = inc++;
    const postgres = {
      connectionString: options.connectionString,
      schema,
      processId: name,
      leaseMs: options.leaseMs,
    };
    const more: Pick<ChildConfig, "postgres" | "lifetimeMs" | "outstanding"> = {
      postgres,
      lifetimeMs: options.seconds * 1000 + 120_000,
      // Each process follows the inputs it sent; the final drain follows every one still open.
      outstanding: [],
    };
    const child = startChild(options, ledger, n, "work", drawn(random), more);
    return { child, name, inc: n };
  };
  try {
    const slots = Array.from({ length: options.processes }, (_, i) => start(`fleet-${i}-0`));
    await Promise.all(slots.map((slot) => ready(slot, ledger)));
    let kills = 0;
    let sameName = 0;
    const deadline = started + options.seconds * 1000;
    while (performance.now() < deadline && ledger.violations.length === 0) {
      await sleep(random.int(300, 2_500));
      const at = random.int(0, slots.length - 1);
      const slot = slots[at]!;
      const held = await liveSessionsOf(db, schema, slot.name);
      await kill(slot, ledger);
      const killedAt = Date.now();
      kills += 1;
      const keepName = random.chance(0.2);
      if (keepName) sameName += 1;
      else {
        const watched = { owner: slot.name, held, killedAt, ending };
        watches.push(watchTakeover(db, schema, watched, takeoversMs, notTakenOver));
      }
      await sleep(random.int(0, 1_000));
      slots[at] = start(keepName ? slot.name : `fleet-${at}-${inc}`);
      void ready(slots[at]!, ledger);
      if (kills % 10 === 0)
        options.log(
          `fleet: ${kills} kills, ${ledger.inputs.size} inputs accepted, ${takeoversMs.length} takeovers seen`,
        );
    }
    ending.now = true;
    await Promise.all(watches);
    for (const slot of slots) await kill(slot, ledger);
    options.log(`fleet: ${kills} kills in ${((performance.now() - started) / 1000).toFixed(1)} s; draining`);
    if (ledger.violations.length === 0) await finalDrain(options, ledger, random, inc);
    return {
      ledger,
      kills,
      sameName,
      takeoversMs,
      notTakenOver,
      elapsedMs: performance.now() - started,
    };
  } finally {
    await db.end();
  }
}

function drawn(random: SeededRandom) {
  return {
    seed: random.int(0, 0x7fffffff),
    groupCommitMs: 0,
    durability: "full" as const,
    staleAfterMs: random.chance(0.2) ? random.int(1, 100) : undefined,
  };
}

async function ready(slot: Slot, ledger: Ledger): Promise<void> {
  const ok = await Promise.race([slot.child.ready, sleep(READY_TIMEOUT_MS).then(() => false)]);
  if (!ok && slot.child.process.exitCode === null && slot.child.process.signalCode === null)
    ledger.fail(`process ${slot.inc} (${slot.name}) did not start within ${READY_TIMEOUT_MS} ms`);
}

async function kill(slot: Slot, ledger: Ledger): Promise<void> {
  const { process: child } = slot.child;
  if (child.exitCode !== null || child.signalCode !== null) {
    const exit = await slot.child.exit;
    ledger.fail(
      `process ${slot.inc} (${slot.name}) exited by itself (code ${exit.code}, signal ${exit.signal}) before its kill:\n${slot.child.stderrTail()}`,
    );
    return;
  }
  child.kill("SIGKILL");
  await slot.child.exit;
}

/** The sessions `owner` holds that have input waiting or running: those another process must take. */
async function liveSessionsOf(db: pg.Pool, schema: string, owner: string): Promise<Map<string, number>> {
  const { rows } = await db.query<{ id: string; epoch: string }>(
    `SELECT s.id, s.epoch FROM "${schema}".sessions s
      WHERE s.owner = $1
        AND EXISTS (SELECT 1 FROM "${schema}".inputs i WHERE i.session_id = s.id AND i.status IN ('queued', 'running'))`,
    [owner],
  );
  return new Map(rows.map((row) => [row.id, Number(row.epoch)]));
}

/**
 * Watches `held` until each has another holder (owner or epoch changed); records the latencies. A
 * watch cut short by the end of the campaign judges nothing it did not see.
 */
async function watchTakeover(
  db: pg.Pool,
  schema: string,
  kill: {
    readonly owner: string;
    readonly held: Map<string, number>;
    readonly killedAt: number;
    readonly ending: { readonly now: boolean };
  },
  takeoversMs: number[],
  notTakenOver: string[],
): Promise<void> {
  const { owner, killedAt, ending } = kill;
  const waiting = new Map(kill.held);
  while (waiting.size > 0 && Date.now() - killedAt < TAKEOVER_WATCH_MS) {
    if (ending.now) return;
    const { rows } = await db.query<{ id: string; owner: string | null; epoch: string }>(
      `SELECT id, owner, epoch FROM "${schema}".sessions WHERE id = ANY($1)`,
      [[...waiting.keys()]],
    );
    const now = Date.now();
    for (const row of rows) {
      if (row.owner !== null && (row.owner !== owner || Number(row.epoch) !== waiting.get(row.id))) {
        takeoversMs.push(now - killedAt);
        waiting.delete(row.id);
      }
    }
    await sleep(WATCH_EVERY_MS);
  }
  // A session whose input all ended meanwhile (cancelled or withdrawn from another process) needs
  // no new holder; only one that still has live input was left behind.
  for (const id of waiting.keys()) {
    const { rows } = await db.query(
      `SELECT 1 FROM "${schema}".inputs WHERE session_id = $1 AND status IN ('queued', 'running') LIMIT 1`,
      [id],
    );
    if (rows.length > 0) notTakenOver.push(`${id} (held by ${owner})`);
  }
}

/** After every lease lapsed: one process takes everything over, follows every open input, drains. */
async function finalDrain(
  options: FleetOptions,
  ledger: Ledger,
  random: SeededRandom,
  inc: number,
): Promise<void> {
  await sleep(options.leaseMs + 500);
  const child = startChild(options, ledger, inc, "drain", drawn(random), {
    postgres: {
      connectionString: options.connectionString,
      schema: options.schema,
      processId: "fleet-drain",
      leaseMs: options.leaseMs,
    },
    outstanding: ledger.outstanding(),
  });
  await awaitDrain(child, ledger, DRAIN_TIMEOUT_MS);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
