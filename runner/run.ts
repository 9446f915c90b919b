/**
 * Runs a table: plan cells × repeats, skip what the store already has (by content key), and for each
 * remaining repeat distil (method registry), save the set, evaluate, and commit one store row with
 * full provenance. Rows are only written for complete repeats: an interrupt (AbortSignal, Ctrl-C)
 * stops between or inside steps without writing, and a killed process loses nothing committed,
 * because each row is its own SQLite transaction. A rerun computes exactly the missing repeats.
 */
import { dirname, isAbsolute, relative, resolve } from "node:path";
import type { TableSpec } from "../experiments/schema.ts";
import type { ResolveOptions } from "../experiments/profiles.ts";
import type { Adapter, Artifact, CellRepeatResult, Profile } from "../results/types.ts";
import { canonicalJson, contentKey } from "../results/key.ts";
import { openStore } from "../results/store.ts";
import type { EvalResult } from "../evaluator/types.ts";
import { findMethod } from "../methods/registry.ts";
import {
  type CellFilter,
  parseFilter,
  type PlannedRepeat,
  planTable,
  type Shard,
  type SkippedCell,
} from "./plan.ts";
import { DatasetPool, type LoadFn, type PreparedData } from "./datasets.ts";
import {
  type AnyMethod,
  type DistillFn,
  distillKeyOf,
  distillStep,
  type DistillStepOutput,
  evalStep,
  type EvaluateFn,
} from "./pipeline.ts";
import { codeVersionFor } from "./version.ts";
import { type RunEnvironment, runEnvironment } from "./provenance.ts";
import { Eta, fmtDuration, statusReporter } from "./progress.ts";
import { defaultEvaluate, initWebGpu } from "./engine_setup.ts";

export interface RunOptions {
  profile: Profile;
  /** A CellFilter or its text form (see parseFilter). */
  filter?: CellFilter | string;
  shard?: Shard;
  storePath: string;
  /** Distilled sets (safetensors + PNG); null: do not save them. */
  artifactsDir: string | null;
  /** Injectable for tests; default evaluator/evaluate.ts. */
  evaluate?: EvaluateFn;
  /** Injectable for tests; default `method.distill(ctx)`. */
  distill?: DistillFn;
  /** Injectable for tests; default data/registry's loadDataset. */
  load?: LoadFn;
  /** Selects the compute backend and describes it; default WebGPU. Called only if something runs. */
  initBackend?: () => Promise<Adapter>;
  /** Injectable for tests; default git/Deno/hostname of this checkout. */
  environment?: RunEnvironment;
  resolve?: ResolveOptions;
  /** One line per finished repeat and per notable event (stderr in the CLI). */
  log?: (line: string) => void;
  /** Transient status (epoch progress): the CLI overwrites one terminal line, or logs it once a minute. */
  status?: (line: string) => void;
  signal?: AbortSignal;
  /** Plan and look up the store only: list the repeats that would run, run none. */
  dryRun?: boolean;
}

export interface RepeatFailure {
  cellId: string;
  repeat: number;
  error: string;
}

export interface RunSummary {
  tableId: string;
  profile: Profile;
  /** Runnable repeats in the whole plan (all shards). */
  total: number;
  /** Repeats owned by this shard. */
  planned: number;
  /** Owned repeats that were already in the store. */
  alreadyDone: number;
  /** Owned repeats not in the store when the run began (`cellId#repeat`, plan order): what it runs. */
  toRun: string[];
  /** Repeats computed and committed by this run. */
  completed: number;
  failed: RepeatFailure[];
  /** Cells that cannot run (not implemented, no data under `paper`, …). */
  skipped: SkippedCell[];
  interrupted: boolean;
  /** Keys of every owned repeat now in the store (done before or by this run), in plan order. */
  keys: string[];
  seconds: number;
}

interface Pending {
  item: PlannedRepeat;
  method: AnyMethod;
  codeVersion: string;
  data: PreparedData;
  key: string;
  /** Its evaluation's memo key (set, model, protocol, seed, test subset): shared by rows that share work. */
  work: string;
}

