/**
 * The shape of one finished cell repeat as the results store keeps it. Everything read back from a
 * store (or a JSON export) is re-validated against these schemas, so a hand-edited or foreign file
 * fails loudly instead of producing a wrong report.
 */
import { z } from "zod";
import { ResolvedCell } from "../experiments/resolved.ts";
import { Metrics } from "../evaluator/metrics.ts";

// A record is made of what the layers below define: the profile id and the resolved cell (experiments/),
// the evaluator's accuracies (evaluator/). Re-exported so readers of a store import one module.
export { Profile } from "../experiments/profiles.ts";
export { ResolvedCell, Substitution } from "../experiments/resolved.ts";
export { METRIC_NAMES, type MetricName, Metrics, metricValues } from "../evaluator/metrics.ts";

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
