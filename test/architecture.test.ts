/**
 * The layers of `src/` (DESIGN.md §4), enforced: every `.ts` file's imports — static, re-exports,
 * `import()` and `import("…")` types — must point downward, and the kernel must stay pure. A new
 * folder is one line in the table below; a file that belongs to no layer fails until it has one.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { scanImports, scanImpurities } from "./support/import-scanner.js";
import { type Layers, layerOf, layerViolations } from "./support/layers.js";

/** What every layer above the runtime may build on. */
const CORE = ["kernel", "errors", "validate"];
/** Adapters implement the runtime's ports; they never import each other. */
const ADAPTER = { imports: [...CORE, "runtime"], packages: "any", builtins: true } as const;
const ADAPTERS = ["store", "models", "tools", "host", "observability"];

/**
 * The layers: its files (a folder ends in `/`), the other layers it may import, the npm packages it
 * may import (`"any"`: an adapter's own optional peers), whether it may import Node built-ins, and
 * whether it must stay pure. `testing` is the public test kit, held like an adapter; `entry` is the
 * package root and the wiring that picks the default store; `mcp` (offstage/mcp) adapts MCP servers'
 * tools and serves a runtime's sessions over MCP; `workerEntry` is what a worker thread runs for a
 * worker tool: it imports the user's module that exports the tool, and nothing of ours; `thread`
 * (offstage/worker) runs a runtime in a worker thread (its entry makes the runtime with the package's
 * defaults); `server` and `cli` sit on top; `client` (offstage/client) runs in browsers too, so it
 * imports nothing of ours and no Node built-in. The worker entries and `offstage serve` (the user's
 * config module) are the only files that may `import()` a module named at run time.
 */
// biome-ignore format: the table reads best one layer a line
const LAYERS: Layers = {
  kernel:   { files: ["src/kernel/"], imports: [], packages: [], builtins: false, pure: true },
  errors:   { files: ["src/errors.ts"], imports: ["kernel", "validate"], packages: [], builtins: false },
  validate: { files: ["src/validate.ts", "src/json-problem.ts", "src/nearest-key.ts"], imports: ["kernel", "errors"], packages: [], builtins: false },
  runtime:  { files: ["src/runtime/"], imports: CORE, packages: ["hdr-histogram-js", "piscina", "@opentelemetry/api"], builtins: true },
  store:    { files: ["src/store/"], ...ADAPTER },
  models:   { files: ["src/models/"], ...ADAPTER },
  tools:    { files: ["src/tools/"], ...ADAPTER },
  host:     { files: ["src/host/"], ...ADAPTER },
  observability: { files: ["src/observability/"], ...ADAPTER },
  testing:  { files: ["src/testing/"], ...ADAPTER },
  workerEntry: { files: ["src/tools/worker/worker-entry.ts"], imports: [], packages: [], builtins: false,
                 userModules: ["src/tools/worker/worker-entry.ts"] },
  entry:    { files: ["src/index.ts", "src/create-runtime.ts"], imports: [...CORE, "runtime", ...ADAPTERS], packages: [], builtins: false },
  thread:   { files: ["src/thread/"], imports: [...CORE, "runtime", "entry"], packages: [], builtins: true, userModules: ["src/thread/module-export.ts"] },
  mcp:      { files: ["src/mcp/"], imports: [...CORE, "runtime", "tools"], packages: "any", builtins: true },
  client:   { files: ["src/client/"], imports: [], packages: [], builtins: false },
  server:   { files: ["src/server/"], imports: [...CORE, "runtime", ...ADAPTERS, "entry", "client"], packages: "any", builtins: true },
  cli:      { files: ["src/cli/"], imports: [...CORE, "runtime", ...ADAPTERS, "entry", "server", "mcp"], packages: "any", builtins: true,
              userModules: ["src/cli/commands/serve.ts"] },
};

const ROOT = join(import.meta.dirname, "..");

