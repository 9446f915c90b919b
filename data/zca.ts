/**
 * ZCA whitening as MTT uses it (protocols.md §6.3 "Optional ZCA (eps 0.1)"): mtt-distillation
 * loads the images with `ToTensor()` only (pixels in [0, 1], no mean/std normalisation), fits
 * `kornia.enhance.ZCAWhitening(eps=0.1)` on the whole flattened training split and applies it to
 * train and test. kornia's fit, written out:
 *
 *   μ = mean of the rows,  C = (X − μ)ᵀ(X − μ) / (N − 1)   (unbiased),
 *   C = U diag(λ) Uᵀ,      W = U diag(1 / sqrt(λ + eps)) Uᵀ,      x ↦ (x − μ)·W.
 *
 * So eps is absolute: added to every eigenvalue of the unbiased covariance of [0, 1]-scaled pixels,
 * not relative to the trace or the largest eigenvalue (KIP's own preprocessing scales its
 * regulariser differently; that variant is not implemented). kornia takes λ from an SVD, i.e. |λ|,
 * which we follow. Features are flattened in the engine's NHWC order where kornia's are NCHW:
 * ZCA commutes with permuting the features, so whitened images are the same.
 *
 * The covariance and W are matmuls on the device (f32, accumulated in chunks that fit the binding
 * limit); the eigendecomposition runs once on the CPU in f64 (data/eigen.ts). A fitted transform is
 * cached as safetensors next to the decoded-dataset caches, keyed by the dataset manifest, the
 * train-split size and shape, and eps, and written atomically (temp file + rename).
 */
import { symmetricEigen } from "./eigen.ts";
import { join, resolveCacheDir } from "./fsutil.ts";
import type { Dataset, ProgressFn, Shape, Split } from "./types.ts";
import { readSafetensors, type SafetensorsFile, writeSafetensors } from "../engine/safetensors.ts";
import * as E from "../engine/expr.ts";
import * as T from "../engine/ops/mod.ts";
import { type Tensor, tensor, tidy } from "../engine/tensor.ts";
import { canonicalJson, sha256Hex } from "../results/key.ts";

/** Bump when fitting changes in a way that changes the transform, so stale caches are refit. */
export const ZCA_VERSION = 1;
/** MTT's `ZCAWhitening(eps=0.1)`. */
export const ZCA_EPS = 0.1;

export interface ZcaTransform {
  eps: number;
  /** Image shape the transform applies to; features are NHWC-flattened (D = H·W·C). */
  shape: Shape;
  /** Number of training images fitted. */
  count: number;
  /** μ [D]. */
  mean: Float32Array;
  /** W [D, D], symmetric. */
  matrix: Float32Array;
  /** Eigenvalues of the covariance, ascending [D] (for diagnostics: conditioning, eps's effect). */
  eigenvalues: Float32Array;
}

/** Images to fit: N×D values (NHWC rows), each multiplied by `scale` (1/255 for uint8 pixels). */
export interface ZcaSource {
  data: Uint8Array | Float32Array;
  count: number;
  shape: Shape;
  scale: number;
}

const dimOf = (s: Shape) => s.channels * s.height * s.width;
/** Elements per uploaded chunk: 32 MiB of f32, well under llvmpipe's 128 MiB binding limit. */
const CHUNK_ELEMENTS = 8 << 20;

