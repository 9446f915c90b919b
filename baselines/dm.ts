/**
 * DM — Dataset Condensation with Distribution Matching (Zhao & Bilen, WACV 2023;
 * docs/protocols.md §5).
 *
 * Iteration: a new randomly initialised ConvNet, frozen, in train mode; per class, the same Siamese DSA
 * draw on a real batch and on the class's synthetic images; loss Σ_c ‖mean embed(real) − mean
 * embed(syn)‖² (embed = the flattened feature map before the classifier); one SGD step on the images.
 * The helpers here (chunked embedding means, matching augmentation, real init) are shared with IDM.
 */
import { z } from "zod";
import { noGrad, type Tensor, tidy } from "../engine/tensor.ts";
import { grad } from "../engine/autograd.ts";
import { mixSeed, Rng } from "../engine/random.ts";
import * as T from "../engine/ops/mod.ts";
import { dsa, DSA_ALL, type DsaGroup } from "../data/augment.ts";
import { DsaStrategy } from "../evaluator/protocols.ts";
import type { Classifier } from "../models/module.ts";
import { fitMicroBatches } from "../evaluator/train.ts";
import { lrFollowsWidth, type MethodBudget, WIDTH_SCALE_NOTES } from "../methods/budget.ts";
import type { DistillContext, DistillResult, MethodDef } from "../methods/types.ts";
import { buildNet, classMajorLabels, inputSpec, RealPool } from "./gradient_matching.ts";
import { synthesize } from "../methods/synthesis.ts";
import { realDrawRng } from "./real_images.ts";

export const DmConfig = z.object({
  iterations: z.number().int().min(0),
  lrImg: z.number().positive(),
  momentumImg: z.number().min(0),
  /** Real images per class per iteration (DM's batch_real). */
  batchReal: z.number().int().positive(),
  init: z.enum(["real", "noise"]),
  model: z.string(),
  /** ConvNet width (128 in the paper; profiles and tests shrink it). */
  width: z.number().int().positive(),
  /** Siamese DSA on each class's real and synthetic batch (DM) or none. */
  augment: z.enum(["none", "dsa"]),
  dsaStrategy: DsaStrategy,
}).strict();
export type DmConfig = z.infer<typeof DmConfig>;

export function dmDefaults(ipc: number): DmConfig {
  return {
    iterations: 20_000,
    lrImg: ipc >= 100 ? 10 : 1,
    momentumImg: 0.5,
    batchReal: 256,
    init: "real",
    model: "convnet3",
    width: 128,
    augment: "dsa",
    dsaStrategy: [...DSA_ALL],
  };
}

/**
 * How profiles bound DM (family "dm"; the values are in experiments/profiles.ts): iterations, the real batch
 * and the random networks' width, with the image lr compensated for a narrower net. Every iteration
 * forwards the whole synthetic set, so a profile may share its iterations across the set's size.
 */
export const DM_BUDGET: MethodBudget<DmConfig> = {
  family: "dm",
  keys: { iterations: "iterations", batchReal: "realBatch", width: "width" },
  derived: { lrImg: lrFollowsWidth() },
};

/** Rows per forward pass before splitting (256 ConvNet-3 activations of 32² × 128 fill 128 MiB). */
const CHUNK = 200;

/** Rows of `net.embed(x)`, forwarding at most `chunk` images at a time (differentiable). */
export function embedChunked(net: Classifier, x: Tensor, chunk: number): Tensor {
  const n = x.shape[0];
  if (n <= chunk) return net.embed(x);
  const parts: Tensor[] = [];
  for (let s = 0; s < n; s += chunk) {
    parts.push(net.embed(T.slice(x, [s, 0, 0, 0], [Math.min(chunk, n - s), -1, -1, -1])));
  }
  return T.concat(parts, 0);
}

/** Mean embedding of x [D] (chunked). */
export function embedMean(net: Classifier, x: Tensor, chunk: number): Tensor {
  return T.mean(embedChunked(net, x, chunk), 0);
}

/** Siamese matching augmentation: equal seeds give the real and synthetic batch the same transform. */
export function matchAug(
  x: Tensor,
  augment: "none" | "dsa",
  strategy: readonly DsaGroup[],
  seed: number,
  digits: boolean,
): Tensor {
  if (augment === "none") return x;
  return dsa(x, new Rng(seed), { siamese: true, noFlip: digits, strategy });
}

