/**
 * `mcpTools` against a real MCP server process (test/mcp/fixtures/tool-server.ts, written with the
 * same SDK), over stdio and Streamable HTTP: schemas, result mapping, cancellation reaching the
 * server, a server that dies and is restarted, and servers that print garbage or never answer.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  createMemoryStore,
  createRuntime,
  InvalidInputError,
  isOffstageError,
  type Session,
  silentLogger,
} from "../../src/index.js";
import { type McpToolSet, mcpTools, parseMcpCommand, renderMcpResult } from "../../src/mcp/index.js";
import { createDemoModel } from "../../src/models/demo/demo-model.js";
import type { Tool, ToolContext } from "../../src/runtime/ports/tool.js";
import { FIXTURE_SERVER, fixtureServer } from "./fixtures/servers.js";

const opened: McpToolSet[] = [];
const processes: ChildProcess[] = [];
afterEach(async () => {
  for (const set of opened.splice(0)) await set.close();
  for (const child of processes.splice(0)) child.kill("SIGKILL");
});

async function open(...args: Parameters<typeof mcpTools>): Promise<McpToolSet> {
  const set = await mcpTools(...args);
  opened.push(set);
  return set;
}

function context(signal = new AbortController().signal): ToolContext {
  return { signal, sessionId: "s", turnId: "t", toolCallId: "c" };
}

function tool(set: McpToolSet, name: string): Tool {
  const found = set.tools.find((t) => t.name === name);
  if (found === undefined) throw new Error(`no tool ${name} in ${set.tools.map((t) => t.name).join(", ")}`);
  return found;
}

const run = (set: McpToolSet, name: string, args: unknown = {}, signal?: AbortSignal) =>
  Promise.resolve(tool(set, name).execute(args, context(signal)));

/** Runs `work` on a session of a started runtime whose demo-model agent has the server's tools. */
async function withSession(set: McpToolSet, work: (session: Session) => Promise<void>): Promise<void> {
  const runtime = createRuntime({
    store: createMemoryStore(),
    logger: silentLogger,
    agents: { a: { model: createDemoModel(), tools: [...set.tools] } },
  });
  await runtime.start();
  try {
    await work(runtime.session("s", { agent: "a" }));
  } finally {
    await runtime.stop();
  }
}

/** Starts the fixture over Streamable HTTP and returns its URL. */
async function httpServer(port = 0): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [FIXTURE_SERVER, "--http", "--port", String(port)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  processes.push(child);
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await once(lines, "line")) as [string];
  lines.close();
  const listening = /^listening (\d+)$/.exec(line);
  if (listening === null) throw new Error(`the HTTP fixture said ${JSON.stringify(line)}`);
  return { url: `http://127.0.0.1:${listening[1]}/mcp`, child };
}

