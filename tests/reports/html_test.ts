import { deepStrictEqual as eq, ok } from "node:assert";
import {
  escapeHtml,
  escapeMarkdown,
  escapeTerminal,
  jsonForScript,
  safeHref,
  scriptSource,
} from "../../reports/escape.ts";
import { chartData, renderIndexHtml, renderTableHtml } from "../../reports/html.ts";
import { buildTableReport } from "../../reports/model.ts";
import { imageGridPng } from "../../data/png.ts";
import type { TableSpec } from "../../experiments/schema.ts";
import { demoTable, repeats } from "../results/_fixtures.ts";

const HOSTILE = `</script><script>alert(1)</script><img src=x onerror=alert(2)>"'&amp;<!--\u2028`;

/** A table where every free-text field a spec or store can carry is hostile. */
function hostileInputs() {
  const base = demoTable();
  const spec: TableSpec = {
    ...base,
    paper: HOSTILE,
    source: HOSTILE,
    table: HOSTILE,
    caption: HOSTILE,
    protocol: { ...base.protocol, evaluator: HOSTILE, details: HOSTILE },
    notes: [HOSTILE],
    // Built directly (not parsed) so even fields the schema restricts, like method ids, are hostile.
    cells: base.cells.map((c, i) => ({
      ...c,
      method: i === 0 ? HOSTILE : c.method,
      row: i < 3 ? HOSTILE : c.row,
      column: i === 0 ? HOSTILE : c.column,
      claimedNote: HOSTILE,
    })),
    claims: base.claims.map((c) => ({ ...c, id: HOSTILE, text: HOSTILE, source: HOSTILE })),
  };
  const subs = [{ field: HOSTILE, from: HOSTILE, to: HOSTILE, reason: HOSTILE }];
  const results = [
    ...repeats("dm-1", [25, 26], { substitutions: subs, method: HOSTILE }),
    ...repeats("ours-1", [30, 31]),
    ...repeats("ours-50", [60]),
  ].map((r) => ({
    ...r,
    provenance: {
      ...r.provenance,
      hostname: HOSTILE,
      adapter: { ...r.provenance.adapter, description: HOSTILE },
    },
  }));
  return {
    spec,
    results,
    profile: "paper" as const,
    methodStatus: (
      m: string,
    ) => (m === "ours" ? { implemented: true } : { implemented: false, reason: HOSTILE }),
  };
}

function assertNoInjection(html: string, scripts: number): void {
  ok(!html.includes("<script>alert"), "raw <script>alert in output");
  ok(!html.includes("<img src=x"), "raw <img> in output");
  ok(!html.includes("<!--"), "comment opener in output");
  eq(html.match(/<script\b/gi)?.length ?? 0, scripts, "unexpected <script> count");
  eq(html.match(/<\/script/gi)?.length ?? 0, scripts, "unexpected </script count");
  ok(!/<script[^>]*\ssrc=/i.test(html) && !/<link\b/i.test(html), "external resource referenced");
}

Deno.test("html: every embedded string is escaped (hostile caption, method, labels, reasons, images)", () => {
  const png = imageGridPng(new Float32Array(2 * 1 * 2 * 2).fill(0.5), [2, 1, 2, 2], { classes: 2 });
  const html = renderTableHtml(hostileInputs(), {
    chartJs: "/* chart.js stand-in */ window.Chart = function () {};",
    images: [{ title: HOSTILE, png }],
    indexHref: "javascript:alert(3)",
  });
  assertNoInjection(html, 3);
  ok(html.includes(escapeHtml(HOSTILE)), "escaped text missing");
  ok(!html.includes("javascript:"), "javascript: link survived");
  ok(html.includes("data:image/png;base64,"));

  // The chart data survives escaping byte for byte: the page's script sees the original strings.
  const json = /<script type="application\/json" id="ddrepro-data">([\s\S]*?)<\/script>/.exec(html)?.[1];
  ok(json !== undefined, "chart data element missing");
  ok(!json.includes("<") && !json.includes("\u2028"));
  const data = JSON.parse(json);
  ok(data.bars.labels.some((l: string) => l.startsWith(HOSTILE)), "hostile label not round-tripped");
});

