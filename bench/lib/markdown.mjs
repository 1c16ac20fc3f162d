// Markdown as RESULTS.md holds it: tables padded the way Biome formats Markdown (so `biome check
// bench` stays clean after `--write`), and the provenance lines every block opens with.

/** Table cells: `<` and `>` (as in `Map<session, Promise>`) would read as HTML, `|` would split the cell. */
const cell = (c) => String(c).replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll("|", "\\|");

/** A Markdown table with padded columns, as Biome formats Markdown. */
export function mdTable(header, rows) {
  const all = [header, ...rows].map((r) => r.map(cell));
  const widths = header.map((_, i) => Math.max(3, ...all.map((r) => [...r[i]].length)));
  const line = (r) => `| ${r.map((c, i) => c + " ".repeat(widths[i] - [...c].length)).join(" | ")} |`;
  return [line(all[0]), line(widths.map((w) => "-".repeat(w))), ...all.slice(1).map(line)].join("\n");
}

/** Machine, date, code and the exact command of a saved run, as three lines. */
export function provenance(data, command) {
  const m = data.machine;
  const c = data.code;
  return [
    `Measured ${m.date.replace("T", " ").replace(/\.\d+Z$/, " UTC")} on ${m.cores} cores (${m.cpu}), ${m.ramGiB} GiB RAM, ` +
      `Node ${m.node}, ${m.platform}; load average at start ${m.loadAvg?.join(" ") ?? "n/a"}.`,
    `Code: commit \`${c.commit}\`${c.dirty.length > 0 ? ` with uncommitted changes in ${c.dirty.join(", ")}` : ""}, build \`${c.dist.replace(/^.*\/bench\//, "bench/")}\`.`,
    `Command: \`${command}\` (arguments passed to this benchmark: \`${data.argv.join(" ") || "none"}\`).`,
  ].join("\n");
}

/** Cores' worth of other processes' CPU, as a bare number (the column header says "cores"). */
export const cores = (x) => (x === undefined ? "n/a" : x.toFixed(2));