export async function runTable(table: TableSpec, opts: RunOptions): Promise<RunSummary> {
  const t0 = performance.now();
  const log = opts.log ?? ((l: string) => console.error(l));
  const filter = typeof opts.filter === "string" ? parseFilter(opts.filter) : opts.filter;
  const plan = planTable(table, opts.profile, { filter, shard: opts.shard, resolve: opts.resolve });
  const summary: RunSummary = {
    tableId: table.id,
    profile: opts.profile,
    total: plan.total,
    planned: plan.repeats.length,
    alreadyDone: 0,
    toRun: [],
    completed: 0,
    failed: [],
    skipped: plan.skipped,
    interrupted: false,
    keys: [],
    seconds: 0,
  };
  const store = openStore(opts.storePath);
  try {
    const pool = new DatasetPool(opts.load);
    const keyByIndex = new Map<number, string>();
    const pending: Pending[] = [];
    const stored: { key: string; work: string }[] = [];
    // Pass 1: content keys (these need each dataset's manifest hash) and what is already stored.
    for (const item of plan.repeats) {
      if (opts.signal?.aborted) break;
      const method = (opts.resolve?.findMethod ?? findMethod)(item.plan.resolved.method);
      if (!method) continue; // resolveCell made such cells not runnable
      const codeVersion = codeVersionFor(method);
      let data: PreparedData;
      try {
        data = await pool.prepare(item.plan.datasetLoad, item.plan.holdoutPerClass);
      } catch (e) {
        fail(summary, item, e, log);
        continue;
      }
      const key = contentKey(
        item.plan.resolved,
        item.repeat,
        item.seed,
        codeVersion,
        data.dataset.manifest.hash,
      );
      keyByIndex.set(item.index, key);
      const work = evalMemoKey(item, method, codeVersion, data);
      if (store.has(key)) {
        summary.alreadyDone++;
        stored.push({ key, work });
      } else pending.push({ item, method, codeVersion, data, key, work });
    }
    log(
      `${table.id} @ ${opts.profile}` + (opts.shard ? ` shard ${opts.shard.k}/${opts.shard.n}` : "") +
        `: ${plan.repeats.length} repeat(s) planned, ${summary.alreadyDone} already in the store, ` +
        `${pending.length} to run; ${plan.skipped.length} cell(s) not runnable`,
    );
    summary.toRun = pending.map((p) => `${p.item.plan.resolved.cellId}#${p.item.repeat}`);
    if (opts.dryRun) {
      for (const p of pending) {
        const c = p.item.plan.resolved;
        const ipc = c.ipc === null ? "full data" : `ipc${c.ipc}`;
        log(`  would run ${c.cellId}#${p.item.repeat}: ${c.method} ${c.dataset} ${ipc} ${c.model}`);
      }
    }

    if (pending.length > 0 && !opts.signal?.aborted && !opts.dryRun) {
      const adapter = await (opts.initBackend ?? initWebGpu)();
      const env = opts.environment ?? await runEnvironment();
      const evaluate = opts.evaluate ?? defaultEvaluate;
      // One evaluation per (set, model, protocol, seed, test subset): table rows that differ only in a
      // model the profile substituted away evaluate to identical numbers anyway. Evaluations stored by an
      // earlier (e.g. killed) run seed the memo, so resuming does not redo them for the remaining rows.
      const evalMemo = new Map<string, EvalMemo>();
      for (const s of stored) {
        const row = evalMemo.has(s.work) ? undefined : store.get(s.key);
        if (row) evalMemo.set(s.work, { metrics: row.metrics, seconds: row.provenance.evalSeconds });
      }
      const work = new Set(pending.filter((p) => !evalMemo.has(p.work)).map((p) => p.work));
      const eta = new Eta(pending.length, work.size);
      for (const p of pending) {
        if (opts.signal?.aborted) break;
        try {
          const row = await runRepeat(
            p,
            { ...opts, evaluate, adapter, env, evalMemo, storePath: store.path },
            eta,
          );
          opts.signal?.throwIfAborted();
          store.put(row.result);
          summary.completed++;
          eta.done(row.seconds, !row.reused);
          log(describe(p, row.result, row.reused, eta));
        } catch (e) {
          if (opts.signal?.aborted) break;
          eta.done(0, false);
          fail(summary, p.item, e, log);
        }
      }
    }
    summary.interrupted = opts.signal?.aborted ?? false;
    if (summary.interrupted) log(`interrupted: nothing partial was written; rerun to continue`);
    for (const item of plan.repeats) {
      const k = keyByIndex.get(item.index);
      if (k !== undefined && store.has(k)) summary.keys.push(k);
    }
  } finally {
    store.close();
  }
  summary.seconds = (performance.now() - t0) / 1000;
  return summary;
}

interface RepeatContext extends RunOptions {
  evaluate: EvaluateFn;
  adapter: Adapter;
  env: RunEnvironment;
  evalMemo: Map<string, EvalMemo>;
}

/** What an evaluation depends on; rows with equal keys share one. */
type EvalMemo = Pick<EvalResult, "metrics" | "seconds">;

