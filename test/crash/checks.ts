/**
 * The final checks of a crash campaign, run on the SQLite file after the last (clean) process
 * stopped. They compare three witnesses that do not depend on each other: the parent's ledger (what
 * a host was told), the effect log (what tools and function agents actually did, as it happened),
 * and the store itself.
 *
 * The rules:
 * - **The file is sound**: `PRAGMA integrity_check` answers `ok`, on a read-only connection (also
 *   after every kill, on the file exactly as the dead process left it; see `campaign.ts`).
 * - **Nothing is left (P3, P4)**: reopening the store recovers no queued input and no interrupted turn.
 * - **Exactly one terminal state (P3)**: every input the parent saw durably accepted is in the store,
 *   terminal, and with the status (and turn) its handle settled with, when one settled.
 * - **History is exact**: every user message of the history carries a distinct token (no message
 *   written twice); an input that ran in a turn (completed, failed, interrupted, max_iterations) has
 *   its message in its session's history exactly once, a withdrawn one never, a cancelled one at most
 *   once (cancelled while queued, or while steered and unseen, it never reached the model); every tool
 *   call is answered by the next message, tool call ids are unique; a completed model turn's output is
 *   an assistant message after its input.
 * - **A completed turn ran to completion once**: a function turn's committed output names the run it
 *   came from; that run is the turn's last (nothing of the turn ran after the run whose end was
 *   committed), and nothing of a turn ran in a process after the one that reported it settled.
 * - **At-least-once effects, bounded**: a tool call or function run repeats only across kills (never
 *   twice in one process), in at most `maxAttempts` processes, and never for an agent whose crashed
 *   turns fail instead of resuming; every tool result in history names an execution that happened,
 *   in that session, for that call, and is written there once.
 * - **One turn per session (P2)**: within a process, a session's function runs never overlap.
 * - **Background children**: the rules of `delegation-checks.ts`. A child's session is checked as any
 *   other (history, tool results, effect repeats by the agent it was derived from).
 *
 * This file is longer than most because the rules share the indexes they read.
 *
 * @packageDocumentation
 */
