/**
 * The nightly history page: one self-contained HTML file (chart.js inlined, no network) with, per
 * cell, a line chart of the reproduced number night by night (x: date and commit), the paper's claimed
 * mean ± std as a band, and regressions against the previous night in red. Every string from a spec or
 * a store is escaped (escapeHtml for text, jsonForScript for the chart data); the page's script only
 * reads that JSON.
 */
import { escapeHtml as h, jsonForScript, safeHref, scriptSource } from "./escape.ts";
import { shortSha } from "./format.ts";
import { fmtClaimed, fmtSigned, fmtSummary } from "../results/format.ts";
import { loadChartJs, page, section } from "./html.ts";
import type { History, HistoryCell, HistoryTable } from "./history.ts";
import { METRIC_LABELS } from "./model.ts";
import { writeTextFileAtomic } from "../data/atomic.ts";
import { DEFAULT_VERDICT_OPTIONS } from "../results/verdicts.ts";

export interface HistoryHtmlOptions {
  /** chart.js UMD source; default: loadChartJs(). */
  chartJs?: string;
  generatedAt?: string;
  title?: string;
  /** A link to the reports' index page beside it (default none). */
  indexHref?: string;
}

/** What the page's script draws: plain JSON, one entry per chart (canvas id `history-<i>`). */
export interface HistoryChartData {
  /** x-axis labels, one per night: [date, short sha]. */
  nights: string[][];
  charts: {
    title: string;
    metricLabel: string;
    /** Draw the claimed band from the start (only under the paper profile are the numbers comparable). */
    showClaimed: boolean;
    claimed: { mean: number; std: number } | null;
    mean: (number | null)[];
    std: (number | null)[];
    n: (number | null)[];
    regression: boolean[];
    notes: (string | null)[];
  }[];
}

export function historyChartData(history: History): HistoryChartData {
  const nights = history.nights.map((n) => [n.startedAt.slice(0, 10), shortSha(n.gitSha).slice(0, 10)]);
  const charts = history.tables.flatMap((t) =>
    t.cells.map((c) => ({
      title: `${c.row} / ${c.column}`,
      metricLabel: `accuracy (%), ${t.metric}`,
      showClaimed: t.profile === "paper",
      claimed: c.claimed ? { mean: c.claimed.mean, std: c.claimed.std ?? 0 } : null,
      mean: c.points.map((p) => p?.reproduced.mean ?? null),
      std: c.points.map((p) => p?.reproduced.std ?? null),
      n: c.points.map((p) => p?.reproduced.n ?? null),
      regression: c.points.map((p) => p?.change?.status === "regression"),
      notes: c.points.map((p) => p?.change?.explanation ?? null),
    }))
  );
  return { nights, charts };
}

export function renderHistoryHtml(history: History, options: HistoryHtmlOptions = {}): string {
  const title = options.title ?? "ddrepro nightly history";
  const data = historyChartData(history);
  const body: string[] = [];
  if (options.indexHref !== undefined) {
    body.push(`<nav><a href="${h(safeHref(options.indexHref))}">← all tables</a></nav>`);
  }
  body.push(`<h1>${h(title)}</h1>`);
  const last = history.nights.length - 1;
  const o = DEFAULT_VERDICT_OPTIONS;
  body.push(
    `<p class="hint">One chart per cell: the reproduced mean over repeats, night by night (x: the night's date ` +
      `and commit). Shaded: the paper's claimed mean ± std (shown from the start under the paper profile ` +
      `only; click "claimed" to toggle). Red: a regression against the previous night, as <code>dd compare` +
      `</code> judges it (a drop of more than ${o.tolerance} points with Welch one-sided p &lt; ${o.alpha}; ` +
      `with a single repeat, more than ${o.singleRepeatMargin} points).` +
      (options.generatedAt ? ` Generated ${h(options.generatedAt)}.` : "") + `</p>`,
  );
  body.push(section("Nights", nightsTable(history)));
  body.push(section("Regressions", regressionsList(history, last)));
  let chart = 0;
  for (const t of history.tables) {
    body.push(section(
      `${t.tableId}: ${t.title}`,
      `<p class="hint">Profile <code>${h(t.profile)}</code>; metric <code>${h(t.metric)}</code> (${
        h(METRIC_LABELS[t.metric])
      }).${
        t.profile === "paper" ? "" : " Numbers are not comparable with the paper's at this profile."
      }</p>` +
        `<div class="history">${t.cells.map((c) => cellFigure(t, c, chart++, last)).join("")}</div>` +
        (t.neverRun.length
          ? `<details class="hint"><summary>${t.neverRun.length} cell(s) without results on any night</summary>` +
            `${t.neverRun.map((id) => h(id)).join(", ")}</details>`
          : ""),
    ));
  }
  const scripts = data.charts.length
    ? `<script type="application/json" id="ddrepro-history">${jsonForScript(data)}</script>\n` +
      `<script>${scriptSource(options.chartJs ?? loadChartJs())}</script>\n<script>${INIT_SCRIPT}</script>`
    : "";
  return page(title, body.join("\n"), scripts, CSS);
}

