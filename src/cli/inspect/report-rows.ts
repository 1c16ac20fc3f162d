/**
 * Rows of a store's tables as the inspector's report shapes. The SQLite and PostgreSQL stores keep
 * the same columns (JSON as text, times in milliseconds), so both readers map their rows here; a
 * PostgreSQL `BIGINT` arrives as text and is read as a number.
 *
 * @packageDocumentation
 */
import type {
  DelegationSummary,
  InputSummary,
  SessionDetail,
  SessionSummary,
  TurnSummary,
} from "./store-reader.js";

/** One row of a query, by column name. */
export type Row = Record<string, unknown>;

export function sessionOf(
  row: Row,
  queued: Map<string, number>,
  last: Map<string, TurnSummary>,
): SessionSummary {
  const id = String(row.id);
  const inboxDepth = queued.get(id) ?? 0;
  const lastTurn = last.get(id);
  return {
    id,
    agent: String(row.agent),
    createdAtMs: Number(row.created_at_ms),
    state: lastTurn?.status === "running" ? "running" : inboxDepth > 0 ? "queued" : "idle",
    inboxDepth,
    lastTurn,
  };
}

/**
 * One session's detail from its row, its turns (newest first), its live inputs and its history rows
 * (oldest first, each a JSON array of messages); `summarize` maps the row (default {@link sessionOf}).
 */
export function detailOf(
  row: Row,
  turns: TurnSummary[],
  liveInputs: InputSummary[],
  historyRows: readonly Row[],
  limit: number,
  summarize: typeof sessionOf = sessionOf,
): SessionDetail {
  const id = String(row.id);
  const history: unknown[] = [];
  for (const r of historyRows) history.push(...(JSON.parse(String(r.messages)) as unknown[]));
  const queued = new Map([[id, liveInputs.filter((i) => i.status === "queued").length]]);
  const latest = turns[0];
  return {
    session: summarize(row, queued, new Map(latest === undefined ? [] : [[id, latest]])),
    turns,
    liveInputs,
    history: history.slice(-limit),
    historyLength: history.length,
  };
}

export function turnOf(row: Row): TurnSummary {
  const outcome = parse(row.outcome) as { status?: string; reason?: { code?: string } } | undefined;
  const usage = parse(row.usage) as TurnSummary["usage"];
  return {
    id: String(row.id),
    sessionId: String(row.session_id),
    attempt: Number(row.attempt),
    inputIds: (parse(row.input_ids) as string[] | undefined) ?? [],
    startedAtMs: Number(row.started_at_ms),
    step: Number(row.step),
    status: row.ended_at_ms === null ? "running" : (outcome?.status ?? "ended"),
    reason: outcome?.reason?.code,
    endedAtMs: row.ended_at_ms === null ? undefined : Number(row.ended_at_ms),
    usage,
  };
}

export function inputOf(row: Row): InputSummary {
  const outcome = parse(row.outcome) as { reason?: { code?: string } } | undefined;
  return {
    id: String(row.id),
    sessionId: String(row.session_id),
    seq: Number(row.seq),
    policy: String(row.policy),
    status: String(row.status),
    acceptedAtMs: Number(row.accepted_at_ms),
    endedAtMs: row.ended_at_ms === null ? undefined : Number(row.ended_at_ms),
    turnId: row.turn_id === null ? undefined : String(row.turn_id),
    delegationId: row.delegation_id === null ? undefined : String(row.delegation_id),
    reason: outcome?.reason?.code,
  };
}

export function delegationOf(row: Row): DelegationSummary {
  const record = (parse(row.record) ?? {}) as {
    childSessionId?: string;
    depth?: number;
    spec?: { goal?: string };
    dispatchedAtMs?: number;
  };
  const completion = parse(row.completion) as { status?: string; completedAtMs?: number } | undefined;
  return {
    id: String(row.id),
    parentSessionId: String(row.parent_session_id),
    childSessionId: String(record.childSessionId ?? ""),
    depth: Number(record.depth ?? 0),
    goal: String(record.spec?.goal ?? ""),
    dispatchedAtMs: Number(record.dispatchedAtMs ?? 0),
    status: completion === undefined ? "running" : String(completion.status ?? "completed"),
    completedAtMs: completion?.completedAtMs,
    delivery: completion === undefined ? undefined : String(row.delivery ?? "pending"),
    deliveryReason: row.delivery_reason === null ? undefined : String(row.delivery_reason),
    deliveryInputId: row.delivery_input_id === null ? undefined : String(row.delivery_input_id),
  };
}

/** JSON text of a column, or `undefined` for NULL or text that is not JSON. */
export function parse(value: unknown): unknown {
  if (typeof value !== "string") return undefined;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}
