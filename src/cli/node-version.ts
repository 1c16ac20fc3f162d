/**
 * Which Node.js the command line runs on. Checked before anything else loads: the rest of the
 * package imports `node:sqlite`, which an older Node cannot even link, and would crash with
 * `ERR_UNKNOWN_BUILTIN_MODULE` instead of saying what is needed. Plain code with no imports, so it
 * runs on any Node.
 *
 * @packageDocumentation
 */

/** The oldest Node.js release the package supports (package.json `engines`). */
export const NODE_MIN = [22, 13] as const;

/** What is wrong with running on Node.js `version` (`process.versions.node`), or `undefined` when it is fine. */
export function nodeVersionProblem(version: string): string | undefined {
  const [major = 0, minor = 0] = version.split(".").map((part) => Number.parseInt(part, 10));
  const [needMajor, needMinor] = NODE_MIN;
  if (major > needMajor || (major === needMajor && minor >= needMinor)) return undefined;
  return (
    `offstage needs Node.js ${needMajor}.${needMinor} or later (24 LTS recommended; its SQLite store ` +
    `needs 22.16 or later); this is Node.js ${version}. Install a newer Node.js, or run it through a ` +
    "project that pins one (the npm package `node`: npx -p node@24 offstage ...)."
  );
}
