/** The nightly history: nights from stores and commits, per-cell points, regressions, escaping, writing. */
import { deepStrictEqual as eq, ok } from "node:assert";
import { buildHistory } from "../../reports/history.ts";
import { historyChartData, renderHistoryHtml, writeHistoryHtml } from "../../reports/history_html.ts";
import { escapeHtml } from "../../reports/escape.ts";
import type { CellRepeatResult } from "../../results/types.ts";
import type { TableSpec } from "../../experiments/schema.ts";
import { demoTable, repeats } from "../results/_fixtures.ts";

const SHA_A = "a".repeat(40), SHA_B = "b".repeat(40), SHA_C = "c".repeat(40);

/** One night's repeats of a commit, started on `day` (2025-01-day). */
function night(sha: string, day: number, cells: Record<string, number[]>): CellRepeatResult[] {
  const at = (h: number) => `2025-01-${String(day).padStart(2, "0")}T0${h}:00:00.000Z`;
  return Object.entries(cells).flatMap(([cell, accs]) =>
    repeats(cell, accs, { gitSha: sha }).map((r) => ({
      ...r,
      provenance: { ...r.provenance, startedAt: at(1), finishedAt: at(2) },
    }))
  );
}

const STABLE = [25.1, 25.4, 24.9, 25.2, 25.0];

Deno.test("history: nights are ordered by date, one point per cell and night, regressions as dd compare", () => {
  const history = buildHistory({
    specs: [demoTable()],
    // Given newest first: the order of nights comes from the data, not from the arguments.
    stores: [
      {
        source: "night-2.db",
        results: night(SHA_B, 2, { "dm-1": STABLE, "dm-10": [40.1, 40.3, 39.8, 40.0, 40.2] }),
      },
      {
        source: "night-1.db",
        results: night(SHA_A, 1, { "dm-1": STABLE, "dm-10": [48.8, 49.1, 48.9, 49.2, 48.7] }),
      },
    ],
  });
  eq(history.nights.map((n) => [n.source, n.gitSha, n.startedAt.slice(0, 10)]), [
    ["night-1.db", SHA_A, "2025-01-01"],
    ["night-2.db", SHA_B, "2025-01-02"],
  ]);
  const t = history.tables[0];
  eq([t.tableId, t.profile, t.metric], ["demo/table1", "paper", "lastTestAcc"]);
  eq(t.cells.map((c) => c.cellId), ["dm-1", "dm-10"]);
  const dm10 = t.cells[1];
  eq(dm10.claimed, { mean: 48.9, std: 0.6 });
  eq(dm10.points[0]!.change, null, "a cell's first night has nothing to compare with");
  ok(Math.abs(dm10.points[0]!.reproduced.mean - 48.94) < 1e-9);
  eq(dm10.points[1]!.change!.status, "regression");
  eq(t.cells[0].points[1]!.change!.status, "unchanged");
  eq(history.regressions.map((r) => [r.tableId, r.cellId, r.night]), [["demo/table1", "dm-10", 1]]);
  ok(t.neverRun.includes("ours-50") && !t.neverRun.includes("dm-1"));

  const data = historyChartData(history);
  eq(data.nights, [["2025-01-01", "aaaaaaaaaa"], ["2025-01-02", "bbbbbbbbbb"]]);
  eq(data.charts[1].regression, [false, true]);
  eq(data.charts[1].claimed, { mean: 48.9, std: 0.6 });
  ok(data.charts[1].showClaimed, "the paper profile shows the claimed band from the start");
});

