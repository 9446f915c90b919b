/**
 * `dd nightly`: a night's reproduction run, split for the schedulers people already have (a GitHub
 * Actions matrix, a Slurm job array). `plan` says how the night's tables split into N shards, `shard k/n`
 * runs one of them (`dd run --shard k/n` over each table), `finish` merges the shard stores, writes the
 * reports, compares with the previous night's store (as `dd compare` does) and updates the history page.
 * Every step can print a JSON summary; `finish` also writes it next to the reports. Exit codes are below.
 */
import { dirname, join } from "node:path";
import { type Command, Option } from "commander";
import type { TableSpec } from "../experiments/schema.ts";
import { compareResults, type Comparison, renderComparisonMarkdown } from "../reports/compare.ts";
import { shortSha } from "../reports/format.ts";
import { type CellRepeatResult, METRIC_NAMES, type MetricName, type Profile } from "../results/types.ts";
import { selectLatest } from "../results/verdicts.ts";
import type { RunSummary } from "../runner/run.ts";
import { writeTextFileAtomic } from "../data/atomic.ts";
import {
  catalog,
  checkOutputDir,
  CliError,
  collect,
  findTableOrFail,
  note,
  parsePositiveInt,
  parseProfile,
  printJson,
} from "./common.ts";
import { executeRun, finish as reportRunOutcome } from "./run_cmd.ts";
import { mergeStores, readAll, writeTableReports } from "./report_cmd.ts";
import {
  missingRepeats,
  type NightlyFlags,
  nightRequests,
  parseShardCount,
  planShards,
} from "./nightly_plan.ts";
import { addNight, historyStores, writeHistory } from "./nightly_history.ts";

/** What a scheduler can act on. 1 is every `dd` command's bad input or error; Commander's usage errors too. */
export const NIGHTLY_EXIT = {
  ok: 0,
  error: 1,
  /** `finish --fail-on-regression`: a cell dropped beyond the repeat noise against the previous night. */
  regression: 3,
  /** `shard`: a repeat failed; `finish`: a planned repeat is missing from the merged store. */
  incomplete: 4,
  /** Ctrl-C / SIGTERM (e.g. the scheduler's time limit): finished repeats are stored, rerun to continue. */
  interrupted: 130,
} as const;

const EXIT_HELP = `
Exit codes (for schedulers):
  0    done (finish: every planned repeat present; no regression, or --fail-on-regression not given)
  1    bad input or an error (one "error:" line)
  3    finish --fail-on-regression: a cell regressed against the previous night (reports still written)
  4    shard: a repeat failed; finish: a planned repeat is missing from the merged store
  130  interrupted (SIGINT/SIGTERM): finished repeats are stored; rerunning the shard continues it`;

const DEFAULT_HISTORY_KEEP = "120";

function planOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("--profile <profile>", "smoke | quick | proxy | paper").default("proxy"))
    .option("--tables <ids>", "comma-separated table ids (default: every table, with --spec/--include)")
    .option("--filter <terms>", "cells to run, as dd run --filter (empty: every cell)")
    .option("--spec <file>", "a user spec file (JSON/YAML); repeatable", collect)
    .option("--include <dir>", "make every spec file in <dir> addressable by its id; repeatable", collect)
    .option("--set <method.key=value>", "as dd run --set; repeatable", collect)
    .option("--repeats <n>", "repeats per cell instead of the profile's")
    .option("--eval-epochs <n>", "evaluator epochs instead of the profile's budget");
}

