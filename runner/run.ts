/**
 * Runs a table: plan cells × repeats, skip what the store already has (by content key), and for each
 * remaining repeat distil (method registry), save the set, evaluate, and commit one store row with
 * full provenance. Rows are only written for complete repeats: an interrupt (AbortSignal, Ctrl-C)
 * stops between or inside steps without writing, and a killed process loses nothing committed,
 * because each row is its own SQLite transaction. A rerun computes exactly the missing repeats.
 */
import { dirname, isAbsolute, relative, resolve } from "node:path";
import type { TableSpec } from "../experiments/schema.ts";
import type { ResolveOptions } from "../experiments/resolve.ts";
import type { Adapter, Artifact, CellRepeatResult, Profile } from "../results/types.ts";
import { canonicalJson, contentKey, sha256Hex } from "../results/key.ts";
import { openStore, type ResultsStore } from "../results/store.ts";
import { type LeaseHolder, type LeaseOwner, leaseOwner } from "../results/lease.ts";
import type { EvalResult } from "../evaluator/types.ts";
import { cellMethod } from "../experiments/methods.ts";
import {
  type CellFilter,
  parseFilter,
  type PlannedRepeat,
  planTable,
  type Shard,
  type SkippedCell,
} from "./plan.ts";
import { DatasetPool, type LoadFn, type PreparedData } from "./datasets.ts";
import type { AnyMethod } from "../methods/types.ts";
import {
  type DistillFn,
  distillKeyOf,
  distillStep,
  type DistillStepInput,
  type DistillStepOutput,
  evalStep,
  type EvaluateFn,
} from "./pipeline.ts";
import { codeVersionFor } from "./version.ts";
import { type RunEnvironment, runEnvironment } from "./provenance.ts";
import { Eta, statusReporter } from "./progress.ts";
import { fmtDuration } from "../data/progress.ts";
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
  /** Lease timing for runs sharing a store (tests shorten it). */
  leases?: Partial<LeaseSettings>;
}

export interface LeaseSettings {
  /** A lease not renewed for this long is free for another process to take. */
  ttlMs: number;
  /** How often a working process renews its leases. */
  renewMs: number;
  /** How often a process waiting for another's work looks again. */
  pollMs: number;
}

/**
 * A crashed process on another host blocks its work for at most five minutes (on this host, until its pid
 * is gone); renewing every 30 s leaves room for a busy event loop.
 */
