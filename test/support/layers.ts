/**
 * Checks a source tree against a table of layers: which layer each file belongs to, which layers,
 * npm packages and Node built-ins it may import, and whether it must stay pure. The architecture test
 * holds the table; this module only applies it, so the rules read as data in one place.
 */
import { isBuiltin } from "node:module";
import { posix } from "node:path";
import { scanImports, scanImpurities } from "./import-scanner.js";

/** One layer of the source tree. */
export interface Layer {
  /** Its files: folders (ending in `/`) and single files, relative to the repository root. */
  readonly files: readonly string[];
  /** The other layers whose files it may import; its own files it always may. */
  readonly imports: readonly string[];
  /** npm packages it may import by name, or `"any"` (an adapter brings its own optional peers). */
  readonly packages: "any" | readonly string[];
  /** Whether it may import Node built-ins (`node:fs`, …). */
  readonly builtins: boolean;
  /** Held to purity: no clocks, timers, randomness or IO reached through globals either. */
  readonly pure?: boolean;
  /**
   * Files of the layer that `import()` a module named only at run time — the user's own code (a
   * config file, a worker tool's module), which no table could name.
   */
  readonly userModules?: readonly string[];
}

/** The layers by name. */
export type Layers = Readonly<Record<string, Layer>>;

/** What one file's import points at. */
type Target =
  | { readonly kind: "file"; readonly path: string }
  | { readonly kind: "builtin"; readonly name: string }
  | { readonly kind: "package"; readonly name: string }
  | { readonly kind: "computed" };

/** The layer `path` belongs to: the longest matching entry wins, so a file can sit in a folder's layer. */
export function layerOf(layers: Layers, path: string): string | undefined {
  let best: string | undefined;
  let bestLength = -1;
  for (const [name, layer] of Object.entries(layers)) {
    for (const entry of layer.files) {
      const matches = entry.endsWith("/") ? path.startsWith(entry) : path === entry;
      if (matches && entry.length > bestLength) {
        best = name;
        bestLength = entry.length;
      }
    }
  }
  return best;
}

/** The npm package a bare specifier names: `@scope/name` or `name`. */
export function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? specifier);
}

function targetOf(from: string, specifier: string | undefined): Target {
  if (specifier === undefined) return { kind: "computed" };
  if (specifier.startsWith(".") || specifier.startsWith("/")) {
    const joined = posix.normalize(posix.join(posix.dirname(from), specifier));
    return { kind: "file", path: joined.replace(/\.(m|c)?js$/, ".$1ts") };
  }
  if (specifier.startsWith("node:") || isBuiltin(specifier)) return { kind: "builtin", name: specifier };
  return { kind: "package", name: packageName(specifier) };
}

function allowed(layers: Layers, own: string, target: Target, path: string): string | undefined {
  const layer = layers[own];
  if (layer === undefined) return "it belongs to no layer";
  switch (target.kind) {
    case "computed":
      return layer.userModules?.includes(path) === true ? undefined : "a computed import() cannot be checked";
    case "builtin":
      return layer.builtins ? undefined : `${own} may not import Node built-ins`;
    case "package": {
      const packages = layer.packages;
      if (packages === "any" || packages.includes(target.name)) return undefined;
      return `${own} may import only the npm packages [${packages.join(", ")}]`;
    }
    case "file": {
      const theirs = layerOf(layers, target.path);
      if (theirs === own || (theirs !== undefined && layer.imports.includes(theirs))) return undefined;
      const where = theirs === undefined ? "outside every layer" : `in ${theirs}`;
      return `${target.path} is ${where}; ${own} may import only [${[own, ...layer.imports].join(", ")}]`;
    }
  }
}

/**
 * Every breach of `layers` in `files` (path → source), one line each naming the file, the line and
 * what it imports or uses; empty when the tree keeps every rule.
 */
export function layerViolations(layers: Layers, files: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const [path, source] of files) {
    const own = layerOf(layers, path);
    if (own === undefined) {
      out.push(`${path}: belongs to no layer (add it to the table in test/architecture.test.ts)`);
      continue;
    }
    for (const ref of scanImports(source, path)) {
      const why = allowed(layers, own, targetOf(path, ref.specifier), path);
      if (why !== undefined) out.push(`${path}:${ref.line}: ${ref.kind} "${ref.specifier ?? "?"}": ${why}`);
    }
    if (layers[own]?.pure === true) {
      for (const use of scanImpurities(source, path)) {
        out.push(
          `${path}:${use.line}: uses ${use.name}: ${own} is pure (no clocks, timers, randomness or IO)`,
        );
      }
    }
  }
  return out;
}
