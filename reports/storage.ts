/**
 * D³HR's storage comparison (its paper's Sec. 6.7 / Fig. A2): what regenerating a set needs — the per-class
 * (μ, σ²) of the noise-domain latents, plus the generative weights — against storing the set's images, which
 * grows linearly with the IPC. Read from the sizes each D³HR result stores in its distill metrics
 * (`statisticsBytes`, `weightsBytes`, `setBytesUint8`, `setBytesFloat32`, `breakEvenIpc`; methods/d3hr/stats.ts).
 * A page of its own next to the table's report (chart.js inlined, data as escaped JSON, every string
 * escaped), and a Markdown table.
 */
import { escapeHtml as h, escapeMarkdown } from "./escape.ts";
import { figurePage } from "./html.ts";
import type { CellRepeatResult } from "../results/types.ts";

const KEYS = ["statisticsBytes", "weightsBytes", "setBytesUint8", "setBytesFloat32", "breakEvenIpc"] as const;

/** The sizes at one IPC (every cell of a dataset at that IPC stores the same numbers). */
export interface StorageRow {
  dataset: string;
  ipc: number;
  /** μ and σ² of every class, float32. */
  statistics: number;
  /** The generative weights a regeneration needs (DiT + VAE as shipped). */
  weights: number;
  /** The distilled set as 8-bit and as float32 images. */
  setUint8: number;
  setFloat32: number;
  /** The IPC from which statistics + weights are smaller than the 8-bit set. */
  breakEvenIpc: number;
  /** Cells whose results gave this row. */
  cells: string[];
}

export interface StorageFigure {
  dataset: string;
  rows: StorageRow[];
  /** 8-bit bytes of one image per class (the slope of the set's size in the IPC). */
  bytesPerIpc: number;
  /** IPCs the chart is drawn at: the measured ones, the break-even and round values around them. */
  curveIpcs: number[];
}

const hasStorage = (r: CellRepeatResult) =>
  r.resolved.ipc !== null && KEYS.every((k) => Number.isFinite(r.distillMetrics[k]));

/** One figure per dataset whose results carry storage sizes, rows by IPC. */
export function storageFigures(results: readonly CellRepeatResult[]): StorageFigure[] {
  const byDataset = new Map<string, Map<number, StorageRow>>();
  for (const r of results) {
    if (!hasStorage(r)) continue;
    const m = r.distillMetrics, ipc = r.resolved.ipc!, dataset = r.resolved.dataset;
    const rows = byDataset.get(dataset) ?? new Map<number, StorageRow>();
    byDataset.set(dataset, rows);
    const row = rows.get(ipc);
    if (row === undefined) {
      rows.set(ipc, {
        dataset,
        ipc,
        statistics: m.statisticsBytes,
        weights: m.weightsBytes,
        setUint8: m.setBytesUint8,
        setFloat32: m.setBytesFloat32,
        breakEvenIpc: m.breakEvenIpc,
        cells: [r.resolved.cellId],
      });
    } else if (!row.cells.includes(r.resolved.cellId)) row.cells.push(r.resolved.cellId);
  }
  return [...byDataset].map(([dataset, rows]) => {
    const sorted = [...rows.values()].sort((a, b) => a.ipc - b.ipc);
    const bytesPerIpc = sorted[0].setUint8 / sorted[0].ipc;
    const breakEven = Math.max(...sorted.map((r) => r.breakEvenIpc));
    const top = Math.max(2 * breakEven, ...sorted.map((r) => r.ipc));
    const round = [1, 10, 50, 100, 200, 500, 1000, 2000, 5000, 10000].filter((v) => v <= top);
    const curveIpcs = [...new Set([...round, ...sorted.map((r) => r.ipc), breakEven, top])].sort((a, b) =>
      a - b
    );
    return { dataset, rows: sorted, bytesPerIpc, curveIpcs };
  });
}

