/**
 * Grid expansion: a `grid:` block of a table file (rows × columns, read like the printed table) becomes
 * one cell per row and column. Each expanded cell remembers where each of its fields was written, so a
 * problem found later (a duplicate id, an unknown method, a config the method rejects) is reported at
 * the row, column or value of the file that wrote it.
 */
import { CellFields, type Claimed, type GridSpec } from "./schema.ts";

export type Path = (string | number)[];

/** Where an expanded cell's fields come from in the file. */
export interface CellOrigin {
  /** The cell's own place: an explicit cell, or the grid row it expands from. */
  at: Path;
  /** The grid cell's id and column, for messages (absent for explicit cells). */
  label?: string;
  /** Source path per field; `config.<key>` / `set.<key>` per key of those records. */
  fields: Map<string, Path>;
}

export interface Problem {
  path: Path;
  message: string;
  /** The grid cells the problem is about, named in the message (e.g. `"mnist-ipc1-dm" (column a)`). */
  cells?: string[];
}

export interface Expanded {
  /** Cell objects (not yet validated as CellSpec: the table schema does that next). */
  cells: Record<string, unknown>[];
  origins: CellOrigin[];
  problems: Problem[];
}

/** Fields whose records merge key by key across grid, column, row and cell. */
const MERGED = new Set(["config", "set"]);

/** The file path of a field of an expanded cell: `["config", "lrImg"]` → where that key was written. */
export function sourceOf(origin: CellOrigin, rest: readonly PropertyKey[]): { path: Path; found: boolean } {
  const [field, key, ...more] = rest.map((k) => (typeof k === "number" ? k : String(k)));
  if (field === undefined) return { path: origin.at, found: true };
  if (MERGED.has(String(field)) && key !== undefined) {
    const p = origin.fields.get(`${field}.${key}`);
    if (p) return { path: [...p, ...more], found: true };
  }
  const p = origin.fields.get(String(field));
  if (p) return { path: [...p, ...(key === undefined ? [] : [key]), ...more], found: true };
  return { path: origin.at, found: false };
}

/** "45.0±0.7", as papers print a mean and its standard deviation (spaces allowed around ±). */
const MEAN_STD = /^\s*(-?\d+(?:\.\d+)?)\s*±\s*(\d+(?:\.\d+)?)\s*$/;

const PLACEHOLDER = /\{([^{}]*)\}/g;

/** Cell fields a grid level may fix and an id template may name (every CellSpec field but the id). */
const CELL_FIELDS: readonly string[] = Object.keys(CellFields.shape);

/** A printed value → the cell's `claimed`, or "-" for no cell, or an error message. */
function claimedOf(v: unknown): { claimed: Claimed | null } | "-" | string {
  if (v === "-") return "-";
  if (v === null) return { claimed: null };
  if (typeof v === "number" && Number.isFinite(v)) return { claimed: { mean: v, std: null } };
  const m = typeof v === "string" ? MEAN_STD.exec(v) : null;
  if (m) return { claimed: { mean: Number(m[1]), std: Number(m[2]) } };
  return `expected a number, "mean±std" (e.g. 45.0±0.7), null (a cell without a number) or "-" (no cell), ` +
    `got ${JSON.stringify(v) ?? String(v)}`;
}

