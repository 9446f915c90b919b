/** Commands that read stores: report, compare, merge, export. */
import { dirname, isAbsolute, join } from "node:path";
import type { TableSpec } from "../experiments/schema.ts";
import { type CellPlan, resolveTable } from "../experiments/resolve.ts";
import { PROFILE_IDS } from "../experiments/profiles.ts";
import { canonicalJson } from "../results/key.ts";
import { cellMethod } from "../experiments/methods.ts";
import { codeVersionFor } from "../runner/version.ts";
import type { CellRepeatResult, MetricName, Profile } from "../results/types.ts";
import { METRIC_NAMES } from "../results/types.ts";
import { StoreError } from "../results/store.ts";
import { writeTextFileAtomic } from "../data/atomic.ts";
import { closeMatches } from "../runner/suggest.ts";
import { writeReports, type WrittenReports } from "../reports/write.ts";
import type { ImageGridEmbed } from "../reports/html.ts";
import type { MethodStatus } from "../reports/model.ts";
import { compareResults, filterByGitSha, renderComparisonMarkdown } from "../reports/compare.ts";
import {
  catalog,
  type CatalogOptions,
  checkOutputDir,
  checkOutputFile,
  CliError,
  DEFAULT_REPORTS,
  DEFAULT_STORE,
  findTableOrFail,
  note,
  openStoreChecked,
  parseProfile,
  printJson,
  say,
} from "./common.ts";

/** Most faithful first (PROFILES lists the cheapest first): a report shows the best evidence stored. */
const PROFILE_PREFERENCE: readonly Profile[] = [...PROFILE_IDS].reverse();
const MAX_GRIDS_PER_TABLE = 12;

export function methodStatus(id: string): MethodStatus {
  const m = cellMethod(id);
  if (!m) return { implemented: false, reason: `unknown method "${id}"` };
  return m.implemented
    ? { implemented: true, codeVersion: codeVersionFor(m) }
    : { implemented: false, reason: m.reason };
}

export interface WriteTableReportsInput {
  tables: readonly TableSpec[];
  /** Default: per table, the most faithful profile with results. */
  profile?: Profile;
  storePath: string;
  outDir: string;
  catalog?: CatalogOptions;
  /** A store that does not exist reads as empty (after a run that stored nothing, e.g. nothing runnable). */
  missingStoreIsEmpty?: boolean;
}

export async function writeTableReports(i: WriteTableReportsInput): Promise<WrittenReports> {
  const store = i.missingStoreIsEmpty && !isFile(i.storePath) ? null : openStoreChecked(i.storePath, false);
  try {
    const inputs = [];
    const images = new Map<string, ImageGridEmbed[]>();
    for (const spec of i.tables) {
      const results = store?.list({ tableId: spec.id }) ?? [];
      const profile = i.profile ?? PROFILE_PREFERENCE.find((p) =>
        results.some((r) => r.resolved.profile === p)
      ) ??
        "quick";
      inputs.push({
        spec,
        results: withCurrentReasons(spec, profile, results),
        profile,
        methodStatus,
        plan: planOf(spec, profile),
      });
      images.set(spec.id, await gridsFor(results.filter((r) => r.resolved.profile === profile), i.storePath));
    }
    return await writeReports({ outDir: i.outDir, tables: inputs, images });
  } finally {
    store?.close();
  }
}

/** Today's plan of each cell: why one does not run, and what cells without results would run. */
function planOf(spec: TableSpec, profile: Profile): (cellId: string) => CellPlan | undefined {
  const plans = new Map(resolveTable(spec, profile).map((p) => [p.resolved.cellId, p]));
  return (id) => plans.get(id);
}

/**
 * A substitution's reason is prose outside the store key (results/key.ts), so stored rows keep the wording
 * of the code that ran them. Where today's plan makes the same substitution (cell, field, from, to), the
 * report gives today's wording, so a corrected explanation reaches old results too.
 */