describe("mcpTools over stdio", () => {
  it("offers the server's tools with their JSON Schemas, renaming what providers refuse", async () => {
    const set = await open(fixtureServer(), { prefix: "t_" });
    expect(set.tools.map((t) => t.name)).toContain("t_files_read");
    const echo = tool(set, "t_echo");
    expect(echo.description).toBe("Says the text back.");
    expect(echo.inputSchema).toMatchObject({
      type: "object",
      properties: { text: { type: "string" } },
      required: ["text"],
    });
    expect(await echo.check({ text: 5 })).toMatchObject({ ok: false });
    expect(await run(set, "t_files_read", { path: "a.txt" })).toBe("would read a.txt");
    expect(set.state).toBe("ready");
  });

  it("maps text, structured content and images to text, and isError to a tool error", async () => {
    const set = await open(fixtureServer(), { include: ["echo", "stats", "picture", "fails"] });
    expect(set.tools.map((t) => t.name)).toEqual(["echo", "stats", "picture", "fails"]);
    expect(await run(set, "echo", { text: "hi" })).toBe("echo: hi");
    expect(JSON.parse((await run(set, "stats", { word: "banana" })) as string)).toEqual({
      word: "banana",
      letters: 6,
      vowels: 3,
    });
    expect(await run(set, "picture")).toBe(
      "a transparent pixel\n[image image/png, 68 B: not shown, tool results reach the model as text]",
    );
    await expect(run(set, "fails")).rejects.toThrow(/^the widget is jammed$/);
  });

  it("sends the MCP cancel notification when the call is aborted", async () => {
    const set = await open(fixtureServer());
    const controller = new AbortController();
    const slow = run(set, "slow", {}, controller.signal);
    await run(set, "wait_for_slow");
    controller.abort(new Error("the user pressed Ctrl-C"));
    await expect(slow).rejects.toThrow("the user pressed Ctrl-C");
    const seen = JSON.parse((await run(set, "cancellations")) as string) as string[];
    expect(seen).toHaveLength(1);
    expect(seen[0]).toContain("the user pressed Ctrl-C");
  });

  it("cancels the server's call when the turn running it is cancelled", async () => {
    const set = await open(fixtureServer());
    await withSession(set, async (session) => {
      const handle = session.send('use slow {"ms": 60000}');
      await run(set, "wait_for_slow");
      expect(await handle.cancel({ reason: "changed my mind" })).toBe("cancelled");
      const seen = JSON.parse((await run(set, "cancellations")) as string) as string[];
      expect(seen).toHaveLength(1);
      expect(seen[0]).toContain("changed my mind");
    });
  });

  it("answers through a runtime: the model's call reaches the server and its result the model", async () => {
    const set = await open(fixtureServer());
    await withSession(set, async (session) => {
      const ok = await session.invoke('use echo {"text": "over MCP"}', { timeoutMs: 20_000 });
      expect(ok.output).toContain("echo: over MCP");
      const bad = await session.invoke('use echo {"text": 42}', { timeoutMs: 20_000 });
      expect(bad.output).toMatch(/echo failed: invalid arguments for echo/);
    });
  });

  it("turns a server that dies into a tool error and restarts it for the next call", async () => {
    const set = await open(fixtureServer());
    const before = await run(set, "pid");
    await expect(run(set, "crash")).rejects.toThrow(
      /went away during the call \(the server exited; stderr: "crashing on purpose"\); it is being restarted/,
    );
    const after = await run(set, "pid");
    expect(after).not.toBe(before);
    expect(set.state).toBe("ready");
  });

  it("gives up on a server whose restarts keep failing, and says why", async () => {
    // The wrapper runs the fixture once; every restart exits at once.
    const mark = join(await mkdtemp(join(tmpdir(), "offstage-mcp-")), "started");
    const set = await open(
      { command: process.execPath, args: ["-e", ONCE_THEN_FAIL, FIXTURE_SERVER, mark], name: "flaky" },
      { restartsMax: 1, restartDelayMs: 10 },
    );
    await expect(run(set, "crash")).rejects.toThrow(/went away during the call/);
    await expect(run(set, "pid")).rejects.toThrow(/MCP server "flaky"/);
    expect(["down", "connecting", "failed"]).toContain(set.state);
    // Given up, it still tries again for a call made 30 s later (and fails the same way here).
    for (let i = 0; i < 400 && set.state !== "failed"; i++) await new Promise((r) => setTimeout(r, 50));
    await expect(run(set, "pid")).rejects.toThrow(/is unavailable: 2 connects in a row failed/);
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 31_000 });
    try {
      await expect(run(set, "pid")).rejects.toThrow(/cannot connect.*refusing to start twice/s);
    } finally {
      vi.useRealTimers();
    }
    await rm(dirname(mark), { recursive: true });
  });

  it("refuses a server that prints garbage, quoting it, within the connect timeout", async () => {
    const started = Date.now();
    const error = await mcpTools(fixtureServer("--garbage"), { connectTimeoutMs: 1_500 }).catch(
      (e: unknown) => e,
    );
    expect(isOffstageError(error, "MCP_CONNECT_FAILED")).toBe(true);
    expect((error as Error).message).toMatch(/no answer within 1500 ms; its stdout is not JSON-RPC/);
    expect((error as Error).message).toContain(`"Hello! I a"`);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("refuses a server that never answers, and a command that does not exist", async () => {
    const silent = await mcpTools(fixtureServer("--silent"), { connectTimeoutMs: 800 }).catch(
      (e: unknown) => e,
    );
    expect(isOffstageError(silent, "MCP_CONNECT_FAILED")).toBe(true);
    expect((silent as Error).message).toMatch(/no answer within 800 ms/);
    const missing = await mcpTools({ command: "offstage-no-such-command-xyz" }).catch((e: unknown) => e);
    expect(isOffstageError(missing, "MCP_CONNECT_FAILED")).toBe(true);
    expect((missing as Error).message).toMatch(/ENOENT/);
  });

  it("uses an SDK client the caller connected, and leaves it open", async () => {
    const client = new Client({ name: "mine", version: "1" });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [FIXTURE_SERVER] }));
    try {
      const set = await open(client, { include: ["echo"] });
      expect(await run(set, "echo", { text: "mine" })).toBe("echo: mine");
      await set.close();
      expect((await client.listTools()).tools.length).toBeGreaterThan(1);
    } finally {
      await client.close();
    }
  });

  it("refuses bad configs and options, quoting the value, and starts nothing", async () => {
    const cases: [unknown, unknown, RegExp][] = [
      [null, undefined, /config must be an MCP server config.*got null/],
      [{ command: 42 }, undefined, /config\.command must be a string.*got 42/],
      [{ command: "x", args: "a b" }, undefined, /config\.args must be an array of strings.*"a b"/],
      [{ url: "ftp://example" }, undefined, /config\.url must be an http: or https: URL.*ftp:/],
      [
        { url: "http://127.0.0.1:1/mcp", headers: { a: 1 } },
        undefined,
        /config\.headers must be an object of strings/,
      ],
      [{ command: "x" }, { connectTimeoutMs: -1 }, /connectTimeoutMs must be/],
      [{ command: "x" }, { include: "echo" }, /include must be an array of tool names/],
      [{ command: "x" }, { restartsMax: 1.5 }, /restartsMax must be a positive integer/],
    ];
    for (const [config, options, message] of cases) {
      const error = await mcpTools(config as never, options as never).catch((e: unknown) => e);
      expect(error, String(message)).toBeInstanceOf(InvalidInputError);
      expect((error as Error).message).toMatch(message);
    }
  });
});

