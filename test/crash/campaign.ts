/**
 * The crash campaign, parent side: starts the child on one SQLite file, `kill -9`s it at a random
 * moment, starts it again — `kills` times — then runs it once more to drain everything and stop
 * cleanly. Every report line goes into the {@link Ledger}; the final checks (`checks.ts`) compare
 * the ledger with the file.
 *
 * Where the kill lands, from the campaign's seed: mostly while the workload runs (soon after the
 * restart, when recovery's own writes are in flight, or later), sometimes before the runtime has
 * even finished starting (during recovery itself).
 *
 * @packageDocumentation
 */
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SeededRandom } from "../../src/testing/seeded-random.js";
import { integrityCheck } from "./checks.js";
import { Ledger } from "./ledger.js";
import { type ChildConfig, type ChildMode, pathsOf, type Report } from "./protocol.js";
import { writeWorkspace } from "./workload.js";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const CHILD = join(HERE, "child.ts");
const HOOK = join(HERE, "ts-hook.ts");
/** A child that has not reported `ready` by then is hung in its boot chain. */
const READY_TIMEOUT_MS = 30_000;
/** The final drain: generous, since the backlog left by the last kill may be large. */
const DRAIN_TIMEOUT_MS = 90_000;

export interface CampaignOptions {
  readonly seed: number;
  readonly kills: number;
  readonly dir: string;
  readonly sessions: number;
  /** Progress lines (one per ten kills). */
  readonly log: (line: string) => void;
}

export interface CampaignResult {
  readonly ledger: Ledger;
  readonly kills: number;
  /** Kills that landed before the child reported `ready`. */
  readonly earlyKills: number;
  readonly elapsedMs: number;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** One child process: its `ready` report and its exit (after its stdout was read to the end). */
export interface ChildRun {
  readonly process: ChildProcess;
  readonly ready: Promise<boolean>;
  readonly exit: Promise<Exit>;
  stderrTail(): string;
}

export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const { dir, seed } = options;
  const paths = pathsOf(dir);
  writeWorkspace(paths.workspace);
  const random = new SeededRandom(seed);
  const ledger = new Ledger();
  const started = performance.now();
  let earlyKills = 0;
  let kills = 0;
  for (let inc = 0; inc < options.kills; inc++) {
    const child = startChild(options, ledger, inc, "work", {
      seed: random.int(0, 0x7fffffff),
      groupCommitMs: random.int(0, 4),
      durability: random.chance(0.5) ? "full" : "normal",
      // A short one holds every completion still waiting at the start (the restart takes longer).
      staleAfterMs: random.chance(0.2) ? random.int(1, 100) : undefined,
    });
    const early = random.chance(0.15);
    const delayMs = early
      ? random.int(100, 500)
      : random.chance(0.5)
        ? random.int(0, 60)
        : random.int(60, 700);
    let exited = false;
    void child.exit.then(() => {
      exited = true;
    });
    if (early) {
      await sleep(delayMs);
      if (!(await settledYet(child.ready))) earlyKills += 1;
    } else {
      const ready = await Promise.race([child.ready, sleep(READY_TIMEOUT_MS).then(() => false)]);
      if (!ready && !exited) ledger.fail(`process ${inc} did not start within ${READY_TIMEOUT_MS} ms`);
      await sleep(delayMs);
    }
    if (exited) {
      const exit = await child.exit;
      ledger.fail(
        `process ${inc} exited by itself (code ${exit.code}, signal ${exit.signal}) before its kill:\n${child.stderrTail()}`,
      );
    }
    child.process.kill("SIGKILL");
    await child.exit;
    kills += 1;
    checkAfterKill(paths.database, inc, ledger);
    if (ledger.violations.length > 0) break;
    if ((inc + 1) % 10 === 0) {
      options.log(
        `crash: ${inc + 1}/${options.kills} kills, ${ledger.inputs.size} inputs accepted, ${ledger.outstanding().length} unsettled`,
      );
    }
  }
  if (ledger.violations.length === 0) await finalDrain(options, ledger);
  return { ledger, kills, earlyKills, elapsedMs: performance.now() - started };
}

async function finalDrain(options: CampaignOptions, ledger: Ledger): Promise<void> {
  const child = startChild(options, ledger, options.kills, "drain", {
    seed: options.seed,
    groupCommitMs: 2,
    durability: "full",
    staleAfterMs: undefined,
  });
  await awaitDrain(child, ledger, DRAIN_TIMEOUT_MS);
}

