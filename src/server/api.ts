/**
 * The handlers of the `/v1` routes: each checks the token's scope, then calls the runtime. An
 * input or delegation outside the token's scope answers 404, exactly as an unknown one, so ids
 * cannot be probed; a session outside it answers 403 whether or not it exists.
 *
 * @packageDocumentation
 */
import type {
  Accepted,
  DelegationView,
  InputView,
  SendBody,
  SessionView,
  TokenView,
  WirePolicy,
} from "../client/wire.js";
import { VERBS } from "../client/wire.js";
import { isOffstageError } from "../errors.js";
import type { DelegationInfo } from "../runtime/delegation/delegations.js";
import type { Runtime } from "../runtime/runtime.js";
import type { Session } from "../runtime/session.js";
import type { TurnHandle } from "../runtime/turn-handle.js";
import { HttpError } from "./http-error.js";
import {
  type ApiContext,
  grantOf,
  headerOf,
  idParam,
  integerOf,
  jsonBody,
  requireScope,
  requireVerb,
} from "./request.js";
import { ROUTES } from "./routes.js";
import { allows } from "./tokens.js";

/** What the handlers need of the server. */
export interface ApiDeps {
  readonly runtime: Runtime;
  /** The agent of a session a send names for the first time, when the body names none. */
  readonly defaultAgent: string | undefined;
}

const HISTORY_PAGE_MAX = 1_000;

/** What the calling token may do (any valid token may ask). */
export function token(c: ApiContext): Response {
  const grant = grantOf(c);
  const view: TokenView = {
    name: grant.name,
    sessionPrefix: grant.sessionPrefix,
    verbs: VERBS.filter((verb) => grant.verbs.has(verb)),
  };
  return c.json(view);
}

export async function send(c: ApiContext, deps: ApiDeps): Promise<Response> {
  const sessionId = idParam(c);
  requireScope(c, "send", sessionId);
  const key = headerOf(c, "idempotency-key");
  if (key !== undefined && (key.length === 0 || key.length > 256))
    throw new HttpError(400, "INVALID_ARGUMENT", "Idempotency-Key must be 1-256 characters");
  const body = await jsonBody<SendBody>(c, ROUTES.send);
  const session = sessionFor(deps, sessionId, body.agent);
  const handle = session.send(body.payload, {
    ...(body.policy === undefined ? {} : { policy: body.policy }),
    ...(key === undefined ? {} : { idempotencyKey: key }),
  });
  const receipt = await handle.stored();
  const accepted: Accepted = {
    inputId: handle.id,
    sessionId,
    turnId: handle.turnId ?? null,
    status: handle.status,
    receipt,
  };
  return c.json(accepted, 202);
}

export function input(c: ApiContext, deps: ApiDeps): Response {
  return c.json(view(visibleInput(c, deps, "read")));
}

export async function cancel(c: ApiContext, deps: ApiDeps): Promise<Response> {
  const handle = visibleInput(c, deps, "cancel");
  const body = await jsonBody<{ mode?: "immediate" | "after_step"; reason?: string }>(c, ROUTES.cancel);
  await handle.cancel(body);
  return c.json(view(handle));
}

export async function withdraw(c: ApiContext, deps: ApiDeps): Promise<Response> {
  const handle = visibleInput(c, deps, "withdraw");
  handle.withdraw();
  // Its end is told once committed: answer with the settled input.
  await handle.result().catch(() => undefined);
  return c.json(view(handle));
}

export function sessions(c: ApiContext, deps: ApiDeps): Response {
  const grant = requireVerb(c, "read");
  const list = [];
  for (const id of deps.runtime.sessionIds()) {
    if (!allows(grant, "read", id)) continue;
    const session = deps.runtime.session(id);
    const inbox = session.inbox();
    list.push({ id, agent: session.agent, queued: inbox.queued.length, running: inbox.running ?? null });
    if (list.length === 1_000) break;
  }
  return c.json({ sessions: list });
}