/** Fits ZCA on the source (see the module comment for the exact definition). */
export async function fitZca(src: ZcaSource, eps = ZCA_EPS, onProgress?: ProgressFn): Promise<ZcaTransform> {
  const d = dimOf(src.shape), n = src.count;
  if (src.data.length !== n * d) throw new Error(`fitZca: ${src.data.length} values for ${n}×${d}`);
  if (n < 2) throw new Error("fitZca: needs at least two images");
  if (!(eps >= 0)) throw new Error(`fitZca: eps must be ≥ 0, got ${eps}`);
  const mean64 = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) mean64[k] += src.data[i * d + k];
  for (let k = 0; k < d; k++) mean64[k] = (mean64[k] * src.scale) / n;
  const cov = await covariance(src, mean64, onProgress);
  onProgress?.(0, 1, `ZCA eigendecomposition (${d}×${d}, CPU)`);
  const { values, vectors } = symmetricEigen(cov, d);
  onProgress?.(1, 1, `ZCA eigendecomposition (${d}×${d}, CPU)`);
  // W = Mᵀ·M with M = diag(1/⁴√(λ+eps))·Uᵀ, computed as Mt·Mtᵀ (the device's fast matmul layout).
  const mt = new Float32Array(d * d);
  for (let k = 0; k < d; k++) {
    const f = 1 / Math.sqrt(Math.sqrt(Math.abs(values[k]) + eps));
    for (let i = 0; i < d; i++) mt[i * d + k] = vectors[k * d + i] * f;
  }
  const w = tidy(() => {
    const m = tensor(mt, [d, d]);
    return T.matmul(m, m, { transB: true });
  });
  const matrix = await w.f32();
  w.dispose();
  return {
    eps,
    shape: { ...src.shape },
    count: n,
    mean: Float32Array.from(mean64),
    matrix,
    eigenvalues: Float32Array.from(values),
  };
}

/** Unbiased covariance in f64, from f32 chunk products summed on the device. */
async function covariance(
  src: ZcaSource,
  mean: Float64Array,
  onProgress?: ProgressFn,
): Promise<Float64Array> {
  const d = dimOf(src.shape), n = src.count;
  const rows = Math.max(1, Math.min(n, Math.floor(CHUNK_ELEMENTS / d)));
  let acc: Tensor | null = null;
  for (let start = 0; start < n; start += rows) {
    const b = Math.min(rows, n - start);
    // Centred chunk, transposed to [D, b] so Xcᵀ·Xc is the NT matmul Xt·Xtᵀ.
    const xt = new Float32Array(d * b);
    for (let i = 0; i < b; i++) {
      const off = (start + i) * d;
      for (let k = 0; k < d; k++) xt[k * b + i] = src.data[off + k] * src.scale - mean[k];
    }
    const prev: Tensor | null = acc;
    acc = tidy(() => {
      const x = tensor(xt, [d, b]);
      const c = T.matmul(x, x, { transB: true });
      return prev ? T.add(prev, c) : c;
    }).keep();
    prev?.dispose();
    onProgress?.(Math.min(n, start + b), n, "ZCA covariance");
  }
  const c32 = await acc!.f32();
  acc!.dispose();
  const cov = new Float64Array(d * d);
  // Symmetrise exactly (the eigen-solver reads the lower triangle) and apply the N − 1 divisor.
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      const v = (c32[i * d + j] + c32[j * d + i]) / (2 * (n - 1));
      cov[i * d + j] = v;
      cov[j * d + i] = v;
    }
  }
  return cov;
}

/** A transform's μ and W on the device (kept; dispose() when done). */
export interface ZcaDevice {
  readonly transform: ZcaTransform;
  readonly mean: Tensor;
  readonly matrix: Tensor;
  dispose(): void;
}

export function zcaToDevice(t: ZcaTransform): ZcaDevice {
  const d = dimOf(t.shape);
  const mean = tensor(t.mean, [1, d]).keep(), matrix = tensor(t.matrix, [d, d]).keep();
  return {
    transform: t,
    mean,
    matrix,
    dispose() {
      mean.dispose();
      matrix.dispose();
    },
  };
}

/**
 * Whitens NHWC images given in the fitted scale (pixels in [0, 1] for `loadOrFitZca`):
 * (x − μ)·W, differentiable in x. W is symmetric, so x·W is computed as the NT matmul x·Wᵀ.
 */