export function addNightlyCommand(program: Command): void {
  const nightly = program.command("nightly")
    .description("a night's run split into shards for a scheduler: plan, shard k/n, finish (see --help)")
    .addHelpText("after", EXIT_HELP);

  planOptions(nightly.command("plan").description("how the night's tables split into N shards"))
    .requiredOption("--shards <n>", "number of shards")
    .option(
      "--json",
      "{ profile, shards, matrix: [1..n], tables: [{ tableId, repeats, perShard }], perShard }",
    )
    .addHelpText("after", EXIT_HELP)
    .action((o) => planCommand(o));

  planOptions(
    nightly.command("shard").argument("<k/n>", "which shard (1 ≤ k ≤ n), e.g. $((SLURM_ARRAY_TASK_ID + 1))/4")
      .description("run shard k of n of every table of the night (dd run --shard k/n) into --store"),
  )
    .requiredOption("--store <path>", "this shard's results store")
    .option("--artifacts <dir>", "where distilled sets are kept (default: artifacts/ beside --store)")
    .option("--json", "the shard's summary as JSON on stdout")
    .addHelpText("after", EXIT_HELP)
    .action((k, o) => shardCommand(k, o));

  planOptions(
    nightly.command("finish").argument("<shard-stores...>", "the shards' store files")
      .description(
        "merge the shards, write the reports, compare with the previous night, update the history",
      ),
  )
    .requiredOption("--store <path>", "the night's merged store (created)")
    .option("--out <dir>", "reports, comparison.md, history.html and nightly.json", "reports/nightly")
    .option("--previous <store>", "the previous (last successful) night's merged store to compare with")
    .option("--history <dir>", "folder of past nights' stores: tonight's is added and history.html written")
    .option("--history-keep <n>", "nights the history folder keeps", DEFAULT_HISTORY_KEEP)
    .option("--metric <name>", "compare this metric (default: each table's headline metric, as its report)")
    .option(
      "--fail-on-regression",
      `exit ${NIGHTLY_EXIT.regression} when a cell regressed against --previous`,
    )
    .option("--json", "the night's summary as JSON on stdout (also written to <out>/nightly.json)")
    .addHelpText("after", EXIT_HELP)
    .action((stores, o) => finishCommand(stores, o));

  nightly.command("history").argument(
    "<stores...>",
    "store files, one per night (or one holding several commits)",
  )
    .description("write history.html: every cell's number night by night, claimed band, regressions")
    .option("--out <dir>", "output folder", "reports/nightly")
    .option("--tables <ids>", "comma-separated table ids (default: every known table in the stores)")
    .option("--profile <profile>", "default: per table, the most faithful profile stored")
    .option("--metric <name>", "default: each table's headline metric")
    .option("--spec <file>", "a user spec file (JSON/YAML); repeatable", collect)
    .option("--include <dir>", "make every spec file in <dir> addressable by its id; repeatable", collect)
    .option("--json", "{ html, nights, regressions }")
    .action((stores, o) => historyCommand(stores, o));

  // Errors of these nested commands reach main() as exceptions, as the top-level commands' do.
  for (const c of [nightly, ...nightly.commands]) c.exitOverride();
}

// ---------------------------------------------------------------------------------------------

async function planCommand(flags: NightlyFlags & { shards: string; json?: boolean }): Promise<void> {
  const shards = parseShardCount(flags.shards);
  const requests = await nightRequests(flags);
  const tables = planShards(requests, shards);
  const perShard = Array.from({ length: shards }, (_, i) => tables.reduce((s, t) => s + t.perShard[i], 0));
  const plan = {
    profile: parseProfile(flags.profile),
    shards,
    matrix: Array.from({ length: shards }, (_, i) => i + 1),
    tables,
    perShard,
    total: tables.reduce((s, t) => s + t.repeats, 0),
  };
  if (flags.json) return printJson(plan);
  for (const t of tables) {
    console.log(
      `${t.tableId}: ${t.repeats} repeat(s) of ${t.cells} cell(s) (${t.notRunnable} not runnable); ` +
        `per shard ${t.perShard.join(", ")}`,
    );
  }
  console.log(`${plan.total} repeat(s) at ${plan.profile} in ${shards} shard(s): ${perShard.join(", ")}`);
}

interface ShardTableSummary {
  tableId: string;
  total: number;
  planned: number;
  alreadyDone: number;
  /** Repeats another process (e.g. a rerun of this shard) computed meanwhile. */
  doneElsewhere: number;
  completed: number;
  failed: RunSummary["failed"];
  notRunnable: number;
  seconds: number;
}

