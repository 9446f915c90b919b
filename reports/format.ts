/** Number formatting shared by the Markdown, HTML and comparison reports (accuracy in points). */
import type { Summary } from "../results/stats.ts";
import type { Claimed } from "../experiments/schema.ts";

export function fmtPts(x: number, digits = 2): string {
  return x.toFixed(digits);
}

/** "+1.23" / "−0.40" (a real minus sign reads better than a hyphen in tables). */
export function fmtSigned(x: number, digits = 2): string {
  return (x >= 0 ? "+" : "−") + Math.abs(x).toFixed(digits);
}

export function fmtClaimed(c: Claimed): string {
  return c.std === null ? fmtPts(c.mean) : `${fmtPts(c.mean)} ± ${fmtPts(c.std)}`;
}

export function fmtSummary(s: Summary, withN = true): string {
  const core = s.std === null ? fmtPts(s.mean) : `${fmtPts(s.mean)} ± ${fmtPts(s.std)}`;
  return withN ? `${core} (n=${s.n})` : core;
}

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
