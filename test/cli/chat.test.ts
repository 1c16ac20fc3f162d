/**
 * `offstage chat` through a real pseudo-terminal: tmux runs it, `send-keys` types, `capture-pane`
 * reads the screen. The model is the offline demo model, paced so a person (and a test) can type
 * while it answers: a step whose input says "slowly" takes 1.5 s.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FIXTURE_SERVER } from "../mcp/fixtures/servers.js";
import { cliCommand, shellQuote, TmuxTerminal } from "./tmux-terminal.js";

let dir: string;
const terminals: TmuxTerminal[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "offstage-chat-"));
  await mkdir(join(dir, "src"));
  await mkdir(join(dir, "notes"));
  await writeFile(join(dir, "README.md"), "# A small project\n");
  await writeFile(join(dir, "src", "app.ts"), "export const app = 1;\n");
  await writeFile(join(dir, "notes", "todo.txt"), "one\ntwo\nthree\n");
});

afterEach(async () => {
  for (const terminal of terminals.splice(0)) terminal.close();
  await rm(dir, { recursive: true, force: true });
});

/** Starts the chat in a fresh pane, on the test's SQLite file, and waits for its banner. */
async function chat(...args: string[]): Promise<TmuxTerminal> {
  const command = cliCommand("chat", "--db", join(dir, "chat.db"), "--demo-slow-ms", "1500", ...args);
  const terminal = TmuxTerminal.open(shellQuote(command), { cwd: dir, cols: 160 });
  terminals.push(terminal);
  await terminal.waitFor("/help for commands");
  return terminal;
}

/** Waits until the live region says the agent answers, then until it is idle again. */
const answering = (t: TmuxTerminal) => t.waitFor("● answering", { rows: 2 });
const idle = (t: TmuxTerminal) => t.waitFor("○ idle", { rows: 2, timeoutMs: 30_000 });

