/**
 * A real pseudo-terminal for CLI tests: a program runs in a tmux pane (on a tmux server of its
 * own), keys are typed with `send-keys` and the screen is read with `capture-pane`. Fails with a
 * clear message when tmux is missing (`apt-get install -y tmux`; `.ci/run` installs it).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** The repository's root. */
export const ROOT: string = join(import.meta.dirname, "..", "..");

/** How to run the CLI from its sources on this Node (24, which strips the types). */
export function cliCommand(...args: string[]): string[] {
  return [
    process.execPath,
    "--import",
    join(ROOT, "test/crash/ts-hook.ts"),
    join(ROOT, "src/cli/main.ts"),
    ...args,
  ];
}

/** Quotes words for the shell tmux starts the command with. */
export function shellQuote(words: readonly string[]): string {
  return words.map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(" ");
}

let servers = 0;

/** One tmux pane running one command. */
export class TmuxTerminal {
  readonly #socket: string;
  readonly #target = "chat";

  private constructor(socket: string) {
    this.#socket = socket;
  }

  /**
   * Starts `shellCommand` in a new pane of `cols`×`rows`. After the command ends, the pane says
   * `[exited <code>]` and stays open, so the test can read the last screen.
   */
  static open(shellCommand: string, options: { cols?: number; rows?: number; cwd: string }): TmuxTerminal {
    const found = spawnSync("tmux", ["-V"], { encoding: "utf8" });
    if (found.error !== undefined || found.status !== 0)
      throw new Error("tmux is not installed: apt-get install -y tmux (CI's .ci/run installs it)");
    const socket = `offstage-test-${process.pid}-${servers++}`;
    const terminal = new TmuxTerminal(socket);
    terminal.#tmux(
      "new-session",
      "-d",
      "-s",
      terminal.#target,
      "-x",
      String(options.cols ?? 100),
      "-y",
      String(options.rows ?? 40),
      "-c",
      options.cwd,
      `${shellCommand}; echo "[exited $?]"; sleep 3600`,
    );
    // Scrollback for the whole conversation; capture-pane reads it with -S -.
    terminal.#tmux("set-option", "-t", terminal.#target, "history-limit", "5000");
    return terminal;
  }

  /** Types text literally, then Enter. */
  type(text: string): void {
    this.#tmux("send-keys", "-t", this.#target, "-l", text);
    this.#tmux("send-keys", "-t", this.#target, "Enter");
  }

  /** Presses keys by tmux name (`C-c`, `Up`, `Enter`). */
  press(...keys: string[]): void {
    this.#tmux("send-keys", "-t", this.#target, ...keys);
  }

  /** The pane's text: what scrolled away and what is on the screen, trailing blank lines dropped. */
  screen(): string {
    return this.#tmux("capture-pane", "-p", "-t", this.#target, "-S", "-").replace(/\s+$/, "");
  }

  /** The screen's last rows (the live region is at the bottom). */
  bottom(rows = 3): string {
    return this.screen().split("\n").slice(-rows).join("\n");
  }

  /** The pid of the command the pane's shell runs (its child, found in /proc). */
  commandPid(): number {
    const shell = this.#tmux("display-message", "-p", "-t", this.#target, "#{pane_pid}").trim();
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        // The parent pid is the fourth field, after the command name in parentheses.
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        if (stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1] === shell) return Number(entry);
      } catch {
        // The process ended meanwhile.
      }
    }
    throw new Error(`the pane's shell (pid ${shell}) runs no command`);
  }

  /** Polls the screen until `pattern` shows (in the last `rows` rows, or anywhere); fails with the screen. */
  async waitFor(
    pattern: RegExp | string,
    options: { timeoutMs?: number; rows?: number } = {},
  ): Promise<string> {
    const deadline = Date.now() + (options.timeoutMs ?? 20_000);
    for (;;) {
      const text = options.rows === undefined ? this.screen() : this.bottom(options.rows);
      if (typeof pattern === "string" ? text.includes(pattern) : pattern.test(text)) return text;
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${String(pattern)}; the screen:\n${this.screen()}`);
      await sleep(50);
    }
  }

  /** Kills the tmux server and everything in it. Idempotent. */
  close(): void {
    spawnSync("tmux", ["-L", this.#socket, "kill-server"]);
  }

  #tmux(...args: string[]): string {
    return execFileSync("tmux", ["-L", this.#socket, ...args], { encoding: "utf8" });
  }
}
