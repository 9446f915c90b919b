/**
 * The report of one table as data: verdicts, grid layout, substitutions and provenance summary.
 * Markdown and HTML render this same model, so the two formats can never disagree on a number.
 */
import type { CellSpec, TableSpec } from "../experiments/schema.ts";
import type { ResolvedCell } from "../experiments/resolved.ts";
import { summarize, type Summary } from "../results/stats.ts";
import type { CellRepeatResult, MetricName, Profile, Substitution } from "../results/types.ts";
import { canonicalJson } from "../results/key.ts";
import { changedLayers, CODE_LAYERS, parseCodeVersion } from "../results/code_version.ts";
import {
  type CellStatus,
  type CellVerdict,
  type ClaimStatus,
  evaluateTable,
  groupBy,
  selectLatest,
  type TableVerdict,
  type VerdictOptions,
} from "../results/verdicts.ts";

export interface MethodStatus {
  implemented: boolean;
  /** Why not, e.g. "needs a pretrained diffusion model". */
  reason?: string;
  /** The code version this checkout runs the method with; stored rows of another one are stale. */
  codeVersion?: string;
}
export type MethodStatusFn = (methodId: string) => MethodStatus;

export interface TableReportInput {
  spec: TableSpec;
  /** May contain other tables and profiles; only this table's `profile` results are used. */
  results: readonly CellRepeatResult[];
  profile: Profile;
  /** Default: every method counts as implemented. */
  methodStatus?: MethodStatusFn;
  verdictOptions?: Partial<VerdictOptions>;
  /** Average every stored configuration instead of only the latest (default false; see selectLatest). */
  allConfigurations?: boolean;
  /**
   * Today's plan of a cell under the profile (experiments/resolve.ts), or undefined: why a cell of an
   * implemented method does not run (e.g. an IPC the profile skips), and what cells without results would
   * run, so paper rows that would run one evaluation are shown once too. Default: no plan.
   */
  plan?: (cellId: string) => PlannedCell | undefined;
}

/** What a report needs of a CellPlan. */
export interface PlannedCell {
  resolved: ResolvedCell;
  runnable: boolean;
  reason?: string;
}

export interface CellReport {
  spec: CellSpec;
  /** Display labels: the paper's row/column, or derived from method and dataset/IPC. */
  row: string;
  column: string;
  verdict: CellVerdict;
  method: MethodStatus;
  /** testAccAtBestHoldout, shown next to a max-over-epochs metric as the honest counterpart. */
  holdout: Summary | null;
  results: CellRepeatResult[];
  /** Code versions of the shown repeats that differ from the method's current one (see MethodStatus). */
  staleCodeVersions: string[];
  /** Shown repeats computed by other code than this checkout's; null when none (or no current version). */
  stale: StaleRows | null;
  /** Why the profile skips this cell (implemented method, no results); null otherwise. */
  skipped: string | null;
  /** What it would run under today's plan, when it has no results (see layoutGrid); null otherwise. */
  planned: string | null;
  /** The dataset and model its repeats ran (after the profile's substitutions); null before any ran. */
  ran: { dataset: string; model: string } | null;
  /**
   * The paper cells this entry stands for, itself first: cells whose repeats are one and the same
   * evaluation (e.g. three evaluator rows a profile substituted by one ConvNet) are shown once.
   */
  standsFor: string[];
  /** The id of the cell that shows this one's numbers (same evaluation), or null when it is shown itself. */
  shownAs: string | null;
}

/** Repeats that predate the checkout's code, and what changed since they were computed. */
export interface StaleRows {
  repeats: number;
  /** Layers whose version differs ("method", "engine", "data", …), in layer order. */
  layers: string[];
  /** Some were keyed by hand-numbered versions, before versions were derived from the sources. */
  handNumbered: boolean;
}

export interface ProvenanceSummary {
  repeats: number;
  gitShas: { sha: string; dirty: boolean }[];
  denoVersions: string[];
  adapters: string[];
  hostnames: string[];
  codeVersions: string[];
  datasetManifestHashes: string[];
  wallSeconds: number;
  distillSeconds: number;
  evalSeconds: number;
  firstStart: string | null;
  lastFinish: string | null;
}

/** Paper values of one field that ran as another (e.g. three evaluators as one narrow ConvNet). */
export interface RanInstead {
  field: "dataset" | "model";
  paper: string[];
  ran: string;
}

export interface SubstitutionUse {
  substitution: Substitution;
  cells: string[];
}

