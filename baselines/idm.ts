/**
 * IDM — Improved Distribution Matching (Zhao et al., CVPR 2023; docs/protocols.md §6.1, read
 * against uitrbn/IDM `IDM_cifar10.py` and `command.txt`).
 *
 * - Model queue: starts with `queueStart` random ConvNets, a new one is pushed every `pushEvery`
 *   iterations (the oldest dropped beyond `queueMax`); each iteration `trainNets` queue members train
 *   `trainSteps` SGD steps on random real batches, so the queue holds networks at many stages.
 * - Matching: a random queue member (eval mode); per class, ‖mean embed(real) − mean embed(syn)‖² plus
 *   ceWeight · acc% · CE(net(syn), y), where acc% is that network's running training accuracy (0–100,
 *   0 before it trained; reset every `accWindow` iterations as the reference's meters); one image step
 *   per class (SGD with momentum on the whole image tensor, as the reference).
 * - Partition-and-expand (factor 2): each stored image holds 4 real images downscaled ×½ (bilinear);
 *   matching and evaluation see the 4 quadrants upsampled ×2 (data/multi_formulation.ts). The
 *   distilled set stores the DECODED images (4·IPC per class), so evaluation needs nothing special.
 */
import { z } from "zod";
import { noGrad, type Tensor, tensor, tidy } from "../engine/tensor.ts";
import { grad } from "../engine/autograd.ts";
import { mixSeed, Rng } from "../engine/random.ts";
import { SGD } from "../engine/optim.ts";
import * as T from "../engine/ops/mod.ts";
import { DSA_ALL } from "../data/augment.ts";
import { DsaStrategy } from "../evaluator/protocols.ts";
import { decode, decodeLabels, encode } from "../data/multi_formulation.ts";
import type { Classifier } from "../models/module.ts";
import {
  lrFollowsWidth,
  type MethodBudget,
  WIDTH_SCALE_NOTES,
  widthCompensation,
} from "../methods/budget.ts";
import type { DistillContext, DistillResult, MethodDef } from "../methods/types.ts";
import { buildNet, classMajorLabels, inputSpec, RealPool } from "./gradient_matching.ts";
import { synthesize } from "../methods/synthesis.ts";
import { embedChunked, embedMean, matchAug, withChunks } from "./dm.ts";
import { realDrawRng } from "./real_images.ts";

export const IdmConfig = z.object({
  iterations: z.number().int().min(0),
  lrImg: z.number().positive(),
  momentumImg: z.number().min(0),
  /** Real images per class per matching step. */
  batchReal: z.number().int().positive(),
  /** Weight of the accuracy-weighted CE term (multiplies acc% in 0–100). */
  ceWeight: z.number().min(0),
  /** Partition-and-expand factor (1: plain images). */
  factor: z.number().int().min(1),
  /** Normalised value of the padding when the side is not a multiple of the factor. */
  padValue: z.number(),
  queueStart: z.number().int().min(1),
  queueMax: z.number().int().min(1),
  pushEvery: z.number().int().min(1),
  /** Queue members used for matching per iteration (the reference's train_net_num). */
  matchNets: z.number().int().min(1),
  /** Queue members trained per iteration (fetch_net_num) and their steps (model_train_steps). */
  trainNets: z.number().int().min(0),
  trainSteps: z.number().int().min(0),
  trainBatch: z.number().int().positive(),
  lrNet: z.number().positive(),
  momentumNet: z.number().min(0),
  weightDecayNet: z.number().min(0),
  /** Accuracy meters reset every this many iterations (the reference's eval_interval). */
  accWindow: z.number().int().min(1),
  model: z.string(),
  width: z.number().int().positive(),
  augment: z.enum(["none", "dsa"]),
  dsaStrategy: DsaStrategy,
}).strict();
export type IdmConfig = z.infer<typeof IdmConfig>;

