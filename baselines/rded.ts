/**
 * RDED — Realistic, Diverse and Efficient Dataset Distillation (Sun et al., CVPR 2024; LINs-lab/RDED
 * synthesize/main.py and synthesize/utils.py).
 *
 * Per class: `candidatesPerClass` random real images (mipc); from each, `cropsPerImage` square
 * random-resized crops (scale 0.08–1, ratio 1) at side/factor pixels, each scored by the teacher as
 * −CE(teacher(crop zero-padded to the full side), class) — the realism score log p(y|crop); each image
 * keeps its best crop, and the ipc·factor² images with the best kept crops are selected (selector()).
 * Patch k·ipc + i becomes the k-th cell (row-major) of the factor × factor grid of output image i,
 * nearest-resized to its cell (mix_images()). Relabelling is the teacher's: per augmented batch by the
 * soft-KD evaluator protocols, as RDED's validation does; the set also carries the teacher's softmax on
 * each stitched image.
 */
import { z } from "zod";
import { noGrad, type Tensor, tensor, tidy } from "../engine/tensor.ts";
import { mixSeed, Rng } from "../engine/random.ts";
import * as T from "../engine/ops/mod.ts";
import { datasetInfo } from "../data/registry.ts";
import type { Classifier } from "../models/module.ts";
import { splitToDevice } from "../evaluator/device_data.ts";
import type { MethodBudget } from "../methods/budget.ts";
import type { DistillContext, DistillResult, MethodDef } from "../methods/types.ts";
import { toDistilledSet } from "../methods/synthesis.ts";
import { datasetShape, drawPositions, indicesByClass } from "./real_images.ts";
import {
  asTeacher,
  TEACHER_BUDGET_KEYS,
  TEACHER_SCALE_NOTES,
  teacherDefaults,
  TeacherFields,
  teacherNet,
  teacherSoftLabels,
} from "./teacher_net.ts";
import { teacherScores } from "../models/teacher.ts";

export const RdedConfig = z.object({
  ...TeacherFields,
  /** Patches per side of a stitched image (factor² patches per image; 1: one crop per image). */
  factor: z.number().int().min(1),
  /** Real images drawn per class as candidates (mipc; capped at the class size). */
  candidatesPerClass: z.number().int().positive(),
  /** Random crops scored per candidate image (num_crop). */
  cropsPerImage: z.number().int().positive(),
  /** RandomResizedCrop area range. */
  minScale: z.number().gt(0).max(1),
  maxScale: z.number().gt(0).max(1),
}).strict();
export type RdedConfig = z.infer<typeof RdedConfig>;

/**
 * The official scripts: mipc 300, 5 crops per image, crop scale 0.08–1; factor 2 on the ImageNet
 * subsets (ImageWoof/Nette/100/1K), 1 on CIFAR and Tiny-ImageNet. The factor follows the table's
 * dataset (it is part of the benchmark's recipe), not a stand-in.
 */
export function rdedDefaults(datasetId: string, requestedDataset?: string): RdedConfig {
  const id = requestedDataset ?? datasetId;
  let imagenetStyle = false;
  try {
    imagenetStyle = datasetInfo(id).resizable && id !== "tiny-imagenet";
  } catch {
    // An unknown id keeps factor 1; the runner reports the unknown dataset itself.
  }
  return {
    ...teacherDefaults(),
    factor: imagenetStyle ? 2 : 1,
    candidatesPerClass: 300,
    cropsPerImage: 5,
    minScale: 0.08,
    maxScale: 1,
  };
}

/**
 * Profiles shrink the teacher (teacher_net.ts) and, at smoke only, the candidates (family "rded"): the
 * selection is cheap, forward passes of crops.
 */
export const RDED_BUDGET: MethodBudget<RdedConfig> = {
  family: "rded",
  keys: { ...TEACHER_BUDGET_KEYS, candidatesPerClass: "candidates" },
};

/** A square crop window: top, left, side (pixels of the source image). */
export type CropWindow = [number, number, number];

/**
 * torchvision RandomResizedCrop.get_params with ratio (1, 1) on a square `side`-pixel image: area
 * U(scale)·side², side √area rounded; always valid at the first draw, so no fallback is needed.
 */
export function squareCropWindow(
  side: number,
  scale: [number, number],
  u: [number, number, number],
): CropWindow {
  const area = side * side * (scale[0] + u[0] * (scale[1] - scale[0]));
  const s = Math.max(1, Math.min(side, Math.round(Math.sqrt(area))));
  return [Math.floor(u[1] * (side - s + 1)), Math.floor(u[2] * (side - s + 1)), s];
}

