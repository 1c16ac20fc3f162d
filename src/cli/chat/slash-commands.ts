/**
 * The chat's slash commands. Each answers on the screen and changes nothing it does not name; a
 * command that is unknown or malformed says so and the chat goes on.
 *
 * @packageDocumentation
 */
import { isOffstageError } from "../../errors.js";
import type { ChatController } from "./chat-controller.js";
import { CHAT_POLICIES, type ChatPolicy, POLICY_MEANING } from "./chat-policy.js";
import { paint } from "./chat-view.js";
import { formatHistory, formatMs } from "./transcript.js";

interface Command {
  readonly usage: string;
  readonly help: string;
  run(chat: ChatController, args: readonly string[]): void;
}

/** Messages `/history` shows when given no number. */
const HISTORY_DEFAULT = 10;

const COMMANDS: Readonly<Record<string, Command>> = {
  help: {
    usage: "/help",
    help: "this list",
    run: (chat) => {
      const width = Math.max(...Object.values(COMMANDS).map((c) => c.usage.length));
      const lines = Object.values(COMMANDS).map((c) => `  ${c.usage.padEnd(width)}  ${c.help}`);
      lines.push(`  ${"Ctrl-C".padEnd(width)}  cancel the running answer; twice within 3 s quits`);
      chat.view.print(lines.join("\n"));
    },
  },
  cancel: {
    usage: "/cancel",
    help: "cancel the running answer (its background children go on)",
    run: (chat) => {
      if (chat.cancelRunning("cancelled with /cancel")) chat.note("cancelling the running answer");
      else chat.note("nothing is running");
    },
  },
  status: {
    usage: "/status",
    help: "the session, the running answer, children, model, policy, redraws",
    run: (chat) => {
      const running = chat.children().filter((c) => c.running).length;
      const { frames, peakFramesPerSecond, deltas } = chat.view.stats;
      const lines = [
        `session ${chat.sessionId}`,
        ...chat.about(),
        `policy ${chat.policy}`,
        chat.runningInputId === undefined ? "idle" : `answering (input ${chat.runningInputId})`,
        `${running} background ${running === 1 ? "child" : "children"} running`,
        `screen: ${frames} redraws, at most ${peakFramesPerSecond} in one second, for ${deltas} streamed deltas`,
      ];
      chat.view.print(lines.map((l) => `  ${l}`).join("\n"));
    },
  },
  children: {
    usage: "/children",
    help: "the session's background children, running and finished",
    run: (chat) => {
      const children = chat.children();
      if (children.length === 0) {
        chat.note("no background children yet");
        return;
      }
      const now = Date.now();
      const lines = children.map((c) => {
        const status = c.running ? "running" : (c.completion?.status ?? "stopped");
        const elapsed = formatMs((c.completion?.completedAtMs ?? now) - c.dispatchedAtMs);
        const calls = `${c.modelCalls} model call${c.modelCalls === 1 ? "" : "s"}`;
        return `  ${c.id}  ${status.padEnd(11)} ${elapsed.padStart(8)}  ${calls}  "${c.spec.goal}"`;
      });
      chat.view.print(lines.join("\n"));
    },
  },
  "stop-children": {
    usage: "/stop-children",
    help: "stop the background children (each still reports what it had)",
    run: (chat) => {
      const stopped = chat.runtime.delegations.stopChildren(chat.sessionId, {
        recursive: true,
        reason: "stopped from the chat",
      });
      chat.note(
        stopped === 0 ? "no children running" : `stopping ${stopped} ${stopped === 1 ? "child" : "children"}`,
      );
    },
  },
  history: {
    usage: "/history [n]",
    help: `the last n messages of the session (default ${HISTORY_DEFAULT})`,
    run: (chat, args) => {
      const n = args[0] === undefined ? HISTORY_DEFAULT : Number(args[0]);
      if (!Number.isSafeInteger(n) || n <= 0) {
        chat.problem(`/history takes a positive whole number of messages; got ${JSON.stringify(args[0])}`);
        return;
      }
      const history = chat.session.history();
      const lines = formatHistory(history, n);
      if (lines.length === 0) chat.note("no messages yet");
      else chat.view.print(lines.map((l) => paint("dim", l)).join("\n"));
      if (history.length > n) chat.note(`${history.length - n} earlier messages not shown`);
    },
  },
  policy: {
    usage: "/policy <p>",
    help: `how lines typed while the agent answers are handled: ${CHAT_POLICIES.join(", ")}`,
    run: (chat, args) => {
      const policy = args[0];
      if (policy === undefined) {
        chat.note(`policy ${chat.policy} (one of ${CHAT_POLICIES.join(", ")})`);
        return;
      }
      if (!(CHAT_POLICIES as readonly string[]).includes(policy)) {
        chat.problem(`unknown policy ${JSON.stringify(policy)}; use one of ${CHAT_POLICIES.join(", ")}`);
        return;
      }
      chat.policy = policy as ChatPolicy;
      chat.note(`policy ${policy}: ${POLICY_MEANING[policy as ChatPolicy]}`);
    },
  },
  quit: {
    usage: "/quit",
    help: "finish the running work (up to a few seconds) and leave; resume with --session",
    run: (chat) => chat.quit(),
  },
};

/** Runs a slash command line (`/name args`). */
export function runCommand(chat: ChatController, line: string): void {
  const [word, ...args] = line.slice(1).trim().split(/\s+/);
  const name = (word ?? "").toLowerCase();
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    chat.problem(`unknown command ${JSON.stringify(`/${word ?? ""}`)}; /help lists the commands`);
    return;
  }
  try {
    command.run(chat, args);
  } catch (error) {
    chat.problem(
      `${command.usage.split(" ")[0]} failed: ${isOffstageError(error) ? `${error.code}: ${error.message}` : String(error)}`,
    );
  }
}
