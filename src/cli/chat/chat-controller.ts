/**
 * The conversation behind `offstage chat`: what a typed line does, and how the runtime's events
 * become lines on the screen. Lines go to the session with the chat's policy, and the screen says
 * what happened to each one typed while the agent was busy (steered into the running answer,
 * waiting, interrupting, merging; and, for a steered line the answer never saw, that it runs on
 * its own). Answers stream as they come, each tool call is one line with its time, a background
 * child's result arrives as a new turn marked as such, and the status line shows the running turn
 * and the children.
 *
 * @packageDocumentation
 */
import { isOffstageError } from "../../errors.js";
import type { Policy } from "../../kernel/session/inbox.js";
import type { DelegationInfo } from "../../runtime/delegation/delegations.js";
import type { RuntimeEvent } from "../../runtime/events.js";
import type { Runtime } from "../../runtime/runtime.js";
import type { Session } from "../../runtime/session.js";
import type { ChatPolicy } from "./chat-policy.js";
import { type ChatView, paint } from "./chat-view.js";
import { runCommand } from "./slash-commands.js";
import { statusLine } from "./status-line.js";
import { formatMs, indent, MARK, toolLine, youLine } from "./transcript.js";

/** Options of {@link ChatController}. */
export interface ChatControllerOptions {
  readonly runtime: Runtime;
  readonly sessionId: string;
  readonly view: ChatView;
  readonly policy: ChatPolicy;
  /** Facts `/status` shows: the model, where the session is kept, the MCP servers. */
  readonly about: () => readonly string[];
  /** Called once when the person asks to quit (`/quit`, a second Ctrl-C, end of input). */
  readonly onQuit: () => void;
}

/** A line the person typed, and what became of it. */
interface TypedLine {
  readonly text: string;
  /** `waits` (queued behind others), `steered` (into turn `turnId`), or `now` (started at once). */
  readonly decision: "now" | "waits" | "steered";
  readonly turnId: string | undefined;
}

/** The session's running turn, as the screen follows it. */
interface TurnOnScreen {
  readonly turnId: string;
  readonly inputIds: readonly string[];
  readonly startedAtMs: number;
  toolsRunning: number;
  /** True while the answer's text is streaming (a tool call ends the streamed part). */
  streaming: boolean;
}

/** How close two Ctrl-Cs must be to quit. */
const SECOND_INTERRUPT_MS = 3_000;

/** The chat's logic, between the runtime and the view. */
export class ChatController {
  readonly runtime: Runtime;
  readonly sessionId: string;
  readonly view: ChatView;
  policy: ChatPolicy;
  readonly #options: ChatControllerOptions;
  readonly #lines = new Map<string, TypedLine>();
  /** Inputs of the session waiting for a turn. */
  readonly #queued = new Set<string>();
  #turn: TurnOnScreen | undefined;
  #ticker: NodeJS.Timeout | undefined;
  #lastInterruptAt = Number.NEGATIVE_INFINITY;
  #quitting = false;
  readonly #unsubscribe: () => void;

  /** Subscribes to the runtime's events at once: create it before `runtime.start()` to see recovered work. */
  constructor(options: ChatControllerOptions) {
    this.#options = options;
    this.runtime = options.runtime;
    this.sessionId = options.sessionId;
    this.view = options.view;
    this.policy = options.policy;
    this.#unsubscribe = this.runtime.on((event) => this.#onEvent(event));
  }

  /** The session (the runtime must be running). */
  get session(): Session {
    return this.runtime.session(this.sessionId);
  }

  /** The running turn's first input, when a turn runs. */
  get runningInputId(): string | undefined {
    return this.#turn?.inputIds[0];
  }

  /** Facts for `/status`. */
  about(): readonly string[] {
    return this.#options.about();
  }

