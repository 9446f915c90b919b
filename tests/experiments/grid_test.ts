/**
 * The `grid:` shorthand of table files: how rows × columns expand into cells (ids, field precedence,
 * merged configs, joined notes, printed values, "-" gaps), and that every problem of an expanded cell is
 * reported where the file wrote it (JSON path, YAML line, the cells it concerns).
 */
import { deepStrictEqual as eq, ok, throws } from "node:assert";
import { parseSpec, SpecError } from "../../experiments/user_specs.ts";

const HEAD = `id: examples/grid
paper: examples
source: a test
table: Grid
caption: a grid
protocol: { evaluator: ConvNet-3, selection: final, repeats: 1, details: none }
`;

const GRID = `${HEAD}cells:
  - grid:
      id: mnist-ipc{ipc}-{row}-{method}
      dataset: mnist
      model: convnet3
      protocol: dsa
      labels: hard
      config: { iterations: 5 }
      note: Grid note.
      columns:
        - { key: one, column: IPC 1, ipc: 1, note: Column note. }
        - { key: ten, column: IPC 10, ipc: 10, config: { iterations: 7, lrImg: 2 } }
      rows:
        - key: a
          row: DM
          method: dm
          note: Row note.
          values: [97.2±0.2, 12]
          at: { ten: { note: Own note., config: { batchReal: 8 } } }
        - { key: b, row: DC, method: dc, values: [null, "-"], claimedNote: lost }
  - id: mnist-full
    method: full-dataset
    dataset: mnist
    ipc: null
    model: convnet3
    protocol: full
    labels: hard
    claimed: 99.6
claims:
  - kind: compare
    id: dm-beats-dc
    text: DM beats DC at IPC 1.
    source: a test
    pairs: [{ a: mnist-ipc1-a-dm, b: mnist-ipc1-b-dc, relation: ">" }]
`;

/** The 1-based line of the first occurrence of `needle` in `text`. */
const line = (text: string, needle: string): number => {
  const at = text.indexOf(needle);
  ok(at >= 0, `${needle} not in the spec`);
  return text.slice(0, at).split("\n").length;
};

function specError(text: string, ...patterns: RegExp[]): void {
  throws(() => parseSpec("t.yaml", text), (e: unknown) => {
    ok(e instanceof SpecError, String(e));
    for (const p of patterns) ok(p.test(e.message), `${e.message}\n  should match ${p}`);
    return true;
  });
}

