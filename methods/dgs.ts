/**
 * DGS — Task-Specific Generative Dataset Distillation with Difficulty-Guided Sampling (Li et al.).
 *
 * 1. An image pool of n × IPC images per class from the Minimax pipeline (its DiT fine-tuned with the
 *    minimax terms, then sampled; n = 5, §3.4).
 * 2. Difficulty 1 − P(y_true | x) (Eq. 6) of every pool image and of the class's real images, from a
 *    pretrained classifier: the paper's ImageNet ResNet-50 is a user ONNX model (`scorer: "onnx"`,
 *    DD_ONNX_TEACHER); below `paper` the teacher ddrepro trains and caches (baselines/teacher_net.ts).
 * 3. Per class, the target: the real difficulty histogram scaled to IPC after the logarithmic
 *    transformation with Eq. 9's thresholds, or a pre-defined shape (Table 3); IPC pool images drawn to
 *    match it (methods/difficulty_sampling.ts).
 *
 * The histograms it sampled with (summed over classes) are kept in the result's metrics
 * (`hist.<original|pool|target|selected>.<interval>`), from which reports/difficulty.ts draws the
 * paper's Fig. 2.
 */
import { z } from "zod";
import { mixSeed, Rng } from "../engine/random.ts";
import { type Tensor, tensor } from "../engine/tensor.ts";
import type { Dataset } from "../data/types.ts";
import type { HostBatch } from "../models/latent_sampling.ts";
import { type Teacher, teacherScores } from "../models/teacher.ts";
import { loadOfficialTeacher } from "../models/official_weights.ts";
import { splitToDevice } from "../evaluator/device_data.ts";
import type { MethodBudget } from "./budget.ts";
import type { DistillContext, DistillResult, MethodDef } from "./types.ts";
import {
  checkResolution,
  disposeFoundation,
  loadFoundation,
  unitImagesToSet,
} from "../baselines/latent_foundation.ts";
import { sampleClasses } from "../baselines/diffusion_sampling.ts";
import {
  MINIMAX_BUDGET,
  MINIMAX_SCALE_NOTES,
  MinimaxConfig,
  minimaxDefaults,
  tuneMinimaxPrior,
} from "../baselines/minimax.ts";
import {
  asTeacher,
  TEACHER_BUDGET_KEYS,
  TEACHER_SCALE_NOTES,
  teacherDefaults,
  TeacherFields,
  teacherNet,
} from "../baselines/teacher_net.ts";
import { drawPositions, indicesByClass } from "../baselines/real_images.ts";
import { readManifest } from "../models/foundation.ts";
import { cachedPool, type Pool, poolKey, poolPath } from "./dgs_pool.ts";
import {
  type ClassSampling,
  HARDNESS_RANK,
  klDivergence,
  sampleClass,
  type SamplingOptions,
  TARGET_SHAPES,
} from "./difficulty_sampling.ts";

export const DgsConfig = z.object({
  ...MinimaxConfig.shape,
  ...TeacherFields,
  /** Pool size n × IPC per class (§3.4: 5; Table 4 sweeps 2–6). */
  poolFactor: z.number().int().min(1),
  /** The target: "scale" (real histogram scaled to IPC) or a pre-defined shape of Table 3 / Fig. 4. */
  distribution: z.enum(TARGET_SHAPES),
  /** The tables' ordinal of a pre-defined shape's share of hard images (hill 3 … cliff 0); checked, not used. */
  hardnessRank: z.number().int().min(0).max(3).nullable(),
  /** The logarithmic transformation of §2.3 (Eqs. 7–9). */
  logTransform: z.boolean(),
  /** Whose difficulty values Eq. 9 chooses the thresholds on (§3.4: the pool's, applied to the real data). */
  thresholdsFrom: z.enum(["pool", "original"]),
  /** Eq. 9's λ (similarity to the untransformed histogram vs uniformity); not stated in the paper. */
  lambda: z.number().min(0).max(1),
  /** Eq. 7's ε, in difficulty units. */
  logEpsilon: z.number().positive(),
  /** The thresholds b, t are searched up to this fraction of the values each. */
  maxClip: z.number().min(0).max(0.5),
  /** Difficulty intervals of the histograms (Fig. 2 shows ten). */
  bins: z.number().int().min(2).max(100),
  /** "onnx": the user's pretrained classifier (DD_ONNX_TEACHER); "teacher": the one ddrepro trains. */
  scorer: z.enum(["teacher", "onnx"]),
  /**
   * The scorer's output index of each dataset class (an ImageNet model on an ImageNet subset: the subset
   * classes' ImageNet indices); null: the scorer's classes are the dataset's.
   */
  scorerClassIndex: z.array(z.number().int().min(0)).nullable(),
  /** Real images scored for the real histograms (a seeded class-balanced subset); null: all. */
  realImages: z.number().int().positive().nullable(),
}).strict().superRefine((c, ctx) => {
  if (
    c.hardnessRank !== null &&
    (c.distribution === "scale" || HARDNESS_RANK[c.distribution] !== c.hardnessRank)
  ) {
    ctx.addIssue({
      code: "custom",
      path: ["hardnessRank"],
      message: `hardnessRank ${c.hardnessRank} does not match distribution "${c.distribution}" (${
        Object.entries(HARDNESS_RANK).map(([k, v]) => `${k} ${v}`).join(", ")
      })`,
    });
  }
});
export type DgsConfig = z.infer<typeof DgsConfig>;

