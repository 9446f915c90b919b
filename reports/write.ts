/**
 * Writes the Markdown and HTML reports of several tables plus index pages into one directory
 * (reports/out/ by default, git-ignored; copy to reports/published/ to commit one). Every file is
 * written to a temp file and renamed, so a killed writer leaves the previous report, never a torn one.
 */
import { join } from "node:path";
import { type ImageGridEmbed, loadChartJs, renderIndexHtml, renderTableHtml } from "./html.ts";
import { renderIndexMarkdown, renderTableMarkdown } from "./markdown.ts";
import {
  buildTableReport,
  type FigurePage,
  tableFileStem,
  type TableReport,
  type TableReportInput,
} from "./model.ts";
import { writeTextFileAtomic } from "../data/atomic.ts";
import { difficultyFigures, renderDifficultyHtml, renderDifficultyMarkdown } from "./difficulty.ts";
import { renderStorageHtml, renderStorageMarkdown, storageFigures } from "./storage.ts";

export interface WriteReportsOptions {
  outDir: string;
  tables: readonly TableReportInput[];
  /** Image grids to embed, by table id. */
  images?: ReadonlyMap<string, readonly ImageGridEmbed[]>;
  generatedAt?: string;
}

export interface WrittenReports {
  index: { html: string; markdown: string };
  tables: { tableId: string; html: string; markdown: string; report: TableReport }[];
}

export async function writeReports(options: WriteReportsOptions): Promise<WrittenReports> {
  try {
    await Deno.mkdir(options.outDir, { recursive: true });
  } catch (e) {
    const why = e instanceof Deno.errors.AlreadyExists ? "exists and is not a folder" : String(e);
    throw new Error(`report folder ${options.outDir}: ${why}`, { cause: e });
  }
  const generatedAt = options.generatedAt ?? new Date().toISOString();
  const chartJs = loadChartJs(); // read once, inlined in every page
  const tables: WrittenReports["tables"] = [];
  for (const input of options.tables) {
    const report = buildTableReport(input);
    const stem = tableFileStem(report.spec.id);
    const html = join(options.outDir, `${stem}.html`);
    const markdown = join(options.outDir, `${stem}.md`);
    // Figure pages first, so the table's report links the ones that exist.
    const figures = await writeFigurePages(options.outDir, stem, report, chartJs);
    await writeTextFileAtomic(markdown, renderTableMarkdown(report, { figures: figures.md }));
    await writeTextFileAtomic(
      html,
      renderTableHtml(report, {
        chartJs,
        images: options.images?.get(report.spec.id),
        generatedAt,
        figures: figures.html,
      }),
    );
    tables.push({ tableId: report.spec.id, html, markdown, report });
  }
  const index = { html: join(options.outDir, "index.html"), markdown: join(options.outDir, "index.md") };
  await writeTextFileAtomic(
    index.html,
    renderIndexHtml(tables.map((t) => ({ href: `${tableFileStem(t.tableId)}.html`, report: t.report })), {
      generatedAt,
    }),
  );
  await writeTextFileAtomic(
    index.markdown,
    renderIndexMarkdown(tables.map((t) => ({ href: `${tableFileStem(t.tableId)}.md`, report: t.report }))),
  );
  return { index, tables };
}

/**
 * The figure pages of methods that store what they draw: DGS's difficulty histograms, D³HR's storage
 * comparison. Returns the links for the HTML and the Markdown report (each links its own format).
 */
async function writeFigurePages(
  outDir: string,
  stem: string,
  report: TableReport,
  chartJs: string,
): Promise<{ html: FigurePage[]; md: FigurePage[] }> {
  const results = report.cells.flatMap((c) => c.results);
  const tableId = report.spec.id, tableHref = `${stem}.html`;
  const pages = [
    {
      suffix: "difficulty",
      title: "Difficulty histograms",
      description: "per cell, the share of images per difficulty interval in the real data, the generated " +
        "pool, the target and the selected set",
      render: () => {
        const f = difficultyFigures(results);
        return [
          renderDifficultyHtml(tableId, f, { chartJs, tableHref }),
          renderDifficultyMarkdown(tableId, f),
        ];
      },
    },
    {
      suffix: "storage",
      title: "Storage",
      description: "the per-class (μ, σ²) and generative weights that regenerate the set, against storing " +
        "its images, by IPC",
      render: () => {
        const f = storageFigures(results);
        return [renderStorageHtml(tableId, f, { chartJs, tableHref }), renderStorageMarkdown(tableId, f)];
      },
    },
  ];
  const links = { html: [] as FigurePage[], md: [] as FigurePage[] };
  for (const p of pages) {
    const [html, md] = p.render();
    if (html === null || md === null) continue;
    const file = `${stem}_${p.suffix}`;
    await writeTextFileAtomic(join(outDir, `${file}.html`), html);
    await writeTextFileAtomic(join(outDir, `${file}.md`), md);
    links.html.push({ title: p.title, href: `${file}.html`, description: p.description });
    links.md.push({ title: p.title, href: `${file}.md`, description: p.description });
  }
  return links;
}
