/**
 * What a night runs: its tables (at one profile, under one filter), how their repeats split into N
 * shards, and whether a merged night holds every planned repeat. The shards are `dd run --shard k/n`'s
 * (runner/plan.ts), so a night split by `dd nightly shard` and one split by hand agree exactly.
 */
import type { TableSpec } from "../experiments/schema.ts";
import { findMethod } from "../methods/registry.ts";
import { canonicalJson, keyedCell } from "../results/key.ts";
import type { CellRepeatResult } from "../results/types.ts";
import { parseFilter, planTable } from "../runner/plan.ts";
import { codeVersionFor } from "../runner/version.ts";
import { catalog, CliError, findTableOrFail, note, parsePositiveInt } from "./common.ts";
import { type RunFlags, type RunRequest, runRequest } from "./run_cmd.ts";

/** The flags every `dd nightly` step shares: they define the night's plan. */
export interface NightlyFlags {
  profile: string;
  /** Comma-separated table ids; empty or absent: every table in the catalog. */
  tables?: string;
  /** Empty or absent: every cell. */
  filter?: string;
  spec?: string[];
  include?: string[];
  set?: string[];
  repeats?: string;
  evalEpochs?: string;
}

/** The run flags of one table of the night (empty values dropped, as a scheduler passes them). */
export function runFlagsOf(flags: NightlyFlags, extra: Partial<RunFlags> = {}): RunFlags {
  return {
    profile: flags.profile,
    filter: flags.filter?.trim() ? flags.filter : undefined,
    spec: flags.spec,
    include: flags.include,
    set: flags.set,
    repeats: flags.repeats?.trim() ? flags.repeats : undefined,
    evalEpochs: flags.evalEpochs?.trim() ? flags.evalEpochs : undefined,
    ...extra,
  };
}

/**
 * The night's tables, each as a validated run request (bad input fails here, before anything runs).
 * With a filter, tables it selects no cell of are left out (with a note); none left is an error.
 */
export async function nightRequests(
  flags: NightlyFlags,
  extra: Partial<RunFlags> = {},
): Promise<RunRequest[]> {
  const runFlags = runFlagsOf(flags, extra);
  const cat = await catalog(flags);
  const ids = (flags.tables ?? "").split(",").map((t) => t.trim()).filter((t) => t.length > 0);
  const tables: TableSpec[] = ids.length
    ? await Promise.all(ids.map((id) => findTableOrFail(cat, id)))
    : cat.all();
  if (new Set(tables.map((t) => t.id)).size !== tables.length) {
    throw new CliError(`--tables "${flags.tables}": a table is listed twice`);
  }
  let selected = tables;
  if (runFlags.filter !== undefined) {
    let filter;
    try {
      filter = parseFilter(runFlags.filter);
    } catch (e) {
      throw new CliError(e instanceof Error ? e.message : String(e));
    }
    selected = tables.filter((t) => t.cells.some((c) => filter.matches(c)));
    for (const t of tables) {
      if (!selected.includes(t)) {
        note(`nightly: ${t.id} has no cell matching --filter "${filter.text}"; left out`);
      }
    }
    if (selected.length === 0) {
      throw new CliError(`--filter "${filter.text}" matches no cell of the night's tables`);
    }
  }
  const requests: RunRequest[] = [];
  for (const t of selected) requests.push(await runRequest(t.id, runFlags));
  return requests;
}

export function parseShardCount(text: string): number {
  const n = parsePositiveInt(text, "--shards");
  if (n > 1000) throw new CliError(`--shards must be at most 1000 (got ${n})`);
  return n;
}

export interface TablePlan {
  tableId: string;
  cells: number;
  notRunnable: number;
  /** Runnable repeats of the whole table. */
  repeats: number;
  /** Repeats of shard k at index k − 1. */
  perShard: number[];
}

/** Every table's repeats per shard, by the runner's own shard rule. */
export function planShards(requests: readonly RunRequest[], shards: number): TablePlan[] {
  return requests.map((req) => {
    const opts = planOptions(req);
    const whole = planTable(req.table, req.profile, opts);
    const perShard = Array.from(
      { length: shards },
      (_, i) => planTable(req.table, req.profile, { ...opts, shard: { k: i + 1, n: shards } }).repeats.length,
    );
    return {
      tableId: req.table.id,
      cells: whole.cells.length,
      notRunnable: whole.skipped.length,
      repeats: whole.total,
      perShard,
    };
  });
}

function planOptions(req: RunRequest) {
  const f = req.options.filter;
  return { filter: typeof f === "string" ? parseFilter(f) : f, resolve: req.options.resolve };
}

/**
 * Planned repeats (`cellId#repeat`) with no row in `rows` for this code: same resolved cell, repeat,
 * seed and code version. The dataset hash, the one part of the content key that needs the data read, is
 * left out, so no dataset is loaded; which datasets a machine has still decides how cells resolve, so
 * this runs where the shards ran (or on a machine set up alike).
 */
export function missingRepeats(req: RunRequest, rows: readonly CellRepeatResult[]): string[] {
  const have = new Set(
    rows.filter((r) => r.resolved.tableId === req.table.id).map((r) =>
      canonicalJson([keyedCell(r.resolved), r.repeat, r.seed, r.codeVersion])
    ),
  );
  const plan = planTable(req.table, req.profile, planOptions(req));
  const find = req.options.resolve?.findMethod ?? findMethod;
  return plan.repeats.filter((item) => {
    const method = find(item.plan.resolved.method);
    if (!method) return false; // not runnable: the plan lists it as skipped
    return !have.has(
      canonicalJson([keyedCell(item.plan.resolved), item.repeat, item.seed, codeVersionFor(method)]),
    );
  }).map((item) => `${item.plan.resolved.cellId}#${item.repeat}`);
}
