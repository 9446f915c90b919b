/**
 * Planning a run: which cells (filter), how each resolves under the profile, the list of repeats to
 * do, and which of them this shard owns. The plan depends only on the spec, the profile and the
 * filter, never on the store, so every shard of a sharded run sees the same list and the shards
 * partition it exactly.
 */
import type { CellSpec, TableSpec } from "../experiments/schema.ts";
import { type CellPlan, resolveCell, type ResolveOptions } from "../experiments/resolve.ts";
import type { Profile } from "../results/types.ts";
import { closeMatches } from "./suggest.ts";

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

/** One comma-separated part of a filter: `field=a|b`, or (field null) a substring of the cell id. */
export interface FilterTerm {
  text: string;
  field: FilterField | null;
  matches(cell: CellSpec): boolean;
}

export interface CellFilter {
  text: string;
  terms: readonly FilterTerm[];
  matches(cell: CellSpec): boolean;
}

/**
 * Comma-separated terms, all of which must match: `field=value` (fields id|cell, method, dataset, ipc,
 * model, protocol, labels; `a|b` alternatives; ipc "full" for full-dataset rows) or a bare substring
 * of the cell id. Fields refer to the paper's cell (before substitution). Example:
 * `method=random|herding,ipc=1|10`. Values that no cell could have (an empty one, `ipc=abc`) are refused
 * here; a filter that matches no cell of a table is refused by planTable.
 */
export function parseFilter(text: string): CellFilter {
  const parts = text.split(",").map((t) => t.trim()).filter((t) => t.length > 0);
  if (parts.length === 0) throw new RangeError(`empty filter "${text}"`);
  const terms = parts.map((term): FilterTerm => {
    const eq = term.indexOf("=");
    if (eq < 0) return { text: term, field: null, matches: (c) => c.id.includes(term) };
    const field = term.slice(0, eq).trim() as FilterField;
    if (!FILTER_FIELDS.includes(field)) {
      throw new RangeError(
        `filter term "${term}": unknown field "${field}" (known: ${FILTER_FIELDS.join(", ")})`,
      );
    }
    const values = term.slice(eq + 1).split("|").map((v) => v.trim());
    if (values.some((v) => v.length === 0)) {
      throw new RangeError(
        `filter term "${term}": empty value (expected ${field}=<value>[|<value>…], e.g. ${example(field)})`,
      );
    }
    for (const v of values) {
      if (field === "ipc" && v !== "full" && !/^[1-9]\d*$/.test(v)) {
        throw new RangeError(`filter term "${term}": "${v}" is not an IPC (a positive integer, or "full")`);
      }
      if (field === "labels" && v !== "hard" && v !== "soft") {
        throw new RangeError(`filter term "${term}": labels are "hard" or "soft", not "${v}"`);
      }
    }
    const set = new Set(values);
    return { text: term, field, matches: (c) => set.has(fieldValue(c, field)) };
  });
  return { text, terms, matches: (c) => terms.every((t) => t.matches(c)) };
}

function example(field: FilterField): string {
  return { ipc: "ipc=1|10", labels: "labels=soft", method: "method=dm|dc" }[field as string] ??
    `${field}=…`;
}

/**
 * Why a filter selects no cell of a table, naming the term that matches nothing and the table's values
 * closest to it (or, when each term matches on its own, that no cell satisfies all of them).
 */
export function noMatchMessage(table: TableSpec, filter: CellFilter): string {
  const head = `filter "${filter.text}" matches no cell of ${table.id}`;
  const dead = filter.terms.find((t) => !table.cells.some((c) => t.matches(c)));
  if (!dead) {
    return `${head}: each of its terms matches some cell, but no cell matches all of them ` +
      `(\`dd show ${table.id}\` lists the cells)`;
  }
  const field = dead.field ?? "id";
  const have = [...new Set(table.cells.map((c) => fieldValue(c, field)))];
  const typed = dead.field === null ? dead.text : dead.text.slice(dead.text.indexOf("=") + 1);
  const near = typed.split("|").flatMap((v) =>
    closeMatches(v.trim(), have, { substring: dead.field === null || field === "id" || field === "cell" })
  );
  const what = dead.field === null ? `no cell id contains "${dead.text}"` : `no cell has ${dead.text}`;
  const hint = near.length > 0
    ? `; close: ${[...new Set(near)].join(", ")}`
    : field === "id" || field === "cell" || have.length > 12
    ? ` (\`dd show ${table.id}\` lists the cells)`
    : `; ${field} values in this table: ${have.join(", ")}`;
  return `${head}: ${what}${hint}`;
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

/** Plans a run; a filter that selects no cell is an error (RangeError), never an empty plan. */
export function planTable(
  table: TableSpec,
  profile: Profile,
  opts: { filter?: CellFilter; shard?: Shard; resolve?: ResolveOptions } = {},
): RunPlan {
  const selected = table.cells.filter((c) => opts.filter?.matches(c) ?? true);
  if (opts.filter && selected.length === 0) throw new RangeError(noMatchMessage(table, opts.filter));
  const cells = selected.map((c) => resolveCell(table, c, profile, opts.resolve));
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
