/**
 * Read-only file tools over one workspace directory: `list_files`, `read_file`, `count_lines` and
 * `file_info`. The demo's agents use them on real files, so what they report is true, and every path
 * is confined to the workspace — including through symbolic links — because the arguments come from a
 * model, and a model can be talked into asking for `../../.ssh/id_rsa`.
 *
 * Failures (missing file, path outside the workspace) are thrown as plain errors: the runtime turns
 * them into tool errors the model sees.
 *
 * @packageDocumentation
 */
import { createReadStream } from "node:fs";
import { open, readdir, readFile, realpath, stat } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import type { Tool } from "../../runtime/ports/tool.js";
import { argumentsOf, checkOptions, checkPositiveInteger, fail } from "../../validate.js";
import { defineTool } from "../define-tool.js";

const CREATE = argumentsOf("createFileTools()");

/** Options of {@link createFileTools}. */
export interface FileToolsOptions {
  /** The workspace directory; every path the model gives is resolved against it and must stay inside. */
  readonly root: string;
  /** Bytes `read_file` returns at most (default 64 KiB); longer files are cut and the answer says so. */
  readonly readBytesMax?: number;
  /** Entries `list_files` shows at most (default 500); the rest are counted. */
  readonly listEntriesMax?: number;
  /** Files `count_lines` reads at most when given a directory (default 1,000). */
  readonly countFilesMax?: number;
}

/** Arguments every file tool takes. */
interface PathArgs {
  readonly path?: string;
}

const pathSchema = (required: boolean, description: string) => ({
  type: "object",
  properties: { path: { type: "string", minLength: 1, description } },
  ...(required ? { required: ["path"] } : {}),
  additionalProperties: false,
});

/**
 * Creates the four file tools over `root`.
 *
 * - `list_files {path?}` — the entries of a directory (default: the workspace), directories marked `/`.
 * - `read_file {path}` — a file's text, at most `readBytesMax` bytes; a longer file is cut, and the
 *   answer ends with a note saying how much was shown.
 * - `count_lines {path}` — lines in a file, or in every file under a directory (symbolic links are not
 *   followed while walking).
 * - `file_info {path}` — type, size and modification time.
 *
 * Paths are relative to `root` (absolute paths inside it work too). A path that leaves the workspace,
 * by `..` or through a symbolic link, is refused with a tool error. Each tool stops when its
 * `AbortSignal` fires (reads are aborted, walks stop between files).
 *
 * @throws {@link InvalidInputError} with code `INVALID_ARGUMENT` for a missing `root` or a bound that
 *   is not a positive integer.
 *
 * @example
 * ```ts
 * const runtime = createRuntime({
 *   agents: { assistant: { model, tools: createFileTools({ root: "./workspace" }) } },
 * });
 * ```
 */
export function createFileTools(options: FileToolsOptions): Tool[] {
  const given = checkOptions(CREATE, "options", options, FILE_TOOLS_KEYS);
  if (typeof given.root !== "string" || given.root === "")
    fail(CREATE, "options.root", given.root, "a directory path");
  const root = resolve(given.root);
  const readBytesMax = bound("readBytesMax", given.readBytesMax, 64 * 1024);
  const listEntriesMax = bound("listEntriesMax", given.listEntriesMax, 500);
  const countFilesMax = bound("countFilesMax", given.countFilesMax, 1_000);
  return [
    defineTool<PathArgs>({
      name: "list_files",
      description: "List the files and directories in a workspace directory. Directories end with '/'.",
      schema: pathSchema(false, "Directory relative to the workspace root; default '.'"),
      execute: async ({ path = "." }, { signal }) =>
        listFiles(await locate(root, path), listEntriesMax, signal),
    }),
    defineTool<PathArgs>({
      name: "read_file",
      description: `Read a text file from the workspace (at most ${readBytesMax} bytes; longer files are cut).`,
      schema: pathSchema(true, "File relative to the workspace root"),
      execute: async ({ path = "" }, { signal }) => readText(await locate(root, path), readBytesMax, signal),
    }),
    defineTool<PathArgs>({
      name: "count_lines",
      description: "Count the lines of a file, or of every file under a directory.",
      schema: pathSchema(true, "File or directory relative to the workspace root"),
      execute: async ({ path = "" }, { signal }) =>
        countLines(await locate(root, path), countFilesMax, signal),
    }),
    defineTool<PathArgs>({
      name: "file_info",
      description: "Show whether a path is a file or a directory, its size and when it was last modified.",
      schema: pathSchema(true, "File or directory relative to the workspace root"),
      execute: async ({ path = "" }) => fileInfo(await locate(root, path)),
    }),
  ];
}

const FILE_TOOLS_KEYS = Object.keys({
  root: true,
  readBytesMax: true,
  listEntriesMax: true,
  countFilesMax: true,
} satisfies Record<keyof FileToolsOptions, true>);

function bound(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  checkPositiveInteger(CREATE, `options.${name}`, value);
  return value;
}

/** A path inside the workspace: where it really is, and how to show it to the model. */
interface Located {
  readonly absolute: string;
  readonly shown: string;
}

/** Resolves `path` inside `root`, refusing anything that ends up outside — lexically or via a symlink. */
async function locate(root: string, path: string): Promise<Located> {
  const lexical = resolve(root, path);
  if (!isInside(root, lexical)) throw new Error(`${JSON.stringify(path)} is outside the workspace`);
  let realRoot: string;
  try {
    realRoot = await realpath(root);
  } catch (error) {
    throw new Error(`the workspace ${JSON.stringify(root)} is not readable (${codeOf(error)})`);
  }
  let real: string;
  try {
    real = await realpath(lexical);
  } catch (error) {
    throw new Error(
      `${JSON.stringify(path)}: ${codeOf(error) === "ENOENT" ? "no such file or directory" : codeOf(error)}`,
    );
  }
  if (!isInside(realRoot, real)) throw new Error(`${JSON.stringify(path)} leads outside the workspace`);
  return { absolute: real, shown: display(realRoot, real) };
}

