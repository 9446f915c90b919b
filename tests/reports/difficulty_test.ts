/** DGS's difficulty-histogram figure: read from stored distill metrics, averaged over repeats, escaped. */
import { deepStrictEqual as eq, ok } from "node:assert";
import {
  difficultyFigures,
  renderDifficultyHtml,
  renderDifficultyMarkdown,
} from "../../reports/difficulty.ts";
import { writeReports } from "../../reports/write.ts";
import { demoTable, repeats } from "../results/_fixtures.ts";

/** Histograms over 2 intervals as DGS stores them (counts summed over classes). */
function hist(original: number[], pool: number[], target: number[], selected: number[]) {
  const m: Record<string, number> = { klSelectedTarget: 0.01, shortfall: 2 };
  const put = (s: string, v: number[]) => v.forEach((x, k) => (m[`hist.${s}.${k}`] = x));
  put("original", original);
  put("pool", pool);
  put("target", target);
  put("selected", selected);
  return m;
}

Deno.test("difficulty figure: shares per interval from stored histograms, averaged over repeats", () => {
  const [a] = repeats("dm-10", [30], {
    profile: "quick",
    distillMetrics: hist([3, 1], [8, 2], [7.5, 2.5], [8, 2]),
  });
  const [, b] = repeats("dm-10", [30, 31], {
    profile: "quick",
    distillMetrics: hist([1, 3], [6, 4], [2.5, 7.5], [2, 8]),
    methodConfig: { logTransform: true },
  });
  const other = repeats("dm-1", [20], { profile: "quick" }); // no histograms: no figure
  const figs = difficultyFigures([a, b, ...other]);
  eq(figs.length, 1);
  eq(figs[0].cellId, "dm-10");
  eq(figs[0].repeats, 2);
  eq(figs[0].intervals, ["0.00–0.50", "0.50–1.00"]);
  eq(figs[0].shares.original, [0.5, 0.5]); // (0.75 + 0.25) / 2
  eq(figs[0].shares.pool, [0.7, 0.30000000000000004]);
  eq(figs[0].shares.selected, [0.5, 0.5]);
  eq(figs[0].summary.shortfall, 2);
  eq(difficultyFigures(other), []);
  eq(renderDifficultyHtml("t", [], { chartJs: "" }), null);
});

Deno.test("difficulty figure: every stored string is escaped in HTML and Markdown", () => {
  const evil = `x</script><img src=x onerror=alert(1)>|*`;
  const figs = difficultyFigures(
    repeats(evil, [30], { profile: "quick", distillMetrics: hist([1, 1], [1, 1], [1, 1], [1, 1]) }),
  );
  const html = renderDifficultyHtml(`t<b>`, figs, {
    chartJs: "/*chart*/",
    tableHref: "javascript:alert(1)",
  })!;
  ok(!html.includes("<img src=x"), "no raw tag from a cell id");
  ok(!html.includes("</script><img"), "no script break-out in the JSON data");
  ok(html.includes("&lt;img src=x onerror=alert(1)&gt;") && html.includes("t&lt;b&gt;"));
  ok(!html.includes("javascript:"), "unsafe link scheme dropped");
  const md = renderDifficultyMarkdown("t", figs)!;
  ok(!md.includes("<img") && md.includes("\\|\\*"), md);
});

Deno.test("writeReports: a table with difficulty histograms gets its figure page", async () => {
  const outDir = await Deno.makeTempDir({ prefix: "ddrepro-difficulty-" });
  await writeReports({
    outDir,
    tables: [{
      spec: demoTable(),
      results: repeats("dm-10", [25, 26], {
        profile: "quick",
        distillMetrics: hist([3, 1], [8, 2], [3, 1], [3, 1]),
      }),
      profile: "quick",
    }],
    generatedAt: "2025-01-01T00:00:00Z",
  });
  const html = await Deno.readTextFile(`${outDir}/demo_table1_difficulty.html`);
  ok(html.includes('id="difficulty-0"') && html.includes("Chart.js v4"));
  ok(
    (await Deno.readTextFile(`${outDir}/demo_table1_difficulty.md`)).includes(
      "| original data | 75.0 | 25.0 |",
    ),
  );
  // The table's report links the page, each format its own.
  const tableHtml = await Deno.readTextFile(`${outDir}/demo_table1.html`);
  ok(tableHtml.includes('<a href="demo_table1_difficulty.html">Difficulty histograms</a>'), tableHtml);
  ok(
    (await Deno.readTextFile(`${outDir}/demo_table1.md`)).includes(
      "- [Difficulty histograms](demo_table1_difficulty.md)",
    ),
  );
  // Without histograms there is no figure page, and no Figures section.
  const plain = await Deno.makeTempDir({ prefix: "ddrepro-difficulty-" });
  await writeReports({ outDir: plain, tables: [{ spec: demoTable(), results: [], profile: "quick" }] });
  eq([...Deno.readDirSync(plain)].some((e) => e.name.includes("difficulty")), false);
  ok(!(await Deno.readTextFile(`${plain}/demo_table1.md`)).includes("## Figures"));
});
