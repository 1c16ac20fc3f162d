// The one way a benchmark loads Offstage: the built package (`npm run build`; `npm run bench` builds
// first), so it measures what users get, never the TypeScript sources.
//
// The package's root entry exports the runtime, the memory store and the logger. Adapters and test
// doubles sit behind subpath entries in newer builds (`offstage/sqlite`, `offstage/testing`,
// `offstage/demo`) and in the root in older ones; the loader takes an entry of the same dist folder
// only when the root lacks what the benchmarks need from it, so the same benchmark measures builds of
// either layout (`--clean-build`, `bench/lab/ab.mjs` with an older build). Skipping a subpath the root
// already covers also keeps out the older `testing` entry, which imports vitest.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** Subpath entries beside the root index.js, each with the export that says the root lacks it. */
const SUBPATHS = [
  { file: "store/sqlite/index.js", needed: "createSqliteStore" },
  { file: "store/postgres/index.js", needed: "createPostgresStore" },
  { file: "testing/index.js", needed: "createNoopModel" },
  { file: "models/demo/index.js", needed: "createDemoModel" },
  { file: "models/ai-sdk/index.js", needed: "fromAiSdk" },
  { file: "observability/otel/index.js", needed: "otelTelemetry" },
  { file: "thread/index.js", needed: "startRuntimeWorker" },
];

/** The dist to measure: OFFSTAGE_DIST (a path or file: URL of another build's index.js), else ../dist. */
export function defaultIndex() {
  return process.env.OFFSTAGE_DIST ?? new URL("../../dist/index.js", import.meta.url).href;
}

/**
 * Imports a build's index.js and the subpath entries beside it that it needs (see above); returns
 * their exports merged into one object (`createRuntime`, `createMemoryStore`, `createSqliteStore`,
 * `createNoopModel`, `silentLogger`, ...). Exits with a hint when there is no build.
 */
export async function loadOffstage(index = defaultIndex()) {
  const where = index.startsWith("file:") ? fileURLToPath(index) : resolve(index);
  if (!existsSync(where)) {
    console.error(
      `bench: no build at ${where}; run \`npm run build\` first (or \`npm run bench\`, which builds), ` +
        "or pass --clean-build to bench/run.mjs",
    );
    process.exit(2);
  }
  const merged = { ...(await import(pathToFileURL(where).href)) };
  for (const { file, needed } of SUBPATHS) {
    const path = join(dirname(where), file);
    if (needed in merged || !existsSync(path)) continue;
    for (const [name, value] of Object.entries(await import(pathToFileURL(path).href)))
      if (!(name in merged)) merged[name] = value;
  }
  return merged;
}