export const dgsDefaults = (): DgsConfig => ({
  ...minimaxDefaults(),
  ...teacherDefaults(),
  poolFactor: 5,
  distribution: "scale",
  hardnessRank: null,
  logTransform: true,
  thresholdsFrom: "pool",
  lambda: 0.5,
  logEpsilon: 1e-6,
  maxClip: 0.25,
  bins: 10,
  scorer: "onnx",
  scorerClassIndex: null,
  realImages: null,
});

/**
 * The Minimax pool follows Minimax's budget (its fine-tuning steps take the profiles' minimax values), the
 * scorer the teacher-based methods' (the same cached teacher as RDED/SRe²L), and the real images scored
 * the teacher's training images.
 */
export const DGS_BUDGET: MethodBudget<DgsConfig> = {
  family: "dgs",
  keys: {
    ...(MINIMAX_BUDGET.keys as MethodBudget<DgsConfig>["keys"]),
    maxSteps: { knob: "iterations", family: "minimax" },
    ...(TEACHER_BUDGET_KEYS as MethodBudget<DgsConfig>["keys"]),
    realImages: { knob: "trainImages", family: "teacher" },
  },
  derived: MINIMAX_BUDGET.derived as MethodBudget<DgsConfig>["derived"],
};

const SCORE_CHUNK = 500;

/** Difficulty 1 − p(y|x) of normalised NHWC images, by the scorer, in chunks. */
async function difficulties(
  scorer: Teacher,
  rows: number,
  chunk: (from: number, to: number) => Tensor,
  labels: Int32Array,
  classIndex: readonly number[] | null,
): Promise<Float32Array> {
  const out = new Float32Array(rows);
  const mapped = classIndex ? Int32Array.from(labels, (y) => classIndex[y]) : labels;
  for (let a = 0; a < rows; a += SCORE_CHUNK) {
    const b = Math.min(rows, a + SCORE_CHUNK);
    const x = chunk(a, b);
    try {
      const s = await teacherScores(scorer, x, { labels: mapped.subarray(a, b), batchSize: 200 });
      out.set(s.difficulty!, a);
    } finally {
      x.dispose();
    }
  }
  return out;
}

/** [0, 1] NHWC host images → the dataset's normalised space, rows [a, b). */
function normalisedRows(dataset: Dataset, imgs: HostBatch, a: number, b: number): Tensor {
  const [, h, w, c] = imgs.shape;
  const per = h * w * c;
  const { mean, std } = dataset.info;
  const out = new Float32Array((b - a) * per);
  for (let i = 0; i < out.length; i++) {
    const ch = i % c;
    out[i] = (imgs.data[a * per + i] - mean[ch]) / std[ch];
  }
  return tensor(out, [b - a, h, w, c]);
}

