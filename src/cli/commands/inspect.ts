/**
 * `offstage inspect <db | postgres-url>`: what a store holds, for an operator — sessions (state, inbox
 * depth, last turn), one session's turns and history, inputs by status, delegations and their
 * delivery, completions held for confirmation, and stuck work (turns running longer than a threshold,
 * input queued that long in a session that runs no turn). Read-only and safe on a live store: it opens
 * the store for reading only and never writes (see `inspect/sqlite-reader.ts` and
 * `inspect/postgres-reader.ts`). On PostgreSQL it also shows the leases: which process holds each
 * session, its epoch, the processes alive, and leases that lapsed. `--json` prints the same report as
 * one JSON document for scripts.
 *
 * @packageDocumentation
 */
import { type Command, InvalidArgumentError, Option } from "commander";
import { isOffstageError } from "../../errors.js";
import { openReader } from "../inspect/open-reader.js";
import { INPUT_STATUSES, type InspectReport, renderReport } from "../inspect/render-report.js";

/** Options of {@link runInspect}. */
export interface InspectOptions {
  /** A SQLite store file, or a `postgres://` URL. */
  readonly target: string;
  readonly json: boolean;
  /** Show this session: its turns, live inputs and history. */
  readonly session?: string | undefined;
  /** List inputs of this status (`queued`, `running`, `completed`, ...). */
  readonly inputs?: string | undefined;
  /** List delegations (newest first). */
  readonly delegations?: boolean | undefined;
  /** Work older than this counts as stuck (default 60 000 ms). */
  readonly stuckAfterMs?: number | undefined;
  /** Rows per list (default 50). */
  readonly limit?: number | undefined;
  /** How long to wait for a connection that holds the store exclusively. */
  readonly busyTimeoutMs?: number | undefined;
  /** PostgreSQL: the store's schema (default `offstage`). */
  readonly schema?: string | undefined;
  readonly out: NodeJS.WritableStream;
  readonly err: NodeJS.WritableStream;
  /** The time stuck work is judged against (default now). */
  readonly nowMs?: number | undefined;
}

/** Runs the command and returns the process exit code (0, 1 for a store it cannot read, 2 for an unknown session). */
export async function runInspect(options: InspectOptions): Promise<number> {
  let reader: Awaited<ReturnType<typeof openReader>> | undefined;
  try {
    reader = await openReader(options.target, {
      busyTimeoutMs: options.busyTimeoutMs,
      schema: options.schema,
    });
    const limit = options.limit ?? 50;
    const nowMs = options.nowMs ?? Date.now();
    const olderThanMs = options.stuckAfterMs ?? 60_000;
    const store = await reader.overview();
    const held = await reader.held(limit);
    const stuck = { ...(await reader.stuck(nowMs, olderThanMs, limit)), olderThanMs };
    let report: InspectReport;
    if (options.session !== undefined) {
      const session = await reader.session(options.session, limit);
      if (session === undefined) {
        options.err.write(
          `offstage inspect: no session ${JSON.stringify(options.session)} in ${options.target}\n`,
        );
        return 2;
      }
      report = { store, session, held, stuck };
    } else if (options.inputs !== undefined) {
      report = {
        store,
        inputs: { status: options.inputs, items: await reader.inputs(options.inputs, limit) },
        held,
        stuck,
      };
    } else if (options.delegations === true) {
      report = { store, delegations: await reader.delegations(limit), held, stuck };
    } else {
      report = {
        store,
        sessions: await reader.sessions(limit),
        delegations: await reader.delegations(10),
        held,
        stuck,
      };
    }
    options.out.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report, nowMs));
    return 0;
  } catch (error) {
    const code = isOffstageError(error) ? ` [${error.code}]` : "";
    options.err.write(`offstage inspect${code}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    await reader?.close();
  }
}

/** Registers `inspect` on the program. */
export function registerInspect(program: Command): void {
  program
    .command("inspect")
    .description("show what a store holds: sessions, turns, inputs, delegations, stuck work (read-only)")
    .argument("<store>", "a SQLite store file, or a postgres:// URL")
    .addOption(new Option("--schema <name>", "PostgreSQL: the store's schema (default offstage)"))
    .addOption(new Option("--session <id>", "one session: its turns, live inputs and history"))
    .addOption(
      new Option("--inputs <status>", `inputs of one status (${INPUT_STATUSES.join(", ")})`).choices(
        INPUT_STATUSES,
      ),
    )
    .addOption(new Option("--delegations", "every delegation, newest first, with its delivery"))
    .addOption(
      new Option("--stuck-after <ms>", "work older than this counts as stuck")
        .default(60_000)
        .argParser(positive),
    )
    .addOption(new Option("--limit <n>", "rows per list").default(50).argParser(positive))
    .addOption(new Option("--json", "print the report as JSON"))
    .action(
      async (
        target: string,
        o: {
          session?: string;
          inputs?: string;
          delegations?: boolean;
          stuckAfter: number;
          limit: number;
          json?: boolean;
          schema?: string;
        },
      ) => {
        process.exitCode = await runInspect({
          target,
          json: o.json === true,
          session: o.session,
          inputs: o.inputs,
          delegations: o.delegations,
          stuckAfterMs: o.stuckAfter,
          limit: o.limit,
          schema: o.schema,
          out: process.stdout,
          err: process.stderr,
        });
      },
    );
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new InvalidArgumentError(`must be a positive integer; got ${JSON.stringify(value)}`);
  return n;
}
