/**
 * The shape of one finished cell repeat as the results store keeps it. Everything read back from a
 * store (or a JSON export) is re-validated against these schemas, so a hand-edited or foreign file
 * fails loudly instead of producing a wrong report.
 */
import { z } from "zod";
import { LabelRegime } from "../experiments/schema.ts";

/**
 * How faithfully a run follows the paper. Only `paper` is comparable with the printed numbers; the
 * others shrink epochs/iterations/repeats so that a table can run on a laptop (or in CI for `smoke`).
 */
export const Profile = z.enum(["smoke", "quick", "proxy", "paper"]);
export type Profile = z.infer<typeof Profile>;

/** A deliberate departure from the paper's setting, always shown in reports. */
export const Substitution = z.object({
  /** Which field was changed, e.g. "dataset", "model", "ipc", "protocol.epochs". */
  field: z.string().min(1),
  /** The paper's value and the value actually used (numbers allowed for ipc/epochs). */
  from: z.union([z.string(), z.number()]),
  to: z.union([z.string(), z.number()]),
  /** Why, e.g. "ImageWoof is not available offline". */
  reason: z.string().min(1),
}).strict();
export type Substitution = z.infer<typeof Substitution>;

/**
 * A cell after the profile and substitutions have been applied: exactly what ran. `dataset`,
 * `model`, … are the effective values; the paper's originals are recoverable from `substitutions`.
 */
export const ResolvedCell = z.object({
  tableId: z.string().min(1),
  cellId: z.string().min(1),
  method: z.string().min(1),
  dataset: z.string().min(1),
  /** null for "full dataset" rows, as in CellSpec. */
  ipc: z.number().int().positive().nullable(),
  model: z.string().min(1),
  protocol: z.string().min(1),
  labels: LabelRegime,
  profile: Profile,
  methodConfig: z.record(z.string(), z.unknown()),
  protocolConfig: z.record(z.string(), z.unknown()),
  substitutions: z.array(Substitution),
}).strict();
export type ResolvedCell = z.infer<typeof ResolvedCell>;

const Percent = z.number().min(0).max(100);

/** Evaluator accuracies, in percent. */
export const Metrics = z.object({
  /** Test accuracy after the last training epoch (the standard DD protocol). */
  lastTestAcc: Percent,
  /** Best accuracy on a held-out split of the training data, over epochs. */
  bestHoldoutAcc: Percent,
  /** Test accuracy at the epoch picked by `bestHoldoutAcc`: an honest "best epoch" number. */
  testAccAtBestHoldout: Percent,
  /**
   * Max test accuracy over epochs. Optimistic; only "as published" for papers that report the max.
   * Present only when the protocol tested every evaluation point (`testCurve`).
   */
  bestTestAcc: Percent.optional(),
}).strict();
export type Metrics = z.infer<typeof Metrics>;
export type MetricName = keyof Metrics;
/**
 * The values of `metric` over `results`, skipping results that did not measure it (`bestTestAcc` exists
 * only where the protocol tested every evaluation point).
 */
export function metricValues(results: readonly { metrics: Metrics }[], metric: MetricName): number[] {
  return results.flatMap((r) => r.metrics[metric] ?? []);
}

export const METRIC_NAMES: readonly MetricName[] = [
  "lastTestAcc",
  "bestHoldoutAcc",
  "testAccAtBestHoldout",
  "bestTestAcc",
];

const Seconds = z.number().nonnegative();

export const Adapter = z.object({
  vendor: z.string(),
  architecture: z.string(),
  description: z.string(),
  /** e.g. "vulkan", "metal", "cpu-reference". */
  backend: z.string().optional(),
  /** "spec": the device was opened with WebGPU's minimum limits (DD_WEBGPU_LIMITS=spec). */
  limits: z.enum(["adapter", "spec"]).optional(),
}).strict();
export type Adapter = z.infer<typeof Adapter>;

/** Where and how a repeat ran: enough to tell two numbers apart months later. */
export const Provenance = z.object({
  gitSha: z.string(),
  gitDirty: z.boolean(),
  denoVersion: z.string(),
  adapter: Adapter,
  seed: z.number().int(),
  startedAt: z.iso.datetime({ offset: true }),
  finishedAt: z.iso.datetime({ offset: true }),
  wallSeconds: Seconds,
  distillSeconds: Seconds,
  evalSeconds: Seconds,
  hostname: z.string(),
}).strict();
export type Provenance = z.infer<typeof Provenance>;

export const Artifact = z.object({
  /** Relative to the store's directory or absolute; the report only displays it. */
  path: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "lower-case hex sha256"),
}).strict();
export type Artifact = z.infer<typeof Artifact>;

export const CellRepeatResult = z.object({
  /** contentKey(resolved, repeat, seed, codeVersion, datasetManifestHash); see results/key.ts. */
  key: z.string().regex(/^[0-9a-f]{64}$/, "lower-case hex sha256"),
  resolved: ResolvedCell,
  /** 0-based repeat index within the cell. */
  repeat: z.number().int().nonnegative(),
  seed: z.number().int(),
  /** Method/kernel version string: bump it and every cell the change affects gets a new key. */
  codeVersion: z.string().min(1),
  /** Hash of the dataset files actually read, so a changed/substituted dataset gets a new key. */
  datasetManifestHash: z.string().min(1),
  metrics: Metrics,
  /** Method-specific numbers from distillation (final loss, iterations, …). */
  distillMetrics: z.record(z.string(), z.number()),
  /** The distilled set, when it was saved. */
  artifact: Artifact.nullable(),
  provenance: Provenance,
}).strict();
export type CellRepeatResult = z.infer<typeof CellRepeatResult>;