import { existsSync, readFileSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import type { Message, Store } from "../../src/index.js";
import {
  type Count,
  checkDelegations,
  type DelegationRows,
  type Fail,
  readSqliteDelegationRows,
} from "./delegation-checks.js";
import type { Ledger } from "./ledger.js";
import { EFFECT_PATTERN, type Marker, outputDigest, parseLines, pathsOf, TOKEN_PATTERN } from "./protocol.js";
import { type AgentName, agentOfSession, failsOnCrash, MAX_ATTEMPTS, sessionId } from "./workload.js";

export interface FinalState {
  readonly violations: string[];
  readonly counts: Record<string, number>;
}

interface SessionIndex {
  readonly history: readonly Message[];
  /** Token → positions of the user messages that carry it. */
  readonly tokens: Map<string, number[]>;
}

/** Runs every rule; `store` is opened here and closed before returning. */
export async function checkFinalState(options: {
  readonly dir: string;
  readonly sessions: number;
  readonly ledger: Ledger;
  readonly store: Store;
  /**
   * The fleet test's PostgreSQL schema: its rows instead of the SQLite file's (which also skips
   * `PRAGMA integrity_check`), and processes that ran at the same time, not one after another.
   */
  readonly shared?: { readonly rows: DelegationRows } | undefined;
}): Promise<FinalState> {
  const { dir, ledger, store } = options;
  const paths = pathsOf(dir);
  const out: FinalState = { violations: [], counts: {} };
  const fail = (message: string) => out.violations.push(message);
  const count = (what: string, n = 1) => {
    out.counts[what] = (out.counts[what] ?? 0) + n;
  };

  if (options.shared === undefined) {
    const integrity = integrityCheck(paths.database);
    if (integrity !== "ok") fail(`PRAGMA integrity_check: ${integrity}`);
  }

  const recovered = await store.open();
  if (recovered.queued.length > 0)
    fail(
      `after the final drain ${recovered.queued.length} inputs are still queued: ${ids(recovered.queued)}`,
    );
  if (recovered.interrupted.length > 0)
    fail(
      `after the final drain ${recovered.interrupted.length} turns are still running: ${ids(recovered.interrupted.map((t) => ({ id: t.turnId })))}`,
    );

  const markers = existsSync(paths.effects) ? parseLines<Marker>(readFileSync(paths.effects, "utf8")) : [];
  count("effect markers", markers.length);
  // A child's session is stored under the agent it was derived from.
  const agents = new Map(recovered.sessions.map((session) => [session.id, session.agent as AgentName]));
  const sessions = new Map<string, SessionIndex>();
  const sessionIds = new Set([
    ...Array.from({ length: options.sessions }, (_, i) => sessionId(i)),
    ...agents.keys(),
  ]);
  for (const id of sessionIds) sessions.set(id, indexSession(id, store.history(id), markers, fail, count));

  const committed = new Map<string, { nonce: string; session: string }>();
  const settledIn = new Map<string, number>();
  for (const fact of ledger.inputs.values()) {
    const snap = store.input(fact.id);
    if (snap === undefined) {
      fail(
        `input ${fact.id} (${fact.token}, accepted in process ${fact.acceptedInc}) is not in the store: lost`,
      );
      continue;
    }
    count(`final ${snap.status}${snap.outcome === undefined ? "" : `/${snap.outcome.reason.code}`}`);
    if (snap.status === "queued" || snap.status === "running") {
      fail(`input ${fact.id} (${fact.token}) is still ${snap.status} after the final drain`);
      continue;
    }
    const settled = fact.settled;
    if (settled !== undefined) {
      if (settled.status !== snap.status)
        fail(
          `input ${fact.id} settled ${settled.status} (process ${settled.inc}) but the store says ${snap.status}`,
        );
      if (settled.output !== outputDigest(snap.outcome?.output))
        fail(
          `input ${fact.id} settled ${settled.status} with output ${settled.output} (process ${settled.inc}), but the store holds another output: ${JSON.stringify(snap.outcome?.output)?.slice(0, 200)}`,
        );
      if (settled.turnId !== undefined && settled.turnId !== snap.turnId)
        fail(
          `input ${fact.id} settled in turn ${settled.turnId} but the store says turn ${String(snap.turnId)}`,
        );
      if (snap.turnId !== undefined)
        settledIn.set(snap.turnId, Math.min(settledIn.get(snap.turnId) ?? settled.inc, settled.inc));
    }
    const index = sessions.get(fact.session)!;
    const seen = index.tokens.get(fact.token)?.length ?? 0;
    const expected =
      snap.status === "withdrawn" || (snap.status === "cancelled" && snap.turnId === undefined)
        ? [0]
        : snap.status === "cancelled"
          ? [0, 1]
          : [1];
    if (!expected.includes(seen))
      fail(
        `input ${fact.id} (${fact.token}) ended ${snap.status}/${snap.outcome?.reason.code} in turn ${String(snap.turnId)}; its message is in ${fact.session}'s history ${seen} times, expected ${expected.join(" or ")}`,
      );
    if (snap.status !== "completed" || snap.turnId === undefined) continue;
    const output = snap.outcome?.output;
    if (agentOfSession(fact.session).startsWith("fn-")) {
      const nonce = (output as { nonce?: unknown } | null)?.nonce;
      if (typeof nonce !== "string")
        fail(`input ${fact.id} completed without the function's nonce: ${JSON.stringify(output)}`);
      else committed.set(snap.turnId, { nonce, session: fact.session });
    } else if (typeof output === "string" && seen === 1) {
      const from = index.tokens.get(fact.token)![0]!;
      if (!index.history.slice(from).some((m) => m.role === "assistant" && textOf(m) === output))
        fail(
          `input ${fact.id} (${fact.token}) completed with an output that is not in ${fact.session}'s history after it`,
        );
    }
  }
  checkRuns(markers, committed, settledIn, (session) => agents.get(session) ?? agentOfSession(session), {
    fail,
    count,
    concurrent: options.shared !== undefined,
  });
  checkDelegations({
    rows: options.shared?.rows ?? readSqliteDelegationRows(paths.database),
    ledger,
    fail,
    count,
  });
  await store.close();
  return out;
}

/** `PRAGMA integrity_check` on a read-only connection: `ok`, or what SQLite found. */
export function integrityCheck(path: string): string {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const rows = db.prepare("PRAGMA integrity_check").all() as { integrity_check: string }[];
    return rows.map((row) => row.integrity_check).join("; ");
  } finally {
    db.close();
  }
}

/** Indexes a session's history and checks its shape and the tool results it holds. */
function indexSession(
  session: string,
  history: readonly Message[],
  markers: readonly Marker[],
  fail: Fail,
  count: Count,
): SessionIndex {
  count("history messages", history.length);
  const tokens = new Map<string, number[]>();
  const callIds = new Set<string>();
  const nonces = new Map<string, Extract<Marker, { k: "tool" }>>();
  for (const m of markers) if (m.k === "tool" && m.session === session) nonces.set(m.nonce, m);
  const shown = new Set<string>();
  history.forEach((message, at) => {
    if (message.role === "user") {
      for (const part of message.content) {
        for (const match of (part.type === "text" ? part.text : "").matchAll(TOKEN_PATTERN)) {
          const seen = tokens.get(match[0]) ?? [];
          seen.push(at);
          tokens.set(match[0], seen);
        }
      }
    } else if (message.role === "assistant") {
      const calls = message.content.flatMap((part) => (part.type === "tool-call" ? [part.toolCallId] : []));
      for (const id of calls) {
        if (callIds.has(id)) fail(`${session}: tool call id ${id} appears twice in history (message ${at})`);
        callIds.add(id);
      }
      const next = history[at + 1];
      const answered = next?.role === "tool" ? next.content.map((r) => r.toolCallId) : [];
      if (calls.length > 0 && answered.join() !== calls.join())
        fail(
          `${session}: message ${at} calls tools ${calls.join()}, the next message answers ${answered.join() || "nothing"}`,
        );
    } else if (message.role === "tool") {
      const previous = history[at - 1];
      if (previous?.role !== "assistant")
        fail(`${session}: tool results at message ${at} follow no tool calls`);
      for (const result of message.content) {
        const nonce =
          result.output.type === "text" ? EFFECT_PATTERN.exec(result.output.value)?.[1] : undefined;
        if (nonce === undefined) continue;
        count("tool results in history");
        const marker = nonces.get(nonce);
        if (shown.has(nonce)) fail(`${session}: the result of tool execution ${nonce} is in history twice`);
        shown.add(nonce);
        if (marker === undefined || marker.callId !== result.toolCallId)
          fail(
            `${session}: history holds the result of tool execution ${nonce} for call ${result.toolCallId}, which no execution of that call in this session produced`,
          );
      }
    }
  });
  for (const [token, at] of tokens) {
    if (at.length > 1)
      fail(
        `${session}: the user message of ${token} is in history ${at.length} times (messages ${at.join(", ")})`,
      );
  }
  return { history, tokens };
}

