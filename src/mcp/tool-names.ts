/**
 * MCP tool names allow what model providers refuse (dots, up to 128 characters); Offstage's tool
 * names are what every provider accepts (`[a-zA-Z0-9_-]{1,64}`). This maps one to the other.
 *
 * @packageDocumentation
 */

/**
 * The Offstage name of the MCP tool `mcpName`: the prefix, then the name with every other
 * character replaced by `_`, cut to 64 characters; a name already in `taken` gets `_2`, `_3`, ….
 */
export function offstageToolName(prefix: string, mcpName: string, taken: ReadonlySet<string>): string {
  const base = `${prefix}${mcpName}`.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, 64) || "tool";
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) {
    const suffix = `_${n}`;
    const name = base.slice(0, 64 - suffix.length) + suffix;
    if (!taken.has(name)) return name;
  }
}