export function applyZca(z: ZcaDevice, x: Tensor): Tensor {
  const { shape } = z.transform, d = dimOf(shape);
  const [n, h, w, c] = x.shape;
  if (h !== shape.height || w !== shape.width || c !== shape.channels) {
    throw new Error(
      `applyZca: images [${x.shape}] do not match the fitted ${shape.height}×${shape.width}×${shape.channels}`,
    );
  }
  const centred = T.map(E.sub(E.inp(0), E.inp(1)), [T.reshape(x, [n, d]), z.mean]);
  return T.reshape(T.matmul(centred, z.matrix, { transB: true }), [n, h, w, c]);
}

/**
 * A split's uint8 images (optionally the rows `idx`) → whitened f32 NHWC on the device, the ZCA
 * counterpart of evaluator/device_data.ts `splitToDevice` (pixels scaled to [0, 1] first, as MTT's
 * `ToTensor()`). Whitened in chunks so no intermediate exceeds the binding limit.
 */
export async function zcaSplitToDevice(
  z: ZcaDevice,
  split: Split,
  idx?: Int32Array,
): Promise<{ x: Tensor; y: Int32Array }> {
  const { data, shape, y } = await zcaSplitHost(z, split, idx);
  return { x: tensor(data, shape), y };
}

/**
 * Whitened rows of a split on the host (NHWC f32), whitened on the device in chunks that fit one
 * binding; training sets larger than one binding stay on the host (evaluator/device_data.ts).
 */
export async function zcaSplitHost(
  z: ZcaDevice,
  split: Split,
  idx?: Int32Array,
): Promise<{ data: Float32Array; shape: [number, number, number, number]; y: Int32Array }> {
  const { height: h, width: w, channels: c } = z.transform.shape, d = h * w * c;
  const ids = idx ?? Int32Array.from({ length: split.count }, (_, i) => i);
  const out = new Float32Array(ids.length * d);
  const rows = Math.max(1, Math.floor(CHUNK_ELEMENTS / d));
  for (let start = 0; start < ids.length; start += rows) {
    const b = Math.min(rows, ids.length - start);
    const y = zcaRowsToDevice(z, split, ids.subarray(start, start + b));
    out.set(await y.f32(), start * d);
    y.dispose();
  }
  return { data: out, shape: [ids.length, h, w, c], y: Int32Array.from(ids, (i) => split.labels[i]) };
}

/**
 * Rows `idx` of a split, whitened on the device in one go (no readback): for per-class pools and
 * mini-batches whose [n, D] images fit one binding. Pixels are scaled to [0, 1] first (ToTensor()).
 */
export function zcaRowsToDevice(z: ZcaDevice, split: Split, idx: Int32Array): Tensor {
  const { height: h, width: w, channels: c } = z.transform.shape, d = h * w * c;
  const out = new Float32Array(idx.length * d);
  idx.forEach((i, k) => {
    for (let j = 0; j < d; j++) out[k * d + j] = split.images[i * d + j] / 255;
  });
  return tidy(() => applyZca(z, tensor(out, [idx.length, h, w, c])));
}

/**
 * How a distilled set records that its images live in ZCA-whitened space (meta `extra.zca`), so its
 * evaluation whitens the held-out and test images with the same transform.
 */
export function zcaTag(eps: number): string {
  return `whitened eps=${eps}`;
}

/** The eps of a set whitened as `zcaTag` records it; null for sets in the dataset's mean/std space. */
export function zcaEpsOf(tag: string | undefined): number | null {
  const m = /^whitened eps=([0-9.eE+-]+)$/.exec(tag ?? "");
  const eps = m ? Number(m[1]) : NaN;
  return Number.isFinite(eps) && eps >= 0 ? eps : null;
}

// ---------------------------------------------------------------- save / load / cache

const FORMAT = "ddrepro-zca";

