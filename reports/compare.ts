/**
 * Compare two sets of results (two stores, two git shas, two code versions) cell by cell and flag
 * regressions that exceed the repeat noise: Welch p < α and a drop larger than the tolerance.
 */
import { summarize, type Summary, welchTTest } from "../results/stats.ts";
import { type CellRepeatResult, type MetricName, metricValues } from "../results/types.ts";
import { DEFAULT_VERDICT_OPTIONS, groupBy } from "../results/verdicts.ts";
import { escapeMarkdown as md } from "./escape.ts";
import { fmtSigned, fmtSummary } from "../results/format.ts";

export type CompareStatus =
  | "regression"
  | "improvement"
  | "unchanged"
  /** A change beyond the tolerance that the test cannot confirm (noise, or n < 2 within the margin). */
  | "uncertain"
  | "new"
  | "removed";

export interface CompareRow {
  tableId: string;
  cellId: string;
  profile: string;
  base: Summary | null;
  head: Summary | null;
  /** head mean − base mean, in points. */
  delta: number | null;
  /** One-sided Welch p for the direction of the change (null when no test could run). */
  p: number | null;
  status: CompareStatus;
  explanation: string;
}

export interface Comparison {
  metric: MetricName;
  tolerance: number;
  alpha: number;
  singleRepeatMargin: number;
  rows: CompareRow[];
  counts: Partial<Record<CompareStatus, number>>;
}

export interface CompareOptions {
  /** Default lastTestAcc (any fixed metric works for regression tracking). */
  metric?: MetricName;
  tolerance?: number;
  alpha?: number;
  /** With n < 2 on a side, a change counts only beyond this margin (default 2.0 points). */
  singleRepeatMargin?: number;
}

/** Results of one git sha (a prefix is enough), e.g. to compare two commits stored in one store. */
export function filterByGitSha(results: readonly CellRepeatResult[], sha: string): CellRepeatResult[] {
  return results.filter((r) => r.provenance.gitSha.startsWith(sha));
}

export function compareResults(
  base: readonly CellRepeatResult[],
  head: readonly CellRepeatResult[],
  options: CompareOptions = {},
): Comparison {
  const metric = options.metric ?? "lastTestAcc";
  const tolerance = options.tolerance ?? DEFAULT_VERDICT_OPTIONS.tolerance;
  const alpha = options.alpha ?? DEFAULT_VERDICT_OPTIONS.alpha;
  const margin = Math.max(
    options.singleRepeatMargin ?? DEFAULT_VERDICT_OPTIONS.singleRepeatMargin,
    tolerance,
  );
  const keyOf = (r: CellRepeatResult) =>
    JSON.stringify([r.resolved.tableId, r.resolved.cellId, r.resolved.profile]);
  const baseBy = groupBy(base, keyOf);
  const headBy = groupBy(head, keyOf);
  const keys = [...new Set([...baseBy.keys(), ...headBy.keys()])].sort();

  const rows = keys.map((k): CompareRow => {
    const [tableId, cellId, profile] = JSON.parse(k) as [string, string, string];
    const b = metricValues(baseBy.get(k) ?? [], metric);
    const h = metricValues(headBy.get(k) ?? [], metric);
    const row = {
      tableId,
      cellId,
      profile,
      base: b.length ? summarize(b) : null,
      head: h.length ? summarize(h) : null,
    };
    if (row.base === null) {
      return { ...row, delta: null, p: null, status: "new", explanation: "only in head" };
    }
    if (row.head === null) {
      return { ...row, delta: null, p: null, status: "removed", explanation: "only in base" };
    }
    const delta = row.head.mean - row.base.mean;
    const nums = `${fmtSummary(row.base)} → ${fmtSummary(row.head)}, Δ ${fmtSigned(delta)}`;
    const direction = delta < 0 ? "regression" : "improvement";
    if (Math.abs(delta) <= tolerance) {
      return {
        ...row,
        delta,
        p: null,
        status: "unchanged",
        explanation: `${nums}: within tolerance ${tolerance}`,
      };
    }
    if (b.length < 2 || h.length < 2) {
      const beyond = Math.abs(delta) > margin;
      return {
        ...row,
        delta,
        p: null,
        status: beyond ? direction : "uncertain",
        explanation: `${nums}: n < 2, no test; ${beyond ? "beyond" : "within"} the ${
          margin.toFixed(2)
        }-point margin`,
      };
    }
    const w = welchTTest(h, b);
    const p = delta < 0 ? w.pLess : w.pGreater;
    const significant = p < alpha;
    return {
      ...row,
      delta,
      p,
      status: significant ? direction : "uncertain",
      explanation: `${nums}: Welch one-sided p=${p.toFixed(4)} ${significant ? "<" : "≥"} ${alpha}`,
    };
  });

  const counts: Comparison["counts"] = {};
  for (const r of rows) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return { metric, tolerance, alpha, singleRepeatMargin: margin, rows, counts };
}

export function renderComparisonMarkdown(c: Comparison, labels: { base: string; head: string }): string {
  const out = [
    `# Comparison: ${md(labels.base)} → ${md(labels.head)}`,
    "",
    `Metric \`${c.metric}\`; a regression is a drop of more than ${c.tolerance} points with Welch one-sided ` +
    `p < ${c.alpha} (n < 2: a drop beyond ${c.singleRepeatMargin.toFixed(2)} points).`,
    "",
    `**${Object.entries(c.counts).map(([s, n]) => `${n} ${s}`).join(", ") || "nothing to compare"}**`,
    "",
  ];
  const ordered = [...c.rows].sort((x, y) => rank(x.status) - rank(y.status));
  if (ordered.length) {
    out.push(
      "| table | cell | profile | base | head | Δ | p | status |",
      "| --- | --- | --- | --- | --- | --- | --- | --- |",
    );
    for (const r of ordered) {
      out.push(
        `| ${md(r.tableId)} | ${md(r.cellId)} | ${md(r.profile)} | ${r.base ? fmtSummary(r.base) : "—"} | ` +
          `${r.head ? fmtSummary(r.head) : "—"} | ${r.delta === null ? "—" : fmtSigned(r.delta)} | ` +
          `${r.p === null ? "—" : r.p.toFixed(4)} | ${
            r.status === "regression" ? "**regression**" : r.status
          } |`,
      );
    }
  }
  return out.join("\n") + "\n";
}

/** Regressions first: they are what a reader of a comparison is looking for. */
function rank(s: CompareStatus): number {
  return ["regression", "uncertain", "improvement", "new", "removed", "unchanged"].indexOf(s);
}
