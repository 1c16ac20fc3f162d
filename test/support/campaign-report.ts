/**
 * What a kill campaign (the SQLite crash test, the PostgreSQL fleet test) prints and throws: its
 * counts as lines under a headline, and its violations with how to replay the run.
 */

/** `headline`, then one indented `what: n` line per count, sorted by name. */
export function campaignSummary(
  headline: readonly string[],
  counts: Readonly<Record<string, number>>,
): string {
  return [
    ...headline,
    ...Object.entries(counts)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([what, n]) => `  ${what}: ${n}`),
  ].join("\n");
}

/** Throws the first 25 violations with the summary, the replay command and where the files are. */
export function failOnViolations(
  test: string,
  violations: readonly string[],
  report: { readonly summary: string; readonly replay: string; readonly kept: string },
): void {
  if (violations.length === 0) return;
  throw new Error(
    [
      `${test}: ${violations.length} violation(s)`,
      ...violations.slice(0, 25).map((v) => `- ${v}`),
      violations.length > 25 ? `- … and ${violations.length - 25} more` : "",
      report.summary,
      `replay: ${report.replay}`,
      `files kept in ${report.kept}`,
    ].join("\n"),
  );
}