export interface TableReport {
  spec: TableSpec;
  profile: Profile;
  metric: MetricName;
  verdict: TableVerdict;
  cells: CellReport[];
  /**
   * rows × columns of the paper's layout; undefined where the table has no cell. Paper rows whose every
   * entry is the same evaluation are one row, labelled with each of them; `ran` names, per row, the
   * dataset and model that ran where they differ from the paper's (null where none did).
   */
  grid: { rows: string[]; columns: string[]; at: (CellReport | undefined)[][]; ran: (string | null)[] };
  /** The paper's datasets and models and what ran instead (profile substitutions), for headings. */
  whatRan: RanInstead[];
  substitutions: SubstitutionUse[];
  provenance: ProvenanceSummary;
  /** Repeats of older configurations left out by selectLatest. */
  excludedRepeats: number;
  /** Cells whose shown repeats were computed by other code than this checkout's (a rerun would redo them). */
  staleCells: string[];
  cellCounts: Partial<Record<CellStatus | "not implemented" | "skipped", number>>;
  claimCounts: Partial<Record<ClaimStatus, number>>;
}

export const METRIC_LABELS: Record<MetricName, string> = {
  lastTestAcc: "test accuracy at the last epoch",
  bestHoldoutAcc: "best held-out (train split) accuracy",
  testAccAtBestHoldout: "test accuracy at the epoch with the best held-out accuracy",
  bestTestAcc: "max test accuracy over epochs (as the paper reports it)",
};

export function buildTableReport(input: TableReportInput): TableReport {
  const { spec, profile } = input;
  const methodStatus: MethodStatusFn = input.methodStatus ?? (() => ({ implemented: true }));
  const mine = input.results.filter((r) => r.resolved.tableId === spec.id && r.resolved.profile === profile);
  const used = input.allConfigurations ? mine : selectLatest(mine);
  const verdict = evaluateTable(spec, used, { ...input.verdictOptions, profile });
  const byCell = groupBy(used, (r) => r.resolved.cellId);
  const labels = displayLabels(spec.cells);

  const cells: CellReport[] = spec.cells.map((c, i) => {
    const results = byCell.get(c.id) ?? [];
    const method = methodStatus(c.method);
    return {
      spec: c,
      ...labels[i],
      verdict: verdict.cells[i],
      method,
      holdout: results.length ? summarize(results.map((r) => r.metrics.testAccAtBestHoldout)) : null,
      results,
      staleCodeVersions: method.codeVersion === undefined
        ? []
        : [...new Set(results.map((r) => r.codeVersion))].filter((v) => v !== method.codeVersion).sort(),
      stale: staleRows(results, method.codeVersion),
      skipped: results.length === 0 && method.implemented ? skipReason(input.plan?.(c.id)) : null,
      planned: results.length === 0 ? plannedWork(input.plan?.(c.id)) : null,
      ran: results.length ? { dataset: results[0].resolved.dataset, model: results[0].resolved.model } : null,
      standsFor: [c.id],
      shownAs: null,
    };
  });
  const grid = layoutGrid(cells, labels);

  const cellCounts: TableReport["cellCounts"] = {};
  for (const c of cells) {
    const s = c.results.length === 0 && !c.method.implemented
      ? "not implemented"
      : c.skipped !== null
      ? "skipped"
      : c.verdict.status;
    cellCounts[s] = (cellCounts[s] ?? 0) + 1;
  }
  const claimCounts: TableReport["claimCounts"] = {};
  for (const c of verdict.claims) claimCounts[c.status] = (claimCounts[c.status] ?? 0) + 1;

  return {
    spec,
    profile,
    metric: verdict.metric,
    verdict,
    cells,
    grid,
    whatRan: whatRan(cells),
    substitutions: collectSubstitutions(used),
    provenance: summariseProvenance(used),
    excludedRepeats: mine.length - used.length,
    staleCells: cells.filter((c) => c.stale !== null).map((c) => c.spec.id),
    cellCounts,
    claimCounts,
  };
}

/**
 * Row/column labels as the paper prints them; derived ones otherwise. Cells that would land on the
 * same grid position get their id appended to the row label, so no number is ever hidden.
 */