async function openScorer(ctx: DistillContext<DgsConfig>): Promise<{ scorer: Teacher; name: string }> {
  const cfg = ctx.config, k = ctx.dataset.info.numClasses;
  let scorer: Teacher, name: string;
  if (cfg.scorer === "onnx") {
    scorer = await loadOfficialTeacher(ctx.dataset.info);
    name = `onnx ${scorer.id}`;
  } else {
    scorer = asTeacher(await teacherNet(ctx.dataset, cfg, ctx.progress, ctx.signal), "teacher");
    name = `teacher ${cfg.teacherModel} (trained by ddrepro)`;
  }
  const index = cfg.scorerClassIndex;
  const problem = index === null
    ? (scorer.numClasses !== k ? `has ${scorer.numClasses} classes, ${ctx.dataset.info.id} ${k}` : null)
    : index.length !== k
    ? `scorerClassIndex lists ${index.length} classes, ${ctx.dataset.info.id} has ${k}`
    : index.some((i) => i >= scorer.numClasses)
    ? `scorerClassIndex names an output ≥ the scorer's ${scorer.numClasses} classes`
    : null;
  if (problem !== null) {
    scorer.dispose();
    throw new Error(
      `dgs: the difficulty scorer (${name}) ${problem}; set scorerClassIndex to map the classes`,
    );
  }
  return { scorer, name };
}

/** The per-class samplings' histograms summed over classes, and their summaries, as result metrics. */
function samplingMetrics(
  per: ClassSampling[],
  poolDiff: Float32Array[],
  realDiff: Float32Array[],
): Record<string, number> {
  const m: Record<string, number> = {};
  const bins = per[0].target.length;
  for (const key of ["original", "pool", "target", "selected"] as const) {
    for (let k = 0; k < bins; k++) m[`hist.${key}.${k}`] = per.reduce((a, s) => a + s[key][k], 0);
  }
  const kls = per.map((s) => klDivergence(s.selected, s.target));
  const poolKls = per.map((s) => klDivergence(s.pool, s.target));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
  const meanOf = (arrs: Float32Array[]) => mean(arrs.flatMap((a) => Array.from(a)));
  m.klSelectedTarget = mean(kls);
  m.klSelectedTargetMax = Math.max(...kls);
  m.klPoolTarget = mean(poolKls);
  m.shortfall = per.reduce((a, s) => a + s.shortfall, 0);
  m.meanDifficultyOriginal = meanOf(realDiff);
  m.meanDifficultyPool = meanOf(poolDiff);
  m.meanDifficultySelected = mean(per.flatMap((s, c) => s.picked.map((i) => poolDiff[c][i])));
  const th = per.filter((s) => s.thresholds !== null).map((s) => s.thresholds!);
  if (th.length) {
    m.thresholdBottom = mean(th.map((t) => t.b));
    m.thresholdTop = mean(th.map((t) => t.t));
  }
  return m;
}

