/**
 * The DC ConvNet as a pure function of a parameter list, for methods that differentiate through
 * parameter updates (MTT's unrolled student, like the reference's ReparamModule). The list has the
 * order and shapes of `ConvNet.parameters()`: per block conv weight (OHWI), conv bias, norm weight,
 * norm bias (absent for norm "none"), then classifier weight [classes, features] and bias.
 */
import type { Tensor } from "../engine/tensor.ts";
import * as T from "../engine/ops/mod.ts";
import type { ConvNetConfig } from "../models/convnet.ts";
import { activate, pool2 } from "../models/layers.ts";

/** Tensors per block for a norm kind (conv weight + bias, plus the affine pair). */
function perBlock(cfg: ConvNetConfig): number {
  if (cfg.norm === "batchnorm") {
    throw new Error(
      "functional ConvNet: batch norm keeps running statistics; use an instance/group/layer norm",
    );
  }
  return cfg.norm === "none" ? 2 : 4;
}

export function convnetParamCount(cfg: ConvNetConfig): number {
  return cfg.depth * perBlock(cfg) + 2;
}

/** ConvNet.forward(x) with the given parameters (gradients flow into them and into x). */
export function convnetForward(cfg: ConvNetConfig, params: readonly Tensor[], x: Tensor): Tensor {
  const k = perBlock(cfg);
  if (params.length !== convnetParamCount(cfg)) {
    throw new Error(
      `functional ConvNet: ${params.length} parameter tensors, expected ${convnetParamCount(cfg)}`,
    );
  }
  let h = x;
  for (let d = 0; d < cfg.depth; d++) {
    const [w, b, nw, nb] = params.slice(d * k, d * k + k);
    // Same padding rule as ConvNet: a 1-channel first layer pads by 3.
    const padding = cfg.channels === 1 && d === 0 ? 3 : 1;
    h = T.add(T.conv2d(h, w, { stride: 1, padding, groups: 1 }), b);
    if (cfg.norm !== "none") {
      const groups = cfg.norm === "instancenorm" ? cfg.width : cfg.norm === "groupnorm" ? 4 : 1;
      h = T.groupNorm(h, groups, nw, nb);
    }
    h = pool2(cfg.pool, activate(cfg.act, h));
  }
  const [fw, fb] = params.slice(cfg.depth * k);
  return T.add(T.matmul(T.flatten(h), fw, { transB: true }), fb);
}
