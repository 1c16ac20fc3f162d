/**
 * Where an MCP server is: a command Offstage starts and talks to over stdio, or the URL of a
 * Streamable HTTP endpoint. Checked once, up front, with messages that quote the bad value.
 *
 * @packageDocumentation
 */
import { argumentsOf, checkObject, checkText, fail, isRecord, type Subject } from "../validate.js";

/** An MCP server Offstage starts as a child process and talks to over its stdin and stdout. */
export interface McpStdioConfig {
  /** The program to run (looked up on `PATH`); no shell is involved. */
  readonly command: string;
  readonly args?: readonly string[];
  /** Added to a minimal inherited environment (`HOME`, `PATH`, `SHELL`, `TERM`, `USER`, `LOGNAME`). */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Shown in messages; defaults to the command line. */
  readonly name?: string;
}

/** An MCP server reached over Streamable HTTP. */
export interface McpHttpConfig {
  readonly url: string | URL;
  /** Sent with every request (an `Authorization` header, say). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Shown in messages; defaults to the URL. */
  readonly name?: string;
}

/** Where an MCP server is. */
export type McpServerConfig = McpStdioConfig | McpHttpConfig;

/** A checked config, with the name messages use. */
export type CheckedMcpConfig =
  | { readonly kind: "stdio"; readonly name: string; readonly config: McpStdioConfig }
  | { readonly kind: "http"; readonly name: string; readonly url: URL; readonly config: McpHttpConfig };

/** Checks a config; throws `InvalidInputError` `INVALID_ARGUMENT` naming the bad field. */
export function checkMcpConfig(subject: Subject, config: unknown): CheckedMcpConfig {
  checkObject(subject, "config", config, "an MCP server config ({ command, args } or { url })");
  const c = config as Record<string, unknown>;
  if (c.name !== undefined) checkText(subject, "config.name", c.name, 200);
  if ("url" in c) {
    let url: URL;
    try {
      url = new URL(c.url instanceof URL ? c.url.href : (c.url as string));
    } catch {
      fail(subject, "config.url", c.url, "an http: or https: URL");
    }
    if (url.protocol !== "http:" && url.protocol !== "https:")
      fail(subject, "config.url", c.url, "an http: or https: URL");
    checkStringRecord(subject, "config.headers", c.headers);
    const name = (c.name as string | undefined) ?? url.href;
    return { kind: "http", name, url, config: config as McpHttpConfig };
  }
  checkText(subject, "config.command", c.command, 4096);
  if (c.args !== undefined && !(Array.isArray(c.args) && c.args.every((a) => typeof a === "string")))
    fail(subject, "config.args", c.args, "an array of strings");
  checkStringRecord(subject, "config.env", c.env);
  if (c.cwd !== undefined) checkText(subject, "config.cwd", c.cwd, 4096);
  const args = (c.args as string[] | undefined) ?? [];
  const name = (c.name as string | undefined) ?? [c.command as string, ...args].join(" ");
  return { kind: "stdio", name, config: config as McpStdioConfig };
}

function checkStringRecord(subject: Subject, name: string, value: unknown): void {
  if (value === undefined) return;
  if (!isRecord(value) || !Object.values(value).every((v) => typeof v === "string"))
    fail(subject, name, value, "an object of strings");
}

const PARSE: Subject = argumentsOf("parseMcpCommand()");

/**
 * Reads an MCP server from one line, as a command line takes it: an `http://` or `https://` URL
 * (Streamable HTTP), or a command with its arguments, split like a shell splits words (single and
 * double quotes, backslash escapes; no variables, globs or pipes).
 *
 * @example
 * parseMcpCommand("npx -y @modelcontextprotocol/server-everything"); // { command: "npx", args: [...] }
 * parseMcpCommand("http://127.0.0.1:3000/mcp");                      // { url: "http://127.0.0.1:3000/mcp" }
 */
export function parseMcpCommand(line: string): McpServerConfig {
  checkText(PARSE, "command line", line, 4096);
  const trimmed = line.trim();
  if (/^https?:\/\//i.test(trimmed)) return { url: trimmed };
  const words = splitWords(trimmed);
  if (words === undefined) fail(PARSE, "command line", line, "a command line with balanced quotes");
  if (words.length === 0) fail(PARSE, "command line", line, "a command to run or an http(s) URL");
  return { command: words[0]!, args: words.slice(1) };
}

/** Shell-like word splitting; `undefined` when a quote is left open. */
function splitWords(line: string): string[] | undefined {
  const words: string[] = [];
  let word: string | undefined;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote === "'") {
      if (ch === "'") quote = undefined;
      else word = `${word ?? ""}${ch}`;
    } else if (quote === '"') {
      if (ch === '"') quote = undefined;
      else if (ch === "\\" && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!))
        word = `${word ?? ""}${line[++i]}`;
      else word = `${word ?? ""}${ch}`;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      word ??= "";
    } else if (ch === "\\" && i + 1 < line.length) {
      word = (word ?? "") + line[++i];
    } else if (/\s/.test(ch)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? "") + ch;
    }
  }
  if (quote !== undefined) return undefined;
  if (word !== undefined) words.push(word);
  return words;
}