/** Per-dataset/IPC settings of the author commands (command.txt); other datasets use CIFAR-10's. */
function commandSettings(datasetId: string, ipc: number): { ceWeight: number; trainSteps: number } {
  const table: Record<string, Record<number, [number, number]>> = {
    cifar10: { 1: [0.5, 10], 10: [0.5, 10], 50: [0.1, 10] },
    cifar100: { 1: [0.5, 10], 10: [0.1, 50], 50: [0.1, 10] },
    "tiny-imagenet": { 1: [0.5, 10], 10: [0.5, 10], 50: [0.8, 50] },
  };
  const byIpc = table[datasetId] ?? table.cifar10;
  const ipcs = Object.keys(byIpc).map(Number);
  const nearest = ipcs.reduce((a, b) => Math.abs(b - ipc) < Math.abs(a - ipc) ? b : a);
  const [ceWeight, trainSteps] = byIpc[nearest];
  return { ceWeight, trainSteps };
}

export function idmDefaults(datasetId: string, ipc: number): IdmConfig {
  return {
    iterations: 20_000,
    lrImg: 0.2,
    momentumImg: 0.5,
    // IPC 1 runs match against 5000 real images per class (command.txt --batch_real 5000).
    batchReal: ipc === 1 ? 5000 : 256,
    ...commandSettings(datasetId, ipc),
    factor: 2,
    padValue: 0,
    queueStart: 3,
    queueMax: 100,
    pushEvery: ipc === 1 ? 5 : 30,
    matchNets: 1,
    trainNets: 2,
    trainBatch: 256,
    lrNet: 0.01,
    momentumNet: 0.9,
    weightDecayNet: 5e-4,
    accWindow: 100,
    model: "convnet3",
    width: 128,
    augment: "dsa",
    dsaStrategy: [...DSA_ALL],
  };
}

/**
 * How profiles bound IDM (family "idm"; the values are in experiments/profiles.ts): iterations, batches,
 * the queue's training and the width, keeping the queue dynamics: fewer iterations push proportionally
 * more often so the queue still fills, and the accuracy meters are not reset within a short run (weights
 * would mostly read 0). A narrower width scales the image lr as DM's (widthCompensation) and divides
 * ceWeight by the same factor, so the CE term's step on the images stays the paper's while the embedding
 * term's is compensated.
 */
export const IDM_BUDGET: MethodBudget<IdmConfig> = {
  family: "idm",
  keys: {
    iterations: "iterations",
    batchReal: "realBatch",
    trainNets: "trainedNets",
    trainSteps: "netSteps",
    trainBatch: "trainBatch",
    width: "width",
    pushEvery: "refreshEvery",
  },
  derived: {
    lrImg: lrFollowsWidth(),
    ceWeight: ({ paper, run }) => paper.ceWeight / widthCompensation(paper.width, run.width),
    // The budget's iterations (a pinned longer run keeps the profile's window).
    accWindow: ({ paper, budgeted }) => Math.max(1, Math.min(paper.accWindow, budgeted.iterations)),
  },
};

/** A queue member: network, its own optimizer (momentum persists), and its accuracy meter. */
interface Member {
  net: Classifier;
  opt: SGD;
  correct: Tensor | null;
  seen: number;
}

function newMember(cfg: IdmConfig, rng: Rng, input: ReturnType<typeof inputSpec>): Member {
  const net = buildNet(cfg.model, cfg.width, rng, input);
  const opt = new SGD(net.parameters(), {
    lr: cfg.lrNet,
    momentum: cfg.momentumNet,
    weightDecay: cfg.weightDecayNet,
  });
  return { net, opt, correct: null, seen: 0 };
}

function disposeMember(m: Member): void {
  m.correct?.dispose();
  m.opt.dispose();
  m.net.dispose();
}

function resetMeter(m: Member): void {
  m.correct?.dispose();
  m.correct = null;
  m.seen = 0;
}

/** The member's training accuracy in percent since its meter was reset (0 before any step). */
async function meterValue(m: Member): Promise<number> {
  if (!m.correct || m.seen === 0) return 0;
  return (100 * await m.correct.item()) / m.seen;
}

