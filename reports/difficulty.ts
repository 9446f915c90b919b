/**
 * DGS's difficulty-histogram figure (its paper's Fig. 2): per cell, the share of images per difficulty
 * interval in the real data, the generated pool, the target and the selected set, drawn from the
 * histograms the method stores in each result's distill metrics (`hist.<series>.<interval>`, summed over
 * classes; methods/dgs.ts) and averaged over repeats. A page of its own next to the table's report
 * (chart.js inlined, data as escaped JSON, every string escaped), and a Markdown table.
 */
import { escapeHtml as h, escapeMarkdown } from "./escape.ts";
import { figurePage } from "./html.ts";
import type { CellRepeatResult } from "../results/types.ts";

export const DIFFICULTY_SERIES = ["original", "pool", "target", "selected"] as const;
export type DifficultySeries = (typeof DIFFICULTY_SERIES)[number];

const SERIES_LABELS: Record<DifficultySeries, string> = {
  original: "original data",
  pool: "image pool",
  target: "target",
  selected: "selected (distilled)",
};

export interface DifficultyFigure {
  cellId: string;
  /** Interval labels ("0.0–0.1", …). */
  intervals: string[];
  /** Whether the intervals are of the log-transformed difficulty. */
  logTransform: boolean;
  /** Share of images per interval (each series sums to 1), averaged over repeats. */
  shares: Record<DifficultySeries, number[]>;
  repeats: number;
  /** Means over repeats of the scalar sampling metrics that exist (KL, shortfall, mean difficulties). */
  summary: Record<string, number>;
}

const SUMMARY_KEYS = [
  "klSelectedTarget",
  "klPoolTarget",
  "shortfall",
  "meanDifficultyOriginal",
  "meanDifficultyPool",
  "meanDifficultySelected",
  "thresholdBottom",
  "thresholdTop",
] as const;

function intervalsOf(m: Record<string, number>): number {
  let n = 0;
  while (DIFFICULTY_SERIES.every((s) => Number.isFinite(m[`hist.${s}.${n}`]))) n++;
  return n;
}

/** One figure per cell whose results carry difficulty histograms, in the results' cell order. */
export function difficultyFigures(results: readonly CellRepeatResult[]): DifficultyFigure[] {
  const byCell = new Map<string, CellRepeatResult[]>();
  for (const r of results) {
    const n = intervalsOf(r.distillMetrics);
    if (n < 2) continue;
    byCell.set(r.resolved.cellId, [...(byCell.get(r.resolved.cellId) ?? []), r]);
  }
  return [...byCell].map(([cellId, rs]) => {
    const n = Math.min(...rs.map((r) => intervalsOf(r.distillMetrics)));
    const shares = Object.fromEntries(DIFFICULTY_SERIES.map((s) => {
      const perRepeat = rs.map((r) => {
        const counts = Array.from({ length: n }, (_, k) => r.distillMetrics[`hist.${s}.${k}`]);
        const total = counts.reduce((a, b) => a + b, 0);
        return counts.map((c) => (total > 0 ? c / total : 0));
      });
      return [s, Array.from({ length: n }, (_, k) => perRepeat.reduce((a, p) => a + p[k], 0) / rs.length)];
    })) as Record<DifficultySeries, number[]>;
    const summary: Record<string, number> = {};
    for (const key of SUMMARY_KEYS) {
      const vs = rs.map((r) => r.distillMetrics[key]).filter((v) => Number.isFinite(v));
      if (vs.length === rs.length) summary[key] = vs.reduce((a, b) => a + b, 0) / vs.length;
    }
    return {
      cellId,
      intervals: Array.from({ length: n }, (_, k) => `${(k / n).toFixed(2)}–${((k + 1) / n).toFixed(2)}`),
      logTransform: rs[0].resolved.methodConfig.logTransform === true,
      shares,
      repeats: rs.length,
      summary,
    };
  });
}

const axisLabel = (f: DifficultyFigure) =>
  f.logTransform ? "difficulty interval (after the logarithmic transformation)" : "difficulty interval";

