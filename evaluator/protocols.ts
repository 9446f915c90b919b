/**
 * Evaluator training protocols as typed, named data (docs/protocols.md §2, §6.2, §7.3, §8;
 * IGDS App. F; D³HR Table A1). Every result records the full resolved protocol. Learning-rate decay is expressed in
 * fractions of the run so that a profile that scales epochs keeps the schedule's shape.
 */
import { z } from "zod";
import { DSA_ALL } from "../data/augment.ts";

export const OptimizerSpec = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("sgd"),
    lr: z.number().positive(),
    momentum: z.number().min(0).max(1),
    weightDecay: z.number().min(0),
  }).strict(),
  z.object({ kind: z.literal("adam"), lr: z.number().positive(), weightDecay: z.number().min(0) }).strict(),
  z.object({ kind: z.literal("adamw"), lr: z.number().positive(), weightDecay: z.number().min(0) }).strict(),
]);
export type OptimizerSpec = z.infer<typeof OptimizerSpec>;

export const DecaySpec = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("none") }).strict(),
  /** DC: passes 0…E (E+1 of them); after pass ⌊E/2⌋ the lr is ×0.1 and the optimizer rebuilt (momentum reset). */
  z.object({ kind: z.literal("dc-half"), factor: z.number().positive(), resetOptimizer: z.boolean() })
    .strict(),
  /** MultiStepLR at fractions of the run (IDC: 2/3 and 5/6, γ 0.2). */
  z.object({
    kind: z.literal("multistep"),
    fractions: z.array(z.number().gt(0).lt(1)),
    gamma: z.number().positive(),
  }).strict(),
  /** RDED/D³HR LambdaLR: lr·0.5·(1 + cos(π·e/(2E))), per epoch. */
  z.object({ kind: z.literal("half-cosine") }).strict(),
  z.object({ kind: z.literal("cosine") }).strict(),
]);
export type DecaySpec = z.infer<typeof DecaySpec>;

/** A list of DSA groups (data/augment.ts), e.g. a method's matching augmentation. */
export const DsaStrategy = z.array(z.enum(DSA_ALL));

export const AugmentSpec = z.object({
  /**
   * `dsa`: DSA's mode 'S' (one group per call); `idc`: IDC's DiffAug (flip, color, cutout every call
   * plus one of crop/scale/rotate; data/augment.ts); both per sample, digits never flipped.
   */
  kind: z.enum(["none", "dc", "dsa", "idc", "rrc-flip"]),
  /**
   * The groups of `dsa`/`idc` (default: all six, without cutout when CutMix is on, as IDC's
   * evaluation and network updates remove it).
   */
  strategy: DsaStrategy.optional(),
  /** CutMix probability and Beta(β, β); null disables it. */
  cutmix: z.object({ prob: z.number().min(0).max(1), beta: z.number().positive() }).strict().nullable(),
}).strict();
export type AugmentSpec = z.infer<typeof AugmentSpec>;

export const LabelSpec = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("hard") }).strict(),
  /**
   * Teacher logits on each augmented batch, KL at temperature T (SRe²L/RDED/D³HR). No pretrained
   * weights exist here, so ddrepro trains the teacher on the training split (holdout excluded) with
   * the whole-dataset recipe for `teacherEpochs`, on `teacherTrainLimit` images (null: all), and caches it.
   */
  z.object({
    kind: z.literal("soft-kd"),
    teacher: z.string(),
    /**
     * An ensemble: the tempered soft labels of this many teachers (seeds 0…n−1) averaged (D3S's
     * setup, D³HR Table 4); absent: one teacher.
     */
    teachers: z.number().int().min(2).optional(),
    temperature: z.number().positive(),
    teacherEpochs: z.number().int().positive(),
    teacherTrainLimit: z.number().int().positive().nullable(),
  }).strict(),
]);
export type LabelSpec = z.infer<typeof LabelSpec>;

export const ProtocolConfig = z.object({
  id: z.string(),
  description: z.string(),
  optimizer: OptimizerSpec,
  decay: DecaySpec,
  /** Training epochs; by IPC where the protocol varies them (IGDS Table 8), else `default`. */
  epochs: z.object({
    default: z.number().int().positive(),
    byIpc: z.record(z.string(), z.number().int().positive()),
  }).strict(),
  batchSize: z.number().int().positive(),
  augment: AugmentSpec,
  labels: LabelSpec,
  /** Evaluate holdout accuracy every this many epochs (and at the end). */
  evalEvery: z.number().int().positive(),
  /**
   * Also test every evaluation point, for `bestTestAcc` (the max test accuracy over the curve, the
   * optimistic selection some papers report). Default: the test split is evaluated for the last
   * weights and for the best-holdout weights only.
   */
  testCurve: z.boolean().optional(),
  /**
   * The optimizer's lr is read from the distilled set's metadata `extra.<key>` instead (MTT trains its
   * evaluator with the step size it learned alongside the images).
   */
  lrFromSet: z.string().min(1).optional(),
}).strict();
export type ProtocolConfig = z.infer<typeof ProtocolConfig>;

