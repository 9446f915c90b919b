/** D³HR's storage comparison: read from stored distill metrics, one row per IPC, linked, escaped. */
import { deepStrictEqual as eq, ok } from "node:assert";
import {
  formatBytes,
  renderStorageHtml,
  renderStorageMarkdown,
  storageFigures,
} from "../../reports/storage.ts";
import { writeReports } from "../../reports/write.ts";
import { storageComparison } from "../../methods/d3hr/stats.ts";
import { demoTable, repeats } from "../results/_fixtures.ts";

/** The metrics a D³HR run stores: 10 classes of 4×4×4 latents, 1×28×28 images, 1 MB of weights. */
function sizes(ipc: number) {
  const s = storageComparison({ classes: 10, latentShape: [4, 4, 4] }, 1_000_000, ipc, [1, 28, 28]);
  return {
    statisticsBytes: s.statistics,
    weightsBytes: s.weights,
    setBytesUint8: s.setUint8,
    setBytesFloat32: s.setFloat32,
    breakEvenIpc: s.breakEvenIpc,
  };
}

Deno.test("storage figure: one row per IPC from the stored sizes; the set grows linearly", () => {
  const results = [
    ...repeats("d3hr-10", [40, 41], { ipc: 10, distillMetrics: sizes(10) }),
    ...repeats("d3hr-10-m1", [39], { ipc: 10, distillMetrics: sizes(10) }),
    ...repeats("d3hr-50", [50], { ipc: 50, distillMetrics: sizes(50) }),
    ...repeats("dm-10", [30], { ipc: 10 }), // no sizes: not in the figure
  ];
  const [f, ...rest] = storageFigures(results);
  eq(rest, []);
  eq(f.rows.map((r) => [r.ipc, r.cells]), [[10, ["d3hr-10", "d3hr-10-m1"]], [50, ["d3hr-50"]]]);
  eq(f.rows[0].statistics, 2 * 10 * 64 * 4);
  eq(f.bytesPerIpc, 10 * 28 * 28);
  // statistics + weights = 1 005 120 B; 7840 B per IPC → break-even at IPC 129.
  eq(f.rows[0].breakEvenIpc, 129);
  ok(f.curveIpcs.includes(129) && f.curveIpcs.includes(258) && f.curveIpcs[0] === 1);
  eq(storageFigures(repeats("dm-10", [30])), []);
  eq(renderStorageHtml("t", [], { chartJs: "" }), null);
  eq(renderStorageMarkdown("t", []), null);
  eq([formatBytes(512), formatBytes(5120), formatBytes(1_234_567)], ["512 B", "5.12 KB", "1.23 MB"]);
});

Deno.test("storage figure: every stored string is escaped in HTML and Markdown", () => {
  const evil = `x</script><img src=x onerror=alert(1)>|*`;
  const figs = storageFigures(repeats("c", [30], { dataset: evil, distillMetrics: sizes(10) }));
  const html = renderStorageHtml(`t<b>`, figs, { chartJs: "/*chart*/", tableHref: "javascript:alert(1)" })!;
  ok(!html.includes("<img src=x"), "no raw tag from a dataset id");
  ok(!html.includes("</script><img"), "no script break-out in the JSON data");
  ok(html.includes("&lt;img src=x onerror=alert(1)&gt;") && html.includes("t&lt;b&gt;"));
  ok(!html.includes("javascript:"), "unsafe link scheme dropped");
  const md = renderStorageMarkdown("t", figs)!;
  ok(!md.includes("<img") && md.includes("\\|\\*"), md);
  ok(md.includes("| 10 | 5.12 KB | 1.01 MB | 78.4 KB | 314 KB | 15× | 0.08× |"), md);
});

Deno.test("writeReports: a D³HR table gets its storage page, linked from its report", async () => {
  const outDir = await Deno.makeTempDir({ prefix: "ddrepro-storage-" });
  await writeReports({
    outDir,
    tables: [{
      spec: demoTable(),
      results: repeats("dm-10", [25, 26], { profile: "quick", distillMetrics: sizes(10) }),
      profile: "quick",
    }],
    generatedAt: "2025-01-01T00:00:00Z",
  });
  const html = await Deno.readTextFile(`${outDir}/demo_table1_storage.html`);
  ok(html.includes('id="storage-0"') && html.includes("Chart.js v4"));
  ok((await Deno.readTextFile(`${outDir}/demo_table1.html`)).includes('<a href="demo_table1_storage.html">'));
  ok((await Deno.readTextFile(`${outDir}/demo_table1.md`)).includes("[Storage](demo_table1_storage.md)"));
});
