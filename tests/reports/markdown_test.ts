import { deepStrictEqual as eq, ok } from "node:assert";
import { renderIndexMarkdown, renderTableMarkdown } from "../../reports/markdown.ts";
import { renderTableHtml } from "../../reports/html.ts";
import { buildTableReport } from "../../reports/model.ts";
import { demoTable, repeats } from "../results/_fixtures.ts";

const subs = [{
  field: "dataset",
  from: "imagewoof",
  to: "fashion-mnist",
  reason: "ImageWoof absent offline",
}];

function inputs(profile: "paper" | "quick" = "paper") {
  return {
    spec: demoTable(),
    results: [
      ...repeats("dm-1", [25.6, 26.1, 25.9], { profile, substitutions: subs, ipc: 1 }),
      ...repeats("ours-1", [29.5, 30.4, 30.1], { profile, ipc: 1 }),
      ...repeats("ours-50", [62.0], { profile, ipc: 50 }),
    ],
    profile,
    methodStatus: (
      m: string,
    ) => (m === "dm" ? { implemented: true } : { implemented: false, reason: "needs a GAN" }),
  };
}

Deno.test("markdown: claimed and reproduced numbers, deltas, verdicts and explanations", () => {
  const md = renderTableMarkdown(inputs());
  for (const s of ["26.00 ± 0.80", "25.87 ± 0.25 (n=3)", "Δ −0.13", "30.00 ± 0.50", "30.00 ± 0.46 (n=3)"]) {
    ok(md.includes(s), `missing ${s}`);
  }
  ok(
    md.includes(
      "| dm-1 | dm | cifar10 | 1 | convnet3 | 26.00 ± 0.80 | 25.87 ± 0.25 (n=3) | −0.13 | **reproduced** | 6.7 min / 3.3 min |",
    ),
    "the cost column: mean distill / eval time per repeat",
  );
  ok(md.includes("claimed: unavailable in source"));
  ok(md.includes("### ours-beats-dm: not run"), "claim with a missing cell is not run");
  ok(md.includes("Test accuracy (%) on CIFAR-10."));
});

Deno.test("markdown: substitutions, provenance and profile are stated", () => {
  const md = renderTableMarkdown(inputs());
  ok(md.includes("| dataset | imagewoof | fashion-mnist | ImageWoof absent offline | dm-1 |"));
  ok(md.includes("`0123456789`") && md.includes("`2.9.6`") && md.includes("llvmpipe"));
  ok(md.includes("**Wall time:** 1.17 h (work: distill 46.7 min, eval 23.3 min)"), "7 repeats × 600 s");
  // A row reusing another row's set and evaluation (a substituted model) adds wall time, not work.
  const shared = inputs();
  shared.results.push(
    ...repeats("ours-50", [62.0], { profile: "paper", ipc: 50, tableId: "demo/table1" }).map(
      (r) => ({ ...r, resolved: { ...r.resolved, cellId: "ours-50" }, key: "f".repeat(64) }),
    ),
  );
  ok(renderTableMarkdown(shared).includes("(work: distill 46.7 min, eval 23.3 min)"));
  ok(md.includes("**Profile:** `paper`"));
  const quick = renderTableMarkdown(inputs("quick"));
  ok(quick.includes("profile ≠ paper: not comparable"));
  ok(quick.includes("**not comparable**"));
});

Deno.test("markdown: methods not implemented and cells not run are distinguished", () => {
  const md = renderTableMarkdown(inputs());
  // ours-10 is unimplemented and has no runs; dm-10 is implemented but not run.
  ok(
    md.includes(
      "| ours-10 | ours | cifar10 | 10 | convnet3 | 52.00 | — | — | not implemented (needs a GAN) |",
    ),
    md,
  );
  ok(md.includes("| dm-10 | dm | cifar10 | 10 | convnet3 | 48.90 ± 0.60 | — | — | not run |"));
  // ours-1 has runs despite the callback: numbers win over the label.
  ok(md.includes("| ours-1 | ours | cifar10 | 1 | convnet3 | 30.00 ± 0.50 | 30.00 ± 0.46 (n=3) |"));
});

Deno.test("markdown: a max-over-epochs table also shows the holdout-selected number", () => {
  const spec = demoTable({ protocol: { evaluator: "x", selection: "best-test", repeats: 3, details: "" } });
  const md = renderTableMarkdown({
    spec,
    results: repeats("dm-1", [25, 26], { metrics: { bestTestAcc: 27 } }),
    profile: "paper",
  });
  ok(md.includes("holdout-selected") && md.includes("`bestTestAcc`"));
  ok(md.includes("| 27.00 ± 0.00 (n=2) | 25.50 ± 0.71 (n=2) |"), md);
});

Deno.test("markdown: user text cannot break the table or inject HTML", () => {
  const spec = demoTable({ caption: "a | b <script>x</script>" });
  spec.cells[0].row = "Row | with pipe";
  const md = renderTableMarkdown({ spec, results: [], profile: "paper" });
  ok(md.includes("a \\| b &lt;script>x&lt;/script>"));
  ok(md.includes("**Row \\| with pipe**"));
  ok(!md.includes("<script"));
});

