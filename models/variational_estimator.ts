/**
 * The network of IGDS's variational estimator (VE): an encoder f_θ — a ConvNet backbone (instance norm,
 * average pooling) and MoCo's projection head, its output L2-normalised — and a linear classifier W on
 * the frozen features. The objective that trains it is methods/igds_objective.ts.
 *
 * The activation is ReLU while training; IGDS guides sampling through a copy whose ReLUs are SoftPlus_β
 * (softplus(β·x)/β, which tends to ReLU as β grows) for smoother input gradients (§5.1, after Ma et al.
 * 2024): `setActivation`, no change to the weights.
 */
import type { Tensor } from "../engine/tensor.ts";
import type { Rng } from "../engine/random.ts";
import * as T from "../engine/ops/mod.ts";
import { Conv2d, Linear, Norm } from "./layers.ts";
import { Module } from "./module.ts";

export interface VeNetConfig {
  /** Input channels and side of the images it reads. */
  channels: number;
  imageSize: number;
  classes: number;
  /** Conv width and depth of the backbone (each layer halves the side). */
  width: number;
  depth: number;
  /** Dimension D of the normalised feature z (MoCo: 128). */
  featureDim: number;
}

/** ReLU, or SoftPlus with sharpness β. */
export type VeActivation = { kind: "relu" } | { kind: "softplus"; beta: number };

/** f_θ: images NHWC → unit features [n, D]. */
export class VeEncoder extends Module {
  private readonly convs: Conv2d[] = [];
  private readonly norms: Norm[] = [];
  private readonly head: Linear;
  activation: VeActivation = { kind: "relu" };

  constructor(rng: Rng, readonly cfg: VeNetConfig) {
    super();
    let c = cfg.channels, size = cfg.imageSize;
    for (let d = 0; d < cfg.depth; d++) {
      if (size < 2) {
        throw new Error(`VE encoder: a ${cfg.imageSize} px input is pooled away before layer ${d + 1}`);
      }
      this.convs.push(
        this.child(
          `features.${d}.conv`,
          new Conv2d(rng.fork(d), { cin: c, cout: cfg.width, kernel: 3, padding: 1 }),
        ),
      );
      this.norms.push(this.child(`features.${d}.norm`, new Norm("instancenorm", cfg.width)));
      c = cfg.width;
      size = Math.floor(size / 2);
    }
    this.head = this.child("head", new Linear(rng.fork(1000), c * size * size, cfg.featureDim));
  }

  private act(x: Tensor): Tensor {
    const a = this.activation;
    return a.kind === "relu" ? T.relu(x) : T.mul(T.softplus(T.mul(x, a.beta)), 1 / a.beta);
  }

  forward(x: Tensor): Tensor {
    if (x.shape[1] !== this.cfg.imageSize || x.shape[3] !== this.cfg.channels) {
      throw new Error(
        `VE encoder: expects [n, ${this.cfg.imageSize}, ${this.cfg.imageSize}, ${this.cfg.channels}] images, got [${x.shape}]`,
      );
    }
    let h = x;
    for (let d = 0; d < this.convs.length; d++) {
      h = T.avgPool2d(this.act(this.norms[d].forward(this.convs[d].forward(h))), { kernel: 2, stride: 2 });
    }
    return l2Normalize(this.head.forward(T.flatten(h)));
  }
}

/** Rows scaled to unit length (a tiny floor keeps a zero row finite). */
export function l2Normalize(x: Tensor): Tensor {
  return T.div(x, T.sqrt(T.add(T.sum(T.square(x), 1, true), 1e-12)));
}

/** The VE: encoder f_θ and linear classifier W (logits = W z + b). */
export class VariationalEstimator extends Module {
  readonly encoder: VeEncoder;
  readonly classifier: Linear;
  constructor(rng: Rng, readonly cfg: VeNetConfig) {
    super();
    this.encoder = this.child("encoder", new VeEncoder(rng.fork(1), cfg));
    this.classifier = this.child("classifier", new Linear(rng.fork(2), cfg.featureDim, cfg.classes));
  }
  /** The classifier's logits of images. */
  forward(x: Tensor): Tensor {
    return this.classifier.forward(this.encoder.forward(x));
  }
}
