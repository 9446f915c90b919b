/**
 * Numbers as the verdicts' explanations and the reports print them (accuracy in points, 2 decimals): one
 * formatting, so an explanation and the table next to it always agree.
 */
import type { Summary } from "./stats.ts";
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

/** "mean ± std (n=…)"; without the std for a single value. */
export function fmtSummary(s: Summary, withN = true): string {
  const core = s.std === null ? fmtPts(s.mean) : `${fmtPts(s.mean)} ± ${fmtPts(s.std)}`;
  return withN ? `${core} (n=${s.n})` : core;
}

/** A p-value: 4 decimals, scientific below 1e-4. */
export function fmtP(p: number): string {
  return p < 1e-4 ? p.toExponential(1) : p.toFixed(4);
}