function isInside(root: string, target: string): boolean {
  const rel = relative(root, target);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** Workspace-relative, with `/` on every platform, `.` for the root itself. */
function display(root: string, target: string): string {
  return relative(root, target).split(sep).join("/") || ".";
}

function codeOf(error: unknown): string {
  return (error as { code?: unknown })?.code === undefined
    ? String(error)
    : String((error as { code: unknown }).code);
}

async function listFiles(at: Located, entriesMax: number, signal: AbortSignal): Promise<string> {
  signal.throwIfAborted();
  if (!(await stat(at.absolute)).isDirectory())
    throw new Error(`${at.shown} is a file, not a directory; use read_file`);
  const entries = await readdir(at.absolute, { withFileTypes: true });
  signal.throwIfAborted();
  // Code-unit order, not locale order: the same listing on every machine.
  const names = entries
    .map((entry) => (entry.isDirectory() ? `${entry.name}/` : entry.name))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (names.length === 0) return `${at.shown}: empty directory`;
  const shown = names.slice(0, entriesMax);
  if (names.length > shown.length) shown.push(`… and ${names.length - shown.length} more`);
  return `${at.shown}: ${names.length} ${names.length === 1 ? "entry" : "entries"}\n${shown.join("\n")}`;
}

async function readText(at: Located, bytesMax: number, signal: AbortSignal): Promise<string> {
  signal.throwIfAborted();
  const info = await stat(at.absolute);
  if (info.isDirectory()) throw new Error(`${at.shown} is a directory; use list_files`);
  let bytes: Uint8Array;
  if (info.size <= bytesMax) {
    bytes = await readFile(at.absolute, { signal });
  } else {
    // Read only the part that is shown: a huge file costs no more than a small one.
    const handle = await open(at.absolute, "r");
    try {
      const buffer = new Uint8Array(bytesMax);
      const { bytesRead } = await handle.read(buffer, 0, bytesMax, 0);
      bytes = buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
    signal.throwIfAborted();
  }
  if (bytes.includes(0)) return `${at.shown} is a binary file (${info.size} bytes); not shown`;
  // `stream: true` holds back a UTF-8 sequence cut at the byte limit instead of showing U+FFFD.
  const text = new TextDecoder("utf-8").decode(bytes, { stream: info.size > bytesMax });
  if (info.size <= bytesMax) return text;
  return `${text}\n[truncated: showed the first ${bytes.length} of ${info.size} bytes of ${at.shown}]`;
}

async function countLines(at: Located, filesMax: number, signal: AbortSignal): Promise<string> {
  signal.throwIfAborted();
  if (!(await stat(at.absolute)).isDirectory()) {
    const lines = await linesIn(at.absolute, signal);
    return `${at.shown}: ${lines} ${lines === 1 ? "line" : "lines"}`;
  }
  const files = await walkFiles(at.absolute, filesMax + 1, signal);
  const counted = files.slice(0, filesMax);
  const rows: string[] = [];
  let total = 0;
  for (const file of counted) {
    const lines = await linesIn(file, signal);
    total += lines;
    rows.push(`${display(at.absolute, file)}: ${lines}`);
  }
  const head = `${at.shown}: ${total} ${total === 1 ? "line" : "lines"} in ${counted.length} ${counted.length === 1 ? "file" : "files"}`;
  const tail =
    files.length > filesMax ? [`[stopped after ${filesMax} ${filesMax === 1 ? "file" : "files"}]`] : [];
  return [head, ...rows, ...tail].join("\n");
}

/** Regular files under `dir`, depth first in name order, at most `limit`. Symlinks are skipped. */
async function walkFiles(dir: string, limit: number, signal: AbortSignal): Promise<string[]> {
  const found: string[] = [];
  const pending = [dir];
  while (pending.length > 0 && found.length < limit) {
    signal.throwIfAborted();
    const current = pending.pop()!;
    const entries = await readdir(current, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const subdirs: string[] = [];
    for (const entry of entries) {
      if (entry.isFile() && found.length < limit) found.push(join(current, entry.name));
      else if (entry.isDirectory()) subdirs.push(join(current, entry.name));
    }
    // Reversed so that popping visits subdirectories in name order.
    for (let i = subdirs.length - 1; i >= 0; i--) pending.push(subdirs[i]!);
  }
  return found;
}

/** Newlines in a file, plus one for a last line without a newline. Streams, so size does not matter. */
async function linesIn(file: string, signal: AbortSignal): Promise<number> {
  let newlines = 0;
  let last = -1;
  for await (const chunk of createReadStream(file, { signal })) {
    const bytes = chunk as Buffer;
    for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) newlines += 1;
    if (bytes.length > 0) last = bytes[bytes.length - 1]!;
  }
  return last === -1 || last === 10 ? newlines : newlines + 1;
}

async function fileInfo(at: Located): Promise<string> {
  const info = await stat(at.absolute);
  const kind = info.isDirectory() ? "directory" : info.isFile() ? "file" : "special file";
  let size = `${info.size} ${info.size === 1 ? "byte" : "bytes"}`;
  if (info.isDirectory()) {
    const entries = (await readdir(at.absolute)).length;
    size = `${entries} ${entries === 1 ? "entry" : "entries"}`;
  }
  return `${at.shown}: ${kind}, ${size}, modified ${info.mtime.toISOString()}`;
}