  /** Handles one entered line: a slash command, or input for the session. */
  submit(line: string): void {
    const text = line.trim();
    if (text === "" || this.#quitting) return;
    // Two Ctrl-Cs quit only when nothing was typed between them.
    this.#lastInterruptAt = Number.NEGATIVE_INFINITY;
    if (text.startsWith("/")) {
      this.view.print(paint("dim", youLine(text)));
      runCommand(this, text);
    } else this.#send(text);
    this.refreshStatus();
  }

  /** Ctrl-C: cancels the running answer; a second one within 3 s quits. */
  interrupt(): void {
    if (this.#quitting) return;
    const now = Date.now();
    if (now - this.#lastInterruptAt < SECOND_INTERRUPT_MS) {
      this.quit();
      return;
    }
    this.#lastInterruptAt = now;
    if (this.cancelRunning("cancelled with Ctrl-C"))
      this.note("cancelling the running answer (Ctrl-C again to quit)");
    else this.note("nothing is running (Ctrl-C again to quit)");
  }

  /** Cancels the running turn; false when none runs. */
  cancelRunning(reason: string): boolean {
    const inputId = this.runningInputId;
    if (inputId === undefined) return false;
    void this.runtime
      .handle(inputId)
      ?.cancel({ reason })
      .catch(() => undefined);
    return true;
  }

  /** Asks the host to quit (once). */
  quit(): void {
    if (this.#quitting) return;
    this.#quitting = true;
    this.#options.onQuit();
  }

  /** A dim note line. */
  note(text: string): void {
    this.view.print(paint("dim", `${MARK.note} ${text}`));
  }

  /** A line saying something went wrong. */
  problem(text: string): void {
    this.view.print(paint("red", `${MARK.failed} ${text}`));
  }

  /** The children of the session, newest last. */
  children(): DelegationInfo[] {
    try {
      return this.runtime.delegations.list({ parentSessionId: this.sessionId });
    } catch {
      return [];
    }
  }

  /** Redraws the status line, and keeps it ticking while something runs. */
  refreshStatus(): void {
    const running = this.children().filter((c) => c.running);
    const turn = this.#turn;
    this.view.setStatus(
      statusLine(
        {
          turn:
            turn === undefined
              ? undefined
              : { startedAtMs: turn.startedAtMs, toolsRunning: turn.toolsRunning },
          queued: this.#queued.size,
          children: running.map((c) => ({
            goal: c.spec.goal,
            dispatchedAtMs: c.dispatchedAtMs,
            modelCalls: c.modelCalls,
          })),
          policy: this.policy,
        },
        Date.now(),
      ),
    );
    const busy = turn !== undefined || running.length > 0;
    if (busy && this.#ticker === undefined) {
      this.#ticker = setInterval(() => this.refreshStatus(), 1000);
      this.#ticker.unref();
    } else if (!busy && this.#ticker !== undefined) {
      clearInterval(this.#ticker);
      this.#ticker = undefined;
    }
  }

  /** Stops listening and ticking. Idempotent. */
  close(): void {
    this.#unsubscribe();
    clearInterval(this.#ticker);
    this.#ticker = undefined;
  }

  #send(text: string): void {
    this.view.print(paint("cyan", youLine(text)));
    const busy = this.#turn !== undefined || this.#queued.size > 0;
    const ahead = this.#queued.size;
    let handle: ReturnType<Session["send"]>;
    try {
      handle = this.session.send(text, { policy: this.policy satisfies Policy });
    } catch (error) {
      this.problem(`not sent: ${isOffstageError(error) ? `${error.code}: ${error.message}` : String(error)}`);
      return;
    }
    const steered =
      handle.status === "running" && handle.turnId !== undefined && handle.turnId === this.#turn?.turnId;
    if (steered) this.#queued.delete(handle.id);
    const line: TypedLine = {
      text,
      decision: steered ? "steered" : busy ? "waits" : "now",
      turnId: steered ? handle.turnId : undefined,
    };
    this.#lines.set(handle.id, line);
    if (steered) this.note("steered into the running answer: the agent reads it at its next step");
    else if (!busy) return;
    else if (this.policy === "interrupt") this.note("interrupts the running answer, then runs");
    else if (this.policy === "merge") this.note("waits, and goes into one turn with every line waiting then");
    else
      this.note(
        `waits for its turn (${ahead === 0 ? "after the running answer" : `${ahead} ahead of it`})` +
          (this.policy === "steer" ? ": the running answer had taken its last step" : ""),
      );
  }

  #onEvent(event: RuntimeEvent): void {
    switch (event.type) {
      case "input.accepted":
        if (event.sessionId === this.sessionId) this.#queued.add(event.inputId);
        return;
      case "input.status":
        if (event.sessionId === this.sessionId && event.status !== "queued")
          this.#queued.delete(event.inputId);
        return;
      case "turn.started":
        if (event.sessionId === this.sessionId) this.#turnStarted(event.turnId, event.inputIds);
        return;
      case "model.text":
        if (event.turnId === this.#turn?.turnId) this.#text(event.delta);
        return;
      case "tool.started":
        if (event.turnId !== this.#turn?.turnId) return;
        this.#endText();
        this.#turn.toolsRunning += 1;
        this.refreshStatus();
        return;
      case "tool.ended":
        if (event.turnId !== this.#turn?.turnId) return;
        this.#turn.toolsRunning -= 1;
        this.view.print(
          paint("yellow", toolLine(event.toolName, { durationMs: event.durationMs, failed: event.isError })),
        );
        this.refreshStatus();
        return;
      case "turn.ended":
        if (event.sessionId === this.sessionId) this.#turnEnded(event);
        return;
      case "delegation.dispatched":
      case "delegation.completed":
      case "delegation.rejected":
        if (event.parentSessionId === this.sessionId) this.#child(event);
        return;
      default:
        return;
    }
  }

  #turnStarted(turnId: string, inputIds: readonly string[]): void {
    this.view.endStream();
    for (const id of inputIds) this.#queued.delete(id);
    this.#turn = { turnId, inputIds, startedAtMs: Date.now(), toolsRunning: 0, streaming: false };
    const results = this.children().filter(
      (c) => c.deliveryInputId !== undefined && inputIds.includes(c.deliveryInputId),
    );
    for (const c of results) {
      const ran = formatMs((c.completion?.completedAtMs ?? Date.now()) - c.dispatchedAtMs);
      const status = c.completion?.status ?? "finished";
      this.view.print(
        paint(
          "magenta",
          `${MARK.background} background result: "${c.spec.goal}" ${status} · ${ran} · a new turn`,
        ),
      );
    }
    const waited: TypedLine[] = [];
    for (const id of inputIds) {
      const line = this.#lines.get(id);
      // A line steered into an earlier turn that ended before reading it went back to the inbox.
      if (line?.decision === "steered" && line.turnId !== turnId)
        this.note(`"${line.text}" was not seen by the answer it was steered into: it gets this turn`);
      else if (line?.decision === "waits") waited.push(line);
    }
    if (waited.length > 0) this.note(`now answering ${waited.map((l) => `"${l.text}"`).join(", ")}`);
    const unknown = inputIds.filter(
      (id) => !this.#lines.has(id) && !results.some((c) => c.deliveryInputId === id),
    );
    if (unknown.length > 0) this.note("answering input accepted before this chat started");
    this.refreshStatus();
  }

  #text(delta: string): void {
    const turn = this.#turn!;
    if (!turn.streaming) {
      turn.streaming = true;
      this.view.stream(`${MARK.answer} ${indent(delta.replace(/^\s+/, ""))}`);
    } else this.view.stream(indent(delta));
  }

  #endText(): void {
    if (this.#turn?.streaming !== true) return;
    this.#turn.streaming = false;
    this.view.endStream();
  }

  #turnEnded(event: Extract<RuntimeEvent, { type: "turn.ended" }>): void {
    this.#endText();
    this.view.endStream();
    this.#turn = undefined;
    const { outcome } = event;
    if (outcome.status === "cancelled") this.problem(`answer cancelled (${outcome.reason.message})`);
    else if (outcome.status === "interrupted")
      this.problem(
        outcome.reason.code === "interrupted_by_input"
          ? "answer interrupted by the line you sent"
          : `answer interrupted (${outcome.reason.message})`,
      );
    else if (outcome.status !== "completed")
      this.problem(`answer ${outcome.status}: ${outcome.reason.message}`);
    this.refreshStatus();
  }

  #child(
    event: Extract<
      RuntimeEvent,
      { type: "delegation.dispatched" | "delegation.completed" | "delegation.rejected" }
    >,
  ): void {
    if (event.type === "delegation.rejected") {
      this.problem(`background child refused (${event.code}): ${event.reason}`);
      return;
    }
    const record = this.runtime.delegations.get(event.delegationId);
    const goal = record === undefined ? event.delegationId : `"${record.spec.goal}"`;
    if (event.type === "delegation.dispatched")
      this.view.print(paint("magenta", `${MARK.child} background child started: ${goal}`));
    else {
      const c = record?.completion;
      const about =
        c === undefined
          ? event.status
          : `${c.status} · ${formatMs(c.completedAtMs - c.dispatchedAtMs)} · ${c.modelCalls} model call${c.modelCalls === 1 ? "" : "s"}`;
      const next =
        event.delivery === "dropped"
          ? "its result was dropped"
          : this.#turn === undefined
            ? "its result arrives now, as a new turn"
            : "its result arrives as a new turn when this answer ends";
      this.view.print(
        paint("magenta", `${MARK.background} background child ${goal} finished: ${about}; ${next}`),
      );
    }
    this.refreshStatus();
  }
}