function displayLabels(cells: readonly CellSpec[]): RowLabel[] {
  const models = new Set(cells.map((c) => c.model));
  const ipcLabel = (c: CellSpec) => (c.ipc === null ? "full" : `IPC ${c.ipc}`);
  let labels = cells.map((c) => ({
    row: c.row ?? c.method,
    column: c.column ?? `${c.dataset} · ${ipcLabel(c)}${models.size > 1 ? ` · ${c.model}` : ""}`,
  }));
  // A row label printed once per group (e.g. "ConvNet-6" under each IPC block of IGDS Table 1) collides
  // across groups: qualify every cell of such a row with the fields that vary within it.
  const positions = new Map<string, number>();
  for (const l of labels) {
    const k = JSON.stringify([l.row, l.column]);
    positions.set(k, (positions.get(k) ?? 0) + 1);
  }
  const colliding = new Set(
    labels.filter((l) => positions.get(JSON.stringify([l.row, l.column]))! > 1).map((l) => l.row),
  );
  const qualifiers: [string, (c: CellSpec) => string][] = [
    ["dataset", (c) => c.dataset],
    ["ipc", ipcLabel],
    ["model", (c) => c.model],
  ];
  labels = labels.map((l, i) => {
    if (!colliding.has(l.row)) return l;
    const mates = cells.filter((_, j) => labels[j].row === l.row);
    const parts = qualifiers
      .filter(([, f]) => new Set(mates.map(f)).size > 1)
      .map(([, f]) => f(cells[i]));
    return parts.length ? { row: `${l.row} · ${parts.join(" · ")}`, column: l.column } : l;
  });
  const seen = new Set<string>();
  return labels.map((l, i) => {
    const printed = cells[i].row ?? cells[i].method;
    const qualifier = l.row.startsWith(`${printed} · `) ? l.row.slice(printed.length + 3) : null;
    const pos = JSON.stringify([l.row, l.column]);
    if (!seen.has(pos)) {
      seen.add(pos);
      return { ...l, printed, qualifier };
    }
    return { row: `${l.row} (${cells[i].id})`, column: l.column, printed, qualifier: null };
  });
}

interface RowLabel {
  row: string;
  column: string;
  /** The row as printed (before qualification), and what qualifies it (e.g. "IPC 10"); null: none. */
  printed: string;
  qualifier: string | null;
}

/**
 * What a repeat measured, whichever paper cell asked for it: the resolved cell without its id and
 * without the paper's side of each substitution, the seed, code and data. Equal for the rows of paper
 * cells a profile maps onto one evaluation (the runner computes those once and stores a row per cell).
 */
function workOf(r: CellRepeatResult): string {
  return canonicalJson({
    cell: runOf(r.resolved),
    repeat: r.repeat,
    seed: r.seed,
    codeVersion: r.codeVersion,
    data: r.datasetManifestHash,
  });
}

/** A resolved cell as what runs: without its id and the paper's side of its substitutions. */
function runOf(resolved: ResolvedCell): unknown {
  const { cellId: _id, substitutions, ...rest } = resolved;
  return { ...rest, substitutions: substitutions.map((s) => ({ field: s.field, to: s.to })) };
}

function plannedWork(plan: PlannedCell | undefined): string | null {
  return plan ? canonicalJson(runOf(plan.resolved)) : null;
}

function skipReason(plan: PlannedCell | undefined): string | null {
  return plan && !plan.runnable ? plan.reason ?? "not runnable under this profile" : null;
}

/**
 * What a cell stands for in the grid: its repeats as work (order-free), else what today's plan would run,
 * else its own id (so it matches no other cell).
 */
function workSignature(c: CellReport): string {
  if (c.results.length) return "ran " + c.results.map(workOf).sort().join("\n");
  return c.planned !== null ? `plan ${c.planned}` : `cell ${c.spec.id}`;
}

/**
 * The grid in the paper's layout, except that paper rows whose entries are, column by column, the same
 * evaluations — or, for cells without results, would be under today's plan — with the same claimed numbers
 * become one row labelled with every paper row it stands for. Cells with neither never match another.
 */
