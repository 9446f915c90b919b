/** `dd run` and `dd table1`: run a table into the store (Ctrl-C stops cleanly), optionally report it. */
import { type RunOptions, type RunSummary, runTable } from "../runner/run.ts";
import { parseFilter, parseShard } from "../runner/plan.ts";
import { stderrStatus } from "../runner/progress.ts";
import type { Profile } from "../results/types.ts";
import type { TableSpec } from "../experiments/schema.ts";
import {
  catalog,
  type CatalogOptions,
  checkOutputDir,
  checkOutputFile,
  CliError,
  DEFAULT_ARTIFACTS,
  DEFAULT_REPORTS,
  DEFAULT_STORE,
  findTableOrFail,
  note,
  parseMethodAssignments,
  parsePositiveInt,
  parseProfile,
  printJson,
} from "./common.ts";
import { writeTableReports } from "./report_cmd.ts";

export interface RunFlags extends CatalogOptions {
  profile: string;
  filter?: string;
  shard?: string;
  store?: string;
  artifacts?: string;
  saveSets?: boolean;
  report?: boolean | string;
  json?: boolean;
  /** `method.key=value` config overrides, applied after the profile's scaling. */
  set?: string[];
  repeats?: string;
  evalEpochs?: string;
  dryRun?: boolean;
}

/** `dd run`'s flags, validated: bad input is a CliError before anything runs. */
export interface RunRequest {
  table: TableSpec;
  profile: Profile;
  storePath: string;
  options: Omit<RunOptions, "storePath" | "signal" | "status" | "log">;
}

export async function runRequest(tableId: string, flags: RunFlags): Promise<RunRequest> {
  const profile = parseProfile(flags.profile);
  let filter, shard;
  try {
    filter = flags.filter !== undefined ? parseFilter(flags.filter) : undefined;
    shard = flags.shard !== undefined ? parseShard(flags.shard) : undefined;
  } catch (e) {
    throw new CliError(e instanceof Error ? e.message : String(e));
  }
  const cat = await catalog(flags);
  const table = await findTableOrFail(cat, tableId);
  const overrides = parseMethodAssignments(flags.set ?? []);
  for (const id of Object.keys(overrides)) {
    if (!table.cells.some((c) => c.method === id)) {
      throw new CliError(`--set: no cell of ${table.id} uses method "${id}"`);
    }
  }
  const repeats = flags.repeats === undefined ? undefined : parsePositiveInt(flags.repeats, "--repeats");
  const evalEpochs = flags.evalEpochs === undefined
    ? undefined
    : parsePositiveInt(flags.evalEpochs, "--eval-epochs");
  const storePath = flags.store ?? DEFAULT_STORE;
  checkOutputFile(storePath, "--store");
  return {
    table,
    profile,
    storePath,
    options: {
      profile,
      filter,
      shard,
      resolve: { overrides, repeats, evalEpochs },
      artifactsDir: flags.saveSets === false ? null : flags.artifacts ?? DEFAULT_ARTIFACTS,
      dryRun: flags.dryRun ?? false,
    },
  };
}

/** Runs a request with the terminal's status line; the first Ctrl-C stops it cleanly. */
export function executeRun(req: RunRequest): Promise<RunSummary> {
  return withInterrupt((signal) => {
    const status = stderrStatus();
    return runTable(req.table, {
      ...req.options,
      storePath: req.storePath,
      signal,
      status,
      log: (line) => {
        status(""); // the status line is overwritten, then the log line printed where it was
        note(line);
      },
    });
  });
}

export async function runCommand(tableId: string, flags: RunFlags): Promise<void> {
  const req = await runRequest(tableId, flags);
  const { table, profile, storePath } = req;
  const reportDir = flags.report === undefined || flags.report === false
    ? null
    : typeof flags.report === "string"
    ? flags.report
    : DEFAULT_REPORTS;
  // Checked before the run: a report folder that cannot be written should not cost a run first.
  if (reportDir !== null) checkOutputDir(reportDir, "--report");
  const summary = await executeRun(req);
  if (flags.dryRun) {
    if (flags.json) printJson(summary);
    note(
      `${summary.tableId} @ ${summary.profile}: dry run, ${summary.toRun.length} repeat(s) would run, ` +
        `${summary.alreadyDone} already done`,
    );
    return;
  }
  if (reportDir !== null && !summary.interrupted) {
    await reportAfterRun(table, profile, storePath, reportDir, flags);
  }
  finish(summary, flags.json ?? false);
}

async function reportAfterRun(
  table: TableSpec,
  profile: Profile,
  storePath: string,
  outDir: string,
  cat: CatalogOptions,
): Promise<void> {
  const written = await writeTableReports({
    tables: [table],
    profile,
    storePath,
    outDir,
    catalog: cat,
    missingStoreIsEmpty: true,
  });
  for (const t of written.tables) note(`report: ${t.markdown}, ${t.html}`);
}

/** Summary to stdout (JSON) or stderr, and the exit status: 130 interrupted, 1 failures. */
export function finish(s: RunSummary, json: boolean): void {
  if (json) printJson(s);
  const notRunnable = s.skipped.length;
  note(
    `${s.tableId} @ ${s.profile}: ${s.completed} repeat(s) run, ${s.alreadyDone} already done, ` +
      (s.doneElsewhere ? `${s.doneElsewhere} run by another process, ` : "") +
      `${s.failed.length} failed, ${notRunnable} cell(s) not runnable; ${Math.round(s.seconds)}s`,
  );
  if (notRunnable && !json) {
    const byReason = new Map<string, number>();
    for (const k of s.skipped) byReason.set(k.reason, (byReason.get(k.reason) ?? 0) + 1);
    for (const [reason, n] of [...byReason].sort((a, b) => b[1] - a[1]).slice(0, 8)) {
      note(`  not runnable (${n}): ${reason.length > 200 ? reason.slice(0, 199) + "…" : reason}`);
    }
  }
  if (s.interrupted) throw new CliError("interrupted; completed repeats are stored, rerun to continue", 130);
  if (s.failed.length) {
    throw new CliError(
      `${s.failed.length} repeat(s) failed; first: ${s.failed[0].cellId}#${s.failed[0].repeat}: ` +
        s.failed[0].error,
    );
  }
}

/**
 * Runs `body` with an AbortSignal that fires on the first Ctrl-C (SIGINT/SIGTERM); a second Ctrl-C
 * exits at once. The runner finishes its cleanup and writes no partial row.
 */
export async function withInterrupt<T>(body: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  const handler = () => {
    if (controller.signal.aborted) Deno.exit(130);
    console.error("\nstopping after cleanup (Ctrl-C again to exit at once)…");
    controller.abort(new DOMException("interrupted", "AbortError"));
  };
  for (const s of signals) Deno.addSignalListener(s, handler);
  try {
    return await body(controller.signal);
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, handler);
  }
}