Deno.test("history: a store holding several commits gives one night per commit; gaps compare with the last night run", () => {
  const history = buildHistory({
    specs: [demoTable()],
    stores: [{
      source: "all.db",
      results: [
        ...night(SHA_A, 1, { "dm-1": STABLE }),
        ...night(SHA_B, 2, { "dm-10": [40] }), // dm-1 not run this night
        ...night(SHA_C, 3, { "dm-1": [21.9] }),
      ],
    }],
  });
  eq(history.nights.map((n) => n.gitSha), [SHA_A, SHA_B, SHA_C]);
  const dm1 = history.tables[0].cells.find((c) => c.cellId === "dm-1")!;
  eq(dm1.points[1], null);
  // Night 3 against night 1 (n = 1 on one side: the single-repeat margin, 2 points, decides).
  eq(dm1.points[2]!.change!.status, "regression");
  ok(/n < 2/.test(dm1.points[2]!.change!.explanation));
  // Other profiles than the paper's: the band is there but starts hidden.
  const smoke = buildHistory({
    specs: [demoTable()],
    stores: [{ source: "s.db", results: night(SHA_A, 1, { "dm-1": STABLE }).map(asSmoke) }],
  });
  eq(smoke.tables[0].profile, "smoke");
  eq(historyChartData(smoke).charts[0].showClaimed, false);
});

function asSmoke(r: CellRepeatResult): CellRepeatResult {
  return { ...r, resolved: { ...r.resolved, profile: "smoke" } };
}

const HOSTILE = `</script><script>alert(1)</script><img src=x onerror=alert(2)>"'&amp;<!--\u2028`;

Deno.test("history html: every string from a spec or a store is escaped", () => {
  const base = demoTable();
  const spec: TableSpec = {
    ...base,
    id: `demo/${HOSTILE}`,
    paper: HOSTILE,
    table: HOSTILE,
    cells: base.cells.map((c, i) => ({ ...c, id: i === 0 ? HOSTILE : c.id, row: HOSTILE, column: HOSTILE })),
  };
  const rows = night(HOSTILE, 1, { [HOSTILE]: STABLE, "dm-10": [49] }).map((r) => ({
    ...r,
    resolved: { ...r.resolved, tableId: spec.id },
  }));
  const later = night(SHA_B, 2, { [HOSTILE]: [10, 11, 10.5, 10.2, 10.9] }).map((r) => ({
    ...r,
    resolved: { ...r.resolved, tableId: spec.id },
  }));
  const history = buildHistory({
    specs: [spec],
    stores: [{ source: HOSTILE, results: rows }, { source: "b.db", results: later }],
  });
  eq(history.regressions.length, 1);
  const html = renderHistoryHtml(history, { chartJs: "/* chart.js */", generatedAt: HOSTILE });
  ok(!html.includes("<script>alert"), "raw <script>alert in output");
  ok(!html.includes("<img src=x"), "raw <img> in output");
  ok(!html.includes("<!--"), "comment opener in output");
  eq(html.match(/<script\b/gi)?.length ?? 0, 3, "data, chart.js and the init script only");
  eq(html.match(/<\/script/gi)?.length ?? 0, 3);
  ok(html.includes(escapeHtml(HOSTILE)), "escaped text missing");
  // The chart data round-trips through its JSON element unchanged.
  const json = /<script type="application\/json" id="ddrepro-history">([^]*?)<\/script>/.exec(html)![1];
  const data = JSON.parse(json);
  ok(data.charts[0].title.startsWith(HOSTILE), "hostile title not round-tripped");
});

Deno.test("history html: written atomically, replacing the previous page", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddrepro-history-" });
  try {
    const history = buildHistory({
      specs: [demoTable()],
      stores: [{ source: "a.db", results: night(SHA_A, 1, { "dm-1": STABLE }) }],
    });
    await Deno.writeTextFile(`${dir}/history.html`, "old page");
    const path = await writeHistoryHtml(dir, history, { chartJs: "/* chart.js */" });
    eq(path, `${dir}/history.html`);
    const text = await Deno.readTextFile(path);
    ok(text.startsWith("<!doctype html>") && text.includes("dm-1"));
    eq([...Deno.readDirSync(dir)].map((e) => e.name), ["history.html"], "no temp file left behind");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