/**
 * The crops `windows` of NHWC images `x` (one window per image), resampled to `out` × `out`
 * (bilinear; torchvision antialiases its downsampling, this does not).
 */
export function cropResize(x: Tensor, windows: readonly CropWindow[], out: number): Tensor {
  const [n, h, w] = x.shape;
  if (windows.length !== n) throw new Error(`cropResize: ${windows.length} windows for ${n} images`);
  const th = new Float32Array(n * 6);
  windows.forEach(([top, left, s], i) => {
    const cx = ((left + s / 2) / w) * 2 - 1, cy = ((top + s / 2) / h) * 2 - 1;
    th.set([s / w, 0, cx, 0, s / h, cy], i * 6);
  });
  return T.affineGridSample(x, tensor(th, [n, 2, 3]), out, out);
}

/**
 * RDED's selector on host scores: `scores[k·n + j]` is crop k of candidate j (higher is better). Each
 * candidate keeps its best crop; the `keep` candidates with the best kept scores are returned, best
 * first, as (candidate, crop, score).
 */
export function selectCrops(
  scores: Float32Array,
  candidates: number,
  crops: number,
  keep: number,
): { candidate: number; crop: number; score: number }[] {
  if (scores.length !== candidates * crops) {
    throw new Error(`selectCrops: ${scores.length} scores for ${candidates} × ${crops} crops`);
  }
  if (keep > candidates) throw new Error(`rded: ${keep} patches needed but only ${candidates} candidates`);
  const best = Array.from({ length: candidates }, (_, j) => {
    let k = 0;
    for (let q = 1; q < crops; q++) if (scores[q * candidates + j] > scores[k * candidates + j]) k = q;
    return { candidate: j, crop: k, score: scores[k * candidates + j] };
  });
  // Stable: ties keep candidate order, as torch.argsort on equal values need not (either is RDED).
  return best.sort((a, b) => b.score - a.score || a.candidate - b.candidate).slice(0, keep);
}

/**
 * mix_images(): `patches` [f²·n, s, s, c] (NHWC host) → n images of `side` px; patch k·n + i fills cell k
 * (row-major) of image i; the first side mod f rows/columns of cells are one pixel larger, and each
 * patch is nearest-resized to its cell (F.interpolate's default mode).
 */
export function stitch(
  patches: Float32Array,
  n: number,
  s: number,
  c: number,
  factor: number,
  side: number,
): Float32Array {
  if (patches.length !== factor * factor * n * s * s * c) {
    throw new Error(`stitch: ${patches.length} values are not ${factor}² × ${n} patches of ${s}² × ${c}`);
  }
  const base = Math.floor(side / factor), rem = side % factor;
  const cell = (i: number) => (i < rem ? base + 1 : base);
  const out = new Float32Array(n * side * side * c);
  let top = 0, k = 0;
  for (let gi = 0; gi < factor; gi++) {
    const ch = cell(gi);
    let left = 0;
    for (let gj = 0; gj < factor; gj++, k++) {
      const cw = cell(gj);
      for (let i = 0; i < n; i++) {
        const p = (k * n + i) * s * s * c;
        for (let y = 0; y < ch; y++) {
          const sy = Math.min(s - 1, Math.floor((y * s) / ch));
          for (let x = 0; x < cw; x++) {
            const sx = Math.min(s - 1, Math.floor((x * s) / cw));
            for (let q = 0; q < c; q++) {
              out[((i * side + top + y) * side + left + x) * c + q] = patches[p + (sy * s + sx) * c + q];
            }
          }
        }
      }
      left += cw;
    }
    top += ch;
  }
  return out;
}

/**
 * Teacher realism scores log p(y|crop) of `crops` [n, s, s, c] zero-padded (centred) to `side` px, as
 * RDED's pad() before scoring.
 */
export async function cropScores(
  teacher: Classifier,
  crops: Tensor,
  label: number,
  side: number,
): Promise<Float32Array> {
  const [n, s] = crops.shape;
  const lo = Math.floor((side - s) / 2), hi = side - s - lo;
  const x = s < side ? noGrad(() => T.pad(crops, [[0, 0], [lo, hi], [lo, hi], [0, 0]])) : crops;
  try {
    const scores = await teacherScores(asTeacher(teacher, "teacher"), x, {
      labels: new Int32Array(n).fill(label),
      batchSize: 250,
    });
    return scores.realism!;
  } finally {
    if (x !== crops) x.dispose();
  }
}

