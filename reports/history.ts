/**
 * The history of a table's cells across nights (asv-style): for every cell, the reproduced number of
 * each night, with the commit that computed it, the paper's claimed band, and whether it regressed
 * against the night before. A night is one store, split by git sha when a store holds several commits.
 * Each night's numbers are exactly what that night's table report shows (buildTableReport), and a
 * regression is what `dd compare` calls one (compareResults: beyond the repeat noise).
 */
import type { Claimed, TableSpec } from "../experiments/schema.ts";
import { summarize, type Summary } from "../results/stats.ts";
import { type CellRepeatResult, type MetricName, metricValues, Profile } from "../results/types.ts";
import { groupBy } from "../results/verdicts.ts";
import { compareResults, type CompareRow, type CompareStatus } from "./compare.ts";
import { buildTableReport, type MethodStatusFn } from "./model.ts";

export interface HistoryStoreInput {
  /** Where the rows came from (a store file name), shown on the page. */
  source: string;
  results: readonly CellRepeatResult[];
}

export interface HistoryInput {
  stores: readonly HistoryStoreInput[];
  /** Tables to chart; rows of other tables are ignored. */
  specs: readonly TableSpec[];
  /** Per table; default: the most faithful profile any night ran it at. */
  profile?: Profile;
  /** Default: each table's headline metric (as its report). */
  metric?: MetricName;
  methodStatus?: MethodStatusFn;
}

export interface HistoryNight {
  source: string;
  gitSha: string;
  dirty: boolean;
  /** When the night's first repeat started (ISO). */
  startedAt: string;
  /** When its last repeat finished (ISO). */
  finishedAt: string;
  repeats: number;
}

export interface HistoryPoint {
  reproduced: Summary;
  /** Against the latest earlier night with this cell; null for its first night. */
  change: { status: CompareStatus; delta: number | null; explanation: string } | null;
}

export interface HistoryCell {
  cellId: string;
  row: string;
  column: string;
  claimed: Claimed | null;
  /** One entry per night (History.nights), null where the night has no result for the cell. */
  points: (HistoryPoint | null)[];
}

export interface HistoryTable {
  tableId: string;
  title: string;
  profile: Profile;
  metric: MetricName;
  /** Cells with a result on at least one night, in the table's order. */
  cells: HistoryCell[];
  /** Cells no night has a result for. */
  neverRun: string[];
}

export interface HistoryRegression {
  tableId: string;
  cellId: string;
  /** Index into History.nights. */
  night: number;
  delta: number | null;
  explanation: string;
}

export interface History {
  nights: HistoryNight[];
  tables: HistoryTable[];
  /** Every night-to-night regression, newest night first. */
  regressions: HistoryRegression[];
}

export function buildHistory(input: HistoryInput): History {
  const tableIds = new Set(input.specs.map((s) => s.id));
  // Nights: one per (store, git sha), oldest first.
  const groups: { night: HistoryNight; rows: CellRepeatResult[] }[] = [];
  for (const store of input.stores) {
    const mine = store.results.filter((r) => tableIds.has(r.resolved.tableId));
    for (const [sha, rows] of groupBy(mine, (r) => r.provenance.gitSha)) {
      const starts = rows.map((r) => r.provenance.startedAt).sort();
      const ends = rows.map((r) => r.provenance.finishedAt).sort();
      groups.push({
        night: {
          source: store.source,
          gitSha: sha,
          dirty: rows.some((r) => r.provenance.gitDirty),
          startedAt: starts[0],
          finishedAt: ends[ends.length - 1],
          repeats: rows.length,
        },
        rows,
      });
    }
  }
  groups.sort((a, b) =>
    Date.parse(a.night.startedAt) - Date.parse(b.night.startedAt) ||
    a.night.source.localeCompare(b.night.source)
  );
  const nights = groups.map((g) => g.night);

  const tables: HistoryTable[] = [];
  const regressions: HistoryRegression[] = [];
  for (const spec of input.specs) {
    const present = groups.flatMap((g) => g.rows.filter((r) => r.resolved.tableId === spec.id));
    if (present.length === 0) continue;
    const profile = input.profile ??
      [...Profile.options].reverse().find((p) => present.some((r) => r.resolved.profile === p))!;
    const reports = groups.map((g) =>
      buildTableReport({ spec, results: g.rows, profile, methodStatus: input.methodStatus })
    );
    const metric = input.metric ?? reports[0].metric;
    const cells: HistoryCell[] = [];
    const neverRun: string[] = [];
    spec.cells.forEach((cellSpec, i) => {
      let previous: CellRepeatResult[] | null = null;
      const points = reports.map((report, night): HistoryPoint | null => {
        const cell = report.cells[i];
        const values = metricValues(cell.results, metric);
        if (values.length === 0) return null;
        const reproduced = summarize(values);
        let change: HistoryPoint["change"] = null;
        if (previous !== null) {
          const row: CompareRow = compareResults(previous, cell.results, { metric }).rows[0];
          change = { status: row.status, delta: row.delta, explanation: row.explanation };
          if (row.status === "regression") {
            regressions.push({
              tableId: spec.id,
              cellId: cellSpec.id,
              night,
              delta: row.delta,
              explanation: row.explanation,
            });
          }
        }
        previous = cell.results;
        return { reproduced, change };
      });
      const cell = reports[0].cells[i];
      if (points.every((p) => p === null)) neverRun.push(cellSpec.id);
      else {
        cells.push({
          cellId: cellSpec.id,
          row: cell.row,
          column: cell.column,
          claimed: cellSpec.claimed,
          points,
        });
      }
    });
    tables.push({
      tableId: spec.id,
      title: `${spec.paper} — ${spec.table}`,
      profile,
      metric,
      cells,
      neverRun,
    });
  }
  regressions.sort((a, b) => b.night - a.night);
  return { nights, tables, regressions };
}
