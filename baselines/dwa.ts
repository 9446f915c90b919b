/**
 * DWA — Diversity-Driven Synthesis through Directed Weight Adjustment (Du et al., NeurIPS 2024;
 * AngusDujw/Diversity-Driven-Synthesis).
 *
 * SRe²L's recover loop (baselines/sre2l.ts) with three changes, as in the official distillation scripts:
 * - each batch holds one image per class and starts from real images (the seed's class-balanced real draw,
 *   as Random selects it: batch b starts from the b-th drawn image of every class);
 * - before a batch recovers, the teacher's weights take `adjustSteps` normalised ascent steps on the
 *   batch's cross-entropy, θ ← θ + (ρ / K) · ∇θ CE / ‖∇θ CE‖ (the official `Perterb.first_step`, on the
 *   first iteration's augmented view), so every batch matches a differently perturbed teacher: the
 *   diversity the method is named for. The teacher is restored after the batch (the official scripts
 *   reload it per IPC index) and relabels with its own weights;
 * - the BN loss weighs the variance term by r_var: Σ_l s_l (r_var ‖σ²_run − σ²‖₂ + ‖μ_run − μ‖₂).
 *
 * The official loop accumulates the K adjustment passes' input gradients into the first Adam step (the
 * images' gradient is not cleared between them); here the images' first step sees the recover loss only.
 */
import { z } from "zod";
import type { Tensor } from "../engine/tensor.ts";
import { noGrad, tidy } from "../engine/tensor.ts";
import { grad } from "../engine/autograd.ts";
import { assign } from "../engine/assign.ts";
import * as T from "../engine/ops/mod.ts";
import type { Classifier } from "../models/module.ts";
import { splitToDevice } from "../evaluator/device_data.ts";
import type { MethodBudget } from "../methods/budget.ts";
import type { DistillContext, DistillResult, MethodDef } from "../methods/types.ts";
import { indicesByClass, realDraw, realDrawRng } from "./real_images.ts";
import { recoverSet, Sre2lConfig, sre2lDefaults } from "./sre2l.ts";
import { TEACHER_BUDGET_KEYS, TEACHER_SCALE_NOTES } from "./teacher_net.ts";

export const DwaConfig = Sre2lConfig.extend({
  /** ρ: the length of the whole weight adjustment (each of the K steps moves ρ / K). */
  rho: z.number().min(0),
  /** K: ascent steps of the adjustment (0: none, SRe²L's recover from real images). */
  adjustSteps: z.number().int().min(0),
  /** r_var: weight of the BN loss's variance term. */
  rVar: z.number().min(0),
}).strict();
export type DwaConfig = z.infer<typeof DwaConfig>;

/**
 * The official scripts' settings by the image size of the data that runs: run_cifar.sh (32 px: lr 0.25,
 * r_bn 0.01, 1000 iterations, K 12, ρ 0.015, r_var 11, shift 0–4, no crop), run_tiny.sh (64 px: lr 0.1,
 * 2000 iterations, batch 200, RRC + flip, shift 0–4, otherwise as CIFAR) and run_imgnet.sh (ImageNet:
 * lr 0.25, r_bn 0.01, 2000 iterations, K 15, ρ 0.015, r_var 2, RRC + flip, shift 0–32).
 */
export function dwaDefaults(datasetId: string): DwaConfig {
  const base = sre2lDefaults(datasetId);
  const adjust = { rho: 0.015, adjustSteps: 12, rVar: 11 };
  if (datasetId === "tiny-imagenet") {
    return { ...base, ...adjust, iterations: 2000, batchSize: 200, jitterMode: "forward", rBn: 0.01 };
  }
  if (base.augment === "rrc-flip") return { ...base, ...adjust, iterations: 2000, adjustSteps: 15, rVar: 2 };
  return { ...base, ...adjust };
}

export const DWA_BUDGET: MethodBudget<DwaConfig> = {
  family: "sre2l",
  keys: { ...TEACHER_BUDGET_KEYS, iterations: "iterations" },
};

/**
 * K steps of θ ← θ + (ρ / K) · g / (‖g‖ + 1e-12), g = ∇θ CE(teacher(x), y) over all parameters, in place
 * (the teacher in its current mode: eval during recovery, so batch norm uses its running statistics).
 */
export function adjustWeights(teacher: Classifier, x: Tensor, y: Tensor, rho: number, steps: number): void {
  const params = teacher.parameters();
  // A frozen teacher (teacher_net.ts) is differentiated w.r.t. its weights for the adjustment only.
  const frozen = params.map((p) => !p.requiresGrad);
  params.forEach((p) => p.requireGrad(true));
  try {
    for (let k = 0; k < steps; k++) {
      tidy(() => {
        const g = grad(T.crossEntropy(teacher.forward(x), y), params);
        noGrad(() => {
          let sq: Tensor = T.fill([], 0);
          for (const t of g) sq = T.add(sq, T.sum(T.square(t)));
          const scale = T.div(rho / steps, T.add(T.sqrt(sq), 1e-12));
          params.forEach((p, i) => assign(p, T.add(p, T.mul(g[i], scale))));
        });
      });
    }
  } finally {
    params.forEach((p, i) => p.requireGrad(!frozen[i]));
  }
}

/** The official batches: one image per class each, batch b starting from the b-th drawn image of every class. */
const PER_BATCH = 1;

export function distillDwa(ctx: DistillContext<DwaConfig>): Promise<DistillResult> {
  const { dataset, ipc, seed, config: cfg } = ctx;
  const byClass = indicesByClass(dataset.train.labels, dataset.info.numClasses);
  const short = byClass.findIndex((l) => l.length < ipc);
  if (short >= 0) {
    throw new Error(
      `dwa: class ${short} of ${dataset.info.id} has ${byClass[short].length} training images, IPC is ${ipc}`,
    );
  }
  const drawn = realDraw(byClass, ipc, realDrawRng(seed));
  return recoverSet(ctx, "dwa", {
    perBatch: PER_BATCH,
    varWeight: cfg.rVar,
    init: (b, perClass) => {
      const idx: number[] = [];
      for (let c = 0; c < byClass.length; c++) {
        for (let j = 0; j < perClass; j++) idx.push(drawn[c * ipc + b * PER_BATCH + j]);
      }
      return splitToDevice(dataset, dataset.train, Int32Array.from(idx)).x;
    },
    adjustTeacher: cfg.adjustSteps > 0 && cfg.rho > 0
      ? (teacher, x, y) => adjustWeights(teacher, x, y, cfg.rho, cfg.adjustSteps)
      : undefined,
  });
}

export const dwaMethod: MethodDef<DwaConfig> = {
  id: "dwa",
  description:
    "DWA: SRe²L's recover from real images, one image per class per batch, each batch on a teacher " +
    "perturbed along its loss gradient; teacher soft labels",
  reference: "Du et al., NeurIPS 2024 (AngusDujw/Diversity-Driven-Synthesis distillation/*.py, perterb.py)",
  implemented: true,
  schema: DwaConfig,
  defaults: (datasetId) => dwaDefaults(datasetId),
  budget: DWA_BUDGET,
  scaleNotes: {
    ...TEACHER_SCALE_NOTES,
    iterations: "fewer recover iterations fit the profile's time budget",
  },
  distill: distillDwa,
};
