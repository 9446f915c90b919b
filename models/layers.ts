/** Layers (NHWC activations, OHWI conv weights), initialised as PyTorch does by default. */
import type { Tensor } from "../engine/tensor.ts";
import type { Rng } from "../engine/random.ts";
import * as T from "../engine/ops/mod.ts";
import { kaimingNormalFanOut, Module, ones, uniformInit, zeros } from "./module.ts";

export type InitKind = "pytorch" | "kaiming-fan-out";

export interface Conv2dConfig {
  cin: number;
  cout: number;
  kernel: number;
  stride?: number;
  padding?: number;
  groups?: number;
  bias?: boolean;
  init?: InitKind;
}

export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(rng: Rng, readonly cfg: Conv2dConfig) {
    super();
    const g = cfg.groups ?? 1, k = cfg.kernel;
    const shape = [cfg.cout, k, k, cfg.cin / g];
    const fanIn = (cfg.cin / g) * k * k;
    this.weight = this.param(
      "weight",
      cfg.init === "kaiming-fan-out"
        ? kaimingNormalFanOut(rng, shape, cfg.cout * k * k)
        : uniformInit(rng, shape, fanIn),
    );
    this.bias = cfg.bias ?? true ? this.param("bias", uniformInit(rng, [cfg.cout], fanIn)) : null;
  }
  forward(x: Tensor): Tensor {
    const y = T.conv2d(x, this.weight, {
      stride: this.cfg.stride ?? 1,
      padding: this.cfg.padding ?? 0,
      groups: this.cfg.groups ?? 1,
    });
    return this.bias ? T.add(y, this.bias) : y;
  }
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(rng: Rng, readonly inF: number, readonly outF: number, bias = true) {
    super();
    this.weight = this.param("weight", uniformInit(rng, [outF, inF], inF));
    this.bias = bias ? this.param("bias", uniformInit(rng, [outF], inF)) : null;
  }
  forward(x: Tensor): Tensor {
    const y = T.matmul(x, this.weight, { transB: true });
    return this.bias ? T.add(y, this.bias) : y;
  }
}

export type NormKind = "instancenorm" | "batchnorm" | "layernorm" | "groupnorm" | "none";

/** DC's norm options: "instancenorm" = GroupNorm(C, C); "groupnorm" = GroupNorm(4, C); "layernorm" = GroupNorm(1, C). */
export class Norm extends Module {
  readonly weight: Tensor | null = null;
  readonly bias: Tensor | null = null;
  private runningMean: Tensor | null = null;
  private runningVar: Tensor | null = null;
  /**
   * Called with the layer's input on every forward while set (SRe²L's batch-norm statistics hooks;
   * models/batchnorm_stats.ts sets and clears it).
   */
  tap: ((input: Tensor) => void) | null = null;
  constructor(readonly kind: NormKind, readonly channels: number, readonly momentum = 0.1) {
    super();
    if (kind === "none") return;
    this.weight = this.param("weight", ones(channels));
    this.bias = this.param("bias", zeros(channels));
    if (kind === "batchnorm") {
      this.runningMean = this.buffer("running_mean", zeros(channels));
      this.runningVar = this.buffer("running_var", ones(channels));
    }
  }
  /** Running mean and variance of a batch-norm layer; null for the other kinds. */
  runningStats(): { mean: Tensor; variance: Tensor } | null {
    return this.runningMean && this.runningVar ? { mean: this.runningMean, variance: this.runningVar } : null;
  }
  forward(x: Tensor): Tensor {
    this.tap?.(x);
    switch (this.kind) {
      case "none":
        return x;
      case "instancenorm":
        return T.groupNorm(x, this.channels, this.weight, this.bias);
      case "groupnorm":
        return T.groupNorm(x, 4, this.weight, this.bias);
      case "layernorm":
        return T.groupNorm(x, 1, this.weight, this.bias);
      case "batchnorm":
        return T.batchNorm(x, this.weight, this.bias, {
          runningMean: this.runningMean!,
          runningVar: this.runningVar!,
          momentum: this.momentum,
        }, this.training);
    }
  }
}

export type ActKind = "relu" | "leakyrelu" | "sigmoid" | "gelu" | "silu" | "tanh";

export function activate(kind: ActKind, x: Tensor): Tensor {
  switch (kind) {
    case "relu":
      return T.relu(x);
    case "leakyrelu":
      return T.leakyRelu(x, 0.01);
    case "sigmoid":
      return T.sigmoid(x);
    case "gelu":
      return T.gelu(x);
    case "silu":
      return T.silu(x);
    case "tanh":
      return T.tanh(x);
  }
}

export type PoolKind = "avgpooling" | "maxpooling" | "none";

export function pool2(kind: PoolKind, x: Tensor): Tensor {
  if (kind === "avgpooling") return T.avgPool2d(x, { kernel: 2, stride: 2 });
  if (kind === "maxpooling") return T.maxPool2d(x, { kernel: 2, stride: 2 });
  return x;
}

/** Mean over H and W of NHWC → [n, c]. */
export function globalAvgPool(x: Tensor): Tensor {
  return T.mean(x, [1, 2]);
}

/** torch.nn.GroupNorm(groups, channels, eps) with per-channel affine (NHWC input). */
export class GroupNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(readonly groups: number, readonly channels: number, readonly eps = 1e-5) {
    super();
    if (!Number.isInteger(groups) || groups < 1 || channels % groups !== 0) {
      throw new Error(`GroupNorm: ${channels} channels do not split into ${groups} groups`);
    }
    this.weight = this.param("weight", ones(channels));
    this.bias = this.param("bias", zeros(channels));
  }
  forward(x: Tensor): Tensor {
    return T.groupNorm(x, this.groups, this.weight, this.bias, this.eps);
  }
}
