/**
 * The crash test's child process: opens the real SQLite file, lets the runtime recover, follows the
 * inputs the parent is waiting on, then either runs a steady mixed workload — background children
 * included (`child-delegations.ts`) — until the parent kills it (`work`) or drains everything and
 * stops cleanly (`drain`).
 *
 * Run by Node 24's type stripping with `ts-hook.ts` mapping `.js` specifiers to the `.ts` sources,
 * so the child runs the code under test without a build.
 *
 * Every report is one synchronous `writeSync` to fd 1 (see `protocol.ts`), and an acceptance is
 * reported only after the handle's `stored()` resolved `durable`.
 *
 * Longer than most files: every step of the workload reads the process's shared state (the live
 * handles, how each input was sent, the keys used so far).
 *
 * @packageDocumentation
 */
import { appendFileSync, existsSync, readFileSync, writeSync } from "node:fs";
import { setTimeout as sleepFor } from "node:timers/promises";
import type { Logger, Policy, TurnHandle } from "../../src/index.js";
import { createRuntime, isOffstageError } from "../../src/index.js";
import { SeededRandom } from "../../src/testing/seeded-random.js";
import { ChildDelegations } from "./child-delegations.js";
import { openChildStore } from "./child-store.js";
import type { ChildConfig, KeyRecord, Report } from "./protocol.js";
import { outputDigest, parseLines, pathsOf, tokenOf } from "./protocol.js";
import { agentOfSession, createAgents, DELEGATION, markerLog, payloadFor, sessionId } from "./workload.js";

/** A work-mode child the parent forgot to kill ends itself, so a broken parent leaves no orphan. */
const LIFETIME_MS = 60_000;
/** How long the final drain waits for a shared schema to have nothing left to run. */
const IDLE_TIMEOUT_MS = 60_000;
/** Above this many queued inputs the workload stops sending, so the final drain stays short. */
const BACKLOG_MAX = 60;

const POLICIES: readonly [Policy, number][] = [
  ["enqueue", 35],
  ["merge", 15],
  ["interrupt", 10],
  ["steer", 25],
  ["reject", 15],
];

const config = JSON.parse(readFileSync(process.argv[2] ?? "", "utf8")) as ChildConfig;
const paths = pathsOf(config.dir);
const random = new SeededRandom(config.seed);
const inc = config.incarnation;

function report(line: Report): void {
  const bytes = Buffer.from(`${JSON.stringify(line)}\n`);
  let at = 0;
  while (at < bytes.length) {
    try {
      at += writeSync(1, bytes, at);
    } catch (error) {
      // A non-blocking pipe that is full: wait for the parent to read, without yielding to the loop.
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
    }
  }
}

const violation = (message: string) => report({ t: "violation", message });

const logger: Logger = {
  warn: (details, message) => process.stderr.write(`warn: ${message} ${JSON.stringify(details)}\n`),
  error: (details, message) => process.stderr.write(`error: ${message} ${JSON.stringify(details)}\n`),
};

const { store, idle } = await openChildStore(config, paths.database);
const runtime = createRuntime({
  agents: createAgents({
    incarnation: inc,
    workspace: paths.workspace,
    random,
    mark: markerLog(paths.effects),
  }),
  store,
  logger,
  pollIntervalMs: 100,
  delegation:
    config.staleAfterMs === undefined ? DELEGATION : { ...DELEGATION, staleAfterMs: config.staleAfterMs },
});
const delegations = new ChildDelegations({
  runtime,
  commit: () => store.commit(),
  random,
  sessions: config.sessions,
  report,
});
runtime.on((event) => {
  if (event.type === "runtime.started")
    report({
      t: "ready",
      recovered: event.recoveredInputs,
      resumed: event.resumedTurns,
      children: runtime.delegations.running,
    });
  else if (event.type === "error")
    violation(`the runtime reported an error in ${event.where}: ${event.message}`);
  else delegations.onEvent(event);
});

/** Handles of this process not yet settled: what cancels and withdrawals pick from. */
const live = new Map<string, TurnHandle>();
/** Handle objects whose end is being reported (two handles of one input each report theirs). */
const followed = new WeakSet<TurnHandle>();
/** How each input of this process was sent (to resend it by its key). */
const sentAs = new Map<string, Sent>();

interface Sent {
  readonly session: string;
  readonly token: string;
  readonly key: string | undefined;
  readonly policy: string;
  readonly resend: boolean;
}

/** Reports the input once it is durable, then its end; each input is followed once per process. */
function follow(handle: TurnHandle, sent: Sent | undefined): void {
  if (!handle.done) live.set(handle.id, handle);
  void handle.stored().then((receipt) => {
    if (sent !== undefined) {
      if (receipt !== "durable" || handle.receipt !== "durable")
        violation(
          `input ${handle.id}: stored() resolved ${receipt}, receipt ${handle.receipt}; expected durable`,
        );
      report({ t: "accepted", id: handle.id, ...sent });
    }
    if (followed.has(handle)) return;
    followed.add(handle);
    const settled = () => {
      live.delete(handle.id);
      const outcome = handle.poll()?.outcome;
      report({
        t: "settled",
        id: handle.id,
        status: handle.status,
        code: outcome?.reason.code ?? "none",
        turnId: handle.turnId,
        output: outputDigest(outcome?.output),
      });
    };
    handle.result().then(settled, settled);
  });
}

function loadKeys(): KeyRecord[] {
  return existsSync(paths.keys) ? parseLines<KeyRecord>(readFileSync(paths.keys, "utf8")) : [];
}

