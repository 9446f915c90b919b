/**
 * Self-contained HTML reports: one file per table (chart.js inlined, images as data: URIs, no
 * network access when opened) and an index page linking them. Every embedded string is escaped:
 * text via escapeHtml, chart data as JSON with `<` escaped, chart.js via scriptSource.
 */
import { Buffer } from "node:buffer";
import { escapeHtml as h, jsonForScript, safeHref, scriptSource } from "./escape.ts";
import { comparableWithPaper } from "../experiments/profiles.ts";
import { fmtCost, fmtSeconds, shortSha } from "./format.ts";
import { fmtClaimed, fmtPts, fmtSigned, fmtSummary } from "../results/format.ts";
import {
  asTableReport,
  cellIdsText,
  type CellReport,
  cellStatusLabel,
  type FigurePage,
  METRIC_LABELS,
  ranText,
  sharedClaimedNote,
  staleNote,
  type TableReport,
  type TableReportInput,
  whatRanText,
} from "./model.ts";

export interface ImageGridEmbed {
  title: string;
  /** PNG bytes, e.g. from imageGridPng(). */
  png: Uint8Array;
}

export interface HtmlOptions {
  /** chart.js UMD source; default: read from node_modules at generation time (loadChartJs). */
  chartJs?: string;
  images?: readonly ImageGridEmbed[];
  /** Link back to the index page (default "index.html"; null for none). */
  indexHref?: string | null;
  generatedAt?: string;
  /** Figure pages beside this report, linked under "Figures" after the charts. */
  figures?: readonly FigurePage[];
}

/** Above this many series per curve chart, the legend goes to the right (see INIT_SCRIPT). */
const WIDE_LEGEND = 6;

const CHART_JS = new URL("../node_modules/chart.js/dist/chart.umd.js", import.meta.url);

