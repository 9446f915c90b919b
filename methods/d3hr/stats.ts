/**
 * The per-class Gaussians of D³HR's noise domain (Sec. 4.3: mean and variance per latent dimension) as a
 * value, as a file, and the storage comparison of Sec. 6.7 / Fig. A2: the statistics (plus the generative
 * weights) regenerate a set of any IPC, while a stored set grows linearly with the IPC.
 */
import { readSafetensors, writeSafetensors } from "../../engine/safetensors.ts";

/** μ and σ² [classes, d] of the mapped latents of each class, and the latent shape [h, w, c] (NHWC). */
export interface ClassStats {
  mean: Float32Array;
  variance: Float32Array;
  classes: number;
  latentShape: [number, number, number];
  /** Real images each class's statistics were fitted on. */
  counts: Int32Array;
}

export const latentSize = (s: Pick<ClassStats, "latentShape">): number =>
  s.latentShape[0] * s.latentShape[1] * s.latentShape[2];

/**
 * Mean and unbiased variance per dimension (torch's mean/var, as the reference) of latents [count, d],
 * accumulated in float64.
 */
export function fitGaussian(
  latents: Float32Array,
  count: number,
  d: number,
): { mean: Float64Array; variance: Float64Array } {
  if (count < 2) throw new Error(`d3hr: a class Gaussian needs at least 2 latents, got ${count}`);
  if (latents.length !== count * d) throw new Error(`d3hr: ${latents.length} values are not ${count} × ${d}`);
  const mean = new Float64Array(d), m2 = new Float64Array(d);
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < d; j++) mean[j] += latents[i * d + j];
  }
  for (let j = 0; j < d; j++) mean[j] /= count;
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < d; j++) m2[j] += (latents[i * d + j] - mean[j]) ** 2;
  }
  return { mean, variance: m2.map((v) => v / (count - 1)) };
}

/** Writes the statistics (all a D³HR set needs besides the generative models) atomically. */
export async function saveClassStats(
  path: string,
  s: ClassStats,
  metadata: Readonly<Record<string, string>> = {},
): Promise<void> {
  const d = latentSize(s);
  await writeSafetensors(path, {
    mean: { dtype: "F32", shape: [s.classes, d], data: s.mean },
    variance: { dtype: "F32", shape: [s.classes, d], data: s.variance },
    counts: { dtype: "I32", shape: [s.classes], data: s.counts },
  }, { ...metadata, kind: "d3hr-class-stats", latentShape: JSON.stringify(s.latentShape) });
}

/** Reads statistics written by saveClassStats, validating shapes and values before use. */
export async function loadClassStats(
  path: string,
): Promise<{ stats: ClassStats; metadata: Record<string, string> }> {
  const f = await readSafetensors(path);
  const bad = (what: string) => new Error(`${path}: not D³HR class statistics (${what})`);
  if (f.metadata.kind !== "d3hr-class-stats") throw bad(`kind "${f.metadata.kind}"`);
  let shape: unknown;
  try {
    shape = JSON.parse(f.metadata.latentShape ?? "");
  } catch {
    throw bad("latentShape is not JSON");
  }
  if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((v) => Number.isInteger(v) && v > 0)) {
    throw bad("latentShape must be three positive integers");
  }
  const { mean, variance, counts } = f.tensors;
  if (!mean || !variance || !counts) throw bad("expected tensors mean, variance, counts");
  const d = shape[0] * shape[1] * shape[2];
  const classes = counts.shape[0];
  for (const [name, t] of [["mean", mean], ["variance", variance]] as const) {
    if (t.dtype !== "F32" || t.shape.length !== 2 || t.shape[0] !== classes || t.shape[1] !== d) {
      throw bad(`${name} must be F32 [${classes}, ${d}], got ${t.dtype} [${t.shape}]`);
    }
  }
  if (counts.dtype !== "I32" || counts.shape.length !== 1) throw bad("counts must be I32 [classes]");
  const v = variance.data as Float32Array, m = mean.data as Float32Array;
  if (!m.every(Number.isFinite)) throw bad("mean has non-finite values");
  if (!v.every((x) => Number.isFinite(x) && x >= 0)) throw bad("variance must be finite and ≥ 0");
  return {
    stats: {
      mean: m,
      variance: v,
      classes,
      latentShape: shape as [number, number, number],
      counts: counts.data as Int32Array,
    },
    metadata: f.metadata,
  };
}

/** Fig. A2's comparison, in bytes: what regenerates a set of any IPC vs the set itself (float32 images). */
export interface StorageComparison {
  /** μ and σ² of every class (float32). */
  statistics: number;
  /** The generative weights needed to regenerate (DiT + VAE decoder as shipped). */
  weights: number;
  /** The distilled set as float32 images at this IPC, and as 8-bit images (what an image file stores). */
  setFloat32: number;
  setUint8: number;
  /** The IPC from which statistics + weights are smaller than the 8-bit set. */
  breakEvenIpc: number;
}

export function storageComparison(
  s: Pick<ClassStats, "classes" | "latentShape">,
  weightsBytes: number,
  ipc: number,
  imageShape: readonly [number, number, number],
): StorageComparison {
  const statistics = 2 * s.classes * latentSize(s) * 4;
  const perImage = imageShape[0] * imageShape[1] * imageShape[2];
  const setUint8 = s.classes * ipc * perImage;
  return {
    statistics,
    weights: weightsBytes,
    setFloat32: 4 * setUint8,
    setUint8,
    breakEvenIpc: Math.ceil((statistics + weightsBytes) / (s.classes * perImage)),
  };
}
