/**
 * `offstage chat`: an interactive terminal chat with one durable session. It connects the MCP
 * servers it was given, starts a runtime on the SQLite file (or in memory), resumes the session
 * when it exists (showing its history) and hands the conversation to the chat controller. Quitting
 * drains: the running answer and background children get a few seconds to finish, and whatever is
 * left stays stored for `--session` to pick up.
 *
 * @packageDocumentation
 */
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { DEFAULTS } from "../../kernel/limits.js";
import type { Logger } from "../../runtime/logger.js";
import type { Runtime } from "../../runtime/runtime.js";
import { createFileTools } from "../../tools/builtin/file-tools.js";
import { ChatController } from "../chat/chat-controller.js";
import { type ChatMcp, connectChatMcp } from "../chat/chat-mcp.js";
import { type ChatPolicy, POLICY_MEANING } from "../chat/chat-policy.js";
import {
  CHAT_AGENT,
  chatModel,
  createChatRuntime,
  DEMO_MODEL,
  type DemoPace,
  describeError,
  isModelBootError,
} from "../chat/chat-runtime.js";
import { type ChatView, paint, type ViewInput } from "../chat/chat-view.js";
import { PlainView } from "../chat/plain-view.js";
import { Screen } from "../chat/screen.js";
import { formatHistory, MARK } from "../chat/transcript.js";

/** What `offstage chat` was asked for (checked by its caller). */
export interface ChatOptions {
  readonly model: string;
  readonly policy: ChatPolicy;
  /** The session to resume or create; a fresh id when none is given. */
  readonly session: string | undefined;
  /** The SQLite file; `undefined` keeps everything in memory. */
  readonly dbPath: string | undefined;
  readonly workspace: string;
  /** MCP servers: command lines or URLs. */
  readonly mcp: readonly string[];
  readonly mcpTimeoutMs: number;
  readonly pace: DemoPace;
  readonly frameMs: number;
}

const QUIT_DRAIN_MS = DEFAULTS.chat.quitDrainMs;

/** Runs the chat until the person quits; returns the exit code. */
export async function runChat(options: ChatOptions): Promise<number> {
  const input = process.stdin;
  const output = process.stdout;
  let controller: ChatController | undefined;
  /** Lines typed (or piped) before the session was open, and whether the input ended meanwhile. */
  let early: string[] | undefined = [];
  let endedEarly = false;
  /** 0 while chatting; 1 once quitting began; 2 once a Ctrl-C during the drain asked to leave now. */
  let leaving = 0;
  let quit: () => void = () => {};
  const quitting = new Promise<void>((done) => {
    quit = done;
  });
  const handlers: ViewInput = {
    onLine: (line) => (early === undefined ? controller?.submit(line) : early.push(line)),
    onInterrupt: () => {
      if (leaving === 1) {
        leaving = 2;
        controller?.note("Ctrl-C again to leave now, without waiting (the work stays stored)");
        return;
      }
      if (leaving === 2) {
        view.close();
        process.exit(130);
      }
      if (controller === undefined) quit();
      else controller.interrupt();
    },
    onEnd: () => {
      if (early !== undefined) endedEarly = true;
      else controller?.quit();
    },
  };
  const view: ChatView =
    input.isTTY === true && output.isTTY === true
      ? new Screen({ input, output, handlers, frameMs: options.frameMs })
      : new PlainView({ input, output, handlers });
  const say = (line: string) => view.print(line);
  const logger = viewLogger(view);

  const builtIn = new Set([
    ...createFileTools({ root: resolve(options.workspace) }).map((t) => t.name),
    "delegate",
  ]);
  const mcp = await connectChatMcp(options.mcp, builtIn, options.mcpTimeoutMs);
  for (const { ok, line } of mcp.report)
    say(ok ? paint("yellow", `${MARK.tool} ${line}`) : paint("red", `${MARK.failed} ${line}`));

  const sessionId = options.session ?? `chat-${randomUUID().slice(0, 8)}`;
  let runtime: Runtime;
  let model: string;
  try {
    ({ runtime, model } = await startRuntime(options, mcp, logger, say, (r) => {
      controller?.close();
      controller = new ChatController({
        runtime: r,
        sessionId,
        view,
        policy: options.policy,
        about: () => about(options.dbPath, model, mcp),
        onQuit: () => quit(),
      });
      return controller;
    }));
  } catch (error) {
    say(paint("red", `${MARK.failed} offstage chat: cannot start: ${describeError(error)}`));
    view.close();
    await closeAll(mcp);
    return 2;
  }
  const chat = controller!;
  try {
    const resumed = runtime.sessionIds().includes(sessionId);
    const session = runtime.session(sessionId, resumed ? {} : { agent: CHAT_AGENT });
    banner(say, { ...options, model }, sessionId, resumed);
    if (resumed) {
      const history = session.history();
      const shown = DEFAULTS.chat.historyShown;
      say(
        paint(
          "dim",
          `── resumed: ${history.length} messages${history.length > shown ? `, the last ${shown} shown (/history n for more)` : ""} ──`,
        ),
      );
      for (const line of formatHistory(history, shown)) say(paint("dim", line));
      say(paint("dim", "──"));
    }
  } catch (error) {
    say(
      paint(
        "red",
        `${MARK.failed} offstage chat: cannot open session ${JSON.stringify(sessionId)}: ${describeError(error)}`,
      ),
    );
    chat.close();
    await runtime.stop();
    await runtime[Symbol.asyncDispose]();
    view.close();
    await closeAll(mcp);
    return 2;
  }
  chat.refreshStatus();
  const typed = early;
  early = undefined;
  for (const line of typed) chat.submit(line);
  if (endedEarly) chat.quit();
  await quitting;
  leaving = 1;
  return leave(runtime, chat, view, mcp, sessionId, options);
}