export function withCurrentReasons(
  spec: TableSpec,
  profile: Profile,
  results: readonly CellRepeatResult[],
): CellRepeatResult[] {
  const id = (cell: string, s: { field: string; from: unknown; to: unknown }) =>
    canonicalJson([cell, s.field, s.from, s.to]);
  const reasons = new Map<string, string>();
  for (const plan of resolveTable(spec, profile)) {
    for (const s of plan.resolved.substitutions) reasons.set(id(plan.resolved.cellId, s), s.reason);
  }
  return results.map((r) =>
    r.resolved.profile !== profile ? r : {
      ...r,
      resolved: {
        ...r.resolved,
        substitutions: r.resolved.substitutions.map((s) => ({
          ...s,
          reason: reasons.get(id(r.resolved.cellId, s)) ?? s.reason,
        })),
      },
    }
  );
}

/** PNG grids saved beside the distilled sets (one per distinct set, first ones in cell order). */
async function gridsFor(results: readonly CellRepeatResult[], storePath: string): Promise<ImageGridEmbed[]> {
  const out: ImageGridEmbed[] = [];
  const seen = new Set<string>();
  for (const r of results) {
    if (!r.artifact || out.length >= MAX_GRIDS_PER_TABLE) continue;
    // Relative paths are relative to the store's folder; stores written before artifacts outside it
    // were recorded absolute hold paths relative to the run's working directory.
    const candidates = isAbsolute(r.artifact.path)
      ? [r.artifact.path]
      : [join(dirname(storePath), r.artifact.path), r.artifact.path];
    const pngs = candidates.map((p) => p.replace(/\.safetensors$/, "") + ".png");
    if (pngs.some((p) => seen.has(p))) continue;
    for (const png of pngs) {
      try {
        const bytes = await Deno.readFile(png);
        const c = r.resolved;
        out.push({
          title: `${c.cellId}: ${c.method}, ${c.dataset}, ${
            c.ipc === null ? "full" : `IPC ${c.ipc}`
          }, seed ${r.seed}`,
          png: bytes,
        });
        seen.add(png);
        break;
      } catch {
        // The store may have moved without its artifacts: the report simply shows no grid.
      }
    }
  }
  return out;
}