/** `text` with `from` replaced by `to`, and the line `to` lands on. */
function variant(text: string, from: string, to: string): { text: string; line: number } {
  ok(text.includes(from), `${from} not in the spec`);
  const out = text.replace(from, to);
  return { text: out, line: line(out, to) };
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The error of `text` contains `path (line n): message` exactly. */
function errorAt(text: string, path: string, lineNo: number, message: string): void {
  specError(text, new RegExp(esc(`${path} (line ${lineNo}): ${message}`)));
}

Deno.test("grid: rows × columns expand row by row; later levels win, configs merge, notes join", () => {
  // A bare number in `claimed` outside a grid is not a shorthand: explicit cells are plain CellSpecs.
  errorAt(GRID, "$.cells[1].claimed", line(GRID, "claimed: 99.6"), "Invalid input: expected object");
  const spec = parseSpec("t.yaml", GRID.replace("claimed: 99.6", "claimed: { mean: 99.6, std: 0.1 }"));
  const base = { dataset: "mnist", model: "convnet3", protocol: "dsa", labels: "hard" };
  eq(spec.cells.slice(0, 3), [
    {
      id: "mnist-ipc1-a-dm",
      ...base,
      config: { iterations: 5 },
      note: "Grid note. Column note. Row note.",
      column: "IPC 1",
      ipc: 1,
      row: "DM",
      method: "dm",
      claimed: { mean: 97.2, std: 0.2 },
    },
    {
      id: "mnist-ipc10-a-dm",
      ...base,
      config: { iterations: 7, lrImg: 2, batchReal: 8 },
      note: "Own note.",
      column: "IPC 10",
      ipc: 10,
      row: "DM",
      method: "dm",
      claimed: { mean: 12, std: null },
    },
    {
      id: "mnist-ipc1-b-dc",
      ...base,
      config: { iterations: 5 },
      note: "Grid note. Column note.",
      column: "IPC 1",
      ipc: 1,
      row: "DC",
      method: "dc",
      claimedNote: "lost",
      claimed: null,
    },
  ]);
  // "-" makes no cell; explicit cells follow the grid in file order; claims name grid cells by id.
  eq(spec.cells.map((c) => c.id), [
    "mnist-ipc1-a-dm",
    "mnist-ipc10-a-dm",
    "mnist-ipc1-b-dc",
    "mnist-full",
  ]);
  eq(spec.claims[0].kind === "compare" && spec.claims[0].pairs[0].a, "mnist-ipc1-a-dm");
});

const VALID = GRID.replace("claimed: 99.6", "claimed: null\n    claimedNote: none");

Deno.test("grid: a malformed grid is reported at the row, column or value that wrote it", () => {
  parseSpec("t.yaml", VALID);
  let v = variant(VALID, "values: [97.2±0.2, 12]", "values: [97.2±0.2]");
  errorAt(v.text, "$.cells[0].grid.rows[0].values", v.line, "1 values for 2 columns");
  v = variant(VALID, "values: [97.2±0.2, 12]", "values: [97.2±0.2, 5%]");
  errorAt(v.text, "$.cells[0].grid.rows[0].values[1]", v.line, 'expected a number, "mean±std"');
  v = variant(VALID, "id: mnist-ipc{ipc}-{row}-{method}", "id: mnist-ipc{ipc}-{row}-{methd}");
  errorAt(v.text, "$.cells[0].grid.id", v.line, "unknown placeholder {methd}");
  v = variant(VALID, "id: mnist-ipc{ipc}-{row}-{method}", "id: mnist-ipc{ipc}-{row}-{column}-{method}");
  const noKey = variant(v.text, "- { key: one, ", "- { ");
  errorAt(
    noKey.text,
    "$.cells[0].grid.columns[0]",
    noKey.line,
    "missing key (the id template uses {column})",
  );
  v = variant(VALID, "at: { ten:", "at: { eleven:");
  errorAt(
    v.text,
    "$.cells[0].grid.rows[0].at.eleven",
    v.line,
    'no column has key "eleven" (column keys: one, ten)',
  );
  // Two cells that the template gives one id: reported at the template, naming the cell.
  v = variant(VALID, "id: mnist-ipc{ipc}-{row}-{method}", "id: mnist-{row}-{method}");
  errorAt(
    v.text,
    "$.cells[0].grid.id",
    v.line,
    'cell "mnist-a-dm" (column ten): duplicate cell id "mnist-a-dm"',
  );
  // A field no level sets: at the row, once for all its cells.
  v = variant(VALID, "      labels: hard\n", "");
  errorAt(
    v.text,
    "$.cells[0].grid.rows[0]",
    line(v.text, "- key: a"),
    'cells "mnist-ipc1-a-dm" (column one), "mnist-ipc10-a-dm" (column ten): missing labels: set it on ' +
      'the grid, the column or the row (expected one of "hard"|"soft")',
  );
});

Deno.test("grid: cross-checks of expanded cells point at the level that set the field", () => {
  const noClaims = VALID.slice(0, VALID.indexOf("claims:")) + "claims: []\n";
  let v = variant(noClaims, "method: dc", "method: no-such");
  errorAt(
    v.text,
    "$.cells[0].grid.rows[1].method",
    v.line,
    'cell "mnist-ipc1-b-no-such" (column one): unknown method "no-such"',
  );
  // A config key the methods reject: where it was written, once for every cell it reaches.
  v = variant(noClaims, "config: { iterations: 5 }", "config: { iterationz: 5 }");
  errorAt(
    v.text,
    "$.cells[0].grid.config.iterationz",
    v.line,
    'cells "mnist-ipc1-a-dm" (column one), "mnist-ipc10-a-dm" (column ten): unknown dm config key "iterationz"',
  );
  v = variant(noClaims, "config: { batchReal: 8 }", "config: { batchReal: fast }");
  errorAt(
    v.text,
    "$.cells[0].grid.rows[0].at.ten.config.batchReal",
    v.line,
    'cell "mnist-ipc10-a-dm" (column ten): invalid value for dm',
  );
  v = variant(VALID, "pairs: [{ a: mnist-ipc1-a-dm,", "pairs: [{ a: mnist-ipc1-a-dn,");
  errorAt(v.text, "$.claims[0]", line(v.text, "- kind: compare"), 'unknown cell id "mnist-ipc1-a-dn"');
});
