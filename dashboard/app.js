// The dashboard of `offstage serve` (/ui): plain DOM on the package's own client, no build step and
// nothing fetched from elsewhere. Every call carries the token typed in the header (or passed as
// `#token=…`), so the page shows, and its buttons do, only what that token may.
import { createClient } from "./client/index.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;
let client;
let selected;
let follow;
/** What the token may do (`GET /v1/token`): { name, sessionPrefix, verbs }. */
let grant;
/**
 * Turns of the selected session, by id: { turnId, startedAtMs, endedAtMs, status, inputIds,
 * steered: [{ inputId, atMs }], tools }. `inputIds` are those it started with: more than one is a
 * merged turn.
 */
let turns = new Map();
/** The selected session's inputs, by id: { policy, turnIds } (the turns that took it). */
let inputs = new Map();

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value);
  }
  for (const child of children.flat()) if (child !== undefined && child !== null) el.append(child);
  return el;
}

function fill(id, title, ...content) {
  $(id).replaceChildren(h("h2", {}, title), ...content.flat());
}

function failure(error) {
  return h("p", { class: "error" }, `${error.code ?? "ERROR"}: ${error.message}`);
}

async function act(label, action) {
  try {
    await action();
    $("state").textContent = `${label}: done`;
  } catch (error) {
    $("state").textContent = `${label}: ${error.code ?? ""} ${error.message}`;
  }
  await refresh();
}

async function refresh() {
  if (client === undefined) return;
  await Promise.all([sessions(), metrics(), delegations(), session()]);
}

async function sessions() {
  try {
    const { sessions: list } = await client.sessions();
    const rows = list.map((s) =>
      h(
        "tr",
        { class: `session${s.id === selected ? " selected" : ""}`, "data-session": s.id, onclick: () => pick(s.id) },
        h("td", {}, s.id),
        h("td", {}, s.agent),
        h("td", {}, String(s.queued)),
        h("td", {}, s.running === null ? "—" : s.running.turnId),
      ),
    );
    fill(
      "sessions",
      `Sessions (${list.length})`,
      h("table", {}, h("tr", {}, h("th", {}, "id"), h("th", {}, "agent"), h("th", {}, "inbox"), h("th", {}, "running turn")), rows),
    );
  } catch (error) {
    fill("sessions", "Sessions", failure(error));
  }
}

