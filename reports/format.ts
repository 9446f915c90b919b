/**
 * What only the reports print: durations, the cost column, short shas. Accuracy numbers are formatted by
 * results/format.ts, shared with the verdicts' explanations.
 */

export function fmtSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(2)} h`;
}

/** Mean distill and eval seconds per repeat of a cell ("—" without results): the methods' cost column. */
export function fmtCost(
  results: readonly { provenance: { distillSeconds: number; evalSeconds: number } }[],
): string {
  if (results.length === 0) return "—";
  const mean = (f: (p: { distillSeconds: number; evalSeconds: number }) => number) =>
    results.reduce((a, r) => a + f(r.provenance), 0) / results.length;
  return `${fmtSeconds(mean((p) => p.distillSeconds))} / ${fmtSeconds(mean((p) => p.evalSeconds))}`;
}

export function shortSha(sha: string): string {
  return /^[0-9a-f]{40}$/.test(sha) ? sha.slice(0, 10) : sha;
}
