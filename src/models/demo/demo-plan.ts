/**
 * What the demo model says, decided from the prompt alone: a pure function, so the same prompt and
 * seed always give the same answer, on every machine.
 *
 * The "current exchange" is everything after the last final answer (an assistant message without tool
 * calls). In it:
 * - if the trailing user messages hold directives (`list <dir>`, `read <file>`, `count <dir>`,
 *   `stat <path>`) for tools on offer, the step asks for those tool calls, all at once;
 * - `use <tool> {json}` calls any tool on offer with those arguments (one `use` a line);
 * - `delegate <task>; delegate <task>` hands the tasks to background workers through the built-in
 *   `delegate` tool, when it is on offer (the directives inside a task are the worker's, not ours);
 * - background results arriving (a completion block) are acknowledged, not acted on;
 * - else, if the exchange has tool results, the step summarises them;
 * - else it echoes the input.
 *
 * @packageDocumentation
 */
import type { Message, ToolCallPart, ToolResultPart } from "../../kernel/messages.js";
import type { ModelTool } from "../../runtime/ports/model.js";

/** The words the demo model understands, and the tool each one calls. */
export const DEMO_DIRECTIVES: ReadonlyMap<string, string> = new Map([
  ["list", "list_files"],
  ["read", "read_file"],
  ["count", "count_lines"],
  ["stat", "file_info"],
]);

/** Tool calls one demo step asks for at most; more directives than this are ignored. */
export const DEMO_CALLS_PER_STEP_MAX = 8;

/** What one step of the demo model does. */
export type DemoPlan =
  | { readonly kind: "tools"; readonly calls: readonly ToolCallPart[] }
  | { readonly kind: "answer"; readonly text: string };

/** The text the step reacts to: every user message of the current exchange, joined. */
export function exchangeInput(prompt: readonly Message[]): string {
  return userTexts(prompt, exchangeStart(prompt)).join("\n");
}

/** Decides one step. `seed` only varies the wording of replies, never what the model does. */
export function planDemoStep(
  prompt: readonly Message[],
  tools: readonly ModelTool[],
  seed: number,
): DemoPlan {
  const start = exchangeStart(prompt);
  let trailing = prompt.length;
  while (trailing > start && prompt[trailing - 1]!.role === "user") trailing -= 1;
  const trailingTexts = trailing < prompt.length ? userTexts(prompt, trailing) : [];
  if (trailingTexts.some((text) => text.includes(COMPLETION_MARK))) {
    return { kind: "answer", text: acknowledge(trailingTexts.join("\n")) };
  }
  const calls = planCalls(trailingTexts, tools, prompt);
  if (calls.length > 0) return { kind: "tools", calls };
  const results: ToolResultPart[] = [];
  const asked = new Map<string, ToolCallPart>();
  for (let i = start; i < prompt.length; i++) {
    const message = prompt[i]!;
    if (message.role === "tool") results.push(...message.content);
    else if (message.role === "assistant") {
      for (const part of message.content) if (part.type === "tool-call") asked.set(part.toolCallId, part);
    }
  }
  if (results.length > 0) return { kind: "answer", text: summarise(results, asked, seed) };
  return { kind: "answer", text: echo(userTexts(prompt, start).join(" "), tools, seed) };
}

/** Index of the first message after the last final answer. */
function exchangeStart(prompt: readonly Message[]): number {
  for (let i = prompt.length - 1; i >= 0; i--) {
    const message = prompt[i]!;
    if (message.role === "assistant" && !message.content.some((part) => part.type === "tool-call"))
      return i + 1;
  }
  return 0;
}

function userTexts(prompt: readonly Message[], from: number): string[] {
  const texts: string[] = [];
  for (let i = from; i < prompt.length; i++) {
    const message = prompt[i]!;
    if (message.role !== "user") continue;
    for (const part of message.content) if (part.type === "text") texts.push(part.text);
  }
  return texts;
}

function planCalls(
  texts: readonly string[],
  tools: readonly ModelTool[],
  prompt: readonly Message[],
): ToolCallPart[] {
  const offered = new Set(tools.map((tool) => tool.name));
  // Ids must be unique across the session's history: number them by the step they belong to.
  const step = prompt.filter((message) => message.role === "assistant").length;
  const calls: ToolCallPart[] = [];
  for (const text of texts) {
    const tasks = offered.has("delegate") ? delegatedTasks(text) : [];
    if (tasks.length > 0) {
      calls.push({
        type: "tool-call",
        toolCallId: `demo_${step}_${calls.length}`,
        toolName: "delegate",
        input: JSON.stringify({ tasks: tasks.map((goal) => ({ goal })) }),
      });
      continue;
    }
    const used = usedTools(text, offered);
    if (used.length > 0) {
      for (const [toolName, input] of used.slice(0, DEMO_CALLS_PER_STEP_MAX - calls.length))
        calls.push({ type: "tool-call", toolCallId: `demo_${step}_${calls.length}`, toolName, input });
      continue;
    }
    const words = text.split(/\s+/).filter((word) => word !== "");
    for (let i = 0; i < words.length && calls.length < DEMO_CALLS_PER_STEP_MAX; i++) {
      const toolName = DEMO_DIRECTIVES.get(keyword(words[i]!));
      if (toolName === undefined || !offered.has(toolName)) continue;
      const next = words[i + 1];
      const path = next === undefined || DEMO_DIRECTIVES.has(keyword(next)) ? undefined : cleanPath(next);
      // `list` and `count` mean "here" without a path; `read` and `stat` need one.
      const target = path ?? (toolName === "list_files" || toolName === "count_lines" ? "." : undefined);
      if (target === undefined) continue;
      calls.push({
        type: "tool-call",
        toolCallId: `demo_${step}_${calls.length}`,
        toolName,
        input: JSON.stringify({ path: target }),
      });
      if (path !== undefined) i += 1;
    }
  }
  return calls;
}