/** `steps` SGD steps of CE on random real batches (no augmentation), counting correct predictions. */
function trainMember(m: Member, pool: RealPool, cfg: IdmConfig, rng: Rng): void {
  m.net.train();
  const params = m.net.parameters();
  for (let s = 0; s < cfg.trainSteps; s++) {
    const counted = tidy(() => {
      const b = pool.mixed(cfg.trainBatch, rng.fork(s));
      const y = tensor(b.y, [b.y.length], "i32");
      const logits = m.net.forward(b.x);
      const g = grad(T.crossEntropy(logits, y), params);
      noGrad(() => m.opt.step(g));
      const c = noGrad(() => T.correctCount(logits.detach(), y));
      return m.correct ? noGrad(() => T.add(m.correct!, c)) : c;
    });
    m.correct?.dispose();
    m.correct = counted.keep();
    m.seen += Math.min(cfg.trainBatch, pool.y.length);
  }
}

/** Indices 0..n-1 in a seeded random order. */
const shuffled = (n: number, rng: Rng) => Array.from(rng.permutation(n));

/** Stored images: per class `ipc` images, each tiling f² real images downscaled by 1/f (bilinear). */
function initStored(pool: RealPool, cfg: IdmConfig, ipc: number, rng: Rng): Tensor {
  if (cfg.factor === 1) return noGrad(() => pool.realInit(ipc, rng));
  const k = cfg.factor * cfg.factor;
  // One independent real draw per grid cell, as the reference's four get_images calls.
  return noGrad(() =>
    encode(
      T.concat(Array.from({ length: k }, (_, q) => pool.realInit(ipc, rng.fork(q))), 0),
      cfg.factor,
    )
  );
}

/** Decoded images of stored rows [c·ipc, (c+1)·ipc): f²·ipc images of class c. */
function decodeClass(img: Tensor, c: number, ipc: number, cfg: IdmConfig): Tensor {
  const xs = T.slice(img, [c * ipc, 0, 0, 0], [ipc, -1, -1, -1]);
  return decode(xs, cfg.factor, { padValue: cfg.padValue });
}