export const DEFAULT_LEASES: LeaseSettings = { ttlMs: 5 * 60_000, renewMs: 30_000, pollMs: 5_000 };

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
  /** Repeats it was going to run that another process sharing the store committed first. */
  doneElsewhere: number;
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
    doneElsewhere: 0,
    failed: [],
    skipped: plan.skipped,
    interrupted: false,
    keys: [],
    seconds: 0,
  };
  // The store is created only when a repeat is about to be computed: a dry run, or a run that fails
  // before computing anything, leaves no file behind.
  let store: ResultsStore | null = isFile(opts.storePath) ? openStore(opts.storePath) : null;
  try {
    const pool = new DatasetPool(opts.load);
    const keyByIndex = new Map<number, string>();
    const pending: Pending[] = [];
    const stored: { key: string; work: string }[] = [];
    // Pass 1: content keys (these need each dataset's manifest hash) and what is already stored.
    for (const item of plan.repeats) {
      if (opts.signal?.aborted) break;
      const method = (opts.resolve?.findMethod ?? cellMethod)(item.plan.resolved.method);
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
      if (store?.has(key)) {
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
    // Rows stored before the store indexed evaluations get their names now, for other tables to share.
    if (store && stored.length > 0 && !opts.dryRun) {
      try {
        store.nameEvaluations(stored.map((s) => [evaluationId(s.work), s.key]));
      } catch (e) {
        log(`the store's evaluation index was not updated (${e instanceof Error ? e.message : e})`);
      }
    }
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
      store ??= openStore(opts.storePath);
      // One evaluation per (set, model, protocol, seed, test subset): table rows that differ only in a
      // model the profile substituted away evaluate to identical numbers anyway. Evaluations stored by an
      // earlier (e.g. killed) run seed the memo, so resuming does not redo them for the remaining rows.
      // Rows of other tables in this store that name the same evaluation count too.
      const evalMemo = new Map<string, EvalMemo>();
      for (const s of stored) {
        const row = evalMemo.has(s.work) ? undefined : store.get(s.key);
        if (row) evalMemo.set(s.work, memoOf(row));
      }
      for (const p of pending) {
        const found = evalMemo.has(p.work) ? undefined : storedEvaluation(store, p);
        if (found) evalMemo.set(p.work, found);
      }
      const work = new Set(pending.filter((p) => !evalMemo.has(p.work)).map((p) => p.work));
      const eta = new Eta(pending.length, work.size);
      const ctx: RepeatContext = {
        ...opts,
        evaluate,
        adapter,
        env,
        evalMemo,
        storePath: store.path,
        store,
        owner: leaseOwner(),
        lease: { ...DEFAULT_LEASES, ...opts.leases },
        log,
      };
      await runPending(pending, ctx, eta, summary);
    }
    summary.interrupted = opts.signal?.aborted ?? false;
    if (summary.interrupted) log(`interrupted: nothing partial was written; rerun to continue`);
    for (const item of plan.repeats) {
      const k = keyByIndex.get(item.index);
      if (k !== undefined && store?.has(k)) summary.keys.push(k);
    }
  } finally {
    store?.close();
  }
  summary.seconds = (performance.now() - t0) / 1000;
  return summary;
}

/**
 * Computes the pending repeats. Rows that share an evaluation are one unit of work, leased in the store
 * before it is computed (results/lease.ts): a unit another live process holds is put aside and retried after
 * the rest, until that process has committed its rows (they are then skipped) or its lease lapsed (the unit is
 * taken over). The leases are renewed while this process works and released when it stops.
 */
async function runPending(pending: Pending[], ctx: RepeatContext, eta: Eta, summary: RunSummary) {
  const { store, owner, lease, signal } = ctx;
  const renew = setInterval(() => {
    try {
      store.renewLeases(owner, lease.ttlMs);
    } catch { /* the store is busy: the next tick retries well before the lease runs out */ }
  }, lease.renewMs);
  Deno.unrefTimer(renew);
  try {
    let queue = groupBy(pending, (p) => p.work);
    let lastWait = "";
    while (queue.length > 0 && !signal?.aborted) {
      const held: { group: Pending[]; holder: LeaseHolder }[] = [];
      for (const group of queue) {
        if (signal?.aborted) break;
        const key = `eval:${evaluationId(group[0].work)}`;
        const claim = store.claim(key, owner, lease.ttlMs);
        if (!claim.claimed) {
          held.push({ group, holder: claim.holder });
          continue;
        }
        try {
          for (const p of group) {
            if (signal?.aborted) break;
            await runOne(p, ctx, eta, summary);
          }
        } finally {
          store.releaseLeases(owner, key);
        }
      }
      if (held.length === 0 || signal?.aborted) break;
      const holders = [...new Set(held.map((h) => describeHolder(h.holder)))];
      const line = `waiting for ${held.reduce((n, h) => n + h.group.length, 0)} repeat(s) that ` +
        `${holders.slice(0, 3).join(", ")}${holders.length > 3 ? ", …" : ""} ` +
        `${holders.length > 1 ? "are" : "is"} computing`;
      if (line !== lastWait) ctx.log(line);
      lastWait = line;
      await sleep(lease.pollMs, signal);
      queue = held.map((h) => h.group);
    }
  } finally {
    clearInterval(renew);
    store.releaseLeases(owner);
  }
}