function layoutGrid(cells: CellReport[], labels: readonly RowLabel[]): TableReport["grid"] {
  const paperRows = [...new Set(cells.map((c) => c.row))];
  const columns = [...new Set(cells.map((c) => c.column))];
  const paperAt = paperRows.map((r) =>
    columns.map((col) => cells.find((c) => c.row === r && c.column === col))
  );
  const groups = new Map<string, number[]>();
  paperAt.forEach((line, i) => {
    // Claimed numbers are part of the key: rows the paper prints differently stay apart.
    const k = canonicalJson(
      line.map((c) => (c === undefined ? null : [workSignature(c), c.spec.claimed ?? null])),
    );
    groups.set(k, [...(groups.get(k) ?? []), i]);
  });
  const rows: string[] = [], at: (CellReport | undefined)[][] = [], ran: (string | null)[] = [];
  for (const members of groups.values()) {
    const label = members.length === 1 ? paperRows[members[0]] : mergedLabel(members.map((i) => {
      const first = paperAt[i].find((c) => c !== undefined)!;
      return labels[cells.indexOf(first)];
    }));
    const line = paperAt[members[0]];
    line.forEach((shown, j) => {
      if (shown === undefined) return;
      shown.row = label;
      for (const i of members.slice(1)) {
        const other = paperAt[i][j]!;
        other.shownAs = shown.spec.id;
        shown.standsFor.push(other.spec.id);
      }
    });
    rows.push(label);
    at.push(line);
    const instead = new Set(
      line.filter((c) => c?.ran && (c.ran.dataset !== c.spec.dataset || c.ran.model !== c.spec.model))
        .map((c) => `${c!.ran!.dataset} · ${c!.ran!.model}`),
    );
    ran.push(instead.size ? [...instead].join(", ") : null);
  }
  return { rows, columns, at, ran };
}

/** "ConvNet-6 / ResNetAP-10 / ResNet-18 · IPC 1" for rows that share their qualifier, else each label. */
function mergedLabel(labels: readonly RowLabel[]): string {
  const q = labels[0].qualifier;
  if (q !== null && labels.every((l) => l.qualifier === q)) {
    return `${[...new Set(labels.map((l) => l.printed))].join(" / ")} · ${q}`;
  }
  return labels.map((l) => l.row).join(" / ");
}

/** The paper's datasets and models that ran as another, grouped by what ran. */
function whatRan(cells: readonly CellReport[]): RanInstead[] {
  const out = new Map<string, RanInstead>();
  for (const c of cells) {
    if (!c.ran) continue;
    for (const field of ["dataset", "model"] as const) {
      const paper = c.spec[field], ran = c.ran[field];
      if (paper === ran) continue;
      const k = JSON.stringify([field, ran]);
      const use = out.get(k) ?? { field, paper: [], ran };
      if (!use.paper.includes(paper)) use.paper.push(paper);
      out.set(k, use);
    }
  }
  return [...out.values()];
}

function collectSubstitutions(results: readonly CellRepeatResult[]): SubstitutionUse[] {
  const uses = new Map<string, SubstitutionUse>();
  for (const r of results) {
    for (const s of r.resolved.substitutions) {
      const k = JSON.stringify([s.field, s.from, s.to, s.reason]);
      const use = uses.get(k) ?? { substitution: s, cells: [] };
      if (!use.cells.includes(r.resolved.cellId)) use.cells.push(r.resolved.cellId);
      uses.set(k, use);
    }
  }
  return [...uses.values()];
}

function summariseProvenance(results: readonly CellRepeatResult[]): ProvenanceSummary {
  const distinct = (xs: string[]) => [...new Set(xs)].sort();
  const shas = new Map<string, boolean>();
  for (const r of results) {
    shas.set(r.provenance.gitSha, (shas.get(r.provenance.gitSha) ?? false) || r.provenance.gitDirty);
  }
  const sum = (f: (r: CellRepeatResult) => number) => results.reduce((s, r) => s + f(r), 0);
  const times = (f: (r: CellRepeatResult) => string) => results.map(f).sort();
  return {
    repeats: results.length,
    gitShas: [...shas].map(([sha, dirty]) => ({ sha, dirty })),
    denoVersions: distinct(results.map((r) => r.provenance.denoVersion)),
    adapters: distinct(results.map((r) => {
      const a = r.provenance.adapter;
      const limits = a.limits === "spec" ? ", WebGPU minimum limits" : "";
      return `${a.vendor} ${a.architecture} (${a.description})${a.backend ? ` [${a.backend}${limits}]` : ""}`;
    })),
    hostnames: distinct(results.map((r) => r.provenance.hostname)),
    codeVersions: distinct(results.map((r) => r.codeVersion)),
    datasetManifestHashes: distinct(results.map((r) => r.datasetManifestHash)),
    wallSeconds: sum((r) => r.provenance.wallSeconds),
    // Rows that shared a set or an evaluation all carry its cost; count each piece of work once.
    distillSeconds: sumDistinct(results, distillWork, (r) => r.provenance.distillSeconds),
    evalSeconds: sumDistinct(
      results,
      (r) => `${distillWork(r)} ${evalWork(r)}`,
      (r) => r.provenance.evalSeconds,
    ),
    firstStart: times((r) => r.provenance.startedAt)[0] ?? null,
    lastFinish: times((r) => r.provenance.finishedAt).at(-1) ?? null,
  };
}

