/**
 * Read-only listing commands: tables, show, methods, datasets. The --json shapes are a contract
 * (tests/cli/ checks them): add fields freely, never rename or remove one.
 */
import type { TableSpec } from "../experiments/schema.ts";
import { allMethods, tablesUsing } from "../experiments/methods.ts";
import { availability, listDatasets } from "../data/registry.ts";
import { catalog, type CatalogOptions, findTableOrFail, printJson, say } from "./common.ts";

export interface TableRow {
  id: string;
  paper: string;
  caption: string;
  cells: number;
  /** Cells with a printed number. */
  claimed: number;
  claims: number;
}

export function tableRow(t: TableSpec): TableRow {
  return {
    id: t.id,
    paper: t.paper,
    caption: t.caption,
    cells: t.cells.length,
    claimed: t.cells.filter((c) => c.claimed !== null).length,
    claims: t.claims.length,
  };
}

export async function tablesCommand(opts: CatalogOptions & { json?: boolean }): Promise<void> {
  const rows = (await catalog(opts)).all().map(tableRow);
  if (opts.json) return printJson(rows);
  const w = Math.max(...rows.map((r) => r.id.length));
  say(`${"table".padEnd(w)}  cells  numbers  claims  caption`);
  for (const r of rows) {
    say(
      `${r.id.padEnd(w)}  ${String(r.cells).padStart(5)}  ${String(r.claimed).padStart(7)}  ` +
        `${String(r.claims).padStart(6)}  ${
          r.caption.length > 70 ? r.caption.slice(0, 69) + "…" : r.caption
        }`,
    );
  }
}

export async function showCommand(id: string, opts: CatalogOptions & { json?: boolean }): Promise<void> {
  const t = await findTableOrFail(await catalog(opts), id);
  if (opts.json) return printJson(t);
  say(`${t.id} — ${t.table}: ${t.caption}`);
  say(`source: ${t.source}`);
  say(
    `protocol: ${t.protocol.evaluator}; selection ${t.protocol.selection}; ` +
      `repeats ${t.protocol.repeats ?? "not stated"}`,
  );
  say(`  ${t.protocol.details}`);
  say(`\n${t.cells.length} cell(s):`);
  for (const c of t.cells) {
    const claimed = c.claimed
      ? `${c.claimed.mean}${c.claimed.std !== null ? ` ± ${c.claimed.std}` : ""}`
      : "—";
    say(
      `  ${c.id.padEnd(40)} ${c.method.padEnd(14)} ${c.dataset.padEnd(13)} ` +
        `${(c.ipc === null ? "full" : `ipc${c.ipc}`).padEnd(7)} ${c.model.padEnd(18)} ${
          c.protocol.padEnd(8)
        } ${claimed}`,
    );
  }
  say(`\n${t.claims.length} claim(s):`);
  for (const c of t.claims) say(`  [${c.kind}] ${c.id}: ${c.text} (${c.source})`);
  for (const n of t.notes ?? []) say(`note: ${n}`);
}

export interface MethodRow {
  id: string;
  implemented: boolean;
  tables: string[];
  description: string;
  reason?: string;
}

export function methodRows(): MethodRow[] {
  return allMethods().map((m) => ({
    id: m.id,
    implemented: m.implemented,
    tables: tablesUsing(m.id),
    description: m.description,
    ...(m.reason ? { reason: m.reason } : {}),
  }));
}

export function methodsCommand(opts: { json?: boolean }): void {
  const rows = methodRows();
  if (opts.json) return printJson(rows);
  const w = Math.max(...rows.map((r) => r.id.length));
  for (const r of rows) {
    say(
      `${r.id.padEnd(w)}  ${r.implemented ? "implemented    " : "not implemented"}  ` +
        `${r.tables.length} table(s)${r.implemented ? "" : ` — ${r.reason ?? ""}`}`,
    );
  }
}

export interface DatasetRow {
  id: string;
  classes: number;
  shape: { channels: number; height: number; width: number };
  available: boolean;
  source: "embedded" | "user";
  reason: string;
  name: string;
  location: string | null;
}

export function datasetRows(): DatasetRow[] {
  return listDatasets().map((d) => {
    const a = availability(d.id);
    return {
      id: d.id,
      classes: d.numClasses,
      shape: d.shape,
      available: a.available,
      source: d.source,
      reason: a.reason,
      name: d.name,
      location: a.location,
    };
  });
}

export function datasetsCommand(opts: { json?: boolean }): void {
  const rows = datasetRows();
  if (opts.json) return printJson(rows);
  const w = Math.max(...rows.map((r) => r.id.length));
  for (const r of rows) {
    const s = r.shape;
    say(
      `${r.id.padEnd(w)}  ${String(r.classes).padStart(4)} classes  ${s.channels}×${s.height}×${s.width}`
        .padEnd(w + 30) +
        `  ${r.source.padEnd(8)}  ${r.available ? "available" : "missing  "}  ${r.reason}`,
    );
  }
}
