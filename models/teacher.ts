/**
 * Teachers: what soft-label relabelling, difficulty scores (1 − p(y|x)) and RDED-style realism scores
 * (−CE(teacher(x), y) = log p(y|x)) need from a trained classifier — logits for a batch of images.
 * ddrepro's own networks (models/registry.ts, cached by evaluator/pretrained.ts) and user-supplied ONNX
 * classifiers (models/onnx_classifier.ts) both provide it. An ONNX model runs outside the engine
 * (onnxruntime), so the interface is asynchronous.
 */
import { noGrad, type Tensor, tidy } from "../engine/tensor.ts";
import * as T from "../engine/ops/mod.ts";
import type { Classifier } from "./module.ts";

export interface Teacher {
  /** Names the teacher in provenance (a zoo id, or the ONNX file and its hash). */
  readonly id: string;
  readonly numClasses: number;
  /**
   * Logits [n, numClasses] for NHWC images [n, h, w, c] in the dataset's normalised space (what
   * every ddrepro model receives). The result belongs to the caller's scope.
   */
  logits(x: Tensor): Promise<Tensor>;
  dispose(): void;
}

/** An engine classifier as a teacher (evaluation mode, no autodiff graph). */
export function classifierTeacher(model: Classifier, id: string): Teacher {
  model.eval();
  return {
    id,
    numClasses: model.numClasses,
    // tidy: the forward pass's activations are freed at once, not when the caller's scope ends.
    logits: (x) => Promise.resolve(tidy(() => noGrad(() => model.forward(x)))),
    dispose: () => model.dispose(),
  };
}

export interface TeacherScores {
  /** [n, classes] row-major. */
  readonly logits: Float32Array;
  /** softmax(logits / temperature), [n, classes]: soft labels. */
  readonly softLabels: Float32Array;
  /** 1 − p(y|x) per image (present when labels were given). */
  readonly difficulty?: Float32Array;
  /** log p(y|x) = −CE(logits, y) per image: RDED's patch realism score (present with labels). */
  readonly realism?: Float32Array;
}

/**
 * Runs the teacher over `x` in batches of `batchSize` and derives soft labels at `temperature` and,
 * given labels, difficulty and realism scores per image.
 */
export async function teacherScores(
  teacher: Teacher,
  x: Tensor,
  opts: { labels?: Int32Array; temperature?: number; batchSize?: number } = {},
): Promise<TeacherScores> {
  const [n, h, w, c] = x.shape;
  const k = teacher.numClasses;
  const temperature = opts.temperature ?? 1;
  const bs = Math.max(1, opts.batchSize ?? 64);
  if (!(temperature > 0)) throw new Error(`teacher temperature must be positive, got ${temperature}`);
  if (opts.labels && opts.labels.length !== n) {
    throw new Error(`teacherScores: ${opts.labels.length} labels for ${n} images`);
  }
  const logits = new Float32Array(n * k), softLabels = new Float32Array(n * k);
  const labels = opts.labels;
  const difficulty = labels ? new Float32Array(n) : undefined;
  const realism = labels ? new Float32Array(n) : undefined;
  for (let b = 0; b < n; b += bs) {
    const m = Math.min(bs, n - b);
    const xb = b === 0 && m === n ? x : T.slice(x, [b, 0, 0, 0], [m, h, w, c]);
    let z: Tensor | null = null;
    try {
      z = await teacher.logits(xb);
      if (z.shape.length !== 2 || z.shape[0] !== m || z.shape[1] !== k) {
        throw new Error(`teacher ${teacher.id} returned logits [${z.shape}], expected [${m}, ${k}]`);
      }
      const zz = z;
      const [soft, logp] = tidy(() => [T.softmax(T.mul(zz, 1 / temperature)), T.logSoftmax(zz)]);
      const [zHost, softHost, logpHost] = await Promise.all([z.f32(), soft.f32(), logp.f32()]);
      soft.dispose();
      logp.dispose();
      logits.set(zHost, b * k);
      softLabels.set(softHost, b * k);
      if (labels) {
        for (let i = 0; i < m; i++) {
          const y = labels[b + i];
          if (!(y >= 0 && y < k)) throw new Error(`label ${y} of image ${b + i} is outside 0..${k - 1}`);
          const lp = logpHost[i * k + y];
          realism![b + i] = lp;
          difficulty![b + i] = 1 - Math.exp(lp);
        }
      }
    } finally {
      z?.dispose();
      if (xb !== x) xb.dispose();
    }
  }
  return { logits, softLabels, ...(labels ? { difficulty, realism } : {}) };
}