/** Waits for the final drain `child` to exit cleanly; a hang (killed after `timeoutMs`) or an unclean exit fails `ledger`. */
export async function awaitDrain(child: ChildRun, ledger: Ledger, timeoutMs: number): Promise<void> {
  const exit = await Promise.race([child.exit, sleep(timeoutMs).then(() => undefined)]);
  if (exit === undefined) {
    child.process.kill("SIGKILL");
    await child.exit;
    ledger.fail(`the final drain did not finish within ${timeoutMs} ms:\n${child.stderrTail()}`);
  } else if (exit.code !== 0) {
    ledger.fail(
      `the final drain exited with code ${exit.code}, signal ${exit.signal}:\n${child.stderrTail()}`,
    );
  } else if (ledger.drained !== "clean") {
    ledger.fail(`the final drain's stop() returned ${String(ledger.drained)}, expected clean`);
  }
}

/**
 * Starts process `inc` of a campaign; its reports go into `ledger` (and `reports.log`), its stderr
 * into `stderr.log`. `more` adds to its configuration (the fleet test's PostgreSQL schema).
 */
export function startChild(
  options: Pick<CampaignOptions, "dir" | "sessions">,
  ledger: Ledger,
  inc: number,
  mode: ChildMode,
  drawn: Pick<ChildConfig, "seed" | "groupCommitMs" | "durability" | "staleAfterMs">,
  more: Pick<ChildConfig, "postgres" | "lifetimeMs" | "outstanding"> = { outstanding: ledger.outstanding() },
): ChildRun {
  const { dir } = options;
  const config: ChildConfig = {
    dir,
    mode,
    incarnation: inc,
    ...drawn,
    sessions: options.sessions,
    ...more,
  };
  // A file, not an argument: the outstanding list can outgrow the kernel's limit on one argument.
  // One per process: the fleet test runs several at once.
  const configPath = join(dir, `child-config-${inc}.json`);
  writeFileSync(configPath, JSON.stringify(config));
  const child = spawn(process.execPath, ["--import", HOOK, CHILD, configPath], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const reports = join(dir, "reports.log");
  const stderrLog = join(dir, "stderr.log");
  appendFileSync(
    stderrLog,
    `--- process ${inc} (${mode}, seed ${drawn.seed}, ${more.postgres === undefined ? `groupCommitMs ${drawn.groupCommitMs}, ${drawn.durability}` : `PostgreSQL ${more.postgres.schema} as ${more.postgres.processId}`}, staleAfterMs ${drawn.staleAfterMs ?? "default"})\n`,
  );
  let tail = "";
  let pending = "";
  let onReady: (ready: boolean) => void = () => {};
  const ready = new Promise<boolean>((resolve) => {
    onReady = resolve;
  });
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      if (line === "") continue;
      appendFileSync(reports, `${inc} ${line}\n`);
      let report: Report;
      try {
        report = JSON.parse(line) as Report;
      } catch {
        ledger.fail(`process ${inc} wrote a line that is not a report: ${line}`);
        continue;
      }
      ledger.apply(inc, report);
      if (report.t === "ready") onReady(true);
    }
  });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    appendFileSync(stderrLog, chunk);
    tail = (tail + chunk).slice(-4000);
  });
  const exit = new Promise<Exit>((resolve) => {
    child.on("close", (code, signal) => {
      onReady(false);
      // A line cut by the kill was never a whole report: the child had not finished writing it.
      if (pending !== "") appendFileSync(reports, `${inc} (torn) ${pending}\n`);
      resolve({ code, signal });
    });
  });
  return { process: child, ready, exit, stderrTail: () => tail };
}

/**
 * The file exactly as the dead process left it (WAL and all, before any recovery) must be sound. A
 * read-only connection reads the WAL without writing the database, so the next start still finds
 * what the kill left.
 */
function checkAfterKill(database: string, inc: number, ledger: Ledger): void {
  if (!existsSync(database)) return;
  let result: string;
  try {
    result = integrityCheck(database);
  } catch (error) {
    result = error instanceof Error ? error.message : String(error);
  }
  ledger.count("integrity checks after a kill");
  if (result !== "ok") ledger.fail(`after the kill of process ${inc}: PRAGMA integrity_check: ${result}`);
}

/** True when `ready` already resolved true (without waiting for it). */
async function settledYet(ready: Promise<boolean>): Promise<boolean> {
  return Promise.race([ready, Promise.resolve(false)]);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
