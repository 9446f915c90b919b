/**
 * ddrepro's public API: table specs and profiles, the dataset/model/method registries, the runner,
 * the evaluator, the results store and verdicts, report generators and the engine's entry points.
 *
 * ```ts
 * import { findTable, runTable, writeReports, openStore } from "./mod.ts";
 * const table = findTable("igds/table1")!;
 * await runTable(table, { profile: "smoke", storePath: "results/store/results.db", artifactsDir: null });
 * ```
 */

// Specs, profiles, user specs
export {
  CellFields,
  CellSpec,
  Claimed,
  ClaimSpec,
  GridSpec,
  LabelRegime,
  MEASUREMENT_PROTOCOLS,
  ProtocolNote,
  Selection,
  TableFile,
  TableSpec,
} from "./experiments/schema.ts";
export { builtinTables, findTable } from "./experiments/registry.ts";
export {
  comparableWithPaper,
  DATASET_STAND_INS,
  type EpochRule,
  MODEL_STAND_INS,
  type ModelLimit,
  PROFILE_IDS,
  type ProfileDef,
  PROFILES,
} from "./experiments/profiles.ts";
export {
  type CellPlan,
  convnetDepthFor,
  type DatasetLoad,
  repeatsFor,
  resolveCell,
  type ResolveOptions,
  resolveTable,
} from "./experiments/resolve.ts";
export { scaleConfig } from "./experiments/budget.ts";
export { KNOBS, type Knobs, type MethodBudget } from "./methods/budget.ts";
export {
  checkBuiltinTables,
  crossCheck,
  loadSpecDir,
  loadSpecFile,
  MIN_CLASS_SIZE,
  parseSpec,
  SpecError,
  TableCatalog,
} from "./experiments/user_specs.ts";
export { parseTableFile } from "./experiments/spec_file.ts";

// Registries
export {
  type Availability,
  availability,
  type Dataset,
  DatasetError,
  type DatasetInfo,
  datasetInfo,
  listDatasets,
  loadDataset,
  type Split,
} from "./data/registry.ts";
export { createModel, getModel, type InputSpec, type ModelEntry, models } from "./models/registry.ts";
export { findMethod, getMethod, listMethods, notImplemented, PLANNED } from "./methods/registry.ts";
export { allMethods, cellMethod, tablesUsing } from "./experiments/methods.ts";
export type { DistillContext, DistillResult, MethodDef } from "./methods/types.ts";
export type { DistilledMeta, DistilledSet } from "./data/distilled.ts";
export { type ProgressReporter, silentProgress } from "./data/progress.ts";

// Runner
export { type RepeatFailure, type RunOptions, type RunSummary, runTable } from "./runner/run.ts";
export {
  type CellFilter,
  parseFilter,
  parseShard,
  planTable,
  type RunPlan,
  type Shard,
} from "./runner/plan.ts";
export { DistilledSetError, loadDistilledSet, saveDistilledSet } from "./runner/distilled_set.ts";
export { type DistillFn, distillStep, evalStep, type EvaluateFn } from "./runner/pipeline.ts";
export { DatasetPool, type PreparedData } from "./runner/datasets.ts";
export { codeVersionFor, codeVersionParts, methodModule } from "./runner/version.ts";
export {
  checkoutSources,
  LAYER_PATHS,
  NOT_NUMERIC,
  SAME_NUMBERS,
  SourceTree,
  trainingCodeVersion,
} from "./results/source_versions.ts";
export { changedLayers, CODE_LAYERS, parseCodeVersion, SHARED_LAYERS } from "./results/code_version.ts";
export { gitInfo, runEnvironment } from "./runner/provenance.ts";

// Evaluator
export { evaluate } from "./evaluator/evaluate.ts";
export type { CurvePoint, EvalRequest, EvalResult, HoldoutSplit } from "./evaluator/types.ts";
export { epochsFor, getProtocol, ProtocolConfig, protocolFor, PROTOCOLS } from "./evaluator/protocols.ts";
export { splitHoldout, withoutHoldout } from "./evaluator/holdout.ts";

// Results
export {
  CellRepeatResult,
  type MetricName,
  Metrics,
  Profile,
  Provenance,
  ResolvedCell,
  Substitution,
} from "./results/types.ts";
export { canonicalJson, contentKey, keyedCell, sha256Hex } from "./results/key.ts";
export { openStore, type ResultsStore, StoreError } from "./results/store.ts";
export {
  type CellVerdict,
  type ClaimVerdict,
  evaluateTable,
  selectLatest,
  type TableVerdict,
  type VerdictOptions,
} from "./results/verdicts.ts";

// Reports
export { buildTableReport, type TableReport, type TableReportInput } from "./reports/model.ts";
export { renderIndexMarkdown, renderTableMarkdown } from "./reports/markdown.ts";
export { renderIndexHtml, renderTableHtml } from "./reports/html.ts";
export { writeReports } from "./reports/write.ts";
export { imageGridPng } from "./data/png.ts";
export { compareResults, renderComparisonMarkdown } from "./reports/compare.ts";

// Engine entry points
export { backend, CpuBackend, setBackend, type Tensor, tensor, tidy, webgpuBackend } from "./engine/mod.ts";
export { readSafetensors, writeSafetensors } from "./engine/safetensors.ts";