/** The effect log against what was committed and reported: completion once, bounded repeats, P2. */
function checkRuns(
  markers: readonly Marker[],
  committed: ReadonlyMap<string, { nonce: string; session: string }>,
  settledIn: ReadonlyMap<string, number>,
  agentOf: (session: string) => AgentName,
  options: {
    readonly fail: Fail;
    readonly count: Count;
    /**
     * Processes ran at the same time (the fleet test): a process's number says nothing of when it
     * ran, so "after the process that reported it settled" cannot be judged from it (the database's
     * turn times are checked instead, `test/fleet/fleet-checks.ts`), and each process's runs are
     * followed on their own.
     */
    readonly concurrent: boolean;
  },
): void {
  const { fail, count, concurrent } = options;
  const lastAt = new Map<string, number>();
  const sessionOf = new Map<string, string>();
  /** Per effect (a tool call of a turn, or a function turn's run): the processes that performed it. */
  const effects = new Map<string, { kind: string; turnId: string; processes: Set<number> }>();
  const perProcess = new Set<string>();
  const open = new Map<string, string>();
  let inc = -1;
  markers.forEach((m, at) => {
    if (m.inc !== inc && !concurrent) {
      inc = m.inc;
      open.clear();
    }
    lastAt.set(m.turnId, at);
    sessionOf.set(m.turnId, m.session);
    const late = settledIn.get(m.turnId);
    if (late !== undefined && m.inc > late && !concurrent)
      fail(
        `turn ${m.turnId} ran (${m.k} ${m.nonce}) in process ${m.inc}, after process ${late} reported it settled`,
      );
    const key = m.k === "tool" ? `${m.turnId} ${m.callId}` : m.k === "fn-start" ? m.turnId : undefined;
    if (key !== undefined) {
      if (perProcess.has(`${m.inc} ${key}`)) fail(`${m.k} of ${key} ran twice in process ${m.inc}`);
      perProcess.add(`${m.inc} ${key}`);
      const effect = effects.get(key) ?? { kind: m.k, turnId: m.turnId, processes: new Set<number>() };
      effect.processes.add(m.inc);
      effects.set(key, effect);
    }
    const where = concurrent ? `${m.inc} ${m.session}` : m.session;
    if (m.k === "fn-start") {
      const running = open.get(where);
      if (running !== undefined)
        fail(
          `process ${m.inc}: ${m.session} started a run of turn ${m.turnId} while turn ${running} still ran`,
        );
      open.set(where, m.turnId);
    } else if (m.k !== "tool" && open.get(where) === m.turnId) open.delete(where);
  });
  for (const [key, { kind, turnId, processes }] of effects) {
    const agent = agentOf(sessionOf.get(turnId)!);
    if (processes.size > 1)
      count(`${kind === "tool" ? "tool calls" : "function turns"} run again after a kill`);
    const limit = failsOnCrash(agent) ? 1 : MAX_ATTEMPTS;
    if (processes.size > limit)
      fail(
        `${kind} ${key} (${agent}) ran in ${processes.size} processes (${[...processes].join(", ")}); at most ${limit} may`,
      );
  }
  for (const [turnId, { nonce }] of committed) {
    const at = markers.findIndex((m) => m.k === "fn-done" && m.nonce === nonce && m.turnId === turnId);
    if (at < 0) fail(`turn ${turnId} committed the output of run ${nonce}, which never finished`);
    else if (lastAt.get(turnId)! > at)
      fail(
        `turn ${turnId} ran again (${JSON.stringify(markers[lastAt.get(turnId)!])}) after the run ${nonce} whose completion it committed`,
      );
  }
}

function textOf(message: Message): string {
  if (message.role === "system") return message.content;
  return message.content.map((part) => (part.type === "text" ? part.text : "")).join("");
}

function ids(items: readonly { id: string }[]): string {
  const shown = items.slice(0, 10).map((item) => item.id);
  return items.length > 10 ? `${shown.join(", ")}, …` : shown.join(", ");
}
