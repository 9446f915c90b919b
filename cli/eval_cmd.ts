/**
 * `dd eval`, `dd distill` and `dd cmi`: one set, outside any table. Both resolve a one-cell table through the
 * same profile rules as `dd run` and use the runner's distill/evaluate steps, so a number printed here
 * is the number a table run would store.
 */
import type { TableSpec } from "../experiments/schema.ts";
import { PROFILES } from "../experiments/profiles.ts";
import { type CellPlan, resolveCell, type ResolveOptions } from "../experiments/resolve.ts";
import { availability, datasetInfo } from "../data/registry.ts";
import { getMethod } from "../methods/registry.ts";
import { cellMethod } from "../experiments/methods.ts";
import type { MethodDef } from "../methods/types.ts";
import type { DistilledSet } from "../data/distilled.ts";
import { DatasetPool } from "../runner/datasets.ts";
import { distillStep, evalStep, gridPathFor, saveWithGrid } from "../runner/pipeline.ts";
import { fitSetToDataset, loadDistilledSet } from "../runner/distilled_set.ts";
import { codeVersionFor } from "../runner/version.ts";
import { defaultEvaluate, initWebGpu } from "../runner/engine_setup.ts";
import { statusReporter, stderrStatus } from "../runner/progress.ts";
import { summarize } from "../results/stats.ts";
import { METRIC_NAMES, type Metrics, metricValues, type Profile } from "../results/types.ts";
import {
  checkOutputFile,
  checkOverrides,
  CliError,
  note,
  parseAssignments,
  parseNonNegativeInt,
  parsePositiveInt,
  parseProfile,
  printJson,
  say,
} from "./common.ts";
import { withInterrupt } from "./run_cmd.ts";
import { CmiConfig, measureCmi, splitConfig } from "../methods/cmi.ts";

function checkDataset(id: string): void {
  try {
    datasetInfo(id);
  } catch (e) {
    throw new CliError(e instanceof Error ? e.message : String(e));
  }
  const a = availability(id);
  if (!a.available) throw new CliError(`dataset "${id}" is not available: ${a.reason}`);
}

/** A one-cell table for the CLI, resolved like any table cell. */
function resolveOne(
  cell: { method: string; dataset: string; ipc: number | null; model: string; protocol: string },
  profile: Profile,
  config: Record<string, unknown>,
  method?: MethodDef<Record<string, unknown>>,
  overrides?: ResolveOptions["overrides"],
  evalEpochs?: number,
): CellPlan {
  const table: TableSpec = {
    id: "cli/one-off",
    paper: "cli",
    source: "dd command line",
    table: "one-off",
    caption: "",
    protocol: { evaluator: cell.model, selection: "final", repeats: null, details: "" },
    cells: [],
    claims: [],
  };
  const spec = { id: "cli", ...cell, labels: "hard" as const, claimed: null, config };
  const plan = resolveCell(table, spec, profile, {
    overrides,
    ...(evalEpochs !== undefined ? { evalEpochs } : {}),
    ...(method ? { findMethod: () => method } : {}),
  });
  if (!plan.runnable) throw new CliError(plan.reason ?? "cannot run");
  return plan;
}

/** The profile's changes, for the user to see (the paper profile only holds out the holdout split). */
function printSubstitutions(plan: CellPlan): void {
  for (const s of plan.resolved.substitutions) note(`note: ${s.field} ${s.from} → ${s.to} (${s.reason})`);
}

export interface EvalFlags {
  dataset: string;
  set: string;
  ipc?: string;
  model: string;
  protocol: string;
  repeats: string;
  profile: string;
  seed: string;
  evalEpochs?: string;
  /** Resample a set of another image size to the dataset's (recorded as a substitution). */
  resize?: boolean;
  json?: boolean;
}

/** Stand-in "method" for a set read from a file: resolution only needs an implemented, config-less method. */
const fileMethod: MethodDef<Record<string, unknown>> = {
  ...getMethod("random"),
  id: "set-file",
  description: "a distilled set read from a file",
};

