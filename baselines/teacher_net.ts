/**
 * The teacher of the teacher-based methods (SRe²L's squeeze, RDED's scorer): a network ddrepro trains on
 * the method's real training data (holdout excluded) and caches (evaluator/pretrained.ts), so every repeat
 * and cell of a dataset reuses it. Its config fields are shared, and so is how profiles shrink it.
 */
import { z } from "zod";
import type { Dataset } from "../data/types.ts";
import type { Tensor } from "../engine/tensor.ts";
import { classifierTeacher, type Teacher, teacherScores } from "../models/teacher.ts";
import type { Classifier } from "../models/module.ts";
import { pretrained } from "../evaluator/pretrained.ts";
import type { MethodBudget } from "../methods/budget.ts";
import type { ProgressReporter } from "../data/progress.ts";

export const TeacherFields = {
  /** Model registry id of the teacher (SRe²L and RDED on small images: the modified ResNet-18). */
  teacherModel: z.string().min(1),
  /** Whole-dataset training epochs (evaluator/pretrained.ts's recipe). */
  teacherEpochs: z.number().int().min(1),
  teacherBatchSize: z.number().int().positive(),
  /** Train it on this many real images (seeded subset); null: the whole training split. */
  teacherTrainLimit: z.number().int().positive().nullable(),
  /** Fixed, not the run seed: one cached teacher serves every repeat. */
  teacherSeed: z.number().int().min(0),
};

export interface TeacherConfig {
  teacherModel: string;
  teacherEpochs: number;
  teacherBatchSize: number;
  teacherTrainLimit: number | null;
  teacherSeed: number;
}

/**
 * Paper teacher: the modified ResNet-18 (3×3 stride-1 stem, no max-pool) both reference codes use on
 * CIFAR/Tiny; SRe²L's squeeze trains it 200 epochs (squeeze_cifar.sh). ddrepro trains it with its own
 * whole-dataset recipe (SGD 0.01, m 0.9, wd 5e-4, lr ×0.1 at half) since no official weights are here.
 */
export function teacherDefaults(): TeacherConfig {
  return {
    teacherModel: "resnet18-modified",
    teacherEpochs: 200,
    teacherBatchSize: 256,
    teacherTrainLimit: null,
    teacherSeed: 0,
  };
}

/**
 * How profiles bound the teacher (their `teacherNet` knob and the "teacher" family's training budget):
 * below `paper` it is a batch-norm ConvNet-3 (RDED's ConvNet teachers use batch norm; SRe²L needs
 * batch-norm layers), narrowed at smoke/quick like every ConvNet there, with a small training budget
 * (about the profiles' KD-teacher budget, in smaller batches for more steps).
 */
export const TEACHER_BUDGET_KEYS: MethodBudget<TeacherConfig>["keys"] = {
  teacherModel: { knob: "teacherNet", rule: "set" },
  teacherEpochs: { knob: "trainEpochs", family: "teacher" },
  teacherBatchSize: { knob: "trainBatch", family: "teacher" },
  teacherTrainLimit: { knob: "trainImages", family: "teacher" },
};

export const TEACHER_SCALE_NOTES: Readonly<Record<string, string>> = {
  teacherModel: "a batch-norm ConvNet-3 teacher fits the profile's time budget (ResNet-18 does not)",
  teacherEpochs: "the teacher ddrepro trains itself gets a smaller training budget",
  teacherBatchSize: "smaller batches give the short teacher training more steps",
  teacherTrainLimit: "the teacher ddrepro trains itself gets a smaller training budget",
};

/** The trained teacher (cached), frozen, in eval mode. */
export async function teacherNet(
  dataset: Dataset,
  cfg: TeacherConfig,
  progress?: ProgressReporter,
  signal?: AbortSignal,
): Promise<Classifier> {
  const net = await pretrained(
    {
      model: cfg.teacherModel,
      dataset,
      epochs: cfg.teacherEpochs,
      seed: cfg.teacherSeed,
      batchSize: cfg.teacherBatchSize,
      ...(cfg.teacherTrainLimit !== null ? { trainLimit: cfg.teacherTrainLimit } : {}),
    },
    progress,
    signal,
  );
  for (const p of net.parameters()) p.requireGrad(false);
  return net.eval();
}

/**
 * A classifier as a models/teacher.ts Teacher, for its batched scores (soft labels, realism log p(y|x));
 * disposing the wrapper leaves the classifier to its owner.
 */
export function asTeacher(net: Classifier, id: string): Teacher {
  return { ...classifierTeacher(net, id), dispose() {} };
}

/** The teacher's softmax on each image [n × classes] and its accuracy (%) on `labels`. */
export async function teacherSoftLabels(
  net: Classifier,
  images: Tensor,
  labels: Int32Array,
): Promise<{ soft: Float32Array; acc: number }> {
  const scores = await teacherScores(asTeacher(net, "teacher"), images, { labels, batchSize: 200 });
  // difficulty = 1 − p(y|x); the argmax is y exactly when p(y|x) is the largest probability.
  const k = net.numClasses;
  let right = 0;
  labels.forEach((y, i) => {
    const row = scores.softLabels.subarray(i * k, (i + 1) * k);
    if (row.every((p) => p <= row[y])) right++;
  });
  return { soft: scores.softLabels, acc: (100 * right) / Math.max(labels.length, 1) };
}