/** Runs `body(chunk)` with a smaller forward chunk while some activation exceeds the binding limit. */
export function withChunks<R>(body: (chunk: number) => R): R {
  return fitMicroBatches(1, (parts) => body(Math.max(1, Math.floor(CHUNK / parts))));
}

/** The DM loop; `method` names the set; a regularizer (`ctx.regularizer`) joins each iteration's loss. */
export function distillDm(ctx: DistillContext<DmConfig>, method: string): Promise<DistillResult> {
  const { dataset, ipc, seed, config: cfg, regularizer } = ctx;
  const classes = dataset.info.numClasses;
  const input = inputSpec(dataset);
  const digits = dataset.info.digits;
  const strategy = cfg.dsaStrategy;
  const rng = new Rng(seed);
  return synthesize(ctx, method, {
    loss: "match",
    iterations: cfg.iterations,
    optimizer: { lr: cfg.lrImg, momentum: cfg.momentumImg },
    setup: () => {
      const pool = new RealPool(dataset);
      const initRng = realDrawRng(seed);
      const images = noGrad(() =>
        cfg.init === "real"
          ? pool.realInit(ipc, initRng)
          : initRng.normal([classes * ipc, input.imageSize, input.imageSize, input.channels])
      ).keep().requireGrad();
      return { images, labels: classMajorLabels(classes, ipc), pool, dispose: () => pool.dispose() };
    },
    iterate: async ({ images: img, labels, pool }, opt, it) => {
      await regularizer?.prepare(it);
      const itRng = rng.fork(1000 + it);
      const net = buildNet(cfg.model, cfg.width, itRng.fork(0), input);
      // Frozen: gradients flow to the images only.
      for (const p of net.parameters()) p.requireGrad(false);
      net.train();
      let lossT: Tensor;
      try {
        lossT = withChunks((chunk) =>
          tidy(() => {
            let match: Tensor = T.fill([], 0);
            const synAug: Tensor[] = [];
            const realMeans: Tensor[] = [];
            for (let c = 0; c < classes; c++) {
              const augSeed = mixSeed(itRng.seed, 7919 + c);
              realMeans.push(tidy(() =>
                noGrad(() => {
                  const rb = pool.batch(c, cfg.batchReal, new Rng(mixSeed(itRng.seed, c + 1)));
                  return embedMean(net, matchAug(rb.x, cfg.augment, strategy, augSeed, digits), chunk);
                })
              ));
              const xs = T.slice(img, [c * ipc, 0, 0, 0], [ipc, -1, -1, -1]);
              synAug.push(matchAug(xs, cfg.augment, strategy, augSeed, digits));
            }
            // One forward over every class's synthetic images (instance norm: per sample, so grouping
            // does not change the embeddings).
            const es = embedChunked(net, T.concat(synAug, 0), chunk);
            for (let c = 0; c < classes; c++) {
              const ms = T.mean(T.slice(es, [c * ipc, 0], [ipc, -1]), 0);
              match = T.add(match, T.sum(T.square(T.sub(realMeans[c], ms))));
            }
            let total = match;
            if (regularizer) total = T.add(total, regularizer.loss(img, labels, it));
            const [g] = grad(total, [img]);
            noGrad(() => opt.step([g]));
            return match.detach();
          })
        );
      } finally {
        net.dispose();
      }
      const loss = await lossT.item();
      lossT.dispose();
      return loss;
    },
  });
}

export const dmMethod: MethodDef<DmConfig> = {
  id: "dm",
  description: "DM: match mean embeddings of random frozen ConvNets, per class, with Siamese DSA",
  reference: "Zhao & Bilen, WACV 2023 (VICO-UoE/DatasetCondensation main_DM.py)",
  implemented: true,
  schema: DmConfig,
  defaults: (_dataset, ipc) => dmDefaults(ipc),
  budget: DM_BUDGET,
  scaleNotes: WIDTH_SCALE_NOTES,
  distill: (ctx) => distillDm(ctx, "dm"),
  regularizable: true,
};