/** What a repeat's distilled set depends on (its artifact hash when saved). */
function distillWork(r: CellRepeatResult): string {
  if (r.artifact) return r.artifact.sha256;
  const c = r.resolved;
  return canonicalJson([c.method, c.dataset, c.ipc, c.profile, c.methodConfig, r.seed, r.codeVersion]);
}

function evalWork(r: CellRepeatResult): string {
  return canonicalJson([r.resolved.model, r.resolved.protocolConfig, r.seed]);
}

function sumDistinct(
  results: readonly CellRepeatResult[],
  key: (r: CellRepeatResult) => string,
  f: (r: CellRepeatResult) => number,
): number {
  const seen = new Map<string, number>();
  for (const r of results) if (!seen.has(key(r))) seen.set(key(r), f(r));
  return [...seen.values()].reduce((a, b) => a + b, 0);
}

/** Renderers accept raw inputs or a built model (when several formats are rendered from one). */
export function asTableReport(x: TableReportInput | TableReport): TableReport {
  return "grid" in x ? x : buildTableReport(x);
}

/** The one-word state of a cell as both reports show it. */
export function cellStatusLabel(c: CellReport): string {
  if (c.results.length === 0 && !c.method.implemented) {
    return c.method.reason ? `not implemented (${c.method.reason})` : "not implemented";
  }
  if (c.skipped !== null) return `skipped (${c.skipped})`;
  return c.verdict.status;
}

function staleRows(results: readonly CellRepeatResult[], current: string | undefined): StaleRows | null {
  if (current === undefined) return null;
  const old = results.filter((r) => r.codeVersion !== current);
  if (old.length === 0) return null;
  const changed = new Set(old.flatMap((r) => changedLayers(r.codeVersion, current)));
  return {
    repeats: old.length,
    layers: CODE_LAYERS.filter((l) => changed.has(l)),
    handNumbered: old.some((r) => !parseCodeVersion(r.codeVersion)?.layers.has("data")),
  };
}

/** Why a cell's numbers may not be what this checkout computes; null when they are current. */
export function staleNote(c: CellReport): string | null {
  const s = c.stale;
  if (s === null) return null;
  const of = s.repeats === c.results.length ? `all ${s.repeats}` : `${s.repeats} of ${c.results.length}`;
  const since = s.handNumbered
    ? "keyed by hand-numbered code versions, before versions were derived from the sources"
    : `changed since: ${s.layers.join(", ")}`;
  return `stale: ${of} repeat(s) predate this checkout's code (${since}); \`dd run\` recomputes them`;
}

/**
 * The note shared by every cell when none of the table's cells has a printed number (e.g. IGDS Tables
 * 1–3, whose numbers the text extraction lost); grids then state it once instead of in every entry.
 */
export function sharedClaimedNote(r: TableReport): string | null {
  if (r.cells.length === 0 || r.cells.some((c) => c.spec.claimed)) return null;
  const notes = new Set(r.cells.map((c) => c.spec.claimedNote ?? "unavailable in source"));
  return notes.size === 1 ? [...notes][0] : null;
}

/**
 * A figure page written beside a table's report (DGS's difficulty histograms, D³HR's storage comparison),
 * which the table's report links to.
 */
export interface FigurePage {
  title: string;
  /** Relative link, e.g. "dgs_table1_difficulty.html". */
  href: string;
  /** What the page shows, one sentence. */
  description: string;
}

/** A file name for a table id ("igds/table1" → "igds_table1"); ids never contain "_". */
export function tableFileStem(tableId: string): string {
  return tableId.replace(/\//g, "_");
}

/** The cells an entry stands for, e.g. "woof-ipc1-convnet6-dm = woof-ipc1-resnet18-dm". */
export function cellIdsText(c: CellReport): string {
  return c.standsFor.join(" = ");
}

/** A paper value and what ran instead ("imagewoof → fashion-mnist"), or the value when it ran as printed. */
export function ranText(paper: string, ran: string | undefined): string {
  return ran === undefined || ran === paper ? paper : `${paper} → ${ran}`;
}

/** One line naming what ran instead of the paper's datasets and models; null when nothing was replaced. */
export function whatRanText(r: TableReport): string | null {
  if (r.whatRan.length === 0) return null;
  const merged = r.cells.filter((c) => c.standsFor.length > 1).length;
  return r.whatRan.map((w) => `${w.field} ${w.paper.join(", ")} → ${w.ran}`).join("; ") +
    (merged
      ? "; paper rows that therefore ran the same evaluation are shown once, labelled with every row " +
        "they stand for"
      : "");
}