/** Writes atomically (engine/safetensors.ts: temp file in the same folder, synced, renamed). */
export async function saveZca(path: string, t: ZcaTransform, key = ""): Promise<void> {
  const d = dimOf(t.shape);
  await Deno.mkdir(path.slice(0, Math.max(1, path.lastIndexOf("/"))), { recursive: true });
  await writeSafetensors(path, {
    mean: { dtype: "F32", shape: [d], data: t.mean },
    matrix: { dtype: "F32", shape: [d, d], data: t.matrix },
    eigenvalues: { dtype: "F32", shape: [d], data: t.eigenvalues },
  }, {
    format: FORMAT,
    version: String(ZCA_VERSION),
    key,
    eps: String(t.eps),
    count: String(t.count),
    shape: JSON.stringify(t.shape),
  });
}

/** Reads a saved transform; null when missing, not a ZCA file, of another key, or malformed. */
export async function loadZca(path: string, key?: string): Promise<ZcaTransform | null> {
  let file: SafetensorsFile;
  try {
    file = await readSafetensors(path);
  } catch {
    return null;
  }
  const m = file.metadata;
  if (m.format !== FORMAT || m.version !== String(ZCA_VERSION) || (key !== undefined && m.key !== key)) {
    return null;
  }
  let shape: Shape;
  try {
    shape = JSON.parse(m.shape ?? "");
  } catch {
    return null;
  }
  const d = dimOf(shape);
  const { mean, matrix, eigenvalues } = file.tensors;
  const isF32 = (t: typeof mean, len: number): t is typeof mean & { data: Float32Array } =>
    t !== undefined && t.dtype === "F32" && t.data.length === len;
  if (!Number.isInteger(d) || d <= 0 || !isF32(mean, d) || !isF32(matrix, d * d) || !isF32(eigenvalues, d)) {
    return null;
  }
  return {
    eps: Number(m.eps),
    shape,
    count: Number(m.count),
    mean: mean.data,
    matrix: matrix.data,
    eigenvalues: eigenvalues.data,
  };
}

/** Shape of a split's images (resizable datasets may be loaded at another resolution than `info.shape`). */
function splitShape(ds: Dataset): Shape {
  const c = ds.info.shape.channels;
  const side = Math.round(Math.sqrt(ds.train.images.length / Math.max(ds.train.count, 1) / c));
  return { channels: c, height: side, width: side };
}

/** Everything that determines the fitted transform. */
export function zcaKey(ds: Dataset, eps: number): string {
  return sha256Hex(canonicalJson({
    v: ZCA_VERSION,
    dataset: ds.info.id,
    manifest: ds.manifest.hash,
    trainCount: ds.train.count,
    shape: splitShape(ds),
    eps,
    scale: "unit", // ToTensor(): pixels / 255
    unbiased: true,
  }));
}

export function zcaCachePath(ds: Dataset, eps: number, cacheDir?: string): string {
  const s = splitShape(ds);
  return join(
    resolveCacheDir(cacheDir),
    "zca",
    `${ds.info.id}-${s.height}px-eps${eps}-${zcaKey(ds, eps).slice(0, 16)}.safetensors`,
  );
}

/** The dataset's ZCA transform (fitted on its train split, pixels in [0, 1]): cached, or fitted now and cached. */
export async function loadOrFitZca(
  ds: Dataset,
  opts: { eps?: number; cacheDir?: string; onProgress?: ProgressFn } = {},
): Promise<{ transform: ZcaTransform; path: string; hit: boolean }> {
  const eps = opts.eps ?? ZCA_EPS;
  const path = zcaCachePath(ds, eps, opts.cacheDir);
  const key = zcaKey(ds, eps);
  const cached = await loadZca(path, key);
  if (cached) return { transform: cached, path, hit: true };
  const transform = await fitZca(
    { data: ds.train.images, count: ds.train.count, shape: splitShape(ds), scale: 1 / 255 },
    eps,
    opts.onProgress,
  );
  await saveZca(path, transform, key);
  return { transform, path, hit: false };
}