describe("offstage chat in a terminal", () => {
  it("follows the policy for lines typed while the agent answers, and says what became of each", async () => {
    const t = await chat("--session", "policies");
    // steer (the default): the line joins the running answer at its next step.
    t.type("slowly list src");
    await answering(t);
    t.type("count notes");
    await t.waitFor("↳ steered into the running answer: the agent reads it at its next step");
    await t.waitFor(/⚙ count_lines · \d+ ms/);
    await idle(t);
    expect(t.screen()).toMatch(/count_lines notes: notes: 3 lines/);

    // enqueue: it waits for its own turn, and the screen says when that turn begins.
    t.type("/policy enqueue");
    t.type("slowly read README.md");
    await answering(t);
    t.type("stat README.md");
    await t.waitFor("↳ waits for its turn (after the running answer)");
    await t.waitFor('↳ now answering "stat README.md"');
    await t.waitFor(/⚙ file_info · \d+ ms/);
    await idle(t);

    // interrupt: the running answer stops and the new line runs instead.
    t.type("/policy interrupt");
    t.type("slowly list .");
    await answering(t);
    t.type("read notes/todo.txt");
    await t.waitFor("↳ interrupts the running answer, then runs");
    await t.waitFor("✕ answer interrupted by the line you sent");
    await t.waitFor(/read_file notes\/todo\.txt: one/);
    await idle(t);

    // merge: the lines typed meanwhile go into one turn together.
    t.type("/policy merge");
    t.type("slowly list .");
    await answering(t);
    t.type("count src");
    t.type("count notes");
    await t.waitFor('↳ now answering "count src", "count notes"');
    await idle(t);
    expect(t.screen().match(/waits, and goes into one turn with every line waiting then/g)).toHaveLength(2);
  });

  it("shows a background child in the status line, and its result arriving as a new, marked turn", async () => {
    const t = await chat("--session", "children");
    t.type("delegate slowly count notes");
    await t.waitFor('⇢ background child started: "slowly count notes"');
    await t.waitFor(/1 child: "slowly count notes" \d+ s \d+ calls?/, { rows: 2 });
    await t.waitFor(
      /⇠ background child "slowly count notes" finished: completed · [\d.]+ m?s · 2 model calls/,
    );
    await t.waitFor(/⇠ background result: "slowly count notes" completed · [\d.]+ m?s · a new turn/);
    await t.waitFor(/◆ Background results arrived:\s+- slowly count notes: completed/);
    await idle(t);
    t.type("/children");
    await t.waitFor(/completed\s+[\d.]+ m?s\s+2 model calls\s+"slowly count notes"/);
    t.type("/status");
    const status = await t.waitFor(/screen: \d+ redraws, at most (\d+) in one second/);
    const peak = Number(/at most (\d+) in one second/.exec(status)![1]);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(31);
  });

  it("cancels the running answer on Ctrl-C, and quits on a second one after draining", async () => {
    const t = await chat("--session", "ctrl-c");
    t.type("slowly list src");
    await answering(t);
    t.press("C-c");
    await t.waitFor("↳ cancelling the running answer (Ctrl-C again to quit)");
    await t.waitFor("✕ answer cancelled (cancelled with Ctrl-C)");
    await idle(t);
    t.type("delegate slowly count notes");
    await t.waitFor('⇢ background child started: "slowly count notes"');
    await t.waitFor(/○ idle │ 1 child/, { rows: 2 });
    t.press("C-c");
    await t.waitFor("↳ nothing is running (Ctrl-C again to quit)");
    t.press("C-c");
    // The drain lets the child finish, and its result turn too.
    await t.waitFor("↳ stopping: up to 10 s for the running answer and 1 background child");
    await t.waitFor(/⇠ background result: "slowly count notes" completed/);
    await t.waitFor("↳ stopped (clean); resume with: offstage chat --session ctrl-c");
    await t.waitFor("[exited 0]");
  });

  it("resumes a session after a restart, with its history, and finishes what kill -9 cut off", async () => {
    const first = await chat("--session", "resume-me");
    first.type("read README.md");
    await first.waitFor("read_file README.md: # A small project");
    await idle(first);
    first.type("delegate slowly count notes");
    await first.waitFor('⇢ background child started: "slowly count notes"');
    await first.waitFor(/- delegate: dispatched 1 background task/);
    await first.waitFor(/○ idle │ 1 child: "slowly count notes"/, { rows: 2 });
    process.kill(first.commandPid(), "SIGKILL");
    await first.waitFor("[exited 137]");

    const second = await chat("--session", "resume-me");
    const screen = await second.waitFor(/── resumed: \d+ messages/);
    expect(screen).toContain("› read README.md");
    expect(screen).toContain('⚙ read_file {"path":"README.md"}');
    expect(screen).toContain("› delegate slowly count notes");
    expect(screen).toContain("- delegate: dispatched 1 background task");
    // The child was running when the process died: it resumes, and its result arrives once.
    await second.waitFor(/⇠ background result: "slowly count notes" completed/, { timeoutMs: 30_000 });
    await idle(second);
    expect(second.screen().match(/⇠ background result: "slowly count notes"/g)).toHaveLength(1);
    second.type("/quit");
    await second.waitFor("[exited 0]");
  });

  it("says what is wrong with bad input and goes on: commands, a model, MCP servers", async () => {
    const garbage = shellQuote([process.execPath, FIXTURE_SERVER, "--garbage"]);
    const silent = shellQuote([process.execPath, FIXTURE_SERVER, "--silent"]);
    const t = await chat(
      "--model",
      "acme:rocket-1",
      "--mcp",
      garbage,
      "--mcp",
      silent,
      "--mcp",
      "no-such-mcp-server-command",
      "--mcp-timeout",
      // Long enough for the garbage server's Node to start and print even on a loaded machine.
      "8000",
    );
    // Long messages wrap, their continuation rows indented: read them as one line each.
    const screen = t.screen().replace(/\n {2}/g, " ");
    expect(screen).toMatch(
      /✕ MCP .*--garbage: MCP_CONNECT_FAILED: .*its stdout is not JSON-RPC .*"Hello! I a".*; going on without its tools/,
    );
    expect(screen).toMatch(
      /✕ MCP .*--silent: MCP_CONNECT_FAILED: .*no answer within 8000 ms; going on without its tools/,
    );
    expect(screen).toMatch(
      /✕ MCP no-such-mcp-server-command: MCP_CONNECT_FAILED: .*spawn no-such-mcp-server-command ENOENT; going on/,
    );
    expect(screen).toMatch(
      /✕ model "acme:rocket-1": MODEL_NAME_INVALID: .*unknown provider "acme".*; using the offline demo model instead/,
    );
    expect(screen).toContain("model demo (offline, no key)");
    t.type("/nope");
    await t.waitFor('✕ unknown command "/nope"; /help lists the commands');
    t.type("/history lots");
    await t.waitFor('✕ /history takes a positive whole number of messages; got "lots"');
    t.type("/policy reject");
    await t.waitFor('✕ unknown policy "reject"; use one of enqueue, steer, interrupt, merge');
    t.type("list src");
    await t.waitFor("list_files src: src: 1 entry; app.ts");
    t.type("/help");
    await t.waitFor("/stop-children");
  });

  it("gives the agent an MCP server's tools with --mcp, and survives the server dying", async () => {
    const t = await chat("--mcp", shellQuote([process.execPath, FIXTURE_SERVER]));
    await t.waitFor(/⚙ MCP .*: 10 tools \(echo, stats, picture/s);
    t.type('use echo {"text": "from the chat"}');
    await t.waitFor(/⚙ echo · \d+ ms/);
    await t.waitFor("echo: echo: from the chat");
    t.type("use crash");
    await t.waitFor(/⚙ crash · \d+ ms ✕ failed/);
    await t.waitFor(/crash failed: .*went away/s);
    t.type('use echo {"text": "after the restart"}');
    await t.waitFor("echo: echo: after the restart");
  });
});

describe("offstage chat on a pipe", () => {
  it("reads lines, prints answers as plain lines, and drains at the end of input", async () => {
    const [node, ...args] = cliCommand("chat", "--memory", "--demo-word-ms", "0");
    const child = spawn(node!, args, { cwd: dir, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
    });
    child.stdin.end("list src\n/status\n");
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(0);
    expect(out).toContain("› list src");
    expect(out).toContain("list_files src: src: 1 entry; app.ts");
    expect(out).toContain("store: memory");
    expect(out).toContain("↳ stopped (clean)");
    // No escape codes on a pipe.
    expect(out).not.toContain("\u001b[");
  });
});
