/**
 * The typed shape of a result table: cells with the paper's claimed numbers, the protocol it was
 * produced under, and the claims the table supports. Built-in tables (experiments/<paper>/*.yaml) and
 * user spec files (JSON/YAML) are the same format, validated by the same schema: data, never code.
 *
 * A file may write a block of cells as a grid (`GridSpec`, expanded by experiments/grid.ts); what the
 * rest of ddrepro sees is always the expanded `TableSpec`, one `CellSpec` per cell.
 */
import { z } from "zod";

/** A number as printed in the paper: mean ± std. `std` is null where the paper prints none. */
export const Claimed = z.object({
  mean: z.number(),
  std: z.number().nonnegative().nullable(),
}).strict();
export type Claimed = z.infer<typeof Claimed>;

export const LabelRegime = z.enum(["hard", "soft"]);
export type LabelRegime = z.infer<typeof LabelRegime>;

/** How the paper picked the reported epoch: last epoch, best on test ("max"), or not stated. */
export const Selection = z.enum(["final", "best-test", "unknown"]);
export type Selection = z.infer<typeof Selection>;

const Id = z.string().regex(/^[a-z0-9][a-z0-9_.+\-]*$/, "lower-case id: letters, digits, _ . + -");

export const CellSpec = z.object({
  /** Unique within the table; claims refer to cells by this id. */
  id: z.string().min(1),
  /** Method registry id, e.g. "dm", "dm+cmi", "igds", "random", "full-dataset". */
  method: Id,
  /** Dataset registry id, e.g. "cifar10", "imagewoof". */
  dataset: Id,
  /** Images per class; 0 is never valid. The "full dataset" rows use method "full-dataset", ipc = null. */
  ipc: z.number().int().positive().nullable(),
  /** Evaluator model registry id, e.g. "convnet3", "resnetap10", "resnet18-modified". */
  model: Id,
  /** Evaluator protocol id, e.g. "dc", "dsa", "idc", "minimax", "soft-kd". */
  protocol: Id,
  labels: LabelRegime,
  /** The paper's printed number; null when the cell has no number ("-" cells are simply absent). */
  claimed: Claimed.nullable(),
  /** Why `claimed` is null, e.g. "unavailable in source" (lost in text extraction). */
  claimedNote: z.string().optional(),
  /** Display labels as the paper prints them. */
  row: z.string().optional(),
  column: z.string().optional(),
  /** Method hyperparameter overrides this cell implies (e.g. { beta: 0.1 } or an ablation switch). */
  config: z.record(z.string(), z.unknown()).optional(),
  /**
   * Method config values pinned after the profile's scaling, as `dd run --set` pins them, under every
   * profile: a budget arm (e.g. MTT with 30 unrolled steps) whose budget is the point of the cell.
   */
  set: z.record(z.string(), z.unknown()).optional(),
  /**
   * The evaluator settings this cell's paper states for it, applied to the protocol before any profile
   * scaling: the soft-label teacher network (D³HR Tables 1, 2, A8), an ensemble of that many teachers
   * whose soft labels are averaged (D³HR Table 4), the evaluator's training epochs (D³HR Table A6).
   */
  teacher: Id.optional(),
  teachers: z.number().int().min(2).optional(),
  evalEpochs: z.number().int().positive().optional(),
  /** Free text for anything unusual about the cell (e.g. "reported by [Gu et al. 2024]"). */
  note: z.string().optional(),
}).strict();
export type CellSpec = z.infer<typeof CellSpec>;

/**
 * Claims are data that a verdict engine can evaluate against reproduced numbers.
 * - `compare`: every pair must hold (`a` better than `b`, strictly for ">" or within noise for ">=").
 * - `best`: in each group the named cell must be the best of the group.
 * - `trend`: groups are ordered (e.g. by IPC); the argmax cell's `key` in each group must be
 *   non-decreasing along that order (e.g. "higher IPC prefers larger β").
 * - `decrease`: in each cell, distillation lowers a quantity of the set it records twice, at the start
 *   and at the end (distill metrics `from` → `to`, e.g. cmiStart → cmiEnd), paired by repeat.
 */
const Pair = z.object({
  a: z.string(),
  b: z.string(),
  relation: z.enum([">", ">="]),
  /**
   * Compare by a paired t-test on the repeats that share a seed instead of Welch's test: for cells
   * whose seed-s repeats share their randomness (a real-initialised set and Random, which is its
   * initial draw at that seed; the same evaluator seed).
   */
  paired: z.boolean().optional(),
}).strict();
const BestGroup = z.object({ best: z.string(), among: z.array(z.string()).min(2) }).strict();
const TrendGroup = z.object({ order: z.number(), cells: z.array(z.string()).min(2) }).strict();

export const ClaimSpec = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("compare"),
    id: z.string(),
    text: z.string(),
    source: z.string(),
    pairs: z.array(Pair).min(1),
  }).strict(),
  z.object({
    kind: z.literal("best"),
    id: z.string(),
    text: z.string(),
    source: z.string(),
    groups: z.array(BestGroup).min(1),
  }).strict(),
  z.object({
    kind: z.literal("trend"),
    id: z.string(),
    text: z.string(),
    source: z.string(),
    /** The config key whose argmax value must be non-decreasing along `order`. */
    key: z.string(),
    groups: z.array(TrendGroup).min(2),
  }).strict(),
  z.object({
    kind: z.literal("decrease"),
    id: z.string(),
    text: z.string(),
    source: z.string(),
    /** The distill metric recorded before the first update, e.g. "cmiStart". */
    from: z.string(),
    /** The same quantity after the last update, e.g. "cmiEnd". */
    to: z.string(),
    cells: z.array(z.string()).min(1),
  }).strict(),
]);
export type ClaimSpec = z.infer<typeof ClaimSpec>;