function evalMemoKey(
  item: PlannedRepeat,
  method: AnyMethod,
  codeVersion: string,
  data: PreparedData,
): string {
  const { plan, seed } = item;
  const r = plan.resolved;
  const set = distillKeyOf({
    method,
    codeVersion,
    data,
    datasetLoad: plan.datasetLoad,
    ipc: r.ipc ?? 0,
    seed,
    config: r.methodConfig,
    profile: r.profile,
  });
  return canonicalJson({
    set,
    model: r.model,
    protocol: plan.protocol,
    seed,
    testLimit: plan.testLimit ?? null,
  });
}

async function runRepeat(
  p: Pending,
  ctx: RepeatContext,
  eta: Eta,
): Promise<{ result: CellRepeatResult; seconds: number; reused: boolean }> {
  const { plan, repeat, seed } = p.item;
  const r = plan.resolved;
  const started = new Date();
  const t0 = performance.now();
  const label = `[${eta.count + 1}/${eta.total}] ${r.cellId}#${repeat}`;
  const distilled: DistillStepOutput = await distillStep({
    method: p.method,
    codeVersion: p.codeVersion,
    data: p.data,
    datasetLoad: plan.datasetLoad,
    ipc: r.ipc ?? 0,
    seed,
    config: r.methodConfig,
    profile: r.profile,
    artifactsDir: ctx.artifactsDir,
    distill: ctx.distill,
    progress: statusReporter(`${label} distill`, ctx.status),
    signal: ctx.signal,
  });
  ctx.signal?.throwIfAborted();
  let evaluated = ctx.evalMemo.get(p.work);
  const evalReused = evaluated !== undefined;
  if (!evaluated) {
    evaluated = await evalStep({
      set: distilled.set,
      data: p.data,
      model: r.model,
      protocol: plan.protocol,
      seed,
      testLimit: plan.testLimit,
      evaluate: ctx.evaluate,
      progress: statusReporter(`${label} eval ${r.model}`, ctx.status),
      signal: ctx.signal,
    });
    ctx.evalMemo.set(p.work, evaluated);
  }
  const finished = new Date();
  const wall = (performance.now() - t0) / 1000;
  const result: CellRepeatResult = {
    key: p.key,
    resolved: r,
    repeat,
    seed,
    codeVersion: p.codeVersion,
    datasetManifestHash: p.data.dataset.manifest.hash,
    metrics: evaluated.metrics,
    distillMetrics: finiteOnly(distilled.metrics),
    artifact: distilled.artifact ? storeRelative(distilled.artifact, ctx.storePath) : null,
    provenance: {
      gitSha: ctx.env.git.sha,
      gitDirty: ctx.env.git.dirty,
      denoVersion: ctx.env.denoVersion,
      adapter: ctx.adapter,
      seed,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      wallSeconds: wall,
      // What producing these numbers cost, also when this run reused the set or the evaluation.
      distillSeconds: distilled.seconds,
      evalSeconds: evaluated.seconds,
      hostname: ctx.env.hostname,
    },
  };
  return { result, seconds: wall, reused: distilled.reused && evalReused };
}

/** Artifact paths relative to the store's folder when inside it, so a moved store keeps its links. */
/** Artifacts inside the store's folder are recorded relative to it (the pair moves together); others absolute. */
function storeRelative(a: Artifact, storePath: string): Artifact {
  const rel = relative(dirname(storePath), a.path);
  return { ...a, path: rel.startsWith("..") || isAbsolute(rel) ? resolve(a.path) : rel };
}

function finiteOnly(m: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(m).filter(([, v]) => Number.isFinite(v)));
}

function fail(summary: RunSummary, item: PlannedRepeat, e: unknown, log: (l: string) => void): void {
  const error = e instanceof Error ? e.message : String(e);
  summary.failed.push({ cellId: item.plan.resolved.cellId, repeat: item.repeat, error });
  log(`FAILED ${item.plan.resolved.cellId}#${item.repeat}: ${error}`);
}

function describe(p: Pending, r: CellRepeatResult, reused: boolean, eta: Eta): string {
  const c = r.resolved;
  const m = r.metrics;
  const what = `${c.method} ${c.dataset} ${c.ipc === null ? "full" : `ipc${c.ipc}`} ${c.model}`;
  const times = reused
    ? "reused"
    : `distill ${fmtDuration(r.provenance.distillSeconds)} eval ${fmtDuration(r.provenance.evalSeconds)}`;
  return `[${eta.label()}] ${c.cellId}#${p.item.repeat} ${what}: ${m.lastTestAcc.toFixed(2)}% ` +
    `(holdout-selected ${m.testAccAtBestHoldout.toFixed(2)}%) ${times}`;
}