function summaryText(f: DifficultyFigure): string {
  const s = f.summary, parts: string[] = [];
  const fmt = (v: number) => v.toFixed(3);
  if (s.klSelectedTarget !== undefined) parts.push(`KL(selected ‖ target) ${fmt(s.klSelectedTarget)}`);
  if (s.klPoolTarget !== undefined) parts.push(`KL(pool ‖ target) ${fmt(s.klPoolTarget)}`);
  if (s.shortfall !== undefined) parts.push(`shortfall ${s.shortfall.toFixed(1)} images`);
  for (const [k, name] of [["Original", "original"], ["Pool", "pool"], ["Selected", "selected"]] as const) {
    const v = s[`meanDifficulty${k}`];
    if (v !== undefined) parts.push(`mean difficulty ${name} ${fmt(v)}`);
  }
  if (s.thresholdBottom !== undefined) {
    parts.push(`thresholds b ${s.thresholdBottom.toFixed(1)}, t ${s.thresholdTop?.toFixed(1) ?? "—"}`);
  }
  return `${parts.join("; ")} (mean of ${f.repeats} repeat${f.repeats === 1 ? "" : "s"})`;
}

/** The figure page of a table (null when none of its results has difficulty histograms). */
export function renderDifficultyHtml(
  tableId: string,
  figures: readonly DifficultyFigure[],
  o: { chartJs: string; tableHref?: string },
): string | null {
  if (figures.length === 0) return null;
  return figurePage({
    tableId,
    heading: "Difficulty histograms",
    caption: `Share of images per difficulty interval (1 − p(y|x) of the difficulty scorer), summed ` +
      `over classes: the original data, the generated pool, the target the sampling matched and the selected ` +
      `set (the DGS paper's Fig. 2).`,
    ...(o.tableHref ? { tableHref: o.tableHref } : {}),
    sections: figures.map((f, i) => ({
      title: f.cellId,
      content: `<p class="hint">${h(summaryText(f))}</p>` +
        `<figure class="chart"><canvas id="difficulty-${i}" aria-label="${h(f.cellId)}"></canvas></figure>`,
    })),
    dataId: "ddrepro-difficulty",
    data: figures.map((f) => ({
      title: f.cellId,
      axis: axisLabel(f),
      intervals: f.intervals,
      series: DIFFICULTY_SERIES.map((s) => ({ label: SERIES_LABELS[s], data: f.shares[s] })),
    })),
    chartJs: o.chartJs,
    init: INIT,
  });
}

/** The same figures as Markdown tables (shares in %). */
export function renderDifficultyMarkdown(
  tableId: string,
  figures: readonly DifficultyFigure[],
): string | null {
  if (figures.length === 0) return null;
  const out = [`# Difficulty histograms — ${escapeMarkdown(tableId)}`, ""];
  for (const f of figures) {
    out.push(`## ${escapeMarkdown(f.cellId)}`, "", escapeMarkdown(summaryText(f)), "");
    out.push(`| series | ${f.intervals.join(" | ")} |`, `|---|${f.intervals.map(() => "---:").join("|")}|`);
    for (const s of DIFFICULTY_SERIES) {
      out.push(`| ${SERIES_LABELS[s]} | ${f.shares[s].map((v) => (100 * v).toFixed(1)).join(" | ")} |`);
    }
    out.push("", `Intervals: ${axisLabel(f)}.`, "");
  }
  return out.join("\n");
}

// Reads only the JSON element: no stored string is interpolated into code.
const INIT = `
(function () {
  "use strict";
  var figures = JSON.parse(document.getElementById("ddrepro-difficulty").textContent);
  var colors = ["#9e9e9e", "#9ecae1", "#fdae6b", "#3182bd"];
  Chart.defaults.animation = false;
  figures.forEach(function (f, i) {
    new Chart(document.getElementById("difficulty-" + i), {
      type: "bar",
      data: { labels: f.intervals, datasets: f.series.map(function (s, j) {
        return { label: s.label, data: s.data.map(function (v) { return 100 * v; }), backgroundColor: colors[j % colors.length] };
      }) },
      options: { animation: false, responsive: true, maintainAspectRatio: false,
        scales: { x: { title: { display: true, text: f.axis } },
                  y: { title: { display: true, text: "images (%)" }, beginAtZero: true } },
        plugins: { title: { display: true, text: f.title } } }
    });
  });
})();
`;
