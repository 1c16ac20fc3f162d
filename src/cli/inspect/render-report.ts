/**
 * The report `offstage inspect` prints: what it found in a store ({@link InspectReport}, printed as
 * it is with `--json`) and its text for a person ({@link renderReport}).
 *
 * @packageDocumentation
 */
import { TERMINAL_STATUSES } from "../../kernel/outcome.js";
import type {
  DelegationSummary,
  InputSummary,
  SessionDetail,
  SessionLease,
  SessionSummary,
  StoreOverview,
  StuckWork,
  TurnSummary,
} from "./store-reader.js";

/** Every input status, live ones first. */
export const INPUT_STATUSES = ["queued", "running", ...TERMINAL_STATUSES];

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
  lines.push(`inputs     ${tally(store.inputs, INPUT_STATUSES)}`);
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