/** Expands the grid at `path` (e.g. ["cells", 2, "grid"]) into cells, in row order. */
export function expandGrid(grid: GridSpec, path: Path): Expanded {
  const out: Expanded = { cells: [], origins: [], problems: [] };
  const problem = (p: Path, message: string) => out.problems.push({ path: p, message });
  const { id: template, columns, rows, ...gridFields } = grid;

  // Column keys a row's `at` may name: each must pick out one column.
  const colKeys = new Map<string, number[]>();
  columns.forEach((c, j) => c.key !== undefined && colKeys.set(c.key, [...(colKeys.get(c.key) ?? []), j]));
  const placeholders = [...template.matchAll(PLACEHOLDER)].map((m) => m[1]);
  for (const name of placeholders) {
    if (name === "row" || name === "column" || name === "id") continue;
    if (!CELL_FIELDS.includes(name)) {
      problem(
        [...path, "id"],
        `unknown placeholder {${name}}: use {row}, {column} or a cell field (${CELL_FIELDS.join(", ")})`,
      );
    }
  }
  if (placeholders.includes("id")) problem([...path, "id"], "{id} cannot be used in the id template");
  for (const [axis, list] of [["column", columns], ["row", rows]] as const) {
    if (!placeholders.includes(axis)) continue;
    list.forEach((e, j) => {
      if (e.key === undefined) {
        problem([...path, `${axis}s`, j], `missing key (the id template uses {${axis}})`);
      }
    });
  }
  if (out.problems.length) return out;

  rows.forEach((row, i) => {
    const rowPath = [...path, "rows", i];
    const { key: _rk, values, at, ...rowFields } = row;
    if (values !== undefined && values.length !== columns.length) {
      problem(
        [...rowPath, "values"],
        `${values.length} values for ${columns.length} columns (one per column; "-" where there is no cell)`,
      );
      return;
    }
    for (const k of Object.keys(at ?? {})) {
      const n = colKeys.get(k)?.length ?? 0;
      if (n !== 1) {
        problem(
          [...rowPath, "at", k],
          n === 0
            ? `no column has key "${k}" (column keys: ${[...colKeys.keys()].join(", ") || "none"})`
            : `${n} columns have key "${k}": give the column a key of its own`,
        );
      }
    }
    columns.forEach((col, j) => {
      const { key: _ck, ...colFields } = col;
      const colName = col.key ?? String(j + 1);
      const cellAt = col.key !== undefined ? at?.[col.key] : undefined;
      const valuePath = [...rowPath, "values", j];
      let claimed: { claimed: Claimed | null } | undefined;
      if (values !== undefined) {
        const v = claimedOf(values[j]);
        if (typeof v === "string" && v !== "-") return problem(valuePath, v);
        if (v === "-") {
          if (cellAt) {
            problem([...rowPath, "at", col.key!], `column "${col.key}" has no cell in this row ("-")`);
          }
          return;
        }
        claimed = v;
      }
      // Grid, column, row, the printed value, then the cell's own `at` fields: later ones win.
      const layers: { fields: Record<string, unknown>; at: (k: string) => Path; own?: boolean }[] = [
        { fields: gridFields, at: (k) => [...path, k] },
        { fields: colFields, at: (k) => [...path, "columns", j, k] },
        { fields: rowFields, at: (k) => [...rowPath, k] },
      ];
      if (claimed) layers.push({ fields: claimed, at: () => valuePath });
      if (cellAt) layers.push({ fields: cellAt, at: (k) => [...rowPath, "at", col.key!, k], own: true });
      const fields = new Map<string, Path>();
      const cell: Record<string, unknown> = {};
      let notes: string[] = [];
      for (const layer of layers) {
        for (const [k, v] of Object.entries(layer.fields)) {
          if (v === undefined) continue;
          fields.set(k, layer.at(k));
          if (k === "note") {
            // Notes add up down to the row; a cell's own note replaces them.
            notes = layer.own ? [String(v)] : [...notes, String(v)];
          } else if (MERGED.has(k)) {
            cell[k] = { ...(cell[k] as Record<string, unknown> | undefined), ...(v as object) };
            for (const key of Object.keys(v as object)) fields.set(`${k}.${key}`, [...layer.at(k), key]);
          } else {
            cell[k] = v;
          }
        }
      }
      if (notes.length) cell.note = notes.join(" ");
      const id = template.replace(PLACEHOLDER, (_, name: string) => {
        const v = name === "row" ? row.key : name === "column" ? col.key : cell[name];
        if (v === undefined || v === null || typeof v === "object") {
          problem(
            rowPath,
            `column ${colName}: the id template's {${name}} has no value (${JSON.stringify(v ?? null)})`,
          );
          return `{${name}}`;
        }
        return String(v);
      });
      fields.set("id", [...path, "id"]);
      out.cells.push({ id, ...cell });
      out.origins.push({ at: rowPath, label: `"${id}" (column ${colName})`, fields });
    });
  });
  return out;
}
