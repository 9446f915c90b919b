import { deepStrictEqual as eq, ok } from "node:assert";
import { TableSpec } from "../../experiments/schema.ts";
import { buildTableReport } from "../../reports/model.ts";
import { renderTableMarkdown } from "../../reports/markdown.ts";
import { chartData, renderTableHtml } from "../../reports/html.ts";
import { repeats } from "../results/_fixtures.ts";
import type { CellRepeatResult } from "../../results/types.ts";

/** IGDS Table 1 in small: evaluator rows printed once per IPC block, two methods, no printed numbers. */
function woof(): TableSpec {
  const models = [["ConvNet-6", "convnet6"], ["ResNet-18", "resnet18"]] as const;
  return TableSpec.parse({
    id: "demo/woof",
    paper: "demo",
    source: "Demo paper (000_demo.txt)",
    table: "Table 1",
    caption: "ImageWoof.",
    protocol: { evaluator: "ConvNet-6, ResNet-18", selection: "final", repeats: null, details: "" },
    cells: [1, 10].flatMap((ipc) =>
      models.flatMap(([row, model]) =>
        [["Random", "random"], ["DM", "dm"]].map(([column, method]) => ({
          id: `woof-ipc${ipc}-${model}-${method}`,
          method,
          dataset: "imagewoof",
          ipc,
          model,
          protocol: "minimax",
          labels: "hard",
          claimed: null,
          row,
          column,
        }))
      )
    ),
    claims: [],
  });
}

/** Every paper model ran as the same narrow ConvNet on the stand-in: one evaluation per (method, IPC). */
function collapsed(spec: TableSpec, acc: (ipc: number, method: string) => number): CellRepeatResult[] {
  return spec.cells.flatMap((c) =>
    repeats(c.id, [acc(c.ipc!, c.method), acc(c.ipc!, c.method) + 1], {
      tableId: spec.id,
      profile: "quick",
      ipc: c.ipc,
      method: c.method,
      dataset: "fashion-mnist",
      model: "convnet3-w32",
      substitutions: [
        { field: "dataset", from: "imagewoof", to: "fashion-mnist", reason: "absent" },
        { field: "model", from: c.model, to: "convnet3-w32", reason: "quick profile" },
      ],
    })
  );
}

Deno.test("report: rows that ran one evaluation are shown once, labelled with every paper row and what ran", () => {
  const spec = woof();
  const r = buildTableReport({ spec, results: collapsed(spec, (ipc) => 40 + ipc), profile: "quick" });
  eq(r.grid.rows, ["ConvNet-6 / ResNet-18 · IPC 1", "ConvNet-6 / ResNet-18 · IPC 10"]);
  eq(r.grid.ran, ["fashion-mnist · convnet3-w32", "fashion-mnist · convnet3-w32"]);
  eq(r.grid.at[0][0]?.standsFor, ["woof-ipc1-convnet6-random", "woof-ipc1-resnet18-random"]);
  eq(r.cells.find((c) => c.spec.id === "woof-ipc1-resnet18-random")?.shownAs, "woof-ipc1-convnet6-random");
  eq(r.whatRan, [
    { field: "dataset", paper: ["imagewoof"], ran: "fashion-mnist" },
    { field: "model", paper: ["convnet6", "resnet18"], ran: "convnet3-w32" },
  ]);
  const md = renderTableMarkdown(r);
  ok(md.includes("**What ran:** dataset imagewoof → fashion-mnist; model convnet6, resnet18 → convnet3-w32"));
  ok(
    md.includes(
      "| **ConvNet-6 / ResNet-18 · IPC 10** (ran fashion-mnist · convnet3-w32) | 50.50 ± 0.71 (n=2) |",
    ),
  );
  const cells = md.slice(md.indexOf("## Cells"), md.indexOf("## Claims"));
  ok(
    cells.includes("| woof-ipc1-convnet6-dm = woof-ipc1-resnet18-dm | dm | imagewoof → fashion-mnist | 1 |"),
  );
  eq(cells.split("\n").filter((l) => l.startsWith("| woof-")).length, 4, "one line per evaluation");
  const curves = chartData(r).curves;
  eq(curves.length, 1);
  eq(curves[0].title, "fashion-mnist · convnet3-w32 (paper: imagewoof · convnet6 / resnet18)");
  eq(curves[0].series.map((s) => s.reproduced), [[41.5, 50.5], [41.5, 50.5]]);
  const html = renderTableHtml(r, { chartJs: "x" });
  ok(html.includes(`ConvNet-6 / ResNet-18 · IPC 1<div class="ran">ran fashion-mnist · convnet3-w32</div>`));
  ok(!html.includes("<td>woof-ipc1-resnet18-dm</td>"), "the merged cell has no line of its own");
});

Deno.test("report: rows are kept apart when one entry differs or nothing ran", () => {
  const spec = woof();
  // DM at IPC 10 evaluated differently per model (e.g. at a profile that runs the paper's models).
  const results = collapsed(spec, (ipc) => 40 + ipc).map((x) =>
    x.resolved.cellId === "woof-ipc10-resnet18-dm" ? { ...x, seed: 99 } : x
  );
  const r = buildTableReport({ spec, results, profile: "quick" });
  eq(r.grid.rows, ["ConvNet-6 / ResNet-18 · IPC 1", "ConvNet-6 · IPC 10", "ResNet-18 · IPC 10"]);
  eq(chartData(r).curves.length, 2, "the IPC-10 ResNet-18 entry keeps its own chart");
  const none = buildTableReport({ spec, results: [], profile: "quick" });
  eq(none.grid.rows.length, 4);
  eq(none.whatRan, []);
  ok(!renderTableMarkdown(none).includes("What ran"));
});

Deno.test("report: cells the profile skips say why, and rows that would run alike are shown once", () => {
  const spec = woof();
  const all = collapsed(spec, (ipc) => 40 + ipc);
  const reason = "quick profile: IPC 10 is skipped";
  const r = buildTableReport({
    spec,
    results: all.filter((x) => x.resolved.ipc === 1),
    profile: "quick",
    plan: (id) => {
      const resolved = all.find((x) => x.resolved.cellId === id)!.resolved;
      return resolved.ipc === 10 ? { resolved, runnable: false, reason } : { resolved, runnable: true };
    },
  });
  eq(r.cellCounts.skipped, 4);
  eq(r.grid.rows, ["ConvNet-6 / ResNet-18 · IPC 1", "ConvNet-6 / ResNet-18 · IPC 10"]);
  const md = renderTableMarkdown(r);
  ok(md.includes("| **ConvNet-6 / ResNet-18 · IPC 10** | _skipped_ | _skipped_ |"), md);
  ok(md.includes(`skipped (${reason})`));
  // Without a plan, rows without results stay apart: nothing shows they would run alike.
  const unplanned = buildTableReport({
    spec,
    results: all.filter((x) => x.resolved.ipc === 1),
    profile: "quick",
  });
  eq(unplanned.grid.rows.length, 3);
});
