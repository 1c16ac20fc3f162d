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
import { TERMINAL_STATUSES } from "../../kernel/outcome.js";
import { openReader } from "../inspect/open-reader.js";
import type {
  DelegationSummary,
  InputSummary,
  SessionDetail,
  SessionLease,
  SessionSummary,
  StoreOverview,
  StuckWork,
  TurnSummary,
} from "../inspect/store-reader.js";

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

/** What `inspect` found; `--json` prints it as it is. */
export interface InspectReport {
  readonly store: StoreOverview;
  readonly sessions?: readonly SessionSummary[];
  readonly session?: SessionDetail;
  readonly inputs?: { readonly status: string; readonly items: readonly InputSummary[] };
  readonly delegations?: readonly DelegationSummary[];
  readonly held: readonly DelegationSummary[];
  readonly stuck: StuckWork & { readonly olderThanMs: number };
}

/** Every input status, live ones first. */
const STATUSES = ["queued", "running", ...TERMINAL_STATUSES];

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
      new Option("--inputs <status>", `inputs of one status (${STATUSES.join(", ")})`).choices(STATUSES),
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

// ---- text --------------------------------------------------------------------------------------

/** The report as text for a person. */
export function renderReport(report: InspectReport, nowMs: number): string {
  const lines: string[] = [];
  const { store } = report;
  const ago = (ms: number | undefined) => (ms === undefined ? "-" : `${duration(nowMs - ms)} ago`);
  lines.push(`store      ${store.location} (${store.kind}, schema ${store.schemaVersion})`);
  if (store.processes === undefined)
    lines.push(
      `held by    ${
        store.lock === undefined
          ? "no runtime"
          : `pid ${store.lock.pid} on ${store.lock.host} since ${ago(store.lock.sinceMs)} (${store.lock.holder})`
      }`,
    );
  else {
    const alive = store.processes.filter((p) => p.alive).length;
    lines.push(`processes  ${alive} alive, ${store.processes.length - alive} lapsed`);
    for (const p of store.processes)
      lines.push(
        `  ${p.id} (pid ${p.pid} on ${p.host}): ${p.alive ? "alive" : "lease lapsed"}, holds ${p.sessions} session${p.sessions === 1 ? "" : "s"}`,
      );
  }
  lines.push(`sessions   ${store.sessions}`);
  lines.push(`inputs     ${tally(store.inputs, STATUSES)}`);
  lines.push(`turns      ${store.runningTurns} running`);
  lines.push(
    `delegations ${tally(store.delegations, ["running", "pending", "held", "delivered", "dropped"])}`,
  );
  if (report.sessions !== undefined) {
    lines.push("", `SESSIONS (${report.sessions.length} of ${store.sessions})`);
    lines.push(...sessionTable(report.sessions, ago));
  }
  if (report.session !== undefined) lines.push("", ...sessionLines(report.session, ago));
  if (report.inputs !== undefined) {
    lines.push("", `INPUTS ${report.inputs.status} (${report.inputs.items.length})`);
    lines.push(...inputTable(report.inputs.items, ago));
  }
  if (report.delegations !== undefined) {
    lines.push("", `DELEGATIONS (newest ${report.delegations.length})`);
    lines.push(...delegationTable(report.delegations, ago));
  }
  lines.push("", `HELD COMPLETIONS (${report.held.length})`);
  if (report.held.length === 0) lines.push("  none");
  else {
    lines.push(...delegationTable(report.held, ago));
    lines.push("  confirm with runtime.delegations.deliverStale(id) or dropStale(id)");
  }
  const { stuck } = report;
  lines.push("", `STUCK (older than ${duration(stuck.olderThanMs)})`);
  if (stuck.longRunning.length === 0 && stuck.queuedNoTurn.length === 0) lines.push("  none");
  if (stuck.longRunning.length > 0) {
    lines.push(`  turns running longer (${stuck.longRunning.length}):`);
    lines.push(
      ...table(
        ["turn", "session", "attempt", "step", "started"],
        stuck.longRunning.map((t) => [
          t.id,
          t.sessionId,
          String(t.attempt),
          String(t.step),
          ago(t.startedAtMs),
        ]),
      ).map((l) => `  ${l}`),
    );
  }
  if (stuck.queuedNoTurn.length > 0) {
    lines.push(
      `  inputs queued in a session that runs no turn (${stuck.queuedNoTurn.length}): no runtime drives them,`,
      "  a wake was lost, or every turn slot is busy",
    );
    lines.push(...inputTable(stuck.queuedNoTurn, ago).map((l) => `  ${l}`));
  }
  if (stuck.expiredLeases !== undefined && stuck.expiredLeases.length > 0) {
    lines.push(
      `  sessions whose holder's lease lapsed (${stuck.expiredLeases.length}): a live process's next poll takes them over`,
    );
    lines.push(...sessionTable(stuck.expiredLeases, ago).map((l) => `  ${l}`));
  }
  return `${lines.join("\n")}\n`;
}