Deno.test("html: chart.js is inlined from node_modules, charts are static (animation off)", () => {
  const base = hostileInputs();
  const html = renderTableHtml({ ...base, spec: demoTable(), methodStatus: undefined });
  ok(html.length > 150_000, "chart.js does not seem inlined");
  ok(html.includes("animation: false"));
  assertNoInjection(html, 3);
});

Deno.test("html: curves per dataset with claimed and reproduced series; no charts without numbers", () => {
  const spec = demoTable();
  const r = buildTableReport({
    spec,
    results: [...repeats("dm-1", [25, 26]), ...repeats("dm-50", [61])],
    profile: "paper",
  });
  const c = chartData(r);
  eq(c.curves.length, 1);
  eq(c.curves[0].ipcs, [1, 10, 50]);
  const dm = c.curves[0].series.find((s) => s.name === "DM");
  eq(dm?.claimed, [26.0, 48.9, 63.0]);
  eq(dm?.reproduced, [25.5, null, 61]);
  const empty = demoTable({ cells: demoTable().cells.map((x) => ({ ...x, claimed: null })) });
  const html = renderTableHtml({ spec: empty, results: [], profile: "paper" }, { chartJs: "x" });
  ok(!html.includes("<script"), "no data, no scripts");
});

Deno.test("html: index escapes titles and neutralises non-http links", () => {
  const report = buildTableReport(hostileInputs());
  const html = renderIndexHtml([{ href: "javascript:alert(1)", report }, {
    href: "demo_table1.html",
    report,
  }], {
    title: HOSTILE,
  });
  assertNoInjection(html, 0);
  ok(html.includes('href="#"') && html.includes('href="demo_table1.html"'));
});

Deno.test("escape helpers", () => {
  eq(escapeHtml(`<a href="x">'&'</a>`), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  eq(JSON.parse(jsonForScript({ s: HOSTILE })).s, HOSTILE);
  eq(scriptSource('var s = "</script><!--";'), 'var s = "<\\/script><\\!--";');
  eq(safeHref(" JavaScript:alert(1)"), "#");
  eq(safeHref("https://example.org/x"), "https://example.org/x");
  eq(safeHref("igds_table1.html"), "igds_table1.html");
  eq(
    escapeMarkdown("a|b <i>*x*</i>\nc &amp; d & e"),
    "a\\|b &lt;i>\\*x\\*&lt;/i> c &amp;amp; d & e",
  );
  eq(escapeMarkdown("p < 0.05, a > b, <!-- x"), "p < 0.05, a > b, &lt;!-- x");
  eq(
    escapeTerminal("a\x1b]0;t\x07b\x1b[2Jc\rd\x9be\u202ef\tg\nh\x7f ± ü"),
    "a\\x1b]0;t\\x07b\\x1b[2Jc\\x0dd\\x9be\\u202ef\tg\nh\\x7f ± ü",
  );
  eq(escapeTerminal("x\ny\tz", { lineBreaks: false }), "x\\x0ay\tz");
});

Deno.test("html: an IPC curve joins a method's cells across IPC groups (rows printed once per group)", () => {
  const base = demoTable();
  const spec = demoTable({
    cells: base.cells.filter((c) => c.method === "dm").map((c) => ({ ...c, row: "ConvNet-3", column: "DM" })),
    claims: [],
  });
  const [curve] =
    chartData(buildTableReport({ spec, results: repeats("dm-10", [50]), profile: "paper" })).curves;
  eq(curve.ipcs, [1, 10, 50]);
  eq(curve.series.map((s) => s.name), ["ConvNet-3"]);
  eq(curve.series[0].claimed, [26.0, 48.9, 63.0]);
  eq(curve.series[0].reproduced, [null, 50, null]);
});