/** The cell ids a claim refers to. */
export function claimCells(cl: ClaimSpec): string[] {
  switch (cl.kind) {
    case "compare":
      return cl.pairs.flatMap((p) => [p.a, p.b]);
    case "best":
      return cl.groups.flatMap((g) => [g.best, ...g.among]);
    case "trend":
      return cl.groups.flatMap((g) => g.cells);
    case "decrease":
      return cl.cells;
  }
}

/** How the paper evaluated the table (what a `paper` profile must reproduce). */
export const ProtocolNote = z.object({
  evaluator: z.string(),
  selection: Selection,
  repeats: z.number().int().positive().nullable(),
  details: z.string(),
}).strict();
export type ProtocolNote = z.infer<typeof ProtocolNote>;

const TableFields = z.object({
  /** "<paper>/<table>", e.g. "igds/table1", "d3hr/tablea9". */
  id: z.string().regex(/^[a-z0-9-]+\/[a-z0-9-]+$/, "<paper>/<table>, lower case"),
  paper: z.string(),
  /** Full paper title and seed file, e.g. "000_9e6ba38e66812538.txt". */
  source: z.string(),
  /** As printed, e.g. "Table 1". */
  table: z.string(),
  caption: z.string(),
  protocol: ProtocolNote,
  cells: z.array(CellSpec),
  claims: z.array(ClaimSpec),
  notes: z.array(z.string()).optional(),
}).strict();

export const TableSpec = TableFields.superRefine((t, ctx) => {
  const ids = new Set<string>();
  t.cells.forEach((c, i) => {
    if (ids.has(c.id)) {
      ctx.addIssue({ code: "custom", path: ["cells", i, "id"], message: `duplicate cell id "${c.id}"` });
    }
    ids.add(c.id);
  });
  t.claims.forEach((cl, i) => {
    for (const r of claimCells(cl)) {
      if (!ids.has(r)) {
        ctx.addIssue({ code: "custom", path: ["claims", i], message: `unknown cell id "${r}"` });
      }
    }
  });
});
export type TableSpec = z.infer<typeof TableSpec>;

/** Protocol ids of cells that measure a cost or an information value, not an evaluator's accuracy. */
export const MEASUREMENT_PROTOCOLS: readonly string[] = ["distill-time", "sampling-time", "cmi-value"];

// ---- the file format: cells written one by one or as grids --------------------------------------------

/** Any cell field but the id: what a grid, a column, a row or one grid cell fixes. */
export const CellFields = CellSpec.omit({ id: true }).partial();
export type CellFields = z.infer<typeof CellFields>;

/** A column of a grid: the fields it fixes for every cell below it, and the key ids may use. */
export const GridColumn = CellFields.extend({
  /** The column's part of a cell id, as `{column}` in the grid's `id`; also how a row's `at` names it. */
  key: z.string().min(1).optional(),
}).strict();
export type GridColumn = z.infer<typeof GridColumn>;

export const GridRow = CellFields.extend({
  /** The row's part of a cell id, as `{row}` in the grid's `id`. */
  key: z.string().min(1).optional(),
  /**
   * The row's printed numbers, one per column: `mean` (no std printed), "mean±std" (e.g. 45.0±0.7),
   * `null` (the cell exists but has no number: say why in `claimedNote`) or "-" (the paper prints a
   * dash: there is no cell). Checked when the grid expands.
   */
  values: z.array(z.unknown()).optional(),
  /** Fields of single cells, by column key; they replace what the grid, column and row fix. */
  at: z.record(z.string(), CellFields).optional(),
}).strict();
export type GridRow = z.infer<typeof GridRow>;

/**
 * Rows × columns of cells, read like the printed table. Every cell takes the fields of the grid, then of
 * its column, then of its row, then its number from the row's `values`, then the row's `at` entry for
 * its column: later ones win, `config` and `set` merge key by key, and `note`s of grid, column and row
 * are joined (an `at` note replaces them). Cells come out row by row; a `"-"` value makes no cell.
 */
export const GridSpec = CellFields.extend({
  /**
   * The cell id template: `{row}` and `{column}` are the keys of the cell's row and column, any other
   * `{field}` is that field of the cell (e.g. "woof-ipc{ipc}-{model}-{method}").
   */
  id: z.string().min(1),
  columns: z.array(GridColumn).min(1),
  rows: z.array(GridRow).min(1),
}).strict();
export type GridSpec = z.infer<typeof GridSpec>;

export const GridItem = z.object({ grid: GridSpec }).strict();
export type GridItem = z.infer<typeof GridItem>;

/**
 * A table as written in a file: `cells` lists cells and grids, in the order they expand. Items are told
 * apart by the `grid` key and validated as `CellSpec` or `GridItem` (experiments/spec_file.ts).
 */
export const TableFile = TableFields.extend({ cells: z.array(z.unknown()) }).strict();
export type TableFile = z.infer<typeof TableFile>;