/** chart.js's UMD bundle, read from the project's node_modules (populated by `nodeModulesDir: auto`). */
export function loadChartJs(): string {
  try {
    return Deno.readTextFileSync(CHART_JS);
  } catch (e) {
    throw new Error(
      `cannot read ${CHART_JS.pathname} (${e instanceof Error ? e.message : e}); ` +
        `run any deno command in the project (e.g. \`deno install\`) to populate node_modules`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Chart data (plain JSON; the page's script turns it into chart.js charts).

export interface CurveSeries {
  name: string;
  claimed: (number | null)[];
  claimedStd: (number | null)[];
  reproduced: (number | null)[];
  reproducedStd: (number | null)[];
}

export interface CurveChart {
  title: string;
  ipcs: number[];
  series: CurveSeries[];
}

export interface BarChart {
  labels: string[];
  claimed: (number | null)[];
  reproduced: (number | null)[];
  reproducedStd: (number | null)[];
}

export interface ChartData {
  metricLabel: string;
  curves: CurveChart[];
  bars: BarChart;
}

/**
 * Accuracy-vs-IPC curves: one chart per dataset, and per model when the table has several. Cells shown
 * through another (the same evaluation) are left out, so rows a profile collapsed draw one chart, whose
 * title names what ran and every paper dataset and model it stands for.
 */
export function chartData(r: TableReport): ChartData {
  const withIpc = r.cells.filter((c) =>
    c.shownAs === null && c.spec.ipc !== null && (c.spec.claimed || c.verdict.reproduced)
  );
  const models = new Set(r.cells.map((c) => c.spec.model));
  const byId = new Map(r.cells.map((c) => [c.spec.id, c]));
  const charts = new Map<string, CellReport[]>();
  for (const c of withIpc) {
    const key = models.size > 1 ? `${c.spec.dataset} · ${c.spec.model}` : c.spec.dataset;
    charts.set(key, [...(charts.get(key) ?? []), c]);
  }
  const curves: CurveChart[] = [...charts.values()].map((cells) => {
    const members = cells.flatMap((c) => c.standsFor.map((id) => byId.get(id)!));
    const title = chartTitle(members, models.size > 1);
    const ipcs = [...new Set(cells.map((c) => c.spec.ipc as number))].sort((a, b) => a - b);
    // A series is one method's line across IPCs (same protocol, labels and config). It is named by the
    // printed row, or column, its cells share (plus the method when another series shares that name).
    const baseKey = (c: CellReport) =>
      JSON.stringify([
        c.spec.method,
        c.spec.protocol,
        c.spec.labels,
        c.spec.config ?? null,
        c.spec.set ?? null,
      ]);
    // Rows split a method's cells only where two of them share an IPC (e.g. two printed variants).
    const splitByRow = new Set(
      cells.filter((c) =>
        cells.some((d) => d !== c && baseKey(d) === baseKey(c) && d.spec.ipc === c.spec.ipc)
      )
        .map(baseKey),
    );
    const keyOf = (c: CellReport) =>
      splitByRow.has(baseKey(c)) ? JSON.stringify([baseKey(c), c.spec.row ?? null]) : baseKey(c);
    const keys = [...new Set(cells.map(keyOf))];
    const labelOf = (mine: CellReport[]) => {
      const same = (f: (c: CellReport) => string | undefined) =>
        mine.every((c) => f(c) !== undefined && f(c) === f(mine[0])) ? f(mine[0]) : undefined;
      return same((c) => c.spec.row) ?? same((c) => c.spec.column) ?? mine[0].spec.method;
    };
    const labels = keys.map((k) => labelOf(cells.filter((c) => keyOf(c) === k)));
    const series = keys.map((k, i): CurveSeries => {
      const mine = cells.filter((c) => keyOf(c) === k);
      const at = (ipc: number) => mine.find((c) => c.spec.ipc === ipc);
      const shared = labels.filter((l) => l === labels[i]).length > 1;
      return {
        name: shared ? `${labels[i]} · ${mine[0].spec.method}` : labels[i],
        claimed: ipcs.map((i) => at(i)?.spec.claimed?.mean ?? null),
        claimedStd: ipcs.map((i) => at(i)?.spec.claimed?.std ?? null),
        reproduced: ipcs.map((i) => at(i)?.verdict.reproduced?.mean ?? null),
        reproducedStd: ipcs.map((i) => at(i)?.verdict.reproduced?.std ?? null),
      };
    });
    return { title, ipcs, series };
  });
  const barCells = r.cells.filter((c) => c.spec.claimed || c.verdict.reproduced);
  return {
    metricLabel: `accuracy (%), ${r.metric}`,
    curves,
    bars: {
      labels: barCells.map((c) => `${c.row} / ${c.column}`),
      claimed: barCells.map((c) => c.spec.claimed?.mean ?? null),
      reproduced: barCells.map((c) => c.verdict.reproduced?.mean ?? null),
      reproducedStd: barCells.map((c) => c.verdict.reproduced?.std ?? null),
    },
  };
}

/**
 * "fashion-mnist · convnet3-w32 (paper: imagewoof · convnet6 / resnetap10 / resnet18)" when the cells ran
 * other than printed; the paper's names alone otherwise.
 */
function chartTitle(cells: readonly CellReport[], withModel: boolean): string {
  const names = (of: readonly CellReport[], f: (c: CellReport) => string) =>
    [...new Set(of.map(f))].join(" / ");
  const paper = names(cells, (c) => c.spec.dataset) +
    (withModel ? ` · ${names(cells, (c) => c.spec.model)}` : "");
  const ran = cells.filter((c) => c.ran !== null);
  const replaced = ran.some((c) => c.ran!.dataset !== c.spec.dataset || c.ran!.model !== c.spec.model);
  if (!replaced) return paper;
  return `${names(ran, (c) => c.ran!.dataset)} · ${names(ran, (c) => c.ran!.model)} (paper: ${paper})`;
}

// ---------------------------------------------------------------------------------------------
// Pages.

export function renderTableHtml(input: TableReportInput | TableReport, options: HtmlOptions = {}): string {
  const r = asTableReport(input);
  const { spec } = r;
  const charts = chartData(r);
  const hasCharts = charts.curves.length > 0 || charts.bars.labels.length > 0;
  const indexHref = options.indexHref === undefined ? "index.html" : options.indexHref;
  const body: string[] = [];

  if (indexHref !== null) body.push(`<nav><a href="${h(safeHref(indexHref))}">← all tables</a></nav>`);
  body.push(`<h1>${h(spec.table)} — ${h(spec.paper)} <code>${h(spec.id)}</code></h1>`);
  body.push(`<p class="caption">${h(spec.caption)}</p>`);
  body.push(facts(r, options.generatedAt));
  // Results first; what was substituted and where it ran follow the numbers they qualify.
  body.push(section("Claimed vs reproduced", grid(r)));
  if (charts.curves.length > 0) {
    body.push(section(
      "Accuracy vs IPC",
      `<p class="hint">Dashed line, hollow diamonds: claimed by the paper. Solid line, dots: reproduced (mean over repeats).</p>` +
        `<div class="curves">${
          charts.curves.map((c, i) => {
            // Many series: the legend moves to the right and the chart spans the row, growing with it.
            const wide = c.series.length > WIDE_LEGEND;
            const style = wide ? ` style="height:${Math.max(340, 22 * c.series.length + 120)}px"` : "";
            return `<figure class="chart${wide ? " wide" : ""}"${style}>` +
              `<canvas id="curve-${i}" aria-label="${h(c.title)}"></canvas></figure>`;
          }).join("")
        }</div>`,
    ));
  }
  if (charts.bars.labels.length > 0) {
    const height = Math.max(200, 24 * charts.bars.labels.length + 90);
    body.push(section(
      "Per cell",
      `<figure class="chart" style="height:${height}px"><canvas id="bars" aria-label="claimed vs reproduced"></canvas></figure>`,
    ));
  }
  if (options.figures?.length) body.push(section("Figures", figureLinks(options.figures)));
  body.push(section("Cells", cellTable(r)));
  body.push(section("Claims", claims(r)));
  body.push(section("Substitutions", substitutions(r)));
  body.push(section("Provenance", provenance(r)));
  if (options.images?.length) body.push(section("Distilled images", images(options.images)));
  if (spec.notes?.length) {
    body.push(section("Notes", `<ul>${spec.notes.map((n) => `<li>${h(n)}</li>`).join("")}</ul>`));
  }

  const scripts = hasCharts
    ? `<script type="application/json" id="ddrepro-data">${jsonForScript(charts)}</script>\n` +
      `<script>${scriptSource(options.chartJs ?? loadChartJs())}</script>\n<script>${INIT_SCRIPT}</script>`
    : "";
  return page(`${spec.id}: ${spec.table} — ${spec.paper}`, body.join("\n"), scripts);
}

export interface IndexEntry {
  /** Relative link to the table's page. */
  href: string;
  report: TableReport;
}

export function renderIndexHtml(
  entries: readonly IndexEntry[],
  options: { title?: string; generatedAt?: string } = {},
): string {
  const title = options.title ?? "ddrepro reports";
  const rows = entries.map(({ href, report: r }) =>
    `<tr><td><a href="${h(safeHref(href))}">${h(r.spec.id)}</a></td><td>${h(r.spec.paper)} — ${
      h(r.spec.table)
    }</td>` +
    `<td><code>${h(r.profile)}</code></td><td>${countBadges(r.cellCounts)}</td><td>${
      countBadges(r.claimCounts)
    }</td></tr>`
  ).join("\n");
  const body = `<h1>${h(title)}</h1>` +
    (options.generatedAt ? `<p class="hint">Generated ${h(options.generatedAt)}</p>` : "") +
    `<table class="data"><thead><tr><th>table</th><th>paper</th><th>profile</th><th>cells</th><th>claims</th></tr></thead>` +
    `<tbody>${rows}</tbody></table>`;
  return page(title, body, "");
}

// ---------------------------------------------------------------------------------------------
// Fragments.

/** A complete page with the reports' stylesheet (plus `css`, a page's own static rules). */
export function page(title: string, body: string, scripts: string, css = ""): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${h(title)}</title>
<style>${CSS}${css}</style>
</head>
<body>
${body}
${scripts}
</body>
</html>
`;
}

/**
 * A figure page beside a table's report: a link back to the table, a heading and caption (static HTML), one
 * section per figure, and the figures' data as escaped JSON (`dataId`) that `init` reads (chart.js inlined).
 */
export function figurePage(o: {
  tableId: string;
  heading: string;
  caption: string;
  tableHref?: string;
  sections: readonly { title: string; content: string }[];
  dataId: string;
  data: unknown;
  chartJs: string;
  init: string;
}): string {
  const body = [
    o.tableHref ? `<nav><a href="${h(safeHref(o.tableHref))}">← ${h(o.tableId)}</a></nav>` : "",
    `<h1>${h(o.heading)} — <code>${h(o.tableId)}</code></h1>`,
    `<p class="caption">${o.caption}</p>`,
    ...o.sections.map((x) => section(x.title, x.content)),
  ].join("\n");
  const scripts = `<script type="application/json" id="${h(o.dataId)}">${jsonForScript(o.data)}</script>\n` +
    `<script>${scriptSource(o.chartJs)}</script>\n<script>${o.init}</script>`;
  return page(`${o.tableId}: ${o.heading.toLowerCase()}`, body, scripts);
}

function figureLinks(figures: readonly FigurePage[]): string {
  return `<ul>${
    figures.map((f) => `<li><a href="${h(safeHref(f.href))}">${h(f.title)}</a> — ${h(f.description)}</li>`)
      .join("")
  }</ul>`;
}

export function section(title: string, content: string): string {
  return `<section><h2>${h(title)}</h2>${content}</section>`;
}

function facts(r: TableReport, generatedAt: string | undefined): string {
  const p = r.spec.protocol;
  const o = r.verdict.options;
  const profile = comparableWithPaper(r.profile)
    ? "the paper's full protocol: cell numbers are comparable with the paper"
    : "reduced budget: cell numbers are not comparable with the paper (profile ≠ paper); claims are still evaluated";
  const rows: [string, string][] = [
    ["Source", h(r.spec.source)],
    ["Profile", `<code>${h(r.profile)}</code> — ${h(profile)}`],
    ...(whatRanText(r) === null ? [] : [["What ran", h(whatRanText(r)!)] as [string, string]]),
    [
      "Paper protocol",
      `${h(p.evaluator)}; epoch selection <code>${h(p.selection)}</code>; ` +
      `${p.repeats === null ? "repeats not stated" : `${p.repeats} repeats`}. ${h(p.details)}`,
    ],
    ["Metric compared", `<code>${h(r.metric)}</code> (${h(METRIC_LABELS[r.metric])})`],
    [
      "Verdict rule",
      `tolerance ${fmtPts(o.tolerance)} points, α = ${o.alpha}, single-repeat margin ${
        fmtPts(o.singleRepeatMargin)
      } points`,
    ],
    ["Cells", countBadges(r.cellCounts)],
    ["Claims", countBadges(r.claimCounts)],
    ...(generatedAt ? [["Generated", h(generatedAt)] as [string, string]] : []),
  ];
  return `<dl class="facts">${rows.map(([k, v]) => `<dt>${h(k)}</dt><dd>${v}</dd>`).join("")}</dl>`;
}

function countBadges(counts: Partial<Record<string, number>>): string {
  const entries = Object.entries(counts).filter(([, n]) => (n ?? 0) > 0);
  if (entries.length === 0) return "none";
  return entries.map(([s, n]) => `<span class="badge ${statusClass(s)}">${n} ${h(s)}</span>`).join(" ");
}

function statusClass(status: string): string {
  return "st-" + status.toLowerCase().replace(/[^a-z]+/g, "-").replace(/^-|-$/g, "");
}

function status(label: string, statusKey = label): string {
  return `<span class="badge ${statusClass(statusKey)}">${h(label)}</span>`;
}

/** Longer cell lists of a substitution fold into a <details> so the table stays readable. */
const SHOWN_CELLS = 8;

function substitutions(r: TableReport): string {
  if (r.substitutions.length === 0) return `<p>None: every run used the paper's setting.</p>`;
  const rows = r.substitutions.map(({ substitution: s, cells }) =>
    `<tr><td>${h(s.field)}</td><td>${h(s.from)}</td><td>${h(s.to)}</td><td>${h(s.reason)}</td><td>${
      cells.length > SHOWN_CELLS
        ? `<details><summary>${cells.length} cells</summary>${cells.map(h).join(", ")}</details>`
        : cells.map(h).join(", ")
    }</td></tr>`
  );
  return `<table class="data"><thead><tr><th>field</th><th>paper</th><th>used</th><th>reason</th><th>cells</th></tr></thead>` +
    `<tbody>${rows.join("")}</tbody></table>`;
}

function provenance(r: TableReport): string {
  const p = r.provenance;
  if (p.repeats === 0) return `<p>No results yet.</p>`;
  const codes = (xs: string[]) => xs.map((x) => `<code>${h(x)}</code>`).join(", ");
  const rows: [string, string][] = [
    [
      "Repeats",
      `${p.repeats}${r.excludedRepeats ? ` (${r.excludedRepeats} of older configurations not used)` : ""}`,
    ],
    [
      "Git",
      p.gitShas.map((g) => `<code>${h(shortSha(g.sha))}</code>${g.dirty ? " (dirty)" : ""}`).join(", "),
    ],
    ["Deno", codes(p.denoVersions)],
    ["Adapter", p.adapters.map(h).join("<br>")],
    ["Code versions", codes(p.codeVersions)],
    ...(r.staleCells.length
      ? [[
        "Stale cells",
        `${r.staleCells.map(h).join(", ")}: hold repeats that predate this checkout's code (see each cell)`,
      ] as [string, string]]
      : []),
    ["Dataset manifests", codes(p.datasetManifestHashes.map((x) => x.slice(0, 12)))],
    ["Hosts", p.hostnames.map(h).join(", ")],
    [
      "Wall time",
      `${fmtSeconds(p.wallSeconds)} (work: distill ${fmtSeconds(p.distillSeconds)}, eval ${
        fmtSeconds(p.evalSeconds)
      }), ` +
      `${h(p.firstStart ?? "?")} → ${h(p.lastFinish ?? "?")}`,
    ],
  ];
  return `<dl class="facts">${rows.map(([k, v]) => `<dt>${h(k)}</dt><dd>${v}</dd>`).join("")}</dl>`;
}

function claimedText(c: CellReport): string {
  return c.spec.claimed
    ? fmtClaimed(c.spec.claimed)
    : `<span class="muted">claimed: ${h(c.spec.claimedNote ?? "unavailable in source")}</span>`;
}

function grid(r: TableReport): string {
  const shared = sharedClaimedNote(r);
  const head = `<tr><th></th>${r.grid.columns.map((c) => `<th>${h(c)}</th>`).join("")}</tr>`;
  const rows = r.grid.rows.map((row, i) =>
    `<tr><th>${h(row)}${
      r.grid.ran[i] === null ? "" : `<div class="ran">ran ${h(r.grid.ran[i]!)}</div>`
    }</th>${
      r.grid.at[i].map((c) => {
        if (!c) return "<td></td>";
        const rep = c.verdict.reproduced;
        const label = shared !== null && !c.method.implemented
          ? "not implemented"
          : shared !== null && c.skipped !== null
          ? "skipped"
          : cellStatusLabel(c);
        return `<td class="${
          statusClass(c.results.length || c.method.implemented ? c.verdict.status : "not implemented")
        }"${shared !== null && !rep ? ` title="${h(cellStatusLabel(c))}"` : ""}>` +
          (shared === null ? `<div class="claimed">${claimedText(c)}</div>` : "") +
          `<div class="reproduced">${rep ? h(fmtSummary(rep)) : h(label)}</div>` +
          (c.stale ? `<div class="stale" title="${h(staleNote(c) ?? "")}">stale</div>` : "") +
          (c.verdict.delta === null ? "" : `<div class="delta">Δ ${h(fmtSigned(c.verdict.delta))}</div>`) +
          `</td>`;
      }).join("")
    }</tr>`
  );
  const hint = shared === null
    ? "Top: claimed. Middle: reproduced mean ± std (n repeats). Bottom: Δ = reproduced − claimed."
    : `Claimed numbers: ${shared} (every cell). Entries: reproduced mean ± std (n repeats); ` +
      "hover a cell that did not run for the reason.";
  return `<p class="hint">${h(hint)}</p>` +
    `<div class="scroll"><table class="grid"><thead>${head}</thead><tbody>${
      rows.join("")
    }</tbody></table></div>`;
}

function cellTable(r: TableReport): string {
  const holdout = r.metric === "bestTestAcc";
  const head = ["cell", "method", "dataset", "IPC", "model", "claimed", "reproduced"]
    .concat(holdout ? ["holdout-selected"] : [], [
      "Δ",
      "verdict",
      "distill / eval per repeat",
      "explanation",
    ]);
  const rows = r.cells.filter((c) => c.shownAs === null).map((c) => {
    const v = c.verdict;
    const label = cellStatusLabel(c);
    const cols = [
      h(cellIdsText(c)),
      h(c.spec.method),
      h(ranText(c.spec.dataset, c.ran?.dataset)),
      c.spec.ipc === null ? "full" : String(c.spec.ipc),
      h(ranText(c.spec.model, c.ran?.model)),
      claimedText(c),
      v.reproduced ? h(fmtSummary(v.reproduced)) : "—",
      ...(holdout ? [c.holdout ? h(fmtSummary(c.holdout)) : "—"] : []),
      v.delta === null ? "—" : h(fmtSigned(v.delta)),
      status(label, c.results.length || c.method.implemented ? v.status : "not implemented"),
      h(fmtCost(c.results)),
      h([staleNote(c), v.explanation].filter((x) => x !== null).join(". ")),
    ];
    return `<tr>${cols.map((x) => `<td>${x}</td>`).join("")}</tr>`;
  });
  return `<div class="scroll"><table class="data"><thead><tr>${
    head.map((x) => `<th>${h(x)}</th>`).join("")
  }</tr></thead>` +
    `<tbody>${rows.join("")}</tbody></table></div>`;
}

function claims(r: TableReport): string {
  if (r.verdict.claims.length === 0) return "<p>The table makes no claims.</p>";
  return r.verdict.claims.map((c) =>
    `<article class="claim"><h3>${h(c.claimId)} ${status(c.status)}</h3>` +
    `<blockquote>${h(c.text)} — <em>${h(c.source)}</em> (${h(c.kind)})</blockquote>` +
    `<p>${h(c.explanation)}</p>` +
    (c.parts.length
      ? `<ul>${c.parts.map((p) => `<li>${status(p.status)} ${h(p.explanation)}</li>`).join("")}</ul>`
      : "") +
    `</article>`
  ).join("\n");
}

function images(list: readonly ImageGridEmbed[]): string {
  return `<div class="images">${
    list.map((img) =>
      `<figure><img alt="${h(img.title)}" src="data:image/png;base64,${
        Buffer.from(img.png).toString("base64")
      }">` +
      `<figcaption>${h(img.title)}</figcaption></figure>`
    ).join("")
  }</div>`;
}

// ---------------------------------------------------------------------------------------------
// Static assets. The init script only reads the JSON data element: no string from a spec or store
// is ever interpolated into code. `animation: false` so charts are complete on first paint
// (screenshots, printing).

const INIT_SCRIPT = `
(function () {
  "use strict";
  var WIDE_LEGEND = ${WIDE_LEGEND};
  var data = JSON.parse(document.getElementById("ddrepro-data").textContent);
  var palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#bcbd22", "#7f7f7f"];
  Chart.defaults.animation = false;
  Chart.defaults.font.family = "system-ui, -apple-system, Segoe UI, sans-serif";
  function fmt(v, s) { return v == null ? "-" : v.toFixed(2) + (s == null ? "" : " \\u00b1 " + s.toFixed(2)); }
  function label(ctx) {
    var s = ctx.dataset.std ? ctx.dataset.std[ctx.dataIndex] : null;
    return ctx.dataset.label + ": " + fmt(ctx.parsed.y != null && ctx.chart.options.indexAxis !== "y" ? ctx.parsed.y : ctx.parsed.x, s);
  }
  function color(j) { return j < palette.length ? palette[j] : "hsl(" + Math.round((j * 137.5) % 360) + ",65%,42%)"; }
  data.curves.forEach(function (c, i) {
    var datasets = [];
    c.series.forEach(function (s, j) {
      datasets.push({ label: s.name, data: s.reproduced, std: s.reproducedStd, borderColor: color(j),
        backgroundColor: color(j), spanGaps: true, pointRadius: 4, borderWidth: 2 });
      datasets.push({ label: s.name + " (claimed)", data: s.claimed, std: s.claimedStd, borderColor: color(j),
        backgroundColor: "#fff", borderDash: [6, 4], spanGaps: true, pointRadius: 4, pointStyle: "rectRot", borderWidth: 2 });
    });
    new Chart(document.getElementById("curve-" + i), {
      type: "line",
      data: { labels: c.ipcs.map(String), datasets: datasets },
      options: { animation: false, responsive: true, maintainAspectRatio: false,
        scales: { x: { title: { display: true, text: "images per class (IPC)" } },
                  y: { title: { display: true, text: data.metricLabel } } },
        plugins: {
          title: { display: true, text: c.title },
          // One legend entry per series (the solid line); the dashed twin shares its colour.
          legend: { position: c.series.length > WIDE_LEGEND ? "right" : "top",
            labels: { boxWidth: 14, filter: function (item) { return item.datasetIndex % 2 === 0; } } },
          tooltip: { callbacks: { label: label } } } }
    });
  });
  if (data.bars.labels.length > 0) {
    new Chart(document.getElementById("bars"), {
      type: "bar",
      data: { labels: data.bars.labels, datasets: [
        { label: "claimed", data: data.bars.claimed, backgroundColor: "#9ecae1" },
        { label: "reproduced", data: data.bars.reproduced, std: data.bars.reproducedStd, backgroundColor: "#3182bd" }
      ] },
      options: { animation: false, indexAxis: "y", responsive: true, maintainAspectRatio: false,
        scales: { x: { title: { display: true, text: data.metricLabel } } },
        plugins: { tooltip: { callbacks: { label: label } } } }
    });
  }
})();
`;

const CSS = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1200px;
  padding: 0 16px; color: #1b1b1b; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; }
h3 { font-size: 15px; margin-bottom: 4px; }
code { background: #f3f3f3; padding: 0 3px; border-radius: 3px; }
.caption { font-style: italic; color: #444; }
.hint, .muted { color: #666; font-size: 12px; }
th .ran { color: #666; font-size: 11px; font-weight: normal; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 8px 0; }
dl.facts dt { font-weight: 600; color: #333; } dl.facts dd { margin: 0; }
table { border-collapse: collapse; } .scroll { overflow-x: auto; }
table.data td, table.data th, table.grid td, table.grid th { border: 1px solid #ddd; padding: 4px 8px;
  vertical-align: top; text-align: left; }
table.data th, table.grid th { background: #f6f6f6; }
table.grid td { min-width: 120px; } table.grid .claimed { color: #555; } table.grid .reproduced { font-weight: 600; }
table.grid .delta { font-size: 12px; color: #444; } table.grid .stale { font-size: 12px; color: #8a5a00; }
.badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 12px; background: #eee; white-space: nowrap; }
.st-reproduced { background: #e3f4e1; } .st-not-reproduced { background: #fbe0e0; }
.st-inconclusive { background: #fff4d6; } .st-not-run, .st-not-implemented { background: #eeeeee; }
.st-not-comparable, .st-no-claim { background: #e6eef8; }
td.st-reproduced, td.st-not-reproduced, td.st-inconclusive, td.st-not-run, td.st-not-implemented,
td.st-not-comparable, td.st-no-claim { border-radius: 0; }
.curves { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 16px; }
figure.chart { position: relative; height: 340px; margin: 8px 0; } figure.chart.wide { grid-column: 1 / -1; }
article.claim blockquote { margin: 4px 0 4px 0; padding-left: 10px; border-left: 3px solid #ccc; color: #333; }
.images { display: flex; flex-wrap: wrap; gap: 16px; } .images img { image-rendering: pixelated; max-width: 100%; }
nav a { font-size: 13px; }
`;
