/**
 * IGDS's information estimates and the variational estimator's training objective (seed paper §4.1), as
 * differentiable functions of the VE's outputs. With the encoder's unit features z = f_θ(x), the
 * classifier's logits W z and P_x = softmax(z / τ) (the feature map as a distribution, Prop. 3):
 *
 *   Î(X;Y)   = H(Y) − E[CE(y, softmax(W z))]          (eq. 7/9: the classifier's cross-entropy bound)
 *   Ĥ(X|Y)   = E[KL(P_x ‖ Q_y)],  Q_y = E[P_x | Y = y]  (eq. 11–13/15: the class-centroid KL, as CMI)
 *
 * and the VE objective (eq. 24), minimised over θ:
 *
 *   L = L_InfoNCE(q, k, queue; τ) − λ · E[KL(P_q ‖ Q_y)]
 *
 * L_InfoNCE is MoCo's instance discrimination (eq. 22–23): the query q of one view against the key k of
 * another view of the same image (the positive, from the momentum encoder) and the queue of earlier keys
 * (the negatives). λ = 0 is MoCo. Q_y is held fixed within a step and updated between steps (§4.1.3:
 * "iteratively maximizing eq. 13 and updating Q_y").
 */
import * as T from "../engine/ops/mod.ts";
import { type Tensor, tensor } from "../engine/tensor.ts";

/**
 * MoCo's InfoNCE: logits [q·k, q·queueᵀ] / τ, the positive at index 0, cross-entropy averaged over the
 * batch. q, k [n, D], queue [K, D] (all unit rows; k and the queue carry no gradient).
 */
export function infoNce(q: Tensor, k: Tensor, queue: Tensor, tau: number): Tensor {
  const n = q.shape[0];
  if (k.shape[0] !== n || k.shape[1] !== q.shape[1] || queue.shape[1] !== q.shape[1]) {
    throw new Error(`infoNce: q [${q.shape}], k [${k.shape}] and queue [${queue.shape}] do not match`);
  }
  const pos = T.sum(T.mul(q, k.detach()), 1, true);
  const neg = T.matmul(q, queue.detach(), { transB: true });
  const logits = T.mul(T.concat([pos, neg], 1), 1 / tau);
  return T.crossEntropy(logits, tensor(new Int32Array(n), [n], "i32"));
}

/** P = softmax(z / τ) of feature rows z [n, D]. */
export function featureDistribution(z: Tensor, tau: number): Tensor {
  return T.softmax(z, 1 / tau);
}

/** KL(softmax(z_i / τ) ‖ q_i) per row, q [n, D] (rows of distributions). Returns [n]. */
export function klToRows(z: Tensor, tau: number, q: Tensor): Tensor {
  const logp = T.logSoftmax(T.mul(z, 1 / tau));
  const p = T.exp(logp);
  // A centroid is a mean of softmax rows (> 0); the floor only guards an f32 underflow (0·log 0 = NaN).
  return T.sum(T.mul(p, T.sub(logp, T.log(T.maximum(q, 1e-30)))), 1);
}

/**
 * KL(P_i ‖ Q_{y_i}) per row against fixed centroids [C, D] (rows summing to 1), labels the rows'
 * classes. Returns [n].
 */
export function centroidKl(z: Tensor, tau: number, centroids: Tensor, labels: Int32Array): Tensor {
  const n = z.shape[0];
  if (labels.length !== n) throw new Error(`centroidKl: ${n} rows vs ${labels.length} labels`);
  return klToRows(z, tau, T.gather(centroids.detach(), tensor(labels, [n], "i32")));
}

/** Per-class means of P = softmax(z / τ) over rows `labels`, [C, D] (uniform for a class without rows). */
export function classCentroids(z: Tensor, tau: number, labels: Int32Array, classes: number): Tensor {
  const n = z.shape[0], d = z.shape[1];
  const counts = new Float32Array(classes);
  labels.forEach((c) => counts[c]++);
  const w = new Float32Array(classes * n);
  labels.forEach((c, i) => (w[c * n + i] = 1 / counts[c]));
  const sums = T.matmul(tensor(w, [classes, n]), featureDistribution(z, tau));
  const empty = Float32Array.from({ length: classes * d }, (_, k) => (counts[Math.floor(k / d)] ? 0 : 1 / d));
  return T.add(sums, tensor(empty, [classes, d]));
}

/**
 * The VE objective of one step (to minimise): InfoNCE − λ · mean KL(P_q ‖ Q_y). `centroids` null skips
 * the entropy term (λ = 0).
 */
export function veLoss(
  p: { q: Tensor; k: Tensor; queue: Tensor; labels: Int32Array; centroids: Tensor | null },
  o: { tau: number; lambda: number },
): { loss: Tensor; nce: Tensor; entropy: Tensor | null } {
  const nce = infoNce(p.q, p.k, p.queue, o.tau);
  if (o.lambda === 0 || p.centroids === null) return { loss: nce, nce, entropy: null };
  const entropy = T.mean(centroidKl(p.q, o.tau, p.centroids, p.labels));
  return { loss: T.sub(nce, T.mul(entropy, o.lambda)), nce, entropy };
}

/** H(Y) of a class prior (counts or probabilities), in nats. */
export function labelEntropy(prior: ArrayLike<number>): number {
  const total = Array.from(prior).reduce((a, b) => a + b, 0);
  return -Array.from(prior).reduce((h, c) => (c > 0 ? h + (c / total) * Math.log(c / total) : h), 0);
}

/**
 * The per-row information terms of a batch: −CE(y_i, softmax(logits_i)) (Î's row term, without the
 * constant H(Y)) and KL(P_i ‖ Q_{y_i}) (Ĥ's row term). `centroids` "batch" takes Q_y as the mean P of
 * the batch's own rows of class y (the set's spread within itself); a tensor is the data's centroids.
 */
export function informationTerms(
  z: Tensor,
  logits: Tensor,
  labels: Int32Array,
  o: { tau: number; centroids: Tensor | "batch" },
): { logLik: Tensor; kl: Tensor } {
  const n = z.shape[0];
  const idx = tensor(labels, [n], "i32");
  const logLik = T.sum(T.mul(T.logSoftmax(logits), T.oneHot(idx, logits.shape[1])), 1);
  const kl = o.centroids === "batch"
    ? klToRows(z, o.tau, T.gather(classCentroids(z, o.tau, labels, logits.shape[1]), idx))
    : centroidKl(z, o.tau, o.centroids, labels);
  return { logLik, kl };
}

/**
 * Î(X;Y) and Ĥ(X|Y) of a batch (scalars): H(Y) + mean −CE, and mean KL(P ‖ Q_y).
 */
export function informationEstimates(
  z: Tensor,
  logits: Tensor,
  labels: Int32Array,
  o: { tau: number; centroids: Tensor | "batch"; labelEntropy: number },
): { mi: Tensor; condEntropy: Tensor } {
  const { logLik, kl } = informationTerms(z, logits, labels, o);
  return { mi: T.add(T.mean(logLik), o.labelEntropy), condEntropy: T.mean(kl) };
}