/** Every `.ts` file under `src/`, path (from the repository root, with `/`) → source. */
function sourceTree(): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(join(ROOT, "src"), { recursive: true, encoding: "utf8" }).sort()) {
    if (!entry.endsWith(".ts")) continue;
    const path = `src/${entry.split("\\").join("/")}`;
    files.set(path, readFileSync(join(ROOT, path), "utf8"));
  }
  return files;
}

/** The source file of each `./dist/…` path in package.json's `exports`, `main`, `types` and `bin`. */
function entrySources(pkg: Record<string, unknown>): { entry: string; dist: string; source: string }[] {
  const out: { entry: string; dist: string; source: string }[] = [];
  const walk = (entry: string, value: unknown): void => {
    if (typeof value === "string") {
      const dist = value.replace(/^\.\//, "");
      if (!dist.startsWith("dist/")) return;
      const source = `src/${dist.slice("dist/".length).replace(/\.d\.ts$|\.js$/, ".ts")}`;
      out.push({ entry, dist: value, source });
    } else if (typeof value === "object" && value !== null) {
      for (const [key, inner] of Object.entries(value)) walk(entry === "" ? key : entry, inner);
    }
  };
  walk("", pkg.exports);
  walk("main", pkg.main);
  walk("types", pkg.types);
  walk("bin", pkg.bin);
  return out;
}

/** The lines of `source` that re-export a whole module (`export * from`, `export * as x from`). */
function starExports(source: string): number[] {
  const file = ts.createSourceFile("index.ts", source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const lines: number[] = [];
  for (const statement of file.statements) {
    if (!ts.isExportDeclaration(statement) || statement.moduleSpecifier === undefined) continue;
    const clause = statement.exportClause;
    if (clause === undefined || ts.isNamespaceExport(clause)) {
      lines.push(file.getLineAndCharacterOfPosition(statement.getStart(file)).line + 1);
    }
  }
  return lines;
}

/** A source text written indented in a test: the first line break and the common indent go. */
function code(strings: TemplateStringsArray): string {
  const lines = strings.join("").replace(/^\n/, "").trimEnd().split("\n");
  const indent = Math.min(...lines.filter((l) => l.trim() !== "").map((l) => l.search(/\S/)));
  return lines.map((l) => l.slice(indent)).join("\n");
}

describe("the import scanner", () => {
  it("finds static imports, re-exports, import(), import types and require, each with its line", () => {
    const source = code`
      import { a } from "./a.js";
      import type { B } from "../b.js";
      import "./side-effect.js";
      import {
        c,
        d,
      } from "@scope/pkg/sub";
      export { e } from "./e.js";
      export * from "./all.js";
      export const f = 1;
      const g = await import("./lazy.js");
      type H = typeof import("node:fs").promises;
      import I = require("legacy");
      const j = require("cjs");
      const k = await import(name);
    `;
    expect(scanImports(source)).toEqual([
      { specifier: "./a.js", kind: "import", line: 1 },
      { specifier: "../b.js", kind: "import", line: 2 },
      { specifier: "./side-effect.js", kind: "import", line: 3 },
      { specifier: "@scope/pkg/sub", kind: "import", line: 4 },
      { specifier: "./e.js", kind: "export", line: 8 },
      { specifier: "./all.js", kind: "export", line: 9 },
      { specifier: "./lazy.js", kind: "dynamic", line: 11 },
      { specifier: "node:fs", kind: "type", line: 12 },
      { specifier: "legacy", kind: "require", line: 13 },
      { specifier: "cjs", kind: "require", line: 14 },
      { specifier: undefined, kind: "dynamic", line: 15 },
    ]);
  });

  it("ignores imports written in comments, strings and templates", () => {
    const source = code`
      /**
       * import { z } from "zod";
       */
      // import x from "../runtime/x.js";
      const s = 'import y from "../store/y.js"';
      const t = \`export * from "./t.js"; \${"import('./u.js')"}\`;
    `;
    expect(source).toContain("${");
    expect(scanImports(source)).toEqual([]);
  });

  it("finds the impure globals the kernel may not use, also through globalThis", () => {
    const uses = [
      ["const a = Date.now();", "Date.now"],
      ["const b = new Date();", "new Date"],
      ["const c = Math.random();", "Math.random"],
      ["setTimeout(() => {}, 1);", "setTimeout"],
      ["globalThis.setInterval(f, 1);", "globalThis.setInterval"],
      ["queueMicrotask(f);", "queueMicrotask"],
      ["const d = performance.now();", "performance.now"],
      ["const e = process.env.X;", "process.env"],
      ["const g = crypto.randomUUID();", "crypto.randomUUID"],
      ["setImmediate(f);", "setImmediate"],
    ];
    const source = uses.map(([line]) => line).join("\n");
    const found = scanImpurities(source).map((use) => `${use.line}:${use.name}`);
    expect(found).toEqual(uses.map(([, name], i) => `${i + 1}:${name}`));
  });

  it("leaves members, keys and comments of the same names alone", () => {
    const source = code`
      // Date.now() and Math.random() are not for the kernel
      const s = "setTimeout(process.exit)";
      clock.setTimeout(f, 1);
      const o = { now: 1, random: 2, process: 3, crypto: 4 };
      const { process: p } = o;
      interface C { setTimeout(ms: number): void; performance: number }
      const d = Date.parse(x) + Math.max(1, 2);
    `;
    expect(scanImpurities(source)).toEqual([]);
  });
});

describe("the layer rules", () => {
  const check = (files: Record<string, string>) => layerViolations(LAYERS, new Map(Object.entries(files)));

  it("place each folder and file in its layer", () => {
    expect(layerOf(LAYERS, "src/kernel/turn/turn-machine.ts")).toBe("kernel");
    expect(layerOf(LAYERS, "src/validate.ts")).toBe("validate");
    expect(layerOf(LAYERS, "src/store/sqlite/index.ts")).toBe("store");
    expect(layerOf(LAYERS, "src/kernelish.ts")).toBeUndefined();
  });

  it("keep the kernel inside itself and pure", () => {
    expect(
      check({
        "src/kernel/a.ts": [
          'import { b } from "./b.js";',
          'import { E } from "../errors.js";',
          'import { readFile } from "node:fs";',
          'const r = await import("../runtime/r.js");',
          "export const now = Date.now();",
        ].join("\n"),
      }),
    ).toEqual([
      'src/kernel/a.ts:2: import "../errors.js": src/errors.ts is in errors; kernel may import only [kernel]',
      'src/kernel/a.ts:3: import "node:fs": kernel may not import Node built-ins',
      'src/kernel/a.ts:4: dynamic "../runtime/r.js": src/runtime/r.ts is in runtime; kernel may import only [kernel]',
      "src/kernel/a.ts:5: uses Date.now: kernel is pure (no clocks, timers, randomness or IO)",
    ]);
  });

  it("let errors and validate import only each other and the kernel", () => {
    expect(
      check({
        "src/errors.ts":
          'import "./validate.js";\nimport "./kernel/limits.js";\nimport "./runtime/clock.js";',
        "src/validate.ts": 'import "./errors.js";\nimport "zod";',
      }),
    ).toEqual([
      'src/errors.ts:3: import "./runtime/clock.js": src/runtime/clock.ts is in runtime; errors may import only [errors, kernel, validate]',
      'src/validate.ts:2: import "zod": validate may import only the npm packages []',
    ]);
  });

  it("keep the runtime off the adapters, the top and other npm packages", () => {
    const violations = check({
      "src/runtime/r.ts": [
        'import "../kernel/k.js";',
        'import "../errors.js";',
        'import "hdr-histogram-js";',
        'import "@opentelemetry/api";',
        'import "node:async_hooks";',
        'import "../store/memory/memory-store.js";',
        'import "../testing/virtual-clock.js";',
        'import "../cli/main.js";',
        'import "../index.js";',
        'import "commander";',
      ].join("\n"),
    });
    expect(violations.map((v) => v.split(":")[1])).toEqual(["6", "7", "8", "9", "10"]);
  });

  it("keep the adapters apart and below the top", () => {
    const violations = check({
      "src/store/s.ts": 'import "../runtime/ports/store.js";\nimport "../tools/t.js";\nimport "pg";',
      "src/models/m.ts": 'import "../host/h.js";\nimport "../server/app.js";',
      "src/host/h.ts": 'import "../models/m.js";\nimport "../validate.js";',
    });
    expect(violations).toEqual([
      'src/store/s.ts:2: import "../tools/t.js": src/tools/t.ts is in tools; store may import only [store, kernel, errors, validate, runtime]',
      'src/models/m.ts:1: import "../host/h.js": src/host/h.ts is in host; models may import only [models, kernel, errors, validate, runtime]',
      'src/models/m.ts:2: import "../server/app.js": src/server/app.ts is in server; models may import only [models, kernel, errors, validate, runtime]',
      'src/host/h.ts:1: import "../models/m.js": src/models/m.ts is in models; host may import only [host, kernel, errors, validate, runtime]',
    ]);
  });

  it("name a file that belongs to no layer, and a computed import()", () => {
    expect(check({ "src/stray.ts": "", "src/cli/c.ts": "await import(name);" })).toEqual([
      "src/stray.ts: belongs to no layer (add it to the table in test/architecture.test.ts)",
      'src/cli/c.ts:1: dynamic "?": a computed import() cannot be checked',
    ]);
    // Only the worker entry may load the user's module by URL, and it may import nothing of ours.
    expect(
      check({
        "src/tools/worker/worker-entry.ts": 'await import(task.module);\nimport "../../runtime/clock.js";',
      }),
    ).toEqual([
      'src/tools/worker/worker-entry.ts:2: import "../../runtime/clock.js": src/runtime/clock.ts is in runtime; workerEntry may import only [workerEntry]',
    ]);
  });
});

describe("src/", () => {
  const files = sourceTree();

  it("reads the whole tree (the guard cannot pass on an empty one)", () => {
    expect(files.size).toBeGreaterThan(50);
    let imports = 0;
    for (const [path, source] of files) imports += scanImports(source, path).length;
    expect(imports).toBeGreaterThan(300);
    for (const layer of ["kernel", "errors", "validate", "runtime", "store", "entry"]) {
      expect(
        [...files.keys()].some((path) => layerOf(LAYERS, path) === layer),
        layer,
      ).toBe(true);
    }
  });

  it("imports only downward, and the kernel stays pure", () => {
    expect(layerViolations(LAYERS, files)).toEqual([]);
  });

  it("has a source file for every entry package.json names, and no export * at the root", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as Record<string, unknown>;
    const entries = entrySources(pkg);
    expect(entries.map((e) => e.entry)).toContain("./testing/conformance");
    const missing = entries.filter((e) => !existsSync(join(ROOT, e.source)));
    expect(missing.map((e) => `${e.entry}: ${e.dist} has no ${e.source}`)).toEqual([]);
    expect(starExports(files.get("src/index.ts") ?? "")).toEqual([]);
  });

  it("maps dist paths to their sources and finds export *", () => {
    const pkg = {
      exports: { ".": { types: "./dist/index.d.ts", default: "./dist/index.js" }, "./x": "./dist/x/y.js" },
    };
    expect(entrySources(pkg).map((e) => `${e.entry} ${e.source}`)).toEqual([
      ". src/index.ts",
      ". src/index.ts",
      "./x src/x/y.ts",
    ]);
    expect(
      starExports('export { a } from "./a.js";\nexport * from "./b.js";\nexport * as c from "./c.js";'),
    ).toEqual([2, 3]);
  });
});
