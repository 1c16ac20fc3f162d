/**
 * `offstage mcp` as an MCP host meets it: the SDK's own client starts the CLI over stdio and calls
 * its tools. The model is the offline demo model; "slowly" makes a step take 1.5 s.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cliCommand } from "../cli/tmux-terminal.js";

let dir: string;
const clients: Client[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "offstage-mcp-"));
  await mkdir(join(dir, "notes"));
  await writeFile(join(dir, "notes", "todo.txt"), "one\ntwo\nthree\n");
});

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
  await rm(dir, { recursive: true, force: true });
});

/** Starts `offstage mcp` on the test's SQLite file and connects the SDK's client to it. */
async function serve(): Promise<Client> {
  const [command, ...args] = cliCommand(
    "mcp",
    "--db",
    join(dir, "offstage.db"),
    "--workspace",
    dir,
    "--demo-slow-ms",
    "1500",
  );
  const client = new Client({ name: "offstage-test-host", version: "1.0.0" });
  await client.connect(new StdioClientTransport({ command: command!, args, cwd: dir, stderr: "ignore" }));
  clients.push(client);
  return client;
}

/** Calls a tool and returns its structured answer; fails on a tool error. */
async function call(
  client: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const result = await client.callTool({ name, arguments: args });
  if (result.isError === true) throw new Error(`${name} failed: ${JSON.stringify(result.content)}`);
  return result.structuredContent as Record<string, unknown>;
}

/** Calls a tool that must fail and returns its message. */
async function failure(client: Client, name: string, args: Record<string, unknown>): Promise<string> {
  const result = await client.callTool({ name, arguments: args });
  expect(result.isError, JSON.stringify(result.content)).toBe(true);
  return (result.content as { text: string }[])[0]!.text;
}

describe("offstage mcp", () => {
  it("lists its six tools, each with an input schema", async () => {
    const client = await serve();
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      "cancel",
      "delegate",
      "list_children",
      "result",
      "send",
      "status",
    ]);
    const send = tools.find((t) => t.name === "send")!;
    expect(send.inputSchema.required).toEqual(["session", "input"]);
    expect(send.description).toMatch(/Returns at once with the input's id/);
  });

  it("send returns the input id at once; result waits within its bound and then answers", async () => {
    const client = await serve();
    const started = Date.now();
    const sent = await call(client, "send", { session: "host-1", input: "slowly count notes" });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(sent).toMatchObject({ sessionId: "host-1", status: expect.stringMatching(/^(queued|running)$/) });
    const inputId = sent.inputId as string;

    const early = await call(client, "result", { inputId, waitMs: 100 });
    expect(early).toMatchObject({
      inputId,
      done: false,
      status: expect.stringMatching(/^(queued|running)$/),
    });
    const status = await call(client, "status", { inputId });
    expect(status).toMatchObject({ inputId, done: false });

    const done = await call(client, "result", { inputId, waitMs: 20_000 });
    expect(done).toMatchObject({ inputId, done: true, status: "completed", reason: { code: "ok" } });
    expect(done.output).toMatch(/count_lines notes: notes: 3 lines/);
  });

  it("keeps the session's policy: a busy session refuses a send with policy reject, and cancel ends a turn", async () => {
    const client = await serve();
    const slow = (await call(client, "send", { session: "busy", input: "slowly count notes" }))
      .inputId as string;
    expect(await failure(client, "send", { session: "busy", input: "now", policy: "reject" })).toMatch(
      /^SESSION_BUSY: /,
    );
    const cancelled = await call(client, "cancel", { inputId: slow, reason: "the host changed its mind" });
    expect(cancelled).toMatchObject({
      done: true,
      status: "cancelled",
      reason: { message: "the host changed its mind" },
    });
    const again = await call(client, "send", { session: "busy", input: "count notes", idempotencyKey: "k1" });
    const repeat = await call(client, "send", {
      session: "busy",
      input: "count notes",
      idempotencyKey: "k1",
    });
    expect(repeat.inputId).toBe(again.inputId);
  });

  it("delegates to a background child, lists it while it runs, and its result comes back as a turn", async () => {
    const client = await serve();
    await call(client, "send", { session: "lead", input: "hello" });
    const sent = await call(client, "delegate", {
      session: "lead",
      goal: "slowly count notes",
      tools: ["count_lines"],
    });
    expect(sent).toMatchObject({ status: "dispatched", id: expect.any(String) });
    const listed = await call(client, "list_children", { session: "lead" });
    const children = listed.children as Record<string, unknown>[];
    expect(children).toHaveLength(1);
    expect(children[0]).toMatchObject({ id: sent.id, goal: "slowly count notes", status: "running" });
    expect(children[0]!.modelCalls).toBeGreaterThanOrEqual(0);
    let finished: Record<string, unknown> | undefined;
    // Delivered: the parent session took the child's result in a turn of its own.
    for (let i = 0; i < 200 && finished === undefined; i++) {
      const now = (await call(client, "list_children", { session: "lead" })).children as Record<
        string,
        unknown
      >[];
      if (now[0]!.delivery === "delivered") finished = now[0];
      else await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(finished).toMatchObject({ status: "completed", modelCalls: 2, delivery: "delivered" });
    expect(finished!.summary).toMatch(/count_lines notes/);
  });

  it("answers bad input with tool errors that say what is wrong, and keeps serving", async () => {
    const client = await serve();
    expect(await failure(client, "status", { inputId: "no-such-input" })).toBe(
      'UNKNOWN_INPUT: no input "no-such-input"',
    );
    expect(await failure(client, "result", { inputId: "x", waitMs: 3_600_000 })).toMatch(/waitMs|50000/);
    expect(await failure(client, "send", { session: "a>b", input: "hi" })).toMatch(
      /^INVALID_ARGUMENT: .*reserved/,
    );
    expect(await failure(client, "send", { session: "s", input: 42 })).toMatch(/input/);
    expect(await failure(client, "delegate", { session: "s", goal: "" })).toMatch(/goal/);
    expect(await failure(client, "delegate", { session: "s", goal: "x", tools: ["no_such_tool"] })).toMatch(
      /^INVALID_ARGUMENT: .*no_such_tool/,
    );
    const ok = await call(client, "send", { session: "s", input: "count notes" });
    expect((await call(client, "result", { inputId: ok.inputId, waitMs: 20_000 })).status).toBe("completed");
  });

  it("refuses to serve on a model it cannot use, saying why", async () => {
    const [command, ...args] = cliCommand("mcp", "--memory", "--model", "acme:rocket-1");
    const child = spawn(command!, args, { cwd: dir, stdio: ["pipe", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(2);
    expect(stderr).toMatch(/offstage mcp: cannot start: MODEL_NAME_INVALID: .*unknown provider "acme"/);
  });

  it("finds the answers of an earlier run in the SQLite file", async () => {
    const first = await serve();
    const sent = await call(first, "send", { session: "durable", input: "count notes" });
    await call(first, "result", { inputId: sent.inputId, waitMs: 20_000 });
    await first.close();
    clients.splice(clients.indexOf(first), 1);
    const second = await serve();
    const found = await call(second, "result", { inputId: sent.inputId, waitMs: 0 });
    expect(found).toMatchObject({ done: true, status: "completed" });
    expect(found.output).toMatch(/count_lines notes/);
  });
});
