/**
 * Writes the Markdown and HTML reports of several tables plus index pages into one directory
 * (reports/out/ by default, git-ignored; copy to reports/published/ to commit one).
 */
import { join } from "node:path";
import { type ImageGridEmbed, loadChartJs, renderIndexHtml, renderTableHtml } from "./html.ts";
import { renderIndexMarkdown, renderTableMarkdown } from "./markdown.ts";
import { buildTableReport, tableFileStem, type TableReport, type TableReportInput } from "./model.ts";

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
  await Deno.mkdir(options.outDir, { recursive: true });
  const generatedAt = options.generatedAt ?? new Date().toISOString();
  const chartJs = loadChartJs(); // read once, inlined in every page
  const tables: WrittenReports["tables"] = [];
  for (const input of options.tables) {
    const report = buildTableReport(input);
    const stem = tableFileStem(report.spec.id);
    const html = join(options.outDir, `${stem}.html`);
    const markdown = join(options.outDir, `${stem}.md`);
    await Deno.writeTextFile(markdown, renderTableMarkdown(report));
    await Deno.writeTextFile(
      html,
      renderTableHtml(report, { chartJs, images: options.images?.get(report.spec.id), generatedAt }),
    );
    tables.push({ tableId: report.spec.id, html, markdown, report });
  }
  const index = { html: join(options.outDir, "index.html"), markdown: join(options.outDir, "index.md") };
  await Deno.writeTextFile(
    index.html,
    renderIndexHtml(tables.map((t) => ({ href: `${tableFileStem(t.tableId)}.html`, report: t.report })), {
      generatedAt,
    }),
  );
  await Deno.writeTextFile(
    index.markdown,
    renderIndexMarkdown(tables.map((t) => ({ href: `${tableFileStem(t.tableId)}.md`, report: t.report }))),
  );
  return { index, tables };
}
