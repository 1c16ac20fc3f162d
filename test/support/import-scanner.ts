/**
 * Reads a TypeScript file's imports and its uses of impure globals, for the architecture test. It
 * parses with the TypeScript compiler rather than matching text, so an import written in a comment
 * or a string is not one, and one spread over many lines still is.
 */
import ts from "typescript";

/** How a module is pulled in. */
export type ImportKind = "import" | "export" | "dynamic" | "type" | "require";

/** One module a file names. */
export interface ImportRef {
  /** The module specifier as written; `undefined` when a dynamic import computes it. */
  readonly specifier: string | undefined;
  readonly kind: ImportKind;
  /** 1-based line of the import in the file. */
  readonly line: number;
}

/** One use of a global that does IO, reads a clock or draws randomness. */
export interface ImpureRef {
  /** What was used, as a reader would write it: `Date.now`, `new Date`, `setTimeout`, `process.env`. */
  readonly name: string;
  readonly line: number;
}

/** Globals the kernel may not touch, by how they are reached. */
const IMPURE_GLOBALS: ReadonlySet<string> = new Set([
  "setTimeout",
  "setInterval",
  "setImmediate",
  "clearTimeout",
  "clearInterval",
  "clearImmediate",
  "queueMicrotask",
  "performance",
  "process",
  "crypto",
  "fetch",
]);
/** Members that read a clock or draw randomness, by the global that owns them. */
const IMPURE_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  Date: ["now"],
  Math: ["random"],
};
/** Names through which a global can be reached as a member (`globalThis.setTimeout`). */
const GLOBAL_OBJECTS: ReadonlySet<string> = new Set(["globalThis", "global", "window", "self"]);

function parse(source: string, fileName: string): ts.SourceFile {
  return ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
}

function lineOf(file: ts.SourceFile, node: ts.Node): number {
  return file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1;
}

function literalText(node: ts.Node | undefined): string | undefined {
  return node !== undefined && ts.isStringLiteralLike(node) ? node.text : undefined;
}

/** Every module `source` names: static imports and re-exports, `import()`, `import("…")` types, `require`. */
export function scanImports(source: string, fileName = "file.ts"): ImportRef[] {
  const file = parse(source, fileName);
  const out: ImportRef[] = [];
  const add = (specifier: string | undefined, kind: ImportKind, node: ts.Node): void => {
    out.push({ specifier, kind, line: lineOf(file, node) });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      add(literalText(node.moduleSpecifier), "import", node);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined) {
      add(literalText(node.moduleSpecifier), "export", node);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(literalText(node.moduleReference.expression), "require", node);
    } else if (ts.isImportTypeNode(node)) {
      const argument = ts.isLiteralTypeNode(node.argument) ? node.argument.literal : undefined;
      add(literalText(argument), "type", node);
    } else if (ts.isCallExpression(node)) {
      if (node.expression.kind === ts.SyntaxKind.ImportKeyword) {
        add(literalText(node.arguments[0]), "dynamic", node);
      } else if (ts.isIdentifier(node.expression) && node.expression.text === "require") {
        add(literalText(node.arguments[0]), "require", node);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return out;
}

/** Whether `node` is a name that declares or labels something rather than reading a global. */
function isDeclaredName(node: ts.Identifier): boolean {
  const parent = node.parent;
  if (ts.isPropertyAccessExpression(parent) && parent.name === node) return true;
  if (ts.isQualifiedName(parent) && parent.right === node) return true;
  if (
    (ts.isPropertyAssignment(parent) ||
      ts.isPropertyDeclaration(parent) ||
      ts.isPropertySignature(parent) ||
      ts.isMethodDeclaration(parent) ||
      ts.isMethodSignature(parent) ||
      ts.isGetAccessorDeclaration(parent) ||
      ts.isSetAccessorDeclaration(parent) ||
      ts.isEnumMember(parent)) &&
    parent.name === node
  ) {
    return true;
  }
  if (ts.isBindingElement(parent) && parent.propertyName === node) return true;
  return ts.isImportSpecifier(parent) || ts.isExportSpecifier(parent) || ts.isLabeledStatement(parent);
}

/**
 * Every use in `source` of a global that does IO, reads a clock or draws randomness: timers and
 * `queueMicrotask`, `Date.now` and `new Date`, `Math.random`, `performance`, `process`, `crypto`,
 * `fetch`, also when reached through `globalThis`. A member of the same name on another object
 * (`clock.setTimeout`, `{ now }`) is not one.
 */
export function scanImpurities(source: string, fileName = "file.ts"): ImpureRef[] {
  const file = parse(source, fileName);
  const out: ImpureRef[] = [];
  const add = (name: string, node: ts.Node): void => {
    out.push({ name, line: lineOf(file, node) });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === "Date") {
      add("new Date", node);
    } else if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression)) {
      const owner = node.expression.text;
      const member = node.name.text;
      if (IMPURE_MEMBERS[owner]?.includes(member) === true) add(`${owner}.${member}`, node);
      if (GLOBAL_OBJECTS.has(owner) && IMPURE_GLOBALS.has(member)) add(`${owner}.${member}`, node);
    } else if (ts.isIdentifier(node) && IMPURE_GLOBALS.has(node.text) && !isDeclaredName(node)) {
      const parent = node.parent;
      const name = ts.isPropertyAccessExpression(parent) ? `${node.text}.${parent.name.text}` : node.text;
      add(name, node);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return out;
}