/**
 * Starts the runtime. A model that cannot be used (no provider package, no key, a name no provider
 * knows) gets one line saying why, and the chat starts on the offline demo model instead.
 */
async function startRuntime(
  options: ChatOptions,
  mcp: ChatMcp,
  logger: Logger,
  say: (line: string) => void,
  attach: (runtime: Runtime) => { close(): void },
): Promise<{ runtime: Runtime; model: string }> {
  const open = async (name: string) => {
    const runtime = createChatRuntime({
      model: chatModel(name, options.pace),
      dbPath: options.dbPath,
      workspace: options.workspace,
      tools: mcp.tools,
      logger,
    });
    // Before start: the controller must see the turns that recovered work starts.
    const attached = attach(runtime);
    try {
      await runtime.start();
    } catch (error) {
      attached.close();
      await runtime[Symbol.asyncDispose]().catch(() => undefined);
      throw error;
    }
    return { runtime, model: name };
  };
  try {
    return await open(options.model);
  } catch (error) {
    if (options.model === DEMO_MODEL || !isModelBootError(error)) throw error;
    say(
      paint(
        "red",
        `${MARK.failed} model ${JSON.stringify(options.model)}: ${describeError(error)}; using the offline demo model instead`,
      ),
    );
    return open(DEMO_MODEL);
  }
}

/** Quits: drains for a few seconds, says what was left, closes everything. */
async function leave(
  runtime: Runtime,
  chat: ChatController,
  view: ChatView,
  mcp: ChatMcp,
  sessionId: string,
  options: ChatOptions,
): Promise<number> {
  const running = chat.runningInputId !== undefined;
  const children = chat.children().filter((c) => c.running).length;
  chat.note(
    running || children > 0
      ? `stopping: up to ${QUIT_DRAIN_MS / 1000} s for the running answer and ${children} background ${children === 1 ? "child" : "children"} (Ctrl-C twice to leave now)`
      : "stopping",
  );
  view.setStatus("");
  const status = await runtime.stop({ drain: true, timeoutMs: QUIT_DRAIN_MS });
  chat.close();
  const resume = options.dbPath === undefined ? "" : `; resume with: offstage chat --session ${sessionId}`;
  chat.note(`stopped (${status})${status === "clean" ? "" : ": unfinished work stays stored"}${resume}`);
  await runtime[Symbol.asyncDispose]();
  view.close();
  await closeAll(mcp);
  return 0;
}

function banner(
  say: (line: string) => void,
  options: ChatOptions,
  sessionId: string,
  resumed: boolean,
): void {
  const model = options.model === DEMO_MODEL ? "demo (offline, no key)" : options.model;
  say(paint("bold", `offstage chat · session ${sessionId}${resumed ? "" : " (new)"} · model ${model}`));
  say(
    paint(
      "dim",
      options.dbPath === undefined
        ? "kept in memory: nothing survives the chat"
        : `kept in ${resolve(options.dbPath)} · resume: offstage chat --session ${sessionId}`,
    ),
  );
  say(paint("dim", `policy ${options.policy}: ${POLICY_MEANING[options.policy]}`));
  if (options.model === DEMO_MODEL)
    say(
      paint(
        "dim",
        'demo model: list <dir>, read <file>, count <dir>, delegate <task>, use <tool> {json}; "slowly" slows it',
      ),
    );
  say(paint("dim", "/help for commands · Ctrl-C cancels the answer, twice quits"));
}

function about(dbPath: string | undefined, model: string, mcp: ChatMcp): string[] {
  return [
    `model ${model}`,
    dbPath === undefined ? "store: memory" : `store: ${resolve(dbPath)}`,
    ...mcp.sets.map((set) => `MCP ${set.name}: ${set.state}, ${set.tools.length} tools`),
  ];
}

async function closeAll(mcp: ChatMcp): Promise<void> {
  await Promise.allSettled(mcp.sets.map((set) => set.close()));
}

/** The runtime's warnings, as dim lines of the chat instead of text across the screen. */
function viewLogger(view: ChatView): Logger {
  const line = (level: string) => (details: object, message: string) =>
    view.print(paint("dim", `offstage ${level}: ${message} ${JSON.stringify(details)}`));
  return { warn: line("warn"), error: line("error") };
}