/** A bound in ms as a short label: 512µs, 4ms, 1.0s. */
function bound(ms) {
  if (ms < 1) return `${Math.round(ms * 1000)}µs`;
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`;
}

/** A latency histogram: one bar per power-of-two bucket, as tall as its count beside the largest's. */
function distribution(name, stats) {
  const shown = (ms) => (ms < 10 ? ms.toFixed(2) : ms.toFixed(0));
  const summary = `${name}: ${stats.count} samples · p50 ${shown(stats.p50Ms)} · p99 ${shown(stats.p99Ms)} · max ${shown(stats.maxMs)} ms`;
  const counts = stats.buckets.map((b, i) => b.count - (i === 0 ? 0 : stats.buckets[i - 1].count));
  const highest = Math.max(1, ...counts);
  const bars = stats.buckets.map((b, i) => {
    const count = counts[i];
    const share = count / highest;
    return h(
      "div",
      { class: "bucket", title: `${count} of ${stats.count} at most ${bound(b.leMs)}` },
      h("div", { class: "fill", style: `height:${count === 0 ? 0 : Math.max(3, share * 100)}%` }),
      h("span", {}, bound(b.leMs)),
    );
  });
  return h(
    "div",
    { class: "histogram", "data-histogram": name },
    h("p", {}, summary),
    bars.length === 0 ? h("p", { class: "muted" }, "no samples yet") : h("div", { class: "dist" }, bars),
  );
}

async function metrics() {
  try {
    const m = await client.runtimeMetrics();
    fill("metrics", "Dispatcher", distribution("dispatcher lag", m.dispatcherLag), distribution("send → start", m.sendToStart));
  } catch (error) {
    fill("metrics", "Dispatcher", failure(error));
  }
}

/** One child in the tree: what it is doing, where its completion stands, and its own children. */
function delegationItem(d, children) {
  const state = d.running ? "running" : (d.status ?? "?");
  return h(
    "li",
    { "data-delegation": d.id, title: `child session ${d.childSessionId}, depth ${d.depth}` },
    h("span", {}, `${d.goal} `),
    h("span", { class: `state ${state}` }, state),
    " ",
    h("span", { class: `delivery ${d.delivery ?? "none"}` }, d.delivery === null ? "no completion yet" : `delivery ${d.delivery}`),
    " ",
    d.running && can("delegations", d.parentSessionId) ? h("button", { onclick: () => act("cancel child", () => client.cancelDelegation(d.id)) }, "cancel") : null,
    h("ul", { class: "tree" }, children(d.childSessionId)),
  );
}

async function delegations() {
  try {
    const { delegations: list } = await client.delegations();
    const children = (parent) => list.filter((d) => d.parentSessionId === parent).map((d) => delegationItem(d, children));
    const roots = [...new Set(list.map((d) => d.parentSessionId).filter((p) => !list.some((d) => d.childSessionId === p)))];
    fill(
      "delegations",
      `Delegations (${list.length})`,
      roots.length === 0
        ? h("p", { class: "muted" }, "none")
        : roots.map((root) => h("div", { "data-parent": root }, root, h("ul", { class: "tree" }, children(root)))),
    );
  } catch (error) {
    fill("delegations", "Delegations", failure(error));
  }
}

/** "+12 ms" after the turn's start, for tooltips. */
function offset(ms, from) {
  return `+${Math.round(ms - from)} ms`;
}

/** What an input's id, policy and fate look like in a tooltip line. */
function describeInput(id, turn) {
  const input = inputs.get(id);
  const later = input?.turnIds.find((t) => t !== turn.turnId);
  return `${id} (${input?.policy ?? "?"})${later === undefined ? "" : ` → ran in turn ${later}`}`;
}

function turnTitle(t) {
  const lines = [`turn ${t.turnId}: ${t.status}`];
  if (t.endedAtMs !== undefined) lines.push(`${Math.round(t.endedAtMs - t.startedAtMs)} ms`);
  lines.push(`${t.inputIds.length > 1 ? "merged inputs" : "input"}: ${t.inputIds.map((id) => describeInput(id, t)).join(", ")}`);
  for (const s of t.steered) lines.push(`steered in ${offset(s.atMs, t.startedAtMs)}: ${describeInput(s.inputId, t)}`);
  if (t.tools.length > 0) lines.push(`tool calls: ${t.tools.map((tool) => tool.name).join(", ")}`);
  return lines.join("\n");
}

function caption(t) {
  const parts = [`turn ${t.turnId}`, t.status];
  if (t.endedAtMs !== undefined) parts.push(`${Math.round(t.endedAtMs - t.startedAtMs)} ms`);
  parts.push(t.inputIds.length > 1 ? `merged ${t.inputIds.length} inputs` : "1 input");
  if (t.steered.length > 0) parts.push(`+${t.steered.length} steered`);
  if (t.tools.length > 0) parts.push(`${t.tools.length} tool call${t.tools.length === 1 ? "" : "s"}`);
  return parts.join(" · ");
}

function timeline() {
  const list = [...turns.values()];
  if (list.length === 0) return h("p", { class: "muted" }, "no turns yet");
  const from = Math.min(...list.map((t) => t.startedAtMs));
  // Up to now while a turn runs; otherwise up to the last end, so a quiet session's bars keep their size.
  const running = list.some((t) => t.endedAtMs === undefined);
  const to = running ? Date.now() : Math.max(...list.map((t) => t.endedAtMs));
  const at = (ms) => `${((ms - from) / Math.max(1, to - from)) * 100}%`;
  return list.map((t) => {
    const end = t.endedAtMs ?? Date.now();
    const merged = t.inputIds.length > 1;
    const bar = h(
      "div",
      {
        class: `bar ${t.status}${merged ? " merged" : ""}`,
        style: `left:${at(t.startedAtMs)};width:max(4px, calc(${at(end)} - ${at(t.startedAtMs)}))`,
        title: turnTitle(t),
        "data-inputs": t.inputIds.join(" "),
      },
    );
    const tools = t.tools.map((tool) =>
      h("div", {
        class: "tool",
        title: `tool ${tool.name} ${offset(tool.startedAtMs, t.startedAtMs)}${tool.endedAtMs === undefined ? ", running" : `, ${Math.round(tool.endedAtMs - tool.startedAtMs)} ms`}`,
        style: `left:${at(tool.startedAtMs)};width:calc(${at(tool.endedAtMs ?? end)} - ${at(tool.startedAtMs)})`,
      }),
    );
    const steered = t.steered.map((s) => {
      // A function agent's turn takes no steer: the input ran in a turn of its own.
      const requeued = inputs.get(s.inputId)?.turnIds.some((id) => id !== t.turnId) === true;
      return h("div", {
        class: `steer${requeued ? " requeued" : ""}`,
        "data-steered": s.inputId,
        title: `steered in ${offset(s.atMs, t.startedAtMs)}: ${describeInput(s.inputId, t)}`,
        style: `left:${at(s.atMs)}`,
      });
    });
    return h(
      "div",
      { class: "turn-row", "data-turn": t.turnId },
      h("div", { class: "caption" }, caption(t)),
      h("div", { class: "turn" }, bar, tools, steered),
    );
  });
}

async function session() {
  if (selected === undefined) return;
  try {
    const view = await client.session(selected);
    const queued = view.inbox.queued.map((q) =>
      h(
        "li",
        { "data-input": q.inputId },
        `${q.inputId} (${q.policy}) `,
        can("withdraw", view.id) ? h("button", { onclick: () => act("withdraw", () => client.withdraw(q.inputId)) }, "withdraw") : null,
      ),
    );
    const running = view.inbox.running;
    fill(
      "session",
      `Session ${view.id} (${view.agent})`,
      h(
        "p",
        {},
        running === null
          ? "idle"
          : h(
              "span",
              {},
              `running turn ${running.turnId} `,
              can("cancel", view.id) ? running.inputIds.map((id) => h("button", { "data-cancel": id, onclick: () => act("cancel", () => client.cancel(id)) }, `cancel ${id}`)) : null,
            ),
        " ",
        can("delegations", view.id)
          ? h("button", { "data-stop-children": view.id, onclick: () => act("stop children", () => client.stopChildren(view.id, { recursive: true })) }, "stop children")
          : null,
      ),
      h("h2", {}, `Inbox (${queued.length})`),
      queued.length === 0 ? h("p", { class: "muted" }, "empty") : h("ul", {}, queued),
      h("h2", {}, "Turns"),
      h("div", { id: "timeline" }, timeline()),
    );
  } catch (error) {
    fill("session", "Session", failure(error));
  }
}

function inputOf(id) {
  let input = inputs.get(id);
  if (input === undefined) {
    input = { policy: undefined, turnIds: [] };
    inputs.set(id, input);
  }
  return input;
}

function apply({ event, atMs }) {
  if (event.type === "input.accepted") {
    inputOf(event.inputId).policy = event.policy;
    return;
  }
  if (event.type === "turn.started") {
    turns.set(event.turnId, { turnId: event.turnId, startedAtMs: atMs, endedAtMs: undefined, status: "running", inputIds: event.inputIds, steered: [], tools: [] });
    for (const id of event.inputIds) inputOf(id).turnIds.push(event.turnId);
  }
  const turn = turns.get(event.turnId);
  if (turn === undefined) return;
  if (event.type === "input.steered") turn.steered.push({ inputId: event.inputId, atMs });
  else if (event.type === "turn.ended") {
    turn.endedAtMs = atMs;
    turn.status = event.outcome.status;
  } else if (event.type === "tool.started") turn.tools.push({ id: event.toolCallId, name: event.toolName, startedAtMs: atMs });
  else if (event.type === "tool.ended") {
    const tool = turn.tools.find((t) => t.id === event.toolCallId);
    if (tool !== undefined) tool.endedAtMs = atMs;
  }
}

async function pick(id) {
  follow?.abort();
  selected = id;
  turns = new Map();
  inputs = new Map();
  follow = new AbortController();
  const signal = follow.signal;
  await refresh();
  (async () => {
    try {
      for await (const event of client.events(id, { signal })) {
        apply(event);
        const box = $("timeline");
        if (box !== null) box.replaceChildren(...[timeline()].flat());
      }
    } catch (error) {
      if (!signal.aborted) $("state").textContent = `events: ${error.message}`;
    }
  })();
}

/** True when the token may do `verb` on `sessionId`: the page offers only the buttons it allows. */
function can(verb, sessionId) {
  return grant !== undefined && grant.verbs.includes(verb) && sessionId.startsWith(grant.sessionPrefix);
}

async function connect(token) {
  client = createClient({ baseUrl: location.origin, token });
  sessionStorage.setItem("offstage-token", token);
  try {
    grant = await client.token();
    const reach = grant.sessionPrefix === "" ? "every session" : `sessions ${grant.sessionPrefix}…`;
    $("who").textContent = `${grant.name}: ${grant.verbs.join(", ")} on ${reach}`;
  } catch (error) {
    grant = undefined;
    $("who").textContent = `${error.code ?? "ERROR"}: ${error.message}`;
  }
  await refresh();
}

const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
const token = fromHash ?? sessionStorage.getItem("offstage-token");
if (fromHash !== null) history.replaceState(null, "", location.pathname);
$("token").addEventListener("change", (e) => connect(e.target.value));
if (token !== null) {
  $("token").value = token;
  connect(token);
}
setInterval(refresh, POLL_MS);