export function session(c: ApiContext, deps: ApiDeps): Response {
  const sessionId = idParam(c);
  requireScope(c, "read", sessionId);
  const found = existing(deps, sessionId);
  const history = found.history();
  const from = integerOf(c.req.query("from"), "from", 9) ?? Math.max(0, history.length - 50);
  const limit = Math.min(integerOf(c.req.query("limit"), "limit", 4) ?? 50, HISTORY_PAGE_MAX);
  const inbox = found.inbox();
  const answer: SessionView = {
    id: sessionId,
    agent: found.agent,
    history: history.slice(from, from + limit),
    historyFrom: from,
    historyTotal: history.length,
    inbox: {
      queued: inbox.queued.map((q) => ({ inputId: q.inputId, policy: q.policy as WirePolicy })),
      running: inbox.running ?? null,
    },
  };
  return c.json(answer);
}

export function delegations(c: ApiContext, deps: ApiDeps): Response {
  const grant = requireVerb(c, "delegations");
  const parent = c.req.query("parent");
  const list = deps.runtime.delegations
    .list(parent === undefined ? {} : { parentSessionId: parent })
    .filter((d) => allows(grant, "delegations", d.parentSessionId))
    .map(delegationView);
  return c.json({ delegations: list });
}

export async function cancelDelegation(c: ApiContext, deps: ApiDeps): Promise<Response> {
  const id = idParam(c);
  const grant = requireVerb(c, "delegations");
  const found = deps.runtime.delegations.get(id);
  if (found === undefined || !allows(grant, "delegations", found.parentSessionId))
    throw new HttpError(404, "NOT_FOUND", "no such delegation");
  const body = await jsonBody<{ reason?: string }>(c, ROUTES.cancelDelegation);
  return c.json({ cancelled: deps.runtime.delegations.cancel(id, body.reason) });
}

export async function interruptAll(c: ApiContext, deps: ApiDeps): Promise<Response> {
  requireScope(c, "delegations", undefined);
  const body = await jsonBody<{ reason?: string }>(c, ROUTES.interruptAll);
  return c.json({ count: deps.runtime.delegations.interruptAll(body.reason) });
}

export async function stopChildren(c: ApiContext, deps: ApiDeps): Promise<Response> {
  const sessionId = idParam(c);
  requireScope(c, "delegations", sessionId);
  const body = await jsonBody<{ recursive?: boolean; reason?: string }>(c, ROUTES.stopChildren);
  return c.json({ count: deps.runtime.delegations.stopChildren(sessionId, body) });
}

/** The session, created with `agent` (or the default agent) when it is new. */
function sessionFor(deps: ApiDeps, sessionId: string, agent: string | undefined): Session {
  if (agent !== undefined) return deps.runtime.session(sessionId, { agent });
  try {
    return deps.runtime.session(sessionId);
  } catch (error) {
    if (!isOffstageError(error, "UNKNOWN_SESSION") || deps.defaultAgent === undefined) throw error;
    return deps.runtime.session(sessionId, { agent: deps.defaultAgent });
  }
}

/** A session this process knows; 404 otherwise. */
export function existing(deps: ApiDeps, sessionId: string): Session {
  try {
    return deps.runtime.session(sessionId);
  } catch (error) {
    if (isOffstageError(error, "UNKNOWN_SESSION")) throw new HttpError(404, "NOT_FOUND", "no such session");
    throw error;
  }
}

/** The input named in the path, if the token may `verb` its session; 404 otherwise, as for an unknown id. */
function visibleInput(c: ApiContext, deps: ApiDeps, verb: "read" | "cancel" | "withdraw"): TurnHandle {
  const id = idParam(c);
  const grant = requireVerb(c, verb);
  const handle = deps.runtime.handle(id);
  if (handle === undefined || !allows(grant, verb, handle.sessionId))
    throw new HttpError(404, "NOT_FOUND", "no such input");
  return handle;
}

function view(handle: TurnHandle): InputView {
  return {
    inputId: handle.id,
    sessionId: handle.sessionId,
    status: handle.status,
    turnId: handle.turnId ?? null,
    outcome: handle.poll()?.outcome ?? null,
  };
}

function delegationView(d: DelegationInfo): DelegationView {
  return {
    id: d.id,
    parentSessionId: d.parentSessionId,
    childSessionId: d.childSessionId,
    depth: d.depth,
    running: d.running,
    goal: d.spec.goal,
    status: d.completion?.status ?? null,
    delivery: d.delivery ?? null,
    dispatchedAtMs: d.dispatchedAtMs,
  };
}
