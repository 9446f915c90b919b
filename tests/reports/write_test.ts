import { assert, assertEquals } from "../results/_assert.ts";
import { writeReports } from "../../reports/write.ts";
import { demoTable, repeats } from "../results/_fixtures.ts";

Deno.test("writeReports: per-table Markdown and self-contained HTML plus index pages", async () => {
  const outDir = await Deno.makeTempDir({ prefix: "ddrepro-reports-" });
  const other = demoTable({ id: "demo/table2", table: "Table 2" });
  const written = await writeReports({
    outDir,
    tables: [
      { spec: demoTable(), results: repeats("dm-1", [25, 26], { profile: "quick" }), profile: "quick" },
      { spec: other, results: [], profile: "paper" },
    ],
    generatedAt: "2025-01-01T00:00:00Z",
  });
  assertEquals(written.tables.map((t) => t.html.slice(outDir.length + 1)), [
    "demo_table1.html",
    "demo_table2.html",
  ]);
  const index = await Deno.readTextFile(written.index.html);
  assert(index.includes('href="demo_table1.html"') && index.includes('href="demo_table2.html"'));
  const md = await Deno.readTextFile(written.tables[0].markdown);
  assert(md.includes("25.50 ± 0.71 (n=2)"));
  const html = await Deno.readTextFile(written.tables[0].html);
  assert(html.includes("Chart.js v4") && html.includes('<a href="index.html">'));
  assert(!/\bsrc="https?:/.test(html), "no network resources");
});