const sgdDc: OptimizerSpec = { kind: "sgd", lr: 0.01, momentum: 0.9, weightDecay: 5e-4 };
/** The soft-label teacher: a ResNet-18 trained by ddrepro (cells name another with `teacher`). */
const softKdTeacher: LabelSpec = {
  kind: "soft-kd",
  teacher: "resnet18-modified",
  temperature: 20,
  teacherEpochs: 30,
  teacherTrainLimit: null,
};
const none: AugmentSpec = { kind: "none", cutmix: null };

/** The protocols of the seed papers and the methods they build on, at the paper profile. */
export const PROTOCOLS: Record<string, ProtocolConfig> = {
  dc: {
    id: "dc",
    description:
      "DC evaluate_synset: SGD 0.01 m0.9 wd5e-4, batch 256, lr ×0.1 at half with optimizer reset; " +
      "MNIST 1000 epochs with DC augment, other datasets 300 without augmentation",
    optimizer: sgdDc,
    decay: { kind: "dc-half", factor: 0.1, resetOptimizer: true },
    epochs: { default: 300, byIpc: {} },
    batchSize: 256,
    augment: none,
    labels: { kind: "hard" },
    evalEvery: 50,
  },
  dsa: {
    id: "dsa",
    description: "DSA/DM evaluation: as DC with 1000 epochs and per-sample DSA augmentation",
    optimizer: sgdDc,
    decay: { kind: "dc-half", factor: 0.1, resetOptimizer: true },
    epochs: { default: 1000, byIpc: {} },
    batchSize: 256,
    augment: { kind: "dsa", cutmix: null },
    labels: { kind: "hard" },
    evalEvery: 100,
  },
  idc: {
    id: "idc",
    description:
      "IDC evaluation: 1000 epochs, batch 64, SGD 0.01 m0.9 wd5e-4, multistep 2/3, 5/6 (γ 0.2), IDC's " +
      "DiffAug (flip, color and one of crop/scale/rotate per call; cutout replaced by CutMix p 0.5)",
    optimizer: sgdDc,
    decay: { kind: "multistep", fractions: [2 / 3, 5 / 6], gamma: 0.2 },
    epochs: { default: 1000, byIpc: {} },
    batchSize: 64,
    augment: { kind: "idc", cutmix: { prob: 0.5, beta: 1 } },
    labels: { kind: "hard" },
    evalEvery: 100,
  },
  minimax: {
    id: "minimax",
    description: "Minimax/IGDS/DGS hard-label protocol (IGDS App. F): Adam lr 0.01, epochs by IPC " +
      "(Table 8: 2000/2000/1500/1500/1000), random-resized-crop + flip + CutMix",
    optimizer: { kind: "adam", lr: 0.01, weightDecay: 0 },
    decay: { kind: "none" },
    epochs: { default: 1000, byIpc: { "1": 2000, "10": 2000, "20": 1500, "50": 1500, "100": 1000 } },
    batchSize: 64,
    augment: { kind: "rrc-flip", cutmix: { prob: 1, beta: 1 } },
    labels: { kind: "hard" },
    evalEvery: 100,
  },
  "soft-kd": {
    id: "soft-kd",
    description: "Soft-label KD as the reference code runs it (RDED/D³HR validate.py): teacher logits per " +
      "augmented batch, KL at T=20, AdamW 0.001 (VGG-11 5e-4, MobileNet-V2 2.5e-3, EfficientNet-B0 2e-3) " +
      "wd 0.01, half-cosine, CutMix, RRC + flip, batch by IPC (15 / 50 / 100 at IPC < 10 / ≥ 10 / ≥ 50, " +
      "×2 at 100 classes, at most the set), 300 epochs (CIFAR 400)",
    optimizer: { kind: "adamw", lr: 0.001, weightDecay: 0.01 },
    decay: { kind: "half-cosine" },
    epochs: { default: 300, byIpc: {} },
    batchSize: 100,
    augment: { kind: "rrc-flip", cutmix: { prob: 1, beta: 1 } },
    labels: softKdTeacher,
    evalEvery: 50,
  },
  d3hr: {
    id: "d3hr",
    description:
      "D³HR's soft-label validation as its Table A1 states it: AdamW lr 0.01 wd 0.01, batch 128, " +
      "RandomResizedCrop + flip (no CutMix), cosine annealing, KL at T=20, 400 epochs on CIFAR-10/100, 300 " +
      "on Tiny-ImageNet and ImageNet-1K (the reference code's values: protocol soft-kd)",
    optimizer: { kind: "adamw", lr: 0.01, weightDecay: 0.01 },
    decay: { kind: "cosine" },
    epochs: { default: 300, byIpc: {} },
    batchSize: 128,
    augment: { kind: "rrc-flip", cutmix: null },
    labels: softKdTeacher,
    evalEvery: 50,
  },
  full: {
    id: "full",
    description: "Whole-dataset training (full-dataset rows and teachers): DC optimizer, lr ×0.1 at half",
    optimizer: sgdDc,
    decay: { kind: "dc-half", factor: 0.1, resetOptimizer: false },
    epochs: { default: 30, byIpc: {} },
    batchSize: 256,
    augment: none,
    labels: { kind: "hard" },
    evalEvery: 5,
  },
};