export async function evalCommand(flags: EvalFlags): Promise<void> {
  const profile = parseProfile(flags.profile);
  const repeats = parsePositiveInt(flags.repeats, "--repeats");
  const seed = parseNonNegativeInt(flags.seed, "--seed");
  checkDataset(flags.dataset);
  const random = flags.set === "random";
  if (random && flags.ipc === undefined) throw new CliError("--set random needs --ipc");
  const ipcArg = flags.ipc !== undefined ? parsePositiveInt(flags.ipc, "--ipc") : undefined;
  const evalEpochs = flags.evalEpochs !== undefined
    ? parsePositiveInt(flags.evalEpochs, "--eval-epochs")
    : undefined;

  // A file's IPC comes from the file; resolution needs one only for the protocol's epochs.
  let fileSet: DistilledSet | undefined;
  if (!random) {
    const info = datasetInfo(flags.dataset);
    fileSet = await loadDistilledSet(flags.set, { dataset: flags.dataset, mean: info.mean, std: info.std })
      .catch((e) => {
        throw new CliError(e instanceof Error ? e.message : String(e));
      });
    if (fileSet.meta.dataset !== flags.dataset) {
      throw new CliError(`${flags.set} was distilled from ${fileSet.meta.dataset}, not ${flags.dataset}`);
    }
  }
  const ipc = ipcArg ?? (fileSet ? Math.max(1, fileSet.meta.ipc) : 1);
  const plan = resolveOne(
    {
      method: random ? "random" : "set-file",
      dataset: flags.dataset,
      ipc,
      model: flags.model,
      protocol: flags.protocol,
    },
    profile,
    {},
    random ? undefined : fileMethod,
    undefined,
    evalEpochs,
  );
  if (plan.resolved.dataset !== flags.dataset) {
    throw new CliError(`dataset "${flags.dataset}" is not available`);
  }
  if (fileSet) {
    const fitted = fitSetToDataset(fileSet, flags.set, plan.datasetLoad, { resize: flags.resize ?? false });
    fileSet = fitted.set;
    if (fitted.substitution) plan.resolved.substitutions.push(fitted.substitution);
  }
  printSubstitutions(plan);

  const adapter = await initWebGpu();
  note(`adapter: ${adapter.vendor} ${adapter.description} [${adapter.backend}]`);
  const data = await new DatasetPool().prepare(plan.datasetLoad, plan.holdoutPerClass);
  const status = stderrStatus();
  let set: DistilledSet;
  if (fileSet) {
    set = fileSet;
  } else {
    const method = getMethod("random");
    set = (await distillStep({
      method,
      codeVersion: codeVersionFor(method),
      data,
      datasetLoad: plan.datasetLoad,
      ipc,
      seed,
      config: {},
      profile,
      artifactsDir: null,
    })).set;
  }
  const runs = await withInterrupt(async (signal) => {
    const out: { seed: number; metrics: Metrics; seconds: number; epochs: number }[] = [];
    for (let r = 0; r < repeats; r++) {
      const res = await evalStep({
        set,
        data,
        model: plan.resolved.model,
        protocol: plan.protocol,
        seed: r,
        testLimit: plan.testLimit,
        evaluate: defaultEvaluate,
        progress: statusReporter(`repeat ${r + 1}/${repeats}`, status),
        signal,
      });
      status("");
      note(
        `repeat ${r + 1}/${repeats} (seed ${r}): ${res.metrics.lastTestAcc.toFixed(2)}% in ${
          res.seconds.toFixed(1)
        }s`,
      );
      out.push({ seed: r, metrics: res.metrics, seconds: res.seconds, epochs: res.epochs });
    }
    return out;
  }).catch((e) => {
    if (e instanceof DOMException && e.name === "AbortError") throw new CliError("interrupted", 130);
    throw e;
  });

  const summary = Object.fromEntries(METRIC_NAMES.flatMap((m) => {
    const values = metricValues(runs, m);
    if (values.length === 0) return []; // bestTestAcc without the protocol's testCurve
    const s = summarize(values);
    return [[m, { mean: s.mean, std: s.std }]];
  }));
  if (flags.json) {
    printJson({
      dataset: flags.dataset,
      set: random ? { kind: "random", ipc, seed } : { kind: "file", path: flags.set, ipc: set.meta.ipc },
      model: plan.resolved.model,
      protocol: plan.protocol,
      profile,
      substitutions: plan.resolved.substitutions,
      adapter,
      repeats: runs,
      summary,
    });
    return;
  }
  const last = summary.lastTestAcc, sel = summary.testAccAtBestHoldout;
  const pm = (x: { mean: number; std: number | null }) => `${x.mean.toFixed(2)} ± ${(x.std ?? 0).toFixed(2)}`;
  say(
    `${flags.dataset} ${random ? `random IPC ${ipc} (seed ${seed})` : flags.set} → ${plan.resolved.model}, ` +
      `protocol ${flags.protocol} @ ${profile}, ${repeats} repeat(s)`,
  );
  say(`test accuracy (last epoch):          ${pm(last)} %`);
  say(`test accuracy (holdout-selected):    ${pm(sel)} %`);
  say(`per repeat (last epoch): ${runs.map((x) => x.metrics.lastTestAcc.toFixed(2)).join(", ")}`);
}

export interface DistillFlags {
  method: string;
  dataset: string;
  ipc: string;
  profile: string;
  seed: string;
  set?: string[];
  out: string;
  json?: boolean;
}

