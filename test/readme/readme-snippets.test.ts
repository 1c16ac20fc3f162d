/**
 * Every `ts` block of README.md runs as written: each is written to a file of its own in a fresh
 * folder that has the package installed by name (`offstage`, `offstage/demo`, ... resolve to the
 * built package, as they would for a user), type-checked against the package's published types, and
 * run with the pinned Node. A block whose first line is `// readme: fragment` is not run (none is:
 * prefer making a block whole).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, ROOT } from "../support/build.js";

const FRAGMENT = "// readme: fragment";

interface Snippet {
  /** The heading the block sits under, for the test's name. */
  readonly section: string;
  readonly line: number;
  readonly code: string;
}

/** The ```ts blocks of a Markdown text, with the heading each sits under. */
function extractSnippets(markdown: string): Snippet[] {
  const snippets: Snippet[] = [];
  const lines = markdown.split("\n");
  let section = "(top)";
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith("#")) section = line.replace(/^#+\s*/, "");
    if (line.trim() !== "```ts") continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end]!.trim() !== "```") end++;
    snippets.push({ section, line: start + 1, code: lines.slice(start, end).join("\n") });
    i = end;
  }
  return snippets;
}

const snippets = extractSnippets(readFileSync(join(ROOT, "README.md"), "utf8"));
const runnable = snippets.filter((s) => !s.code.trimStart().startsWith(FRAGMENT));
let dir = "";

/** A folder where `offstage` is installed (a link to this package), as in a user's project. */
function userProject(): string {
  const project = mkdtempSync(join(tmpdir(), "offstage-readme-"));
  const modules = join(project, "node_modules");
  mkdirSync(join(modules, "@types"), { recursive: true });
  symlinkSync(ROOT, join(modules, "offstage"), "dir");
  // What the snippets import besides the package, and the types a TypeScript user would have.
  symlinkSync(join(ROOT, "node_modules", "zod"), join(modules, "zod"), "dir");
  symlinkSync(join(ROOT, "node_modules", "@opentelemetry"), join(modules, "@opentelemetry"), "dir");
  symlinkSync(join(ROOT, "node_modules", "@ai-sdk"), join(modules, "@ai-sdk"), "dir");
  symlinkSync(
    join(ROOT, "node_modules", "@modelcontextprotocol"),
    join(modules, "@modelcontextprotocol"),
    "dir",
  );
  symlinkSync(join(ROOT, "node_modules", "piscina"), join(modules, "piscina"), "dir");
  symlinkSync(join(ROOT, "node_modules", "@types", "node"), join(modules, "@types", "node"), "dir");
  writeFileSync(join(project, "package.json"), JSON.stringify({ type: "module", private: true }));
  writeFileSync(
    join(project, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "es2023",
        lib: ["es2023", "esnext.disposable"],
        module: "nodenext",
        moduleResolution: "nodenext",
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        allowImportingTsExtensions: true,
        types: ["node"],
      },
      include: ["*.ts"],
    }),
  );
  return project;
}

beforeAll(() => {
  ensureBuilt();
  dir = userProject();
  for (const [i, snippet] of runnable.entries())
    writeFileSync(join(dir, `snippet-${i + 1}.ts`), snippet.code);
}, 300_000);

afterAll(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

describe("README.md", () => {
  it("has whole snippets to run (a fragment marker is the exception)", () => {
    expect(runnable.length).toBeGreaterThanOrEqual(4);
    expect(runnable.length).toBe(snippets.length);
  });

  it("every snippet type-checks against the package's published types", () => {
    const tsc = spawnSync(
      process.execPath,
      [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", dir],
      {
        encoding: "utf8",
      },
    );
    expect(tsc.stdout + tsc.stderr, "tsc on the README snippets").toBe("");
    expect(tsc.status).toBe(0);
  }, 120_000);

  it.each(runnable.map((snippet, i) => [`${snippet.section} (README.md:${snippet.line})`, i] as const))(
    "%s runs as written",
    (_name, i) => {
      // Each in its own working folder: the snippets write files (./data/offstage.db).
      const cwd = join(dir, `run-${i + 1}`);
      mkdirSync(cwd);
      const ran = spawnSync(process.execPath, [join(dir, `snippet-${i + 1}.ts`)], {
        cwd,
        encoding: "utf8",
        timeout: 60_000,
        env: { ...process.env, NODE_NO_WARNINGS: "1" },
      });
      const where = `snippet ${relative(ROOT, join(dir, `snippet-${i + 1}.ts`))}`;
      // A job holding the thread is reported on stderr; on a loaded machine the first, cold one can.
      const stderr = ran.stderr
        .split("\n")
        .filter((line) => line !== "" && !/^offstage warn: .* held the thread for /.test(line));
      expect(stderr, where).toEqual([]);
      expect(ran.status, where).toBe(0);
      const output = ran.stdout;
      if (runnable[i]!.code.includes('agent: "counter"')) expect(output).toContain("seen 2 inputs; last: b");
      if (runnable[i]!.code.includes("handle.stored()")) expect(output).toContain("durable");
      if (runnable[i]!.code.includes("lead.delegate(")) expect(output).toContain("dispatched");
      if (runnable[i]!.code.includes("otelTelemetry(")) expect(output).toContain("invoke_agent lead");
      if (runnable[i]!.code.includes("mcpTools(client")) expect(output).toContain("Oslo: sunny, 21 °C");
      if (runnable[i]!.code.includes("createSlot<string>")) expect(output).toMatch(/^sunny at frame \d+$/m);
      if (runnable[i]!.code.includes("createSessionSlot("))
        expect(output).toMatch(/look_around.*the player is at x=\d+ on frame \d+/);
      if (runnable[i]!.code.includes("createWorkerPool(")) expect(output).toContain("count_primes: 9592");
    },
    60_000,
  );
});