/** Sends, and follows the handle; a `reject` refusal is expected, any other throw is a violation. */
function send(
  session: string,
  token: string,
  policy: Policy,
  key: string | undefined,
  resend: boolean,
): void {
  let handle: TurnHandle;
  try {
    handle = runtime
      .session(session, { agent: agentOfSession(session) })
      .send(payloadFor(session, token), key === undefined ? { policy } : { policy, idempotencyKey: key });
  } catch (error) {
    if (policy === "reject" && isOffstageError(error, "SESSION_BUSY")) return;
    violation(`send ${token} (${policy}) threw: ${error instanceof Error ? error.message : String(error)}`);
    return;
  }
  const sent: Sent = { session, token, key, policy, resend };
  // Known at once, not at the commit: a cancel may come before the input is durable.
  if (!resend) sentAs.set(handle.id, sent);
  follow(handle, sent);
}

function weighted(): Policy {
  let roll = random.int(1, 100);
  for (const [policy, weight] of POLICIES) {
    roll -= weight;
    if (roll <= 0) return policy;
  }
  return "enqueue";
}

function pickLive(): TurnHandle | undefined {
  if (live.size === 0) return undefined;
  const at = random.int(0, live.size - 1);
  let i = 0;
  for (const handle of live.values()) if (i++ === at) return handle;
  return undefined;
}

async function work(keys: KeyRecord[]): Promise<void> {
  let n = 0;
  const sendNew = (session: string, policy: Policy) => {
    const token = tokenOf(inc, n++);
    const key = random.chance(0.3) ? `key${token}` : undefined;
    if (key !== undefined) {
      const record: KeyRecord = { key, session, token };
      keys.push(record);
      appendFileSync(paths.keys, `\n${JSON.stringify(record)}\n`);
    }
    send(session, token, policy, key, false);
  };
  for (;;) {
    await sleepFor(random.int(0, 6));
    void delegations.flush();
    const roll = random.next();
    const busy = runtime.metrics().queuedInputs > BACKLOG_MAX;
    if (roll < 0.04 && !busy) {
      // A burst into one session builds a queue, so kills find queued (and merged) inputs to recover.
      const session = sessionId(random.int(0, config.sessions - 1));
      for (let i = random.int(3, 12); i > 0; i--) sendNew(session, random.chance(0.7) ? "enqueue" : "merge");
    } else if (roll < 0.6 && !busy) {
      sendNew(sessionId(random.int(0, config.sessions - 1)), weighted());
    } else if (roll < 0.7 && !busy && keys.length > 0) {
      const record = random.pick(keys);
      send(record.session, record.token, "enqueue", record.key, true);
    } else if (roll < 0.82) {
      const handle = pickLive();
      if (handle !== undefined && !handle.done) {
        const queued = handle.status === "queued";
        const mode: "immediate" | "after_step" = random.chance(0.7) ? "immediate" : "after_step";
        void handle.cancel({ mode });
        if (queued) lookAgain(handle);
      }
    } else if (roll < 0.92) {
      const handle = pickLive();
      if (handle?.status === "queued") {
        try {
          handle.withdraw();
          lookAgain(handle);
        } catch (error) {
          if (!isOffstageError(error, "NOT_WITHDRAWABLE"))
            violation(
              `withdraw ${handle.id} threw: ${error instanceof Error ? error.message : String(error)}`,
            );
        }
      }
    } else {
      delegations.act((roll - 0.92) / 0.08, { busy });
    }
  }
}

/**
 * Right after a queued input was withdrawn or cancelled — while that end may still wait for its
 * commit — asks for the input again, by id and by idempotency key. A handle handed out now must not
 * report an end a kill could still undo.
 */
function lookAgain(handle: TurnHandle): void {
  if (random.chance(0.5)) {
    const again = runtime.handle(handle.id);
    if (again !== undefined) follow(again, undefined);
  }
  const sent = sentAs.get(handle.id);
  if (sent?.key !== undefined && random.chance(0.5))
    send(sent.session, sent.token, "enqueue", sent.key, true);
}

/** Resends every key ever used, then drains: idempotency is checked across every kill at once. */
async function drain(keys: KeyRecord[]): Promise<void> {
  for (const record of keys) send(record.session, record.token, "enqueue", record.key, true);
  delegations.settleAllHeld();
  await idle(IDLE_TIMEOUT_MS);
  const status = await runtime.stop({ drain: true, timeoutMs: 60_000 });
  // Lets the settle callbacks of the last turns report before the process ends.
  await sleepFor(10);
  await delegations.flushAll();
  report({ t: "drained", status });
  await store.close();
}

async function main(): Promise<void> {
  if (config.mode === "work") setTimeout(() => process.exit(3), config.lifetimeMs ?? LIFETIME_MS).unref();
  await runtime.start();
  if (runtime.receipt !== "durable") violation(`runtime.receipt is ${runtime.receipt}, expected durable`);
  for (const id of config.outstanding) {
    const handle = runtime.handle(id);
    if (handle === undefined) report({ t: "missing", id });
    else if (handle.poll()?.outcome.reason.code === "runtime_stopped")
      // A running runtime hands out such a handle only for an input it did not recover.
      violation(`input ${id} is unfinished in the store, but recovery did not pick it up`);
    else follow(handle, undefined);
  }
  const keys = loadKeys();
  if (config.mode === "drain") await drain(keys);
  else {
    delegations.started();
    await work(keys);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    violation(`the child failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
