/**
 * The folder of past nights' stores behind the history page: one merged store per night, named
 * `night-<first start, UTC>-<commit>.db` so names sort by date, added atomically and pruned to the
 * newest ones. A scheduler carries the folder from night to night (an artifact, a shared disk).
 */
import { basename, join } from "node:path";
import type { TableSpec } from "../experiments/schema.ts";
import type { CellRepeatResult, MetricName, Profile } from "../results/types.ts";
import { buildHistory, type History } from "../reports/history.ts";
import { writeHistoryHtml } from "../reports/history_html.ts";
import { CliError, note } from "./common.ts";
import { mergeStores, methodStatus, readAll } from "./report_cmd.ts";

const NIGHT_FILE = /^night-\d{8}T\d{6}Z-[0-9A-Za-z]+\.db$/;

/** The file name a night's store gets in the history folder; null for a store without rows. */
export function nightFileName(rows: readonly CellRepeatResult[]): string | null {
  if (rows.length === 0) return null;
  const start = rows.map((r) => r.provenance.startedAt).sort()[0];
  const stamp = new Date(start).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const shas = new Map<string, number>();
  for (const r of rows) shas.set(r.provenance.gitSha, (shas.get(r.provenance.gitSha) ?? 0) + 1);
  const sha = [...shas].sort((a, b) => b[1] - a[1])[0][0].replace(/[^0-9A-Za-z]/g, "").slice(0, 10) ||
    "unknown";
  return `night-${stamp}-${sha}.db`;
}

/** The night stores in a history folder, oldest first. */
export function historyStores(dir: string): string[] {
  let names: string[];
  try {
    names = [...Deno.readDirSync(dir)].filter((e) => e.isFile && NIGHT_FILE.test(e.name)).map((e) => e.name);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw new CliError(`history folder ${dir}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return names.sort().map((n) => join(dir, n));
}

/**
 * Copies a night's store into the history folder (a rerun replaces that night's file) and removes the
 * oldest nights beyond `keep`. The copy is a merge into a temp file, renamed when complete.
 */
export async function addNight(store: string, dir: string, keep: number): Promise<string | null> {
  const name = nightFileName(readAll(store));
  if (name === null) {
    note(`nightly: ${store} has no results; nothing added to the history`);
    return null;
  }
  await Deno.mkdir(dir, { recursive: true });
  const target = join(dir, name);
  const tmp = join(dir, `.${name}.${Deno.pid}.tmp`);
  try {
    mergeStores([store], tmp);
    await Deno.rename(tmp, target);
  } finally {
    for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`]) await Deno.remove(f).catch(() => {});
  }
  const all = historyStores(dir);
  for (const old of all.slice(0, Math.max(0, all.length - keep))) {
    for (const f of [old, `${old}-wal`, `${old}-shm`]) await Deno.remove(f).catch(() => {});
    note(`nightly: history keeps the newest ${keep} nights; removed ${basename(old)}`);
  }
  return target;
}

/** Builds the history of `tables` from store files and writes `<outDir>/history.html`. */
export async function writeHistory(
  stores: readonly string[],
  tables: readonly TableSpec[],
  outDir: string,
  opts: { profile?: Profile; metric?: MetricName; indexHref?: string } = {},
): Promise<{ html: string; history: History }> {
  const history = buildHistory({
    stores: stores.map((s) => ({ source: basename(s), results: readAll(s) })),
    specs: tables,
    profile: opts.profile,
    metric: opts.metric,
    methodStatus,
  });
  const html = await writeHistoryHtml(outDir, history, {
    generatedAt: new Date().toISOString(),
    indexHref: opts.indexHref,
  });
  return { html, history };
}