export async function distillDgs(ctx: DistillContext<DgsConfig>): Promise<DistillResult> {
  const t0 = performance.now();
  const { dataset, ipc, config: cfg } = ctx;
  const classes = dataset.info.numClasses;
  const perClass = cfg.poolFactor * ipc;
  const { scorer, name } = await openScorer(ctx);
  try {
    // Real difficulties first: a scorer problem surfaces before the expensive pool.
    const byClass = indicesByClass(dataset.train.labels, classes);
    const realRng = new Rng(mixSeed(ctx.seed, 0xd6a1));
    const each = cfg.realImages === null ? Infinity : Math.max(1, Math.floor(cfg.realImages / classes));
    const realIdx = byClass.map((pool, c) => {
      const pos = drawPositions(pool.length, Math.min(each, pool.length), realRng.fork(c));
      return Int32Array.from(pos, (p) => pool[p]);
    });
    const realDiff: Float32Array[] = [];
    for (let c = 0; c < classes; c++) {
      ctx.signal?.throwIfAborted();
      const idx = realIdx[c];
      realDiff.push(
        await difficulties(
          scorer,
          idx.length,
          (a, b) => splitToDevice(dataset, dataset.train, idx.subarray(a, b)).x,
          new Int32Array(idx.length).fill(c),
          cfg.scorerClassIndex,
        ),
      );
      ctx.progress.update(c + 1, classes, "scoring real images");
    }

    const f = await loadFoundation(dataset, cfg.foundation);
    let pool: Pool, poolCached: boolean, source: string;
    try {
      checkResolution(f, cfg.resolution, "dgs");
      source = f.source;
      const minimax = Object.fromEntries(
        Object.keys(MinimaxConfig.shape).map((k) => [k, cfg[k as keyof DgsConfig]]),
      );
      const weights = await readManifest();
      const key = poolKey(dataset, {
        foundation: f.source,
        weights: Object.keys(weights).filter((n) => n.startsWith(`${dataset.info.id}-`)).map((n) =>
          weights[n].sha256
        ),
        minimax,
        perClass,
        seed: ctx.seed,
      });
      ({ pool, cached: poolCached } = await cachedPool(
        poolPath(dataset, key),
        { key, classes, perClass },
        async () => {
          const tune = await tuneMinimaxPrior(f, cfg, ctx.seed, ctx);
          const p = await sampleClasses(f, perClass, cfg, ctx.seed, ctx);
          return { ...p, tuneSteps: tune.steps, tuneLoss: tune.lastLoss };
        },
        ctx.progress,
      ));
    } finally {
      disposeFoundation(f);
    }
    const labels = Int32Array.from(pool.labels);
    const allPoolDiff = await difficulties(
      scorer,
      labels.length,
      (a, b) => normalisedRows(dataset, pool.images, a, b),
      labels,
      cfg.scorerClassIndex,
    );
    // sampleClasses is class-major: class c's pool is rows [c·perClass, (c+1)·perClass).
    const poolDiff = Array.from(
      { length: classes },
      (_, c) => allPoolDiff.subarray(c * perClass, (c + 1) * perClass),
    );
    const opts: SamplingOptions = {
      ipc,
      bins: cfg.bins,
      shape: cfg.distribution,
      logTransform: cfg.logTransform,
      thresholdsFrom: cfg.thresholdsFrom,
      lambda: cfg.lambda,
      eps: cfg.logEpsilon,
      maxClip: cfg.maxClip,
    };
    const rng = new Rng(mixSeed(ctx.seed, 0xd65));
    const per = poolDiff.map((d, c) => sampleClass(realDiff[c], d, opts, rng.fork(c)));

    const [, h, w, ch] = pool.images.shape;
    const size = h * w * ch;
    const rows = per.flatMap((s, c) => s.picked.map((i) => c * perClass + i));
    const data = new Float32Array(rows.length * size);
    rows.forEach((r, k) => data.set(pool.images.data.subarray(r * size, (r + 1) * size), k * size));
    const chosen: HostBatch = { data, shape: [rows.length, h, w, ch] };
    const setLabels = rows.map((r) => labels[r]);
    return {
      set: unitImagesToSet(ctx, "dgs", chosen, setLabels, { foundation: source, difficultyScorer: name }),
      metrics: {
        samples: setLabels.length,
        poolSize: labels.length,
        realScored: realDiff.reduce((a, d) => a + d.length, 0),
        finetuneSteps: pool.tuneSteps,
        lastDiffusionLoss: pool.tuneLoss,
        poolCached: poolCached ? 1 : 0,
        ...samplingMetrics(per, poolDiff, realDiff),
        seconds: (performance.now() - t0) / 1000,
      },
    };
  } finally {
    scorer.dispose();
  }
}

export const dgsMethod: MethodDef<DgsConfig> = {
  id: "dgs",
  description: "DGS: a 5×IPC Minimax image pool sampled to match the real data's (log-transformed) " +
    "difficulty histogram per class",
  reference: "Li et al., Task-Specific Generative Dataset Distillation with Difficulty-Guided Sampling " +
    "(§2, Eqs. 6–9; pool and sampling settings §3.1, §3.3, §3.4)",
  implemented: true,
  schema: DgsConfig,
  defaults: dgsDefaults,
  budget: DGS_BUDGET,
  // Below `paper` a profile substitutes the teacher network (its `teacherNet` knob): the difficulty comes
  // from that teacher instead of the user's ONNX classifier, unless the scorer was pinned.
  scale: (run, { pinned, knob }) =>
    pinned.scorer === undefined && knob("teacherNet") !== undefined && run.scorer === "onnx"
      ? { ...run, scorer: "teacher", scorerClassIndex: pinned.scorerClassIndex ?? null }
      : run,
  scaleNotes: {
    ...MINIMAX_SCALE_NOTES,
    ...TEACHER_SCALE_NOTES,
    scorer: "difficulty from the teacher ddrepro trains (no ImageNet classifier for the stand-in data)",
    scorerClassIndex: "the trained teacher's classes are the dataset's",
    realImages: "the real histograms from a class-balanced subset (the teacher's training budget)",
  },
  distill: distillDgs,
};
