// How numbers read in the logs and tables: rates with k/M, durations with a unit, ratios with ×.

export function fmtRate(perSecond) {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)}M/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)}k/s`;
  return `${perSecond.toFixed(0)}/s`;
}

export function fmtMs(ms) {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(3)} ms`;
}

export function fmtRatio(x) {
  return `${x.toFixed(x >= 10 ? 1 : 2)}×`;
}

/** Cores' worth of CPU used by other processes (see `cpuMeter`), or "n/a" off Linux. */
export function fmtCores(cores) {
  return cores === undefined ? "n/a" : `${cores.toFixed(2)} cores`;
}

/** Prints rows as an aligned plain-text table (also pastes well into Markdown code blocks). */
export function table(header, rows) {
  const all = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => c.padEnd(widths[i])).join("  ");
  process.stdout.write(`${line(all[0])}\n${widths.map((w) => "-".repeat(w)).join("  ")}\n`);
  for (const r of all.slice(1)) process.stdout.write(`${line(r)}\n`);
}