/** "12.3 KB", "4.56 MB" (powers of 1000, as the paper's GB). */
export function formatBytes(n: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = n, u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toPrecision(3)} ${units[u]}`;
}

const ratio = (a: number, b: number) => (a / b >= 10 ? (a / b).toFixed(0) : (a / b).toFixed(2));

function summaryText(f: StorageFigure): string {
  const r = f.rows[0];
  return `(μ, σ²) of every class: ${formatBytes(r.statistics)}; with the generative weights ` +
    `(${formatBytes(r.weights)}): ${formatBytes(r.statistics + r.weights)}. The 8-bit set grows by ` +
    `${formatBytes(f.bytesPerIpc)} per IPC: statistics alone are smaller than the set from IPC ` +
    `${Math.ceil(r.statistics / f.bytesPerIpc)}, statistics + weights from IPC ${r.breakEvenIpc}.`;
}

const HEADER = [
  "IPC",
  "(μ, σ²)",
  "(μ, σ²) + weights",
  "set, 8-bit",
  "set, float32",
  "set ÷ (μ, σ²)",
  "set ÷ ((μ, σ²) + weights)",
];

function rowCells(r: StorageRow): string[] {
  return [
    String(r.ipc),
    formatBytes(r.statistics),
    formatBytes(r.statistics + r.weights),
    formatBytes(r.setUint8),
    formatBytes(r.setFloat32),
    `${ratio(r.setUint8, r.statistics)}×`,
    `${ratio(r.setUint8, r.statistics + r.weights)}×`,
  ];
}

/** The figure page of a table (null when none of its results has storage sizes). */
export function renderStorageHtml(
  tableId: string,
  figures: readonly StorageFigure[],
  o: { chartJs: string; tableHref?: string },
): string | null {
  if (figures.length === 0) return null;
  return figurePage({
    tableId,
    heading: "Storage",
    caption: `What a D³HR set needs to be regenerated — the per-class mean and variance of its ` +
      `noise-domain latents, plus the VAE and DiT weights — against storing its images, which grows linearly ` +
      `with the IPC (the D³HR paper's Fig. A2). Sizes as stored by the runs; the curves extend the set's size ` +
      `linearly in the IPC.`,
    ...(o.tableHref ? { tableHref: o.tableHref } : {}),
    sections: figures.map((f, i) => ({
      title: f.dataset,
      content: `<p class="hint">${h(summaryText(f))}</p>` +
        `<table class="data"><thead><tr>${
          HEADER.map((c) => `<th>${h(c)}</th>`).join("")
        }</tr></thead><tbody>` +
        f.rows.map((r) => `<tr>${rowCells(r).map((c) => `<td>${h(c)}</td>`).join("")}</tr>`).join("") +
        `</tbody></table>` +
        `<figure class="chart"><canvas id="storage-${i}" aria-label="${h(f.dataset)}"></canvas></figure>`,
    })),
    dataId: "ddrepro-storage",
    data: figures.map((f) => {
      const r = f.rows[0];
      return {
        title: f.dataset,
        ipcs: f.curveIpcs,
        series: [
          { label: "images, float32", data: f.curveIpcs.map((k) => 4 * f.bytesPerIpc * k) },
          { label: "images, 8-bit", data: f.curveIpcs.map((k) => f.bytesPerIpc * k) },
          { label: "(μ, σ²) + weights", data: f.curveIpcs.map(() => r.statistics + r.weights) },
          { label: "(μ, σ²) only", data: f.curveIpcs.map(() => r.statistics) },
        ],
      };
    }),
    chartJs: o.chartJs,
    init: INIT,
  });
}

/** The same comparison as Markdown tables. */
export function renderStorageMarkdown(tableId: string, figures: readonly StorageFigure[]): string | null {
  if (figures.length === 0) return null;
  const out = [`# Storage — ${escapeMarkdown(tableId)}`, ""];
  for (const f of figures) {
    out.push(`## ${escapeMarkdown(f.dataset)}`, "", escapeMarkdown(summaryText(f)), "");
    out.push(`| ${HEADER.join(" | ")} |`, `|${HEADER.map(() => "---:").join("|")}|`);
    for (const r of f.rows) out.push(`| ${rowCells(r).map(escapeMarkdown).join(" | ")} |`);
    out.push("");
  }
  return out.join("\n");
}

// Reads only the JSON element: no stored string is interpolated into code.
const INIT = `
(function () {
  "use strict";
  var figures = JSON.parse(document.getElementById("ddrepro-storage").textContent);
  var colors = ["#9ecae1", "#3182bd", "#e6550d", "#31a354"];
  Chart.defaults.animation = false;
  figures.forEach(function (f, i) {
    new Chart(document.getElementById("storage-" + i), {
      type: "line",
      data: { datasets: f.series.map(function (s, j) {
        return { label: s.label, data: s.data.map(function (v, k) { return { x: f.ipcs[k], y: v }; }),
          borderColor: colors[j % colors.length], backgroundColor: colors[j % colors.length], pointRadius: 2 };
      }) },
      options: { animation: false, responsive: true, maintainAspectRatio: false,
        scales: { x: { type: "logarithmic", title: { display: true, text: "images per class (IPC)" } },
                  y: { type: "logarithmic", title: { display: true, text: "bytes" } } },
        plugins: { title: { display: true, text: f.title } } }
    });
  });
})();
`;
