/**
 * Writes the Markdown and HTML reports of several tables plus index pages into one directory
 * (reports/out/ by default, git-ignored; copy to reports/published/ to commit one). Every file is
 * written to a temp file and renamed, so a killed writer leaves the previous report, never a torn one.
 */
import { join } from "node:path";
import { type ImageGridEmbed, loadChartJs, renderIndexHtml, renderTableHtml } from "./html.ts";
import { renderIndexMarkdown, renderTableMarkdown } from "./markdown.ts";
import { buildTableReport, tableFileStem, type TableReport, type TableReportInput } from "./model.ts";
import { writeTextFileAtomic } from "../data/atomic.ts";
import { difficultyFigures, renderDifficultyHtml, renderDifficultyMarkdown } from "./difficulty.ts";

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
    await writeTextFileAtomic(markdown, renderTableMarkdown(report));
    await writeTextFileAtomic(
      html,
      renderTableHtml(report, { chartJs, images: options.images?.get(report.spec.id), generatedAt }),
    );
    tables.push({ tableId: report.spec.id, html, markdown, report });
    // Methods that store difficulty histograms (DGS) get their figure page beside the table's.
    const figures = difficultyFigures(report.cells.flatMap((c) => c.results));
    const figHtml = renderDifficultyHtml(report.spec.id, figures, { chartJs, tableHref: `${stem}.html` });
    if (figHtml !== null) {
      await writeTextFileAtomic(join(options.outDir, `${stem}_difficulty.html`), figHtml);
      await writeTextFileAtomic(
        join(options.outDir, `${stem}_difficulty.md`),
        renderDifficultyMarkdown(report.spec.id, figures)!,
      );
    }
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