// DM is evaluated exactly as DSA; MTT as DSA with the learned step size as lr (set per distilled set).
PROTOCOLS.dm = { ...PROTOCOLS.dsa, id: "dm", description: "DM evaluation (identical to DSA's)" };
PROTOCOLS.mtt = {
  ...PROTOCOLS.dsa,
  id: "mtt",
  description: "MTT evaluation: DSA protocol with lr = the learned step size α",
  lrFromSet: "learnedLr",
};

export function getProtocol(id: string): ProtocolConfig {
  const p = PROTOCOLS[id];
  if (!p) throw new Error(`unknown protocol "${id}"; known: ${Object.keys(PROTOCOLS).join(", ")}`);
  return structuredClone(p);
}

/** What a protocol may depend on besides the dataset: the IPC, the class count, the student network. */
export interface ProtocolContext {
  ipc?: number | null;
  classes?: number;
  model?: string;
}

/** D³HR's validate.py lr by student (argument.py); every other student trains at 0.001. */
const SOFT_KD_CODE_LR: Readonly<Record<string, number>> = {
  vgg11: 5e-4,
  "vgg11-torchvision": 5e-4,
  mobilenetv2: 2.5e-3,
  "efficientnet-b0": 2e-3,
  alexnet: 1e-4,
};

/** D³HR's validate.py batch size: 15 / 50 / 100 by IPC, ×2 at 100 classes, at most the set's size. */
export function softKdCodeBatch(ipc: number | null, classes: number): number {
  let b = ipc === null ? 100 : ipc >= 50 ? 100 : ipc >= 10 ? 50 : 15;
  if (classes === 100) b *= 2;
  return ipc === null ? b : Math.min(b, ipc * classes);
}

/**
 * Per-dataset (and per-setting) adjustments the papers and reference code make: DC gives MNIST 1000
 * epochs with its augment; D³HR trains 400 epochs on CIFAR; its code sizes the batch by IPC and the lr
 * by the student.
 */
export function protocolFor(id: string, datasetId: string, ctx: ProtocolContext = {}): ProtocolConfig {
  const p = getProtocol(id);
  if (id === "dc" && datasetId === "mnist") {
    p.epochs.default = 1000;
    p.augment = { kind: "dc", cutmix: null };
  }
  if ((id === "d3hr" || id === "soft-kd") && (datasetId === "cifar10" || datasetId === "cifar100")) {
    p.epochs.default = 400;
  }
  if (id === "soft-kd") {
    if (ctx.classes !== undefined && ctx.ipc !== undefined) {
      p.batchSize = softKdCodeBatch(ctx.ipc, ctx.classes);
    }
    const lr = ctx.model === undefined ? undefined : SOFT_KD_CODE_LR[ctx.model];
    if (lr !== undefined) p.optimizer = { ...p.optimizer, lr };
  }
  return p;
}

/** The protocol's optimizer, with the lr the set carries when the protocol takes it from there. */
export function optimizerFor(
  p: ProtocolConfig,
  meta: { method: string; extra: Record<string, string> },
): OptimizerSpec {
  if (p.lrFromSet === undefined) return p.optimizer;
  const raw = meta.extra[p.lrFromSet];
  const lr = Number(raw);
  if (raw === undefined || !Number.isFinite(lr) || lr <= 0) {
    throw new Error(
      `protocol "${p.id}" trains with the learning rate in the distilled set's metadata ` +
        `"extra.${p.lrFromSet}" (a positive number), but this ${meta.method} set has ` +
        (raw === undefined ? "none" : `"${raw}"`),
    );
  }
  return { ...p.optimizer, lr };
}

export function epochsFor(p: ProtocolConfig, ipc: number | null): number {
  return (ipc !== null ? p.epochs.byIpc[String(ipc)] : undefined) ?? p.epochs.default;
}