export async function reportCommand(
  tableId: string | undefined,
  flags: CatalogOptions & { store?: string; out?: string; profile?: string; json?: boolean },
): Promise<void> {
  const storePath = flags.store ?? DEFAULT_STORE;
  const profile = flags.profile !== undefined ? parseProfile(flags.profile) : undefined;
  checkOutputDir(flags.out ?? DEFAULT_REPORTS, "--out");
  const cat = await catalog(flags);
  let tables: TableSpec[];
  if (tableId !== undefined) {
    tables = [await findTableOrFail(cat, tableId)];
  } else {
    const store = openStoreChecked(storePath, false);
    let ids: string[];
    try {
      ids = [...new Set(store.list().map((r) => r.resolved.tableId))];
    } finally {
      store.close();
    }
    tables = [];
    for (const id of ids) {
      const t = cat.find(id);
      if (t) tables.push(t);
      else note(`skipping results of table "${id}": its spec is not known (pass --spec or --include)`);
    }
    if (tables.length === 0) throw new CliError(`results store ${storePath} has no results of known tables`);
  }
  const written = await writeTableReports({
    tables,
    profile,
    storePath,
    outDir: flags.out ?? DEFAULT_REPORTS,
  });
  if (flags.json) {
    printJson({
      index: written.index,
      tables: written.tables.map((t) => ({
        tableId: t.tableId,
        profile: t.report.profile,
        html: t.html,
        markdown: t.markdown,
        cells: t.report.cellCounts,
        claims: t.report.claimCounts,
      })),
    });
    return;
  }
  for (const t of written.tables) {
    say(`${t.tableId} (${t.report.profile}): ${t.markdown}, ${t.html}`);
  }
  say(`index: ${written.index.markdown}, ${written.index.html}`);
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Every row of an existing store (a missing file is a CliError). */
export function readAll(path: string): CellRepeatResult[] {
  const s = openStoreChecked(path, false);
  try {
    return s.exportAll();
  } finally {
    s.close();
  }
}

/** Two store files, or two git shas (prefixes) within one store (--store). */
export function compareCommand(
  a: string,
  b: string,
  flags: { store?: string; json?: boolean; metric?: string; failOnRegression?: boolean },
): void {
  const metric = flags.metric as MetricName | undefined;
  if (metric !== undefined && !METRIC_NAMES.includes(metric)) {
    throw new CliError(`unknown metric "${metric}"; expected one of ${METRIC_NAMES.join(", ")}`);
  }
  let base: CellRepeatResult[], head: CellRepeatResult[];
  const looksLikeSha = (x: string) => /^[0-9a-f]{4,40}$/i.test(x);
  if (isFile(a) || isFile(b) || !looksLikeSha(a) || !looksLikeSha(b)) {
    for (const p of [a, b]) if (!isFile(p)) throw new CliError(`results store ${p}: no such file`);
    base = readAll(a);
    head = readAll(b);
  } else {
    const all = readAll(flags.store ?? DEFAULT_STORE);
    base = filterByGitSha(all, a);
    head = filterByGitSha(all, b);
    for (const [sha, rows] of [[a, base], [b, head]] as const) {
      if (rows.length === 0) {
        throw new CliError(`no results with git sha ${sha} in ${flags.store ?? DEFAULT_STORE}`);
      }
    }
  }
  const c = compareResults(base, head, metric ? { metric } : {});
  if (flags.json) printJson(c);
  else say(renderComparisonMarkdown(c, { base: a, head: b }));
  if (flags.failOnRegression && (c.counts.regression ?? 0) > 0) {
    throw new CliError(`${c.counts.regression} regression(s)`);
  }
}

/** Merges store files into `into` (created if absent); every source must exist. Idempotent. */
export function mergeStores(
  from: readonly string[],
  into: string,
): { from: string; added: number; skipped: number }[] {
  for (const f of from) if (!isFile(f)) throw new CliError(`results store ${f}: no such file`);
  // Every source is read (and validated) before the target is opened: a bad source creates no store.
  for (const f of from) openStoreChecked(f, false).close();
  const store = openStoreChecked(into, true);
  const counts: { from: string; added: number; skipped: number }[] = [];
  try {
    for (const f of from) {
      try {
        counts.push({ from: f, ...store.merge(f) });
      } catch (e) {
        throw e instanceof StoreError ? new CliError(e.message) : e;
      }
    }
  } finally {
    store.close();
  }
  return counts;
}

export function mergeCommand(from: string[], flags: { store?: string; json?: boolean }): void {
  const into = flags.store ?? DEFAULT_STORE;
  const counts = mergeStores(from, into);
  if (flags.json) return printJson({ into, merged: counts });
  for (const c of counts) say(`${c.from} → ${into}: ${c.added} added, ${c.skipped} already present`);
}

export async function exportCommand(flags: { store?: string; out?: string; table?: string }): Promise<void> {
  const storePath = flags.store ?? DEFAULT_STORE;
  if (flags.out) checkOutputFile(flags.out, "--out");
  let rows = readAll(storePath);
  if (flags.table !== undefined) {
    const tables = [...new Set(rows.map((r) => r.resolved.tableId))];
    rows = rows.filter((r) => r.resolved.tableId === flags.table);
    if (rows.length === 0) {
      const near = closeMatches(flags.table, tables);
      throw new CliError(
        `--table ${flags.table}: no results of that table in ${storePath}` +
          (tables.length === 0
            ? " (the store is empty)"
            : near.length > 0
            ? `; close: ${near.join(", ")}`
            : `; it holds ${tables.slice(0, 8).join(", ")}${tables.length > 8 ? ", …" : ""}`),
      );
    }
  }
  const text = JSON.stringify(rows, null, 2) + "\n";
  if (flags.out) {
    await writeTextFileAtomic(flags.out, text);
    note(`${rows.length} result(s) → ${flags.out}`);
  } else {
    await Deno.stdout.write(new TextEncoder().encode(text));
  }
}
