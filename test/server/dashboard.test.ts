/**
 * The dashboard at /ui, driven in headless Chromium (Debian's `chromium` package through
 * playwright-core; never a browser download) against the built package served on loopback. It
 * lists the sessions a token reaches with their inbox and running turn, shows a session's turns,
 * and its buttons withdraw and cancel; a scoped token sees only its sessions. Screenshots go to
 * test-results/screenshots/ (CI keeps them).
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Runtime } from "../../src/index.js";
import { freshPath, removeFiles } from "../store/sqlite-files.js";
import { ensureBuilt, ROOT } from "../support/build.js";
import { callTools, GatedModel, scriptedModel, text, toolCall, userTexts } from "../support/models.js";
import { GatedTool } from "../support/tools.js";
import { eventually, FULL, hang, READER_A, TENANT_A } from "./serve-kit.js";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = join(ROOT, "test-results", "screenshots");

type Served = { server: { url: string }; runtime: Runtime; stop(): Promise<void> };
let served: Served;
let browser: Browser;
/** The tool of agent "tooly": each call waits for the test. */
const wait = new GatedTool("wait");
/** Calls `wait` when the last user message is "slow"; answers otherwise. */
const tooly = {
  model: scriptedModel((request) =>
    request.prompt.at(-1)?.role === "user" && userTexts(request.prompt).at(-1) === "slow"
      ? callTools(toolCall(`c${wait.calls.length}`, "wait", {}))
      : text("ok"),
  ),
  tools: [wait.tool],
};

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run installs it)`);
  ensureBuilt();
  const server = await import(join(ROOT, "dist/server/index.js"));
  const sqlite = await import(join(ROOT, "dist/store/sqlite/index.js"));
  served = await server.serveConfig({
    runtime: {
      agents: {
        echo: { run: async (input: unknown) => `echo ${JSON.stringify(input)}` },
        hang,
        tooly,
        // Background children: one answers at once, the other until it is cancelled.
        chatty: { model: scriptedModel(() => text("found it")) },
        stuck: { model: new GatedModel() },
      },
      store: sqlite.createSqliteStore({ path: freshPath(), durability: "normal" }),
      logger: { warn: () => undefined, error: () => undefined },
    },
    defaultAgent: "echo",
    port: 0,
    tokens: [
      { token: FULL },
      { name: "tenant-a", token: TENANT_A, sessionPrefix: "a-" },
      { name: "reader-a", token: READER_A, sessionPrefix: "a-", verbs: ["read"] },
    ],
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  mkdirSync(SHOTS, { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await served?.stop();
  removeFiles();
});

async function api(path: string, init: RequestInit = {}) {
  const response = await fetch(`${served.server.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${FULL}`, "content-type": "application/json", ...init.headers },
  });
  return (await response.json()) as Record<string, unknown>;
}

function send(session: string, payload: unknown, options: { agent?: string; policy?: string } = {}) {
  return api(`/v1/sessions/${session}/inputs`, {
    method: "POST",
    body: JSON.stringify({ payload, ...options }),
  });
}

async function settled(inputId: unknown): Promise<void> {
  await eventually(async () => (await api(`/v1/inputs/${inputId}`)).status === "completed");
}

describe("dashboard", () => {
  it("shows sessions, inbox and turns; withdraws and cancels with its buttons", async () => {
    for (let i = 0; i < 3; i++) await send("a-done", i);
    const running = await send("a-run", "wait", { agent: "hang" });
    const queued = await send("a-run", "later");
    await send("b-other", "x");
    await eventually(async () => (await api(`/v1/inputs/${running.inputId}`)).status === "running");

    const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${served.server.url}/ui#token=${FULL}`);
    await page.locator('tr[data-session="b-other"]').waitFor();
    await expect(page.locator('tr[data-session="a-run"] td').nth(2).textContent()).resolves.toBe("1");
    await page.locator('tr[data-session="a-done"]').click();
    await page.locator(".turn .bar.completed").nth(2).waitFor();
    await page.locator('tr[data-session="a-run"]').click();
    await page.locator(`li[data-input="${queued.inputId}"]`).waitFor();
    await page.locator(".turn .bar.running").waitFor();
    await page.screenshot({ path: join(SHOTS, "dashboard.png") });

    await page.locator(`li[data-input="${queued.inputId}"] button`).click();
    await eventually(async () => (await api(`/v1/inputs/${queued.inputId}`)).status === "withdrawn");
    await page.locator(`li[data-input="${queued.inputId}"]`).waitFor({ state: "detached" });
    await page.locator(`button[data-cancel="${running.inputId}"]`).click();
    await eventually(async () => (await api(`/v1/inputs/${running.inputId}`)).status === "cancelled");
    await page.locator(".turn .bar.cancelled").waitFor();
    await page.screenshot({ path: join(SHOTS, "dashboard-after-cancel.png") });
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it("marks steered inputs and merged turns on the timeline, beside tool calls", async () => {
    const first = await send("a-steer", "slow", { agent: "tooly" });
    await eventually(async () => wait.calls.length === 1);
    await new Promise((r) => setTimeout(r, 150));
    const steered = await send("a-steer", "and this", { policy: "steer" });
    const queued = await send("a-steer", "one");
    const merged = await send("a-steer", "two", { policy: "merge" });
    await new Promise((r) => setTimeout(r, 150));
    wait.calls[0]!.gate.resolve("waited");
    for (const input of [first, steered, queued, merged]) await settled(input.inputId);

    const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${served.server.url}/ui#token=${FULL}`);
    await page.locator('tr[data-session="a-steer"]').click();
    const { turnId } = await api(`/v1/inputs/${first.inputId}`);
    const turn = page.locator(`[data-turn="${turnId}"]`);
    const mark = turn.locator(`.steer[data-steered="${steered.inputId}"]`);
    await mark.waitFor();
    expect(await mark.getAttribute("class")).toBe("steer");
    expect(await mark.getAttribute("title")).toMatch(
      new RegExp(`^steered in \\+\\d+ ms: ${steered.inputId} \\(steer\\)$`),
    );
    await turn.locator(".tool[title^='tool wait']").waitFor();
    expect(await turn.locator(".caption").textContent()).toMatch(
      new RegExp(`^turn ${turnId} · completed · \\d+ ms · 1 input · \\+1 steered · 1 tool call$`),
    );
    const bar = page.locator(".turn .bar.merged");
    await bar.waitFor();
    expect(await bar.getAttribute("data-inputs")).toBe(`${queued.inputId} ${merged.inputId}`);
    expect(await page.locator(".turn-row", { has: bar }).locator(".caption").textContent()).toMatch(
      / · completed · \d+ ms · merged 2 inputs$/,
    );
    expect(await bar.getAttribute("title")).toContain(
      `merged inputs: ${queued.inputId} (enqueue), ${merged.inputId} (merge)`,
    );
    await page.screenshot({ path: join(SHOTS, "dashboard-timeline.png") });
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it("marks a steer a function agent's turn could not take as requeued, beside the turn that ran it", async () => {
    const first = await send("a-fn", "wait", { agent: "hang" });
    await eventually(async () => (await api(`/v1/inputs/${first.inputId}`)).status === "running");
    const { turnId: firstTurn } = await api(`/v1/inputs/${first.inputId}`);
    const steered = await send("a-fn", "join", { policy: "steer" });
    await api(`/v1/inputs/${first.inputId}/cancel`, { method: "POST", body: "{}" });
    await eventually(async () => {
      const { status, turnId } = await api(`/v1/inputs/${steered.inputId}`);
      return status === "running" && turnId !== firstTurn;
    });
    const { turnId: ownTurn } = await api(`/v1/inputs/${steered.inputId}`);

    const page = await browser.newPage();
    await page.goto(`${served.server.url}/ui#token=${FULL}`);
    await page.locator('tr[data-session="a-fn"]').click();
    const mark = page.locator(`.steer.requeued[data-steered="${steered.inputId}"]`);
    await mark.waitFor();
    expect(await mark.getAttribute("title")).toContain(`→ ran in turn ${ownTurn}`);
    await page.locator(`[data-turn="${ownTurn}"] .bar.running`).waitFor();
    await page.close();
    await api(`/v1/inputs/${steered.inputId}/cancel`, { method: "POST", body: "{}" });
  }, 60_000);

  it("shows the delegation tree with delivery states; its buttons cancel a child and stop children", async () => {
    const { runtime } = served;
    const lead = runtime.session("a-lead", { agent: "echo" });
    const quick = lead.delegate({ goal: "quick look", agent: "chatty" });
    const slow = lead.delegate({ goal: "long task", agent: "stuck" });
    if (quick.status !== "dispatched" || slow.status !== "dispatched") throw new Error("not dispatched");
    const slowChild = runtime.delegations.get(slow.id)!.childSessionId;
    const nested = runtime.session(slowChild).delegate({ goal: "nested task", agent: "stuck" });
    if (nested.status !== "dispatched") throw new Error("not dispatched");
    await eventually(async () => runtime.delegations.get(quick.id)?.delivery === "delivered");

    const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${served.server.url}/ui#token=${FULL}`);
    const item = (id: string) => page.locator(`li[data-delegation="${id}"]`);
    await item(quick.id).locator(".state.completed").waitFor();
    await item(quick.id).locator(".delivery.delivered").waitFor();
    await item(slow.id).locator(":scope > .state.running").waitFor();
    // The nested child hangs under its parent child.
    await item(slow.id).locator(`li[data-delegation="${nested.id}"] .state.running`).waitFor();
    await item(nested.id).locator("button").click();
    // Its completion waits in the inbox of its parent, whose turn still runs.
    await item(nested.id).locator(".state.cancelled").waitFor();
    await item(nested.id).locator(".delivery.pending").waitFor();
    expect(runtime.delegations.get(nested.id)).toMatchObject({ running: false, delivery: "pending" });
    await page.locator('[data-histogram="dispatcher lag"] .bucket').first().waitFor();
    await page.locator('[data-histogram="send → start"] .bucket').first().waitFor();
    await page.screenshot({ path: join(SHOTS, "dashboard-delegations.png") });
    // Everything at once (README's picture): the steered and merged turns of an earlier test beside.
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.locator('tr[data-session="a-steer"]').click();
    await page.locator(".turn .steer").waitFor();
    await page.screenshot({ path: join(SHOTS, "dashboard-overview.png") });

    await page.locator('tr[data-session="a-lead"]').click();
    await page.locator('button[data-stop-children="a-lead"]').click();
    await item(slow.id).locator(":scope > .state.running").waitFor({ state: "detached" });
    expect(runtime.delegations.get(slow.id)?.running).toBe(false);
    await item(slow.id).locator(":scope > .delivery.delivered").waitFor();
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it("shows a scoped token only its sessions, and refuses what it may not see", async () => {
    const page = await browser.newPage();
    await page.goto(`${served.server.url}/ui#token=${TENANT_A}`);
    await page.locator('tr[data-session="a-run"]').waitFor();
    expect(await page.locator('tr[data-session="b-other"]').count()).toBe(0);
    // Metrics cover every session: this token may not read them.
    await page.locator("#metrics .error").waitFor();
    expect(await page.locator("#metrics .error").textContent()).toMatch(/FORBIDDEN/);
    // The token is not left in the address bar.
    expect(page.url()).not.toContain(TENANT_A);
    await page.screenshot({ path: join(SHOTS, "dashboard-scoped.png") });
    await page.close();
  }, 60_000);

  it("offers only the buttons the token's verbs allow", async () => {
    const running = await send("a-busy", "wait", { agent: "hang" });
    const queued = await send("a-busy", "later");
    await eventually(async () => (await api(`/v1/inputs/${running.inputId}`)).status === "running");
    const buttons = async (token: string) => {
      const page = await browser.newPage();
      await page.goto(`${served.server.url}/ui#token=${token}`);
      await page.locator('tr[data-session="a-busy"]').click();
      await page.locator(`li[data-input="${queued.inputId}"]`).waitFor();
      const found = {
        who: await page.locator("#who").textContent(),
        cancel: await page.locator(`button[data-cancel="${running.inputId}"]`).count(),
        withdraw: await page.locator(`li[data-input="${queued.inputId}"] button`).count(),
        stopChildren: await page.locator('button[data-stop-children="a-busy"]').count(),
      };
      await page.close();
      return found;
    };
    expect(await buttons(READER_A)).toEqual({
      who: "reader-a: read on sessions a-…",
      cancel: 0,
      withdraw: 0,
      stopChildren: 0,
    });
    expect(await buttons(TENANT_A)).toEqual({
      who: "tenant-a: send, read, stream, cancel, withdraw, delegations, metrics on sessions a-…",
      cancel: 1,
      withdraw: 1,
      stopChildren: 1,
    });
    await api(`/v1/inputs/${running.inputId}/cancel`, { method: "POST", body: "{}" });
  }, 60_000);
});
