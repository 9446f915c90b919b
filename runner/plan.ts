/**
 * Planning a run: which cells (filter), how each resolves under the profile, the list of repeats to
 * do, and which of them this shard owns. The plan depends only on the spec, the profile and the
 * filter, never on the store, so every shard of a sharded run sees the same list and the shards
 * partition it exactly.
 */
import type { CellSpec, TableSpec } from "../experiments/schema.ts";
import { type CellPlan, resolveCell, type ResolveOptions } from "../experiments/profiles.ts";
import type { Profile } from "../results/types.ts";

export interface Shard {
  /** 1-based index of this shard. */
  k: number;
  n: number;
}

/** "k/n" with 1 ≤ k ≤ n. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const k = m ? Number(m[1]) : NaN, n = m ? Number(m[2]) : NaN;
  if (!m || n < 1 || k < 1 || k > n) {
    throw new RangeError(`invalid shard "${text}": expected k/n with 1 ≤ k ≤ n, e.g. 1/2`);
  }
  return { k, n };
}

const FILTER_FIELDS = ["id", "cell", "method", "dataset", "ipc", "model", "protocol", "labels"] as const;
type FilterField = (typeof FILTER_FIELDS)[number];

export interface CellFilter {
  text: string;
  matches(cell: CellSpec): boolean;
}

/**
 * Comma-separated terms, all of which must match: `field=value` (fields id|cell, method, dataset, ipc,
 * model, protocol, labels; `a|b` alternatives; ipc "full" for full-dataset rows) or a bare substring
 * of the cell id. Fields refer to the paper's cell (before substitution). Example:
 * `method=random|herding,ipc=1|10`.
 */
export function parseFilter(text: string): CellFilter {
  const terms = text.split(",").map((t) => t.trim()).filter((t) => t.length > 0);
  if (terms.length === 0) throw new RangeError(`empty filter "${text}"`);
  const preds = terms.map((term): (c: CellSpec) => boolean => {
    const eq = term.indexOf("=");
    if (eq < 0) return (c) => c.id.includes(term);
    const field = term.slice(0, eq).trim() as FilterField;
    if (!FILTER_FIELDS.includes(field)) {
      throw new RangeError(
        `filter term "${term}": unknown field "${field}" (known: ${FILTER_FIELDS.join(", ")})`,
      );
    }
    const values = new Set(term.slice(eq + 1).split("|").map((v) => v.trim()));
    return (c) => values.has(fieldValue(c, field));
  });
  return { text, matches: (c) => preds.every((p) => p(c)) };
}

function fieldValue(c: CellSpec, f: FilterField): string {
  switch (f) {
    case "id":
    case "cell":
      return c.id;
    case "ipc":
      return c.ipc === null ? "full" : String(c.ipc);
    default:
      return String(c[f]);
  }
}

export interface PlannedRepeat {
  /** Position in the whole (unsharded) plan: the shard assignment and a stable order. */
  index: number;
  plan: CellPlan;
  repeat: number;
  seed: number;
}

export interface SkippedCell {
  cellId: string;
  method: string;
  reason: string;
}

export interface RunPlan {
  table: TableSpec;
  profile: Profile;
  /** Every cell the filter selected, resolved. */
  cells: CellPlan[];
  /** Cells that cannot run, with why (unimplemented method, missing data under `paper`, …). */
  skipped: SkippedCell[];
  /** Repeats of runnable cells in the whole plan. */
  total: number;
  /** The repeats this shard owns, in plan order. */
  repeats: PlannedRepeat[];
}

export function planTable(
  table: TableSpec,
  profile: Profile,
  opts: { filter?: CellFilter; shard?: Shard; resolve?: ResolveOptions } = {},
): RunPlan {
  const cells = table.cells.filter((c) => opts.filter?.matches(c) ?? true)
    .map((c) => resolveCell(table, c, profile, opts.resolve));
  const skipped: SkippedCell[] = cells.filter((p) => !p.runnable).map((p) => ({
    cellId: p.resolved.cellId,
    method: p.resolved.method,
    reason: p.reason ?? "not runnable",
  }));
  const all: PlannedRepeat[] = [];
  for (const plan of cells) {
    if (!plan.runnable) continue;
    for (let r = 0; r < plan.repeats; r++) {
      all.push({ index: all.length, plan, repeat: r, seed: plan.seeds[r] });
    }
  }
  // Round-robin rather than contiguous blocks: cells of one kind (e.g. all IPC-100 cells) spread over
  // the shards, so shards take similar time.
  const shard = opts.shard ?? { k: 1, n: 1 };
  const mine = all.filter((x) => x.index % shard.n === shard.k - 1);
  return { table, profile, cells, skipped, total: all.length, repeats: mine };
}