async function shardCommand(
  shardText: string,
  flags: NightlyFlags & { store: string; artifacts?: string; json?: boolean },
): Promise<void> {
  const t0 = performance.now();
  const requests = await nightRequests(flags, {
    shard: shardText,
    store: flags.store,
    artifacts: flags.artifacts ?? join(dirname(flags.store), "artifacts"),
  });
  const tables: ShardTableSummary[] = [];
  let interrupted = false;
  for (const req of requests) {
    const s = await executeRun(req);
    tables.push({
      tableId: s.tableId,
      total: s.total,
      planned: s.planned,
      alreadyDone: s.alreadyDone,
      doneElsewhere: s.doneElsewhere,
      completed: s.completed,
      failed: s.failed,
      notRunnable: s.skipped.length,
      seconds: s.seconds,
    });
    try {
      reportRunOutcome(s, false); // `dd run`'s summary lines on stderr
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      if (e.code === NIGHTLY_EXIT.interrupted) {
        interrupted = true;
        break;
      }
    }
  }
  const failed = tables.reduce((n, t) => n + t.failed.length, 0);
  const status = interrupted ? "interrupted" : failed ? "incomplete" : "ok";
  const exitCode = NIGHTLY_EXIT[status === "ok" ? "ok" : status];
  const summary = {
    command: "shard",
    shard: shardText,
    profile: requests[0].profile,
    store: flags.store,
    status,
    exitCode,
    tables,
    seconds: (performance.now() - t0) / 1000,
  };
  if (flags.json) printJson(summary);
  if (interrupted) {
    throw new CliError("interrupted; completed repeats are stored, rerun the shard to continue", exitCode);
  }
  if (failed) {
    const first = tables.flatMap((t) =>
      t.failed.map((f) => `${t.tableId} ${f.cellId}#${f.repeat}: ${f.error}`)
    )[0];
    throw new CliError(`shard ${shardText}: ${failed} repeat(s) failed; first: ${first}`, exitCode);
  }
}

interface FinishFlags extends NightlyFlags {
  store: string;
  out: string;
  previous?: string;
  history?: string;
  historyKeep: string;
  metric?: string;
  failOnRegression?: boolean;
  json?: boolean;
}

async function finishCommand(shardStores: string[], flags: FinishFlags): Promise<void> {
  const metric = parseMetric(flags.metric);
  const keep = parsePositiveInt(flags.historyKeep, "--history-keep");
  if (flags.previous !== undefined && !isFile(flags.previous)) {
    throw new CliError(`--previous ${flags.previous}: no such file`);
  }
  checkOutputDir(flags.out, "--out");
  if (flags.history !== undefined) checkOutputDir(flags.history, "--history");
  const requests = await nightRequests(flags, { store: flags.store });
  const profile = requests[0].profile;
  const specs = requests.map((r) => r.table);

  const merged = mergeStores(shardStores, flags.store);
  const rows = readAll(flags.store);
  const tables = requests.map((req) => {
    const missing = missingRepeats(req, rows);
    const planned = planShards([req], 1)[0].repeats;
    return { tableId: req.table.id, planned, stored: planned - missing.length, missing };
  });

  const written = await writeTableReports({
    tables: specs,
    profile,
    storePath: flags.store,
    outDir: flags.out,
  });
  for (const t of written.tables) note(`report: ${t.html}`);
  const metricOf = new Map(written.tables.map((t) => [t.tableId, metric ?? t.report.metric]));

  let comparison = null;
  if (flags.previous !== undefined) {
    comparison = await compareNights(flags.previous, rows, specs, profile, metricOf, flags.out);
    note(`comparison with ${flags.previous}: ${comparison.markdown}`);
  } else note("nightly: no --previous store; nothing compared");

  let history = null;
  if (flags.history !== undefined) {
    await addNight(flags.store, flags.history, keep);
    const stores = historyStores(flags.history);
    const h = await writeHistory(stores, specs, flags.out, { profile, metric, indexHref: "index.html" });
    history = { html: h.html, stores: stores.length, nights: h.history.nights.length };
    note(`history: ${h.html} (${h.history.nights.length} night(s))`);
  }

  const regressions = comparison?.regressions ?? [];
  const missing = tables.reduce((n, t) => n + t.missing.length, 0);
  const status = regressions.length ? "regression" : missing ? "incomplete" : "ok";
  const exitCode = regressions.length && flags.failOnRegression
    ? NIGHTLY_EXIT.regression
    : missing
    ? NIGHTLY_EXIT.incomplete
    : NIGHTLY_EXIT.ok;
  const summary = {
    command: "finish",
    status,
    exitCode,
    profile,
    store: flags.store,
    merged,
    tables,
    reports: {
      index: written.index.html,
      tables: written.tables.map((t) => ({ tableId: t.tableId, html: t.html, markdown: t.markdown })),
    },
    comparison,
    history,
  };
  const summaryPath = join(flags.out, "nightly.json");
  await writeTextFileAtomic(summaryPath, JSON.stringify(summary, null, 2) + "\n");
  if (flags.json) printJson(summary);
  else note(`summary: ${summaryPath}`);

  if (exitCode === NIGHTLY_EXIT.regression) {
    const named = regressions.slice(0, 5).map((r) => `${r.tableId} ${r.cellId} (${r.explanation})`);
    throw new CliError(
      `${regressions.length} regression(s) against the previous night: ${named.join("; ")}` +
        (regressions.length > named.length ? "; …" : ""),
      exitCode,
    );
  }
  if (exitCode === NIGHTLY_EXIT.incomplete) {
    const named = tables.flatMap((t) => t.missing.map((m) => `${t.tableId} ${m}`));
    throw new CliError(
      `the merged night lacks ${missing} planned repeat(s) (a shard failed or is missing): ` +
        named.slice(0, 5).join(", ") + (named.length > 5 ? ", …" : ""),
      exitCode,
    );
  }
}

