/**
 * How the chat writes a conversation: what was typed (`› `), the agent's answers (`◆ `), tool calls
 * (`⚙ `, one line each), background results (`⇠ `). Used for the live chat, `/history` and the
 * history shown when a session is resumed, so all three read the same.
 *
 * @packageDocumentation
 */
import type { Message } from "../../kernel/messages.js";

/** Marks at the start of chat lines. */
export const MARK = {
  you: "›",
  answer: "◆",
  tool: "⚙",
  background: "⇠",
  child: "⇢",
  note: "↳",
  failed: "✕",
} as const;

/** Characters of tool arguments and results shown in a history line. */
const ARGS_SHOWN_MAX = 60;
const RESULT_SHOWN_MAX = 80;

/** What the user typed, as the transcript shows it. */
export function youLine(text: string): string {
  return `${MARK.you} ${indent(text)}`;
}

/** Indents the continuation lines of a multi-line text under its mark. */
export function indent(text: string): string {
  return text.replace(/\n/g, "\n  ");
}

/** One tool call: name, arguments (when known), how long it took, whether it failed. */
export function toolLine(
  name: string,
  detail: { args?: string; durationMs?: number; failed?: boolean },
): string {
  const args = detail.args === undefined ? "" : ` ${shorten(detail.args, ARGS_SHOWN_MAX)}`;
  const time = detail.durationMs === undefined ? "" : ` · ${formatMs(detail.durationMs)}`;
  return `  ${MARK.tool} ${name}${args}${time}${detail.failed === true ? ` ${MARK.failed} failed` : ""}`;
}

/** `842 ms`, `3.4 s`, `2 min 5 s`. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** True when a user message is the runtime's delivery of background results. */
export function isCompletionText(text: string): boolean {
  return /^(A background task you delegated has finished|\d+ background tasks you delegated have finished)/.test(
    text,
  );
}

/** One line per background result in a completion block: goal, status, time, model calls. */
export function completionLines(text: string): string[] {
  const lines: string[] = [];
  for (const block of text.split('<delegation id="').slice(1)) {
    const status = /status="([a-z_]+)"/.exec(block)?.[1] ?? "unknown";
    const goal = /^goal: (.*)$/m.exec(block)?.[1] ?? "?";
    const ran = /^ran (.*?); exit/m.exec(block)?.[1];
    lines.push(
      `${MARK.background} background result: "${goal}" ${status}${ran === undefined ? "" : `, ran ${ran}`}`,
    );
  }
  return lines;
}

/** The transcript of `messages`: the last `last` of them, or all. */
export function formatHistory(messages: readonly Message[], last = messages.length): string[] {
  const shown = messages.slice(Math.max(0, messages.length - last));
  const lines: string[] = [];
  for (const message of shown) {
    switch (message.role) {
      case "system":
        break;
      case "user": {
        const text = message.content
          .map((part) => (part.type === "text" ? part.text : `[${part.type}]`))
          .join("");
        lines.push(...(isCompletionText(text) ? completionLines(text) : [youLine(text)]));
        break;
      }
      case "assistant":
        for (const part of message.content) {
          if (part.type === "text" && part.text !== "") lines.push(`${MARK.answer} ${indent(part.text)}`);
          else if (part.type === "tool-call") lines.push(toolLine(part.toolName, { args: part.input }));
        }
        break;
      case "tool":
        for (const part of message.content) {
          const failed = part.output.type === "error-text";
          const value = shorten(part.output.value.replace(/\s*\n\s*/g, " "), RESULT_SHOWN_MAX);
          lines.push(`    ${failed ? MARK.failed : "→"} ${value}`);
        }
        break;
    }
  }
  return lines;
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