/** One leased repeat: skipped if another process committed it meanwhile, else computed and committed. */
async function runOne(p: Pending, ctx: RepeatContext, eta: Eta, summary: RunSummary): Promise<void> {
  if (ctx.store.has(p.key)) {
    summary.doneElsewhere++;
    eta.done(0, false);
    return;
  }
  try {
    const row = await runRepeat(p, ctx, eta);
    ctx.signal?.throwIfAborted();
    ctx.store.put(row.result, evaluationId(p.work));
    summary.completed++;
    eta.done(row.seconds, !row.reused);
    ctx.log(describe(p, row.result, row.reused, eta));
  } catch (e) {
    if (ctx.signal?.aborted) return;
    eta.done(0, false);
    fail(summary, p.item, e, ctx.log);
  }
}

function describeHolder(h: LeaseHolder): string {
  return `pid ${h.pid} on ${h.host} (lease until ${new Date(h.expiresAt).toISOString().slice(11, 19)} UTC)`;
}

/** Groups in order of their first member. */
function groupBy<T>(items: readonly T[], key: (x: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const x of items) {
    const k = key(x);
    const g = groups.get(k);
    if (g) g.push(x);
    else groups.set(k, [x]);
  }
  return [...groups.values()];
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

interface RepeatContext extends RunOptions {
  evaluate: EvaluateFn;
  adapter: Adapter;
  env: RunEnvironment;
  evalMemo: Map<string, EvalMemo>;
  store: ResultsStore;
  owner: LeaseOwner;
  lease: LeaseSettings;
  log: (line: string) => void;
}

/** Runs `body` holding lease `key`, first waiting (polling) while another live process holds it. */
async function whileLeased<T>(
  key: string,
  ctx: RepeatContext,
  label: string,
  body: () => Promise<T>,
): Promise<T> {
  for (;;) {
    ctx.signal?.throwIfAborted();
    const claim = ctx.store.claim(key, ctx.owner, ctx.lease.ttlMs);
    if (claim.claimed) break;
    ctx.status?.(`${label}: waiting for ${describeHolder(claim.holder)}, which is making this set`);
    await sleep(ctx.lease.pollMs, ctx.signal);
  }
  try {
    return await body();
  } finally {
    ctx.store.releaseLeases(ctx.owner, key);
  }
}

/** What an evaluation depends on; rows with equal keys share one. */
type EvalMemo = Pick<EvalResult, "metrics" | "seconds">;

/** A stored row's evaluation: its numbers and what computing them cost. */
const memoOf = (row: CellRepeatResult): EvalMemo => ({
  metrics: row.metrics,
  seconds: row.provenance.evalSeconds,
});

/** The name the store indexes an evaluation by (its memo key's hash). */
const evaluationId = (work: string): string => sha256Hex(work);

/**
 * The numbers of a row (of any table) that names this repeat's evaluation, if the store has one. The index is
 * data of the store: a row that does not agree with the repeat (seed, code, dataset, model) is not taken.
 */
function storedEvaluation(store: ResultsStore, p: Pending): EvalMemo | undefined {
  const row = store.byEvaluation(evaluationId(p.work));
  if (row === undefined) return undefined;
  const [a, b] = [row.resolved, p.item.plan.resolved];
  const agrees = row.seed === p.item.seed && row.codeVersion === p.codeVersion &&
    row.datasetManifestHash === p.data.dataset.manifest.hash && a.method === b.method && a.ipc === b.ipc &&
    a.model === b.model && a.profile === b.profile &&
    canonicalJson(a.methodConfig) === canonicalJson(b.methodConfig);
  return agrees ? memoOf(row) : undefined;
}

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
  const input: DistillStepInput = {
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
  };
  // Saved sets are shared between processes: one distils a set while the others wait for its file.
  const distilled: DistillStepOutput = ctx.artifactsDir === null
    ? await distillStep(input)
    : await whileLeased(`distill:${distillKeyOf(input)}`, ctx, `${label} distill`, () => distillStep(input));
  ctx.signal?.throwIfAborted();
  // Another process may have committed this evaluation (for any table) while this one waited for its lease.
  let evaluated = ctx.evalMemo.get(p.work) ?? storedEvaluation(ctx.store, p);
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