/** Per table, `dd compare`'s judgement of the previous night against tonight (latest configurations). */
async function compareNights(
  previousPath: string,
  tonight: readonly CellRepeatResult[],
  specs: readonly TableSpec[],
  profile: Profile,
  metricOf: ReadonlyMap<string, MetricName>,
  outDir: string,
) {
  const previous = readAll(previousPath);
  const side = (rows: readonly CellRepeatResult[], tableId: string) =>
    selectLatest(rows.filter((r) => r.resolved.tableId === tableId && r.resolved.profile === profile));
  const commits = (rows: readonly CellRepeatResult[]) =>
    [...new Set(rows.map((r) => shortSha(r.provenance.gitSha)))].join(", ") || "none";
  const parts: { tableId: string; comparison: Comparison }[] = specs.map((s) => ({
    tableId: s.id,
    comparison: compareResults(side(previous, s.id), side(tonight, s.id), { metric: metricOf.get(s.id) }),
  }));
  const labels = { base: `previous night (${commits(previous)})`, head: `tonight (${commits(tonight)})` };
  const markdown = join(outDir, "comparison.md");
  const text = parts.map((p) => renderComparisonMarkdown(p.comparison, labels)).join("\n");
  await writeTextFileAtomic(markdown, text);
  const counts: Record<string, number> = {};
  for (const p of parts) {
    for (const [k, n] of Object.entries(p.comparison.counts)) counts[k] = (counts[k] ?? 0) + (n ?? 0);
  }
  return {
    previous: previousPath,
    previousCommits: [...new Set(previous.map((r) => r.provenance.gitSha))],
    markdown,
    counts,
    metrics: Object.fromEntries(parts.map((p) => [p.tableId, p.comparison.metric])),
    regressions: parts.flatMap((p) => p.comparison.rows.filter((r) => r.status === "regression")),
  };
}

async function historyCommand(
  stores: string[],
  flags: {
    out: string;
    tables?: string;
    profile?: string;
    metric?: string;
    spec?: string[];
    include?: string[];
    json?: boolean;
  },
): Promise<void> {
  const profile = flags.profile !== undefined ? parseProfile(flags.profile) : undefined;
  const metric = parseMetric(flags.metric);
  const cat = await catalog(flags);
  const ids = (flags.tables ?? "").split(",").map((t) => t.trim()).filter((t) => t.length > 0);
  let specs: TableSpec[];
  if (ids.length) {
    specs = await Promise.all(ids.map((id) => findTableOrFail(cat, id)));
  } else {
    const inStores = new Set(stores.flatMap((s) => readAll(s).map((r) => r.resolved.tableId)));
    specs = cat.all().filter((t) => inStores.has(t.id));
    for (const id of inStores) {
      if (!cat.find(id)) {
        note(`skipping results of table "${id}": its spec is not known (pass --spec or --include)`);
      }
    }
    if (specs.length === 0) throw new CliError(`the stores hold no results of known tables`);
  }
  const { html, history } = await writeHistory(stores, specs, flags.out, { profile, metric });
  if (flags.json) {
    return printJson({ html, nights: history.nights, regressions: history.regressions });
  }
  console.log(`${html}: ${history.nights.length} night(s), ${history.regressions.length} regression(s)`);
}

function parseMetric(text: string | undefined): MetricName | undefined {
  if (text === undefined) return undefined;
  if (!(METRIC_NAMES as readonly string[]).includes(text)) {
    throw new CliError(`unknown metric "${text}"; expected one of ${METRIC_NAMES.join(", ")}`);
  }
  return text as MetricName;
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}