export async function distillRded(ctx: DistillContext<RdedConfig>): Promise<DistillResult> {
  const t0 = performance.now();
  const { dataset, ipc, config: cfg } = ctx;
  const classes = dataset.info.numClasses;
  const { channels: c, height: side } = datasetShape(dataset);
  const f = cfg.factor;
  const s = Math.floor(side / f);
  if (s < 1) throw new Error(`rded: factor ${f} leaves no pixels of a ${side} px image per patch`);
  const keep = ipc * f * f;
  if (cfg.minScale > cfg.maxScale) {
    throw new Error(`rded: minScale ${cfg.minScale} exceeds maxScale ${cfg.maxScale}`);
  }
  const teacher = await teacherNet(dataset, cfg, ctx.progress, ctx.signal);
  const byClass = indicesByClass(dataset.train.labels, classes);
  const images = new Float32Array(classes * ipc * side * side * c);
  let selectedSum = 0, allSum = 0, allCount = 0, candidatesUsed = 0;
  try {
    for (let cls = 0; cls < classes; cls++) {
      ctx.signal?.throwIfAborted();
      const rng = new Rng(mixSeed(ctx.seed, 0x2ded + cls));
      const pool = byClass[cls];
      // Each candidate gives at most one patch, so a set of ipc·factor² patches draws at least that many
      // (IPC 100 at factor 2 needs 400 of the official 300); smaller sets draw exactly the configured count.
      const pos = drawPositions(pool.length, Math.max(cfg.candidatesPerClass, keep), rng.fork(0));
      const mc = pos.length, m = cfg.cropsPerImage;
      candidatesUsed = Math.max(candidatesUsed, mc);
      if (keep > mc) {
        throw new Error(
          `rded: class ${cls} needs ${keep} patches (ipc ${ipc} × factor ${f}²) but has ${mc} candidate images`,
        );
      }
      const u = rng.fork(1).hostUniform(m * mc * 3);
      const windows: CropWindow[] = Array.from(
        { length: m * mc },
        (_, i) =>
          squareCropWindow(side, [cfg.minScale, cfg.maxScale], [u[3 * i], u[3 * i + 1], u[3 * i + 2]]),
      );
      const real = splitToDevice(dataset, dataset.train, Int32Array.from(pos, (p) => pool[p])).x;
      let crops: Tensor | null = null;
      try {
        // Crop k of candidate j sits at k·mc + j, as the reference's permute(1, 0, …).
        crops = tidy(() =>
          noGrad(() => cropResize(T.concat(Array.from({ length: m }, () => real), 0), windows, s))
        ).keep();
        const scores = await cropScores(teacher, crops, cls, side);
        const picked = selectCrops(scores, mc, m, keep);
        for (const v of scores) allSum += v;
        allCount += scores.length;
        for (const p of picked) selectedSum += p.score;
        const rows = Int32Array.from(picked, (p) => p.crop * mc + p.candidate);
        const sel = tidy(() => T.gather(crops!, tensor(rows, [rows.length], "i32")));
        const patches = await sel.f32();
        sel.dispose();
        images.set(stitch(patches, ipc, s, c, f, side), cls * ipc * side * side * c);
      } finally {
        crops?.dispose();
        real.dispose();
      }
      ctx.progress.update(cls + 1, classes, `class (selected ${keep} of ${mc * m} crops)`);
    }
    const labels = Int32Array.from({ length: classes * ipc }, (_, i) => Math.floor(i / ipc));
    const x = tensor(images, [classes * ipc, side, side, c]).keep();
    try {
      const { soft, acc } = await teacherSoftLabels(teacher, x, labels);
      const set = await toDistilledSet(ctx, "rded", x, labels, { teacher: cfg.teacherModel });
      set.softLabels = soft;
      return {
        set,
        metrics: {
          selectedScore: selectedSum / (classes * keep),
          candidateScore: allSum / allCount,
          candidatesPerClass: candidatesUsed,
          teacherAccuracy: acc,
          seconds: (performance.now() - t0) / 1000,
        },
      };
    } finally {
      x.dispose();
    }
  } finally {
    teacher.dispose();
  }
}

export const rdedMethod: MethodDef<RdedConfig> = {
  id: "rded",
  description:
    "RDED: teacher-scored random crops of real images, the most realistic stitched factor × factor",
  reference: "Sun et al., CVPR 2024 (LINs-lab/RDED synthesize/main.py, synthesize/utils.py)",
  implemented: true,
  schema: RdedConfig,
  defaults: (datasetId, _ipc, requested) => rdedDefaults(datasetId, requested),
  budget: RDED_BUDGET,
  scaleNotes: { ...TEACHER_SCALE_NOTES, candidatesPerClass: "fewer candidate images fit the smoke profile" },
  distill: distillRded,
};