/** The IDM loop; a regularizer (`ctx.regularizer`) joins once per iteration, on the decoded images. */
export function distillIdm(ctx: DistillContext<IdmConfig>, method: string): Promise<DistillResult> {
  const { dataset, ipc, seed, config: cfg, regularizer } = ctx;
  const classes = dataset.info.numClasses;
  const input = inputSpec(dataset);
  const digits = dataset.info.digits;
  const strategy = cfg.dsaStrategy;
  const rng = new Rng(seed);
  const f2 = cfg.factor * cfg.factor;
  const n = classes * ipc;
  const queue: Member[] = [];
  let pushed = 0, lastWeight = 0, maxWeight = 0;
  const push = () => {
    if (queue.length >= cfg.queueMax) disposeMember(queue.shift()!);
    queue.push(newMember(cfg, rng.fork(500_000 + pushed++), input));
  };
  return synthesize(ctx, method, {
    loss: "match",
    iterations: cfg.iterations,
    optimizer: { lr: cfg.lrImg, momentum: cfg.momentumImg },
    setup: () => {
      const pool = new RealPool(dataset);
      const images = initStored(pool, cfg, ipc, realDrawRng(seed)).keep().requireGrad();
      for (let q = 0; q < cfg.queueStart; q++) push();
      return {
        images,
        labels: classMajorLabels(classes, ipc),
        pool,
        dispose: () => {
          queue.forEach(disposeMember);
          pool.dispose();
        },
      };
    },
    iterate: async ({ images: img, labels, pool }, opt, it) => {
      await regularizer?.prepare(it);
      const itRng = rng.fork(1000 + it);
      if (it > 0 && it % cfg.accWindow === 0) queue.forEach(resetMeter);
      if (it % cfg.pushEvery === 0) push();
      let lossSum = 0;
      const order = shuffled(queue.length, itRng.fork(1));
      for (const [k, qi] of order.slice(0, cfg.matchNets).entries()) {
        const m = queue[qi];
        const net = m.net;
        net.eval();
        const acc = await meterValue(m);
        lastWeight = cfg.ceWeight * acc;
        maxWeight = Math.max(maxWeight, lastWeight);
        const params = net.parameters();
        params.forEach((p) => p.requireGrad(false));
        try {
          for (let c = 0; c < classes; c++) {
            const stepSeed = mixSeed(itRng.seed, 10_000 * (k + 1) + c);
            const lossT = withChunks((chunk) =>
              tidy(() => {
                const augSeed = mixSeed(stepSeed, 7919);
                const er = noGrad(() => {
                  const rb = pool.batch(c, cfg.batchReal, new Rng(mixSeed(stepSeed, 1)));
                  return embedMean(net, matchAug(rb.x, cfg.augment, strategy, augSeed, digits), chunk);
                });
                const syn = matchAug(decodeClass(img, c, ipc, cfg), cfg.augment, strategy, augSeed, digits);
                const es = embedChunked(net, syn, chunk);
                let loss = T.sum(T.square(T.sub(er, T.mean(es, 0))));
                if (lastWeight > 0) {
                  const y = tensor(new Int32Array(syn.shape[0]).fill(c), [syn.shape[0]], "i32");
                  loss = T.add(loss, T.mul(T.crossEntropy(net.classify(es), y), lastWeight));
                }
                let total = loss;
                // The regularizer joins the first class step of each iteration; that step moves the
                // whole tensor, so it acts once per iteration on every image (as DM's).
                if (regularizer && k === 0 && c === 0) {
                  const all = decode(img, cfg.factor, { padValue: cfg.padValue });
                  total = T.add(total, regularizer.loss(all, decodeLabels(labels, cfg.factor), it));
                }
                const [g] = grad(total, [img]);
                noGrad(() => opt.step([g]));
                return loss.detach();
              })
            );
            lossSum += await lossT.item();
            lossT.dispose();
          }
        } finally {
          params.forEach((p) => p.requireGrad(true));
        }
      }
      // Train random queue members on real data (the reference's fetch_net_num × model_train_steps).
      const trainOrder = shuffled(queue.length, itRng.fork(2));
      for (const qi of trainOrder.slice(0, cfg.trainNets)) {
        trainMember(queue[qi], pool, cfg, itRng.fork(3 + qi));
      }
      return lossSum / (classes * Math.min(cfg.matchNets, queue.length));
    },
    describe: (_, loss) => `iteration (loss ${loss.toFixed(3)}, queue ${queue.length})`,
    finish: ({ images: img }) => {
      // Stored → decoded, reordered class-major: class c's f²·ipc images together.
      const decoded = noGrad(() => tidy(() => decode(img.detach(), cfg.factor, { padValue: cfg.padValue })));
      const order = Int32Array.from({ length: n * f2 }, (_, r) => {
        const c = Math.floor(r / (ipc * f2)), within = r % (ipc * f2);
        const cell = Math.floor(within / ipc), t = within % ipc;
        return cell * n + c * ipc + t;
      });
      const classMajor = noGrad(() => T.gather(decoded, tensor(order, [order.length], "i32")));
      decoded.dispose();
      return Promise.resolve({
        images: classMajor,
        labels: classMajorLabels(classes, ipc * f2),
        extra: {
          decoded: `stored ${n} images of factor ${cfg.factor} decoded into ${n * f2} ` +
            `(${f2} per stored image, ${ipc * f2} per class); evaluate as is`,
          storedImages: String(n),
          factor: String(cfg.factor),
        },
        metrics: {
          finalCeWeight: lastWeight,
          maxCeWeight: maxWeight,
          queueSize: queue.length,
          storedImages: n,
          decodedImages: n * f2,
        },
        dispose: () => classMajor.dispose(),
      });
    },
  });
}

export const idmMethod: MethodDef<IdmConfig> = {
  id: "idm",
  description: "IDM: distribution matching with a trained model queue, accuracy-weighted CE and " +
    "partition-and-expand (factor 2)",
  reference: "Zhao et al., CVPR 2023 (uitrbn/IDM IDM_cifar10.py, command.txt)",
  implemented: true,
  schema: IdmConfig,
  defaults: idmDefaults,
  budget: IDM_BUDGET,
  scaleNotes: WIDTH_SCALE_NOTES,
  distill: (ctx) => distillIdm(ctx, "idm"),
  regularizable: true,
  imagesPerClass: (c, ipc) => c.factor * c.factor * ipc,
};