export async function distillCommand(flags: DistillFlags): Promise<void> {
  const profile = parseProfile(flags.profile);
  const ipc = parsePositiveInt(flags.ipc, "--ipc");
  const seed = parseNonNegativeInt(flags.seed, "--seed");
  const method = cellMethod(flags.method);
  if (!method) throw new CliError(`unknown method "${flags.method}" (see \`dd methods\`)`);
  if (!method.implemented) {
    throw new CliError(`method "${flags.method}" is not implemented: ${method.reason}`);
  }
  checkDataset(flags.dataset);
  const overrides = parseAssignments(flags.set ?? []);
  checkOverrides(method, overrides, flags.dataset, ipc);
  // Where the set goes is checked before distilling: a bad path must not cost the run, nor leave a PNG.
  const png = gridPathFor(flags.out);
  checkOutputFile(flags.out, "--out");
  checkOutputFile(png, "--out (its PNG grid)");
  const plan = resolveOne(
    { method: method.id, dataset: flags.dataset, ipc, model: "convnet3", protocol: "dc" },
    profile,
    {},
    undefined,
    { [method.id]: overrides },
  );
  for (const s of plan.resolved.substitutions.filter((s) => s.field.startsWith("method."))) {
    note(`note: ${s.field} ${s.from} → ${s.to} (${s.reason})`);
  }
  await initWebGpu();
  const data = await new DatasetPool().prepare(plan.datasetLoad, plan.holdoutPerClass);
  const status = stderrStatus();
  const out = await withInterrupt((signal) =>
    distillStep({
      method,
      codeVersion: codeVersionFor(method),
      data,
      datasetLoad: plan.datasetLoad,
      ipc,
      seed,
      config: plan.resolved.methodConfig,
      profile,
      artifactsDir: null,
      progress: statusReporter(`distill ${method.id}`, status),
      signal,
    })
  ).catch((e) => {
    if (e instanceof DOMException && e.name === "AbortError") throw new CliError("interrupted", 130);
    throw e;
  });
  status("");
  const { artifact } = await saveWithGrid(flags.out, out.set);
  if (flags.json) {
    printJson({
      out: flags.out,
      png,
      sha256: artifact.sha256,
      method: method.id,
      dataset: flags.dataset,
      ipc,
      seed,
      profile,
      config: plan.resolved.methodConfig,
      metrics: out.metrics,
      seconds: out.seconds,
      holdoutPerClass: PROFILES[profile].holdoutPerClass,
    });
    return;
  }
  say(
    `${method.id} ${flags.dataset} IPC ${ipc} seed ${seed} @ ${profile}: ${out.set.shape[0]} images in ` +
      `${out.seconds.toFixed(1)}s → ${flags.out} (+ ${png})`,
  );
  for (const [k, v] of Object.entries(out.metrics)) say(`  ${k}: ${v}`);
}

export interface CmiFlags {
  dataset: string;
  set: string[];
  base: string;
  profile: string;
  json?: boolean;
}

/**
 * `dd cmi`: the CMI value of distilled sets (CMI paper Tables 10–11: the value of any set, with or
 * without the regularizer), under the reference extractor (pool member 0) that `<base>+cmi` runs at
 * the same profile measure their cmiStart/cmiEnd with, so the numbers compare directly.
 */
export async function cmiCommand(flags: CmiFlags): Promise<void> {
  const profile = parseProfile(flags.profile);
  checkDataset(flags.dataset);
  const method = cellMethod(`${flags.base}+cmi`);
  if (!method?.implemented) {
    throw new CliError(`--base ${flags.base}: no implemented method "${flags.base}+cmi"`);
  }
  const info = datasetInfo(flags.dataset);
  const sets: DistilledSet[] = [];
  for (const file of flags.set) {
    const s = await loadDistilledSet(file, { dataset: flags.dataset, mean: info.mean, std: info.std }).catch(
      (e) => {
        throw new CliError(e instanceof Error ? e.message : String(e));
      },
    );
    if (s.meta.dataset !== flags.dataset) {
      throw new CliError(`${file} was distilled from ${s.meta.dataset}, not ${flags.dataset}`);
    }
    sets.push(s);
  }
  const ipc = Math.max(1, sets[0]?.meta.ipc ?? 1);
  const plan = resolveOne(
    { method: method.id, dataset: flags.dataset, ipc, model: "convnet3", protocol: "dc" },
    profile,
    {},
  );
  sets.forEach((s, i) => fitSetToDataset(s, flags.set[i], plan.datasetLoad));
  await initWebGpu();
  const data = await new DatasetPool().prepare(plan.datasetLoad, plan.holdoutPerClass);
  const cfg = CmiConfig.parse(splitConfig(plan.resolved.methodConfig as CmiConfig).cmi);
  const status = stderrStatus();
  const rows: { set: string; cmi: number }[] = [];
  for (const [i, s] of sets.entries()) {
    const cmi = await measureCmi(data.methodView, s, cfg, statusReporter("CMI extractor", status));
    rows.push({ set: flags.set[i], cmi });
  }
  status("");
  if (flags.json) printJson({ dataset: flags.dataset, profile, extractor: cfg.cmiExtractor, rows });
  else for (const r of rows) say(`${r.cmi.toFixed(6)}  ${r.set}`);
}