Deno.test("markdown: index lists tables with their verdict counts", () => {
  const report = buildTableReport(inputs());
  const md = renderIndexMarkdown([{ href: "demo_table1.md", report }]);
  ok(md.includes("[demo/table1](demo_table1.md)"));
  eq(md.split("\n").filter((l) => l.startsWith("| [")).length, 1);
});

Deno.test("report grid: a row label repeated per IPC group is qualified by IPC, not by cell id", () => {
  const base = demoTable();
  // IGDS Table 1 style: rows are evaluator names printed once per IPC block, columns are methods.
  const spec = demoTable({
    cells: base.cells.filter((c) => c.method === "dm").map((c) => ({ ...c, row: "ConvNet-3", column: "DM" })),
    claims: [],
  });
  const r = buildTableReport({ spec, results: [], profile: "paper" });
  eq(r.grid.rows, ["ConvNet-3 · IPC 1", "ConvNet-3 · IPC 10", "ConvNet-3 · IPC 50"]);
  eq(r.grid.columns, ["DM"]);
  // Unambiguous rows keep their printed label.
  eq(
    buildTableReport({ spec: base, results: [], profile: "paper" }).grid.rows.includes("DM"),
    true,
  );
});

Deno.test("report grid: a table without printed numbers states that once, entries show results only", () => {
  const base = demoTable();
  const spec = demoTable({
    cells: base.cells.map((c) => ({ ...c, claimed: null, claimedNote: "lost in extraction" })),
    claims: [],
  });
  const input = { ...inputs(), spec };
  const md = renderTableMarkdown(input);
  ok(md.includes("Claimed numbers: lost in extraction (every cell)."), md);
  ok(md.includes("| 25.87 ± 0.25 (n=3) |"), "bare reproduced entry");
  const grid = md.slice(md.indexOf("## Claimed vs reproduced"), md.indexOf("## Cells"));
  ok(!grid.includes("claimed: lost"), "no per-entry claimed text in the grid");
  ok(grid.includes("_not implemented_") && !grid.includes("needs a GAN"), "short state; reasons below");
  ok(md.slice(md.indexOf("## Cells")).includes("needs a GAN"), "the Cells table keeps the reason");
  const html = renderTableHtml(input);
  ok(html.includes("Claimed numbers: lost in extraction (every cell)"));
  ok(!html.includes(`<div class="claimed">`), "no claimed line in grid entries");
  // With a printed number anywhere the grid keeps the claimed → reproduced form.
  ok(renderTableMarkdown(inputs()).includes("claimed: unavailable in source → "));
});

Deno.test("report: rows that predate the checkout's code are stale, naming the layers that changed", () => {
  const layers = (engine: string) => `engine@${engine} data@d1 models@m1 evaluator@v1 runner@r1`;
  const base = inputs();
  const results = [
    ...repeats("dm-1", [25.6, 26.1], { ipc: 1, codeVersion: `dm@a1 ${layers("e1")}` }),
    // Keyed before versions were derived from the sources.
    ...repeats("ours-1", [29.5], { ipc: 1, codeVersion: "ours@1 engine@1 evaluator@1 runner@1" }),
    ...repeats("ours-50", [62.0], { ipc: 50, codeVersion: `ours@b1 ${layers("e2")}` }),
  ];
  const status = (m: string) => ({
    implemented: true,
    codeVersion: `${m}@${m === "dm" ? "a1" : "b1"} ${layers("e2")}`,
  });
  const report = buildTableReport({ ...base, results, methodStatus: status });
  eq(report.staleCells, ["dm-1", "ours-1"]);
  const [dm, ours1, ours50] = ["dm-1", "ours-1", "ours-50"].map((id) =>
    report.cells.find((c) => c.spec.id === id)!
  );
  eq(dm.stale, { repeats: 2, layers: ["engine"], handNumbered: false });
  eq(ours1.stale?.handNumbered, true);
  eq(ours50.stale, null);
  const md = renderTableMarkdown(report);
  ok(
    md.includes("- **Stale:** 2 cell(s) hold repeats that predate this checkout's code (dm-1, ours-1)"),
    md,
  );
  const note = "stale: all 2 repeat(s) predate this checkout's code (changed since: engine)";
  ok(md.includes(note), md);
  ok(md.includes("hand-numbered code versions"), md);
  ok(md.includes("25.85 ± 0.35 (n=2) (Δ −0.15) _(stale)_"), "the grid marks the entry");
  const html = renderTableHtml(report);
  ok(html.includes("(changed since: engine)") && html.includes('class="stale"'), "html");
  // Current rows (and methods without a known version) are not stale.
  const current = buildTableReport({ ...base, results: results.slice(3), methodStatus: status });
  eq(current.staleCells, []);
  ok(!renderTableMarkdown(current).includes("Stale"));
  eq(buildTableReport({ ...base, results }).staleCells, []);
});

Deno.test("markdown: rows computed on a WebGPU-minimum-limits device say so in the adapter line", () => {
  const base = inputs();
  const spec = base.results.map((r) => ({
    ...r,
    provenance: { ...r.provenance, adapter: { ...r.provenance.adapter, limits: "spec" as const } },
  }));
  ok(!renderTableMarkdown(base).includes("WebGPU minimum limits"));
  ok(renderTableMarkdown({ ...base, results: spec }).includes("vulkan, WebGPU minimum limits"));
});