/** Sessions, with their lease on a store that has leases. */
function sessionTable(
  sessions: readonly SessionSummary[],
  ago: (ms: number | undefined) => string,
): string[] {
  const leases = sessions.some((s) => s.lease !== undefined);
  return table(
    [
      "session",
      "agent",
      "state",
      "inbox",
      ...(leases ? ["holder", "epoch"] : []),
      "last turn",
      "status",
      "ended",
    ],
    sessions.map((s) => [
      s.id,
      s.agent,
      s.state,
      String(s.inboxDepth),
      ...(leases ? [leaseHolder(s.lease), String(s.lease?.epoch ?? "-")] : []),
      s.lastTurn?.id ?? "-",
      s.lastTurn === undefined ? "-" : turnStatus(s.lastTurn),
      ago(s.lastTurn?.endedAtMs),
    ]),
  );
}

function leaseHolder(lease: SessionLease | undefined): string {
  if (lease?.owner === undefined) return "-";
  return lease.expired ? `${lease.owner} (lapsed)` : lease.owner;
}

function sessionLines(detail: SessionDetail, ago: (ms: number | undefined) => string): string[] {
  const { session } = detail;
  const held =
    session.lease === undefined ? "" : `, held by ${leaseHolder(session.lease)} epoch ${session.lease.epoch}`;
  const lines = [
    `SESSION ${session.id} (agent ${session.agent}, ${session.state}, inbox ${session.inboxDepth}${held}, created ${ago(session.createdAtMs)})`,
    "",
    `TURNS (newest ${detail.turns.length})`,
    ...table(
      ["turn", "attempt", "status", "inputs", "tokens in/out", "started", "ended"],
      detail.turns.map((t) => [
        t.id,
        String(t.attempt),
        turnStatus(t),
        String(t.inputIds.length),
        t.usage === undefined ? "-" : `${t.usage.inputTokens}/${t.usage.outputTokens}`,
        ago(t.startedAtMs),
        ago(t.endedAtMs),
      ]),
    ),
    "",
    `LIVE INPUTS (${detail.liveInputs.length})`,
    ...inputTable(detail.liveInputs, ago),
    "",
    `HISTORY (last ${detail.history.length} of ${detail.historyLength} messages)`,
  ];
  for (const message of detail.history) lines.push(`  ${messageLine(message)}`);
  return lines;
}

function inputTable(inputs: readonly InputSummary[], ago: (ms: number | undefined) => string): string[] {
  if (inputs.length === 0) return ["  none"];
  return table(
    ["input", "session", "policy", "status", "accepted", "turn", "delegation"],
    inputs.map((i) => [
      i.id,
      i.sessionId,
      i.policy,
      i.reason === undefined ? i.status : `${i.status} (${i.reason})`,
      ago(i.acceptedAtMs),
      i.turnId ?? "-",
      i.delegationId ?? "-",
    ]),
  );
}

function delegationTable(
  delegations: readonly DelegationSummary[],
  ago: (ms: number | undefined) => string,
): string[] {
  if (delegations.length === 0) return ["  none"];
  return table(
    ["delegation", "parent", "depth", "status", "delivery", "dispatched", "goal"],
    delegations.map((d) => [
      d.id,
      d.parentSessionId,
      String(d.depth),
      d.status,
      d.delivery === undefined
        ? "-"
        : d.deliveryReason === undefined
          ? d.delivery
          : `${d.delivery} (${d.deliveryReason})`,
      ago(d.dispatchedAtMs),
      clip(d.goal, 40),
    ]),
  );
}

function turnStatus(turn: TurnSummary): string {
  return turn.reason === undefined || turn.reason === "ok" ? turn.status : `${turn.status} (${turn.reason})`;
}

function messageLine(message: unknown): string {
  const m = message as { role?: string; content?: unknown };
  const content =
    typeof m.content === "string"
      ? m.content
      : Array.isArray(m.content)
        ? m.content
            .map((p: { type?: string; text?: string; toolName?: string; output?: { value?: string } }) =>
              p.type === "text"
                ? p.text
                : p.type === "tool-call"
                  ? `[call ${p.toolName}]`
                  : p.type === "tool-result"
                    ? `[${p.toolName}: ${clip(p.output?.value ?? "", 60)}]`
                    : `[${p.type}]`,
            )
            .join(" ")
        : JSON.stringify(m.content);
  return `${(m.role ?? "?").padEnd(9)} ${clip(content ?? "", 100)}`;
}

function table(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  if (rows.length === 0) return ["  none"];
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    `  ${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")}`.trimEnd();
  return [line(headers), ...rows.map(line)];
}

function tally(counts: Readonly<Record<string, number>>, order: readonly string[]): string {
  const keys = [
    ...order.filter((k) => k in counts),
    ...Object.keys(counts).filter((k) => !order.includes(k)),
  ];
  return keys.length === 0 ? "none" : keys.map((k) => `${counts[k]} ${k}`).join(", ");
}

function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ");
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function duration(ms: number): string {
  if (ms < 0) return "0 s";
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1_000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 172_800_000) return `${Math.round(ms / 3_600_000)} h`;
  return `${Math.round(ms / 86_400_000)} d`;
}
