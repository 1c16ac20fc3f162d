// Command-line flags of the benchmarks. Every flag can also come from the environment, so a CI job
// or a wrapper script can size a run without editing the command line.

/**
 * Reads `--name value` / `--name=value` flags, falling back to the environment variable
 * `BENCH_<NAME>` (dashes become underscores), then to the default. Numbers accept `_` separators.
 */
export function flag(name, fallback, argv = process.argv.slice(2)) {
  let raw;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === `--${name}`) raw = argv[i + 1];
    else if (arg.startsWith(`--${name}=`)) raw = arg.slice(name.length + 3);
  }
  raw ??= process.env[`BENCH_${name.toUpperCase().replaceAll("-", "_")}`];
  if (raw === undefined) return fallback;
  if (typeof fallback === "number") {
    const n = Number(String(raw).replaceAll("_", ""));
    if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got ${JSON.stringify(raw)}`);
    return n;
  }
  if (typeof fallback === "boolean") return raw !== "0" && raw !== "false" && raw !== "no";
  return raw;
}

/** A flag that counts something (sessions, repetitions, …): a whole number of at least 1. */
export function count(name, fallback, argv = process.argv.slice(2)) {
  const n = flag(name, fallback, argv);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`--${name} must be a whole number of at least 1, got ${n}`);
  return n;
}

/** True when `--quick` (or BENCH_QUICK=1) asks for a smoke-sized run. */
export const QUICK =
  process.argv.includes("--quick") || ["1", "true"].includes(process.env.BENCH_QUICK ?? "");