describe("mcpTools over Streamable HTTP", () => {
  it("calls tools, cancels with the notification, and reconnects after the server comes back", async () => {
    const first = await httpServer();
    const set = await open({ url: first.url }, { restartDelayMs: 50, restartsMax: 8 });
    expect(await run(set, "echo", { text: "http" })).toBe("echo: http");
    const controller = new AbortController();
    const slow = run(set, "slow", {}, controller.signal);
    await run(set, "wait_for_slow");
    controller.abort(new Error("stop it"));
    await expect(slow).rejects.toThrow("stop it");
    expect(JSON.parse((await run(set, "cancellations")) as string)).toHaveLength(1);

    first.child.kill("SIGKILL");
    await once(first.child, "exit");
    await expect(run(set, "echo", { text: "gone" })).rejects.toThrow(/went away during the call|is down/);
    const port = new URL(first.url).port;
    await httpServer(Number(port));
    // The link reconnects in the background (a call while it does waits for it; one while a
    // restart is scheduled fails at once, so the model can go on): within seconds it answers.
    let answer: unknown;
    const deadline = Date.now() + 30_000;
    while (answer === undefined && Date.now() < deadline) {
      answer = await run(set, "echo", { text: "back" }).catch(async () => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        return undefined;
      });
    }
    expect(answer).toBe("echo: back");
  });
});

describe("parseMcpCommand and renderMcpResult", () => {
  it("splits a command line like a shell, and reads URLs as Streamable HTTP", () => {
    expect(parseMcpCommand(`node "my server.mjs" --name 'a b' x\\ y`)).toEqual({
      command: "node",
      args: ["my server.mjs", "--name", "a b", "x y"],
    });
    expect(parseMcpCommand(" https://example.com/mcp ")).toEqual({ url: "https://example.com/mcp" });
    expect(() => parseMcpCommand(`node "open`)).toThrow(/balanced quotes/);
    expect(() => parseMcpCommand("   ")).toThrow(/a command to run/);
    expect(() => parseMcpCommand(5 as never)).toThrow(InvalidInputError);
  });

  it("renders resources, links, unknown parts and legacy results", () => {
    expect(
      renderMcpResult({
        content: [
          { type: "resource", resource: { uri: "file:///a.txt", mimeType: "text/plain", text: "hello" } },
          { type: "resource", resource: { uri: "file:///b.bin", blob: "AAAA" } },
          { type: "resource_link", uri: "file:///c", name: "c" },
          { type: "audio", data: "AAAAAAAA", mimeType: "audio/wav" },
          { type: "hologram" },
        ],
      }),
    ).toBe(
      [
        "resource file:///a.txt (text/plain):\nhello",
        "[resource file:///b.bin, 3 B: binary, not shown]",
        "resource link file:///c (c)",
        "[audio audio/wav, 6 B: not shown, tool results reach the model as text]",
        '["hologram" content: not shown]',
      ].join("\n"),
    );
    expect(renderMcpResult({ toolResult: { a: 1 } })).toBe('{"a":1}');
    expect(() => renderMcpResult({ content: [], isError: true })).toThrow("the tool reported an error");
  });
});

/** Runs the fixture once; every later start (a restart) exits at once. */
const ONCE_THEN_FAIL = `
const fs = require("node:fs");
const mark = process.argv[2];
if (fs.existsSync(mark)) { process.stderr.write("refusing to start twice\\n"); process.exit(1); }
fs.writeFileSync(mark, "");
require("node:child_process").spawnSync(process.execPath, [process.argv[1]], { stdio: "inherit" });
`;