/**
 * The calls of `use <tool> {json}` for tools on offer, in order: the arguments run to the last `}`
 * of the line (sent as written, so malformed JSON reaches the runtime as a model would send it).
 */
function usedTools(text: string, offered: ReadonlySet<string>): [string, string][] {
  const calls: [string, string][] = [];
  for (const match of text.matchAll(/\buse\s+([A-Za-z0-9_-]{1,64})(?:[ \t]+(\{.*\}))?/g)) {
    if (offered.has(match[1]!)) calls.push([match[1]!, match[2] ?? "{}"]);
  }
  return calls;
}

/** How a completion block opens each child's report (see `renderCompletions`). */
const COMPLETION_MARK = "<delegation id=";

/** The tasks of `delegate <task>; delegate <task>`, in order. */
function delegatedTasks(text: string): string[] {
  const parts = text.split(/\bdelegate\b/i);
  return parts
    .slice(1)
    .map((part) => part.replace(/^[\s:]+/, "").replace(/[\s;,.]+$/, ""))
    .filter((task) => task !== "");
}

/** One line per background result: its goal, status and first line of what it found. */
function acknowledge(blocks: string): string {
  const lines: string[] = [];
  for (const block of blocks.split(COMPLETION_MARK).slice(1)) {
    const status = /status="([a-z_]+)"/.exec(block)?.[1] ?? "unknown";
    const goal = /^goal: (.*)$/m.exec(block)?.[1] ?? "?";
    const result = /^result:\n([\s\S]*?)\nUse this result/m.exec(block)?.[1];
    const found = result?.replace(/\s*\n\s*/g, " ") ?? /^error \([^)]*\): (.*)$/m.exec(block)?.[1] ?? "";
    lines.push(`- ${goal}: ${status}${found === "" ? "" : ` — ${shorten(found, RESULT_CHARS_MAX)}`}`);
  }
  return `Background results arrived:\n${lines.join("\n")}`;
}

/** `Read:` and `(list` count as `read` and `list`. */
function keyword(word: string): string {
  return word.toLowerCase().replace(/[^a-z]/g, "");
}

/** Strips quotes and sentence punctuation around a path, keeping `.` and `..` intact. */
function cleanPath(word: string): string | undefined {
  let path = word.replace(/^["'`(]+/, "").replace(/["'`),;:!?]+$/, "");
  if (path.length > 1 && path.endsWith(".") && !/^\.+$/.test(path)) path = path.slice(0, -1);
  return path === "" ? undefined : path;
}

const SUMMARY_OPENINGS = ["Here is what I found:", "Done. Results:", "The tools report:"];
const ECHO_OPENINGS = ["Demo model here.", "Hello from the demo model.", "The demo model heard you."];
const RESULT_CHARS_MAX = 160;
const ECHO_CHARS_MAX = 200;

function summarise(
  results: readonly ToolResultPart[],
  asked: ReadonlyMap<string, ToolCallPart>,
  seed: number,
): string {
  const lines = results.map((result) => {
    const call = asked.get(result.toolCallId);
    const target = call === undefined ? "" : argumentOf(call.input);
    const label = target === "" ? result.toolName : `${result.toolName} ${target}`;
    const body = shorten(result.output.value.replace(/\s*\n\s*/g, "; "), RESULT_CHARS_MAX);
    return result.output.type === "error-text" ? `- ${label} failed: ${body}` : `- ${label}: ${body}`;
  });
  return `${pick(SUMMARY_OPENINGS, seed, lines.join())}\n${lines.join("\n")}`;
}

function echo(input: string, tools: readonly ModelTool[], seed: number): string {
  const said = shorten(input.trim(), ECHO_CHARS_MAX);
  const offered = new Set(tools.map((tool) => tool.name));
  const words = [...DEMO_DIRECTIVES]
    .filter(([, toolName]) => offered.has(toolName))
    .map(([word]) => `"${word} <path>"`);
  const hint = words.length === 0 ? "" : ` Try ${words.join(", ")} to see tool calls.`;
  return `${pick(ECHO_OPENINGS, seed, said)} You said: "${said}".${hint}`;
}

function argumentOf(input: string): string {
  try {
    const parsed: unknown = JSON.parse(input);
    const path = (parsed as { path?: unknown } | null)?.path;
    return typeof path === "string" ? path : "";
  } catch {
    return "";
  }
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** One of `options`, chosen by an FNV-1a hash of the seed and the text: varied, yet reproducible. */
function pick(options: readonly string[], seed: number, text: string): string {
  let hash = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return options[hash % options.length]!;
}