function nightsTable(history: History): string {
  if (history.nights.length === 0) return "<p>No nights yet.</p>";
  const regressed = new Map<number, number>();
  for (const r of history.regressions) regressed.set(r.night, (regressed.get(r.night) ?? 0) + 1);
  const rows = history.nights.map((n, i) =>
    `<tr${regressed.has(i) ? ` class="regressed"` : ""}><td>${i + 1}</td><td>${h(n.startedAt)}</td>` +
    `<td><code>${h(shortSha(n.gitSha))}</code>${n.dirty ? " (dirty)" : ""}</td><td>${h(n.source)}</td>` +
    `<td>${n.repeats}</td><td>${regressed.get(i) ?? 0}</td></tr>`
  );
  return `<table class="data"><thead><tr><th>#</th><th>started</th><th>commit</th><th>store</th>` +
    `<th>repeats</th><th>regressions</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function regressionsList(history: History, last: number): string {
  if (history.regressions.length === 0) return "<p>None: no cell dropped beyond the repeat noise.</p>";
  const rows = history.regressions.map((r) => {
    const n = history.nights[r.night];
    return `<tr class="regressed"><td>${r.night + 1}${r.night === last ? " (latest)" : ""}</td>` +
      `<td><code>${h(shortSha(n.gitSha))}</code></td><td>${h(r.tableId)}</td><td>${h(r.cellId)}</td>` +
      `<td>${r.delta === null ? "—" : h(fmtSigned(r.delta))}</td><td>${h(r.explanation)}</td></tr>`;
  });
  return `<table class="data"><thead><tr><th>night</th><th>commit</th><th>table</th><th>cell</th><th>Δ</th>` +
    `<th>explanation</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function cellFigure(t: HistoryTable, c: HistoryCell, index: number, last: number): string {
  const latest = c.points[last] ?? null;
  const regressedNow = latest?.change?.status === "regression";
  const caption = `${c.row} / ${c.column}`;
  return `<figure class="history-cell${regressedNow ? " regressed" : ""}" id="${
    h(`${t.tableId}:${c.cellId}`)
  }">` +
    `<figcaption><strong>${h(caption)}</strong> <code>${h(c.cellId)}</code><br>` +
    `latest: ${latest ? h(fmtSummary(latest.reproduced)) : "not run"}` +
    (regressedNow ? ` <span class="badge st-not-reproduced">regression</span>` : "") +
    ` · claimed: ${c.claimed ? h(fmtClaimed(c.claimed)) : "none"}</figcaption>` +
    `<div class="chart-box"><canvas id="history-${index}" aria-label="${
      h(caption)
    }"></canvas></div></figure>`;
}

/** Writes `<outDir>/history.html` atomically (a reader never sees a torn page); returns its path. */
export async function writeHistoryHtml(
  outDir: string,
  history: History,
  options: HistoryHtmlOptions = {},
): Promise<string> {
  const path = `${outDir.replace(/\/+$/, "")}/history.html`;
  await writeTextFileAtomic(path, renderHistoryHtml(history, options));
  return path;
}

const CSS = `
.history { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 14px; }
figure.history-cell { margin: 0; border: 1px solid #ddd; border-radius: 4px; padding: 6px; }
figure.history-cell.regressed { border: 2px solid #d62728; }
figure.history-cell figcaption { font-size: 12px; color: #333; }
.chart-box { position: relative; height: 220px; }
tr.regressed td { background: #fbe0e0; }
`;

// Static: reads only the JSON element. `animation: false` so the charts are complete on first paint.
const INIT_SCRIPT = `
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("ddrepro-history").textContent);
  var LINE = "#1f77b4", REGRESSION = "#d62728", BAND = "rgba(255, 160, 60, 0.28)", CLAIMED = "#e07b00";
  Chart.defaults.animation = false;
  Chart.defaults.font.family = "system-ui, -apple-system, Segoe UI, sans-serif";
  function constant(v) { return data.nights.map(function () { return v; }); }
  data.charts.forEach(function (c, i) {
    var canvas = document.getElementById("history-" + i);
    if (!canvas) return;
    var datasets = [{
      label: "reproduced", data: c.mean, borderColor: LINE, backgroundColor: LINE, spanGaps: true, borderWidth: 2,
      pointRadius: c.regression.map(function (r) { return r ? 7 : 4; }),
      pointBackgroundColor: c.regression.map(function (r) { return r ? REGRESSION : LINE; }),
      pointBorderColor: c.regression.map(function (r) { return r ? REGRESSION : LINE; }),
      pointStyle: c.regression.map(function (r) { return r ? "triangle" : "circle"; }), order: 0
    }];
    if (c.claimed) {
      var hidden = !c.showClaimed;
      datasets.push({ label: "claimed", group: "claimed", data: constant(c.claimed.mean + c.claimed.std),
        borderColor: CLAIMED, borderDash: [6, 4], borderWidth: 1, pointRadius: 0, fill: "+1",
        backgroundColor: BAND, hidden: hidden, order: 1 });
      datasets.push({ label: "claimed (low)", group: "claimed", data: constant(c.claimed.mean - c.claimed.std),
        borderColor: CLAIMED, borderDash: [6, 4], borderWidth: 1, pointRadius: 0, fill: false, hidden: hidden,
        order: 1 });
    }
    new Chart(canvas, {
      type: "line",
      data: { labels: data.nights, datasets: datasets },
      options: { animation: false, responsive: true, maintainAspectRatio: false,
        scales: { y: { title: { display: true, text: c.metricLabel } } },
        plugins: {
          legend: { labels: { boxWidth: 12, filter: function (item) { return item.text !== "claimed (low)"; } },
            // The band is two datasets: toggle them together.
            onClick: function (e, item, legend) {
              var chart = legend.chart, ds = chart.data.datasets[item.datasetIndex];
              chart.data.datasets.forEach(function (d, j) {
                if (j === item.datasetIndex || (ds.group && d.group === ds.group)) {
                  chart.setDatasetVisibility(j, !chart.isDatasetVisible(j));
                }
              });
              chart.update();
            } },
          tooltip: { callbacks: { label: function (ctx) {
            if (ctx.datasetIndex !== 0) return ctx.dataset.label + ": " + ctx.parsed.y.toFixed(2);
            var j = ctx.dataIndex, s = c.std[j];
            return "reproduced: " + c.mean[j].toFixed(2) + (s == null ? "" : " \\u00b1 " + s.toFixed(2)) +
              " (n=" + c.n[j] + ")";
          }, afterLabel: function (ctx) {
            return ctx.datasetIndex === 0 && c.notes[ctx.dataIndex] ? c.notes[ctx.dataIndex] : "";
          } } } } }
    });
  });
})();
`;
