/** DC's AlexNet and VGG11 variants, and MobileNet-V2 (torchvision structure; stride-1 stem for small images). */
import type { Tensor } from "../engine/tensor.ts";
import type { Rng } from "../engine/random.ts";
import * as T from "../engine/ops/mod.ts";
import { Classifier, Module } from "./module.ts";
import { Conv2d, globalAvgPool, Linear, Norm, type NormKind } from "./layers.ts";

export interface SmallNetConfig {
  channels: number;
  classes: number;
  imageSize: number;
  norm: NormKind;
}

const maxPool2 = (x: Tensor) => T.maxPool2d(x, { kernel: 2, stride: 2 });

/** The side after a 2×2 max-pool of a `size` px map, or a construction error naming the input size. */
function pooledSize(net: string, imageSize: number, layer: number, size: number): number {
  if (size < 2) {
    throw new Error(
      `${net}: a ${imageSize} px input is pooled away after layer ${layer + 1}; use larger images`,
    );
  }
  return Math.floor(size / 2);
}

/** AlexNet's conv layers followed by a 2×2 max-pool. */
const ALEXNET_POOLS = new Set([0, 1, 4]);

export class AlexNet extends Classifier {
  readonly numClasses: number;
  readonly embedDim: number;
  private convs: Conv2d[];
  private norms: Norm[];
  private fc: Linear;
  constructor(rng: Rng, readonly cfg: SmallNetConfig) {
    super();
    const c = cfg.channels;
    const spec: [number, number, number, number][] = [
      [c, 128, 5, c === 1 ? 4 : 2],
      [128, 192, 5, 2],
      [192, 256, 3, 1],
      [256, 192, 3, 1],
      [192, 192, 3, 1],
    ];
    this.convs = spec.map(([cin, cout, k, p], i) =>
      this.child(`features.${i}`, new Conv2d(rng.fork(i), { cin, cout, kernel: k, padding: p }))
    );
    this.norms = spec.map(([, cout], i) => this.child(`norm.${i}`, new Norm(cfg.norm, cout)));
    // 28 px inputs are padded to 32 by the first conv, so both end at 4×4.
    let s = cfg.imageSize;
    spec.forEach(([, , k, p], i) => {
      s += 2 * p - (k - 1);
      if (ALEXNET_POOLS.has(i)) s = pooledSize("AlexNet", cfg.imageSize, i, s);
    });
    this.embedDim = 192 * s * s;
    this.numClasses = cfg.classes;
    this.fc = this.child("fc", new Linear(rng.fork(99), this.embedDim, cfg.classes));
  }
  embed(x: Tensor): Tensor {
    let h = x;
    for (let i = 0; i < 5; i++) {
      h = T.relu(this.norms[i].forward(this.convs[i].forward(h)));
      if (ALEXNET_POOLS.has(i)) h = maxPool2(h);
    }
    return T.flatten(h);
  }
  classify(f: Tensor): Tensor {
    return this.fc.forward(f);
  }
}

const VGG11_CFG: (number | "M")[] = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"];

export class VGG11 extends Classifier {
  readonly numClasses: number;
  readonly embedDim: number;
  private layers: { conv: Conv2d; norm: Norm; pool: boolean }[] = [];
  private fc: Linear;
  constructor(rng: Rng, readonly cfg: SmallNetConfig) {
    super();
    let cin = cfg.channels, size = cfg.imageSize, i = 0;
    for (let j = 0; j < VGG11_CFG.length; j++) {
      const v = VGG11_CFG[j];
      if (v === "M") continue;
      const padding = cfg.channels === 1 && i === 0 ? 3 : 1;
      if (i === 0) size += 2 * padding - 2;
      const conv = this.child(
        `features.${i}.conv`,
        new Conv2d(rng.fork(i), { cin, cout: v, kernel: 3, padding }),
      );
      const norm = this.child(`features.${i}.norm`, new Norm(cfg.norm, v));
      const pool = VGG11_CFG[j + 1] === "M";
      if (pool) size = pooledSize("VGG11", cfg.imageSize, i, size);
      this.layers.push({ conv, norm, pool });
      cin = v;
      i++;
    }
    this.embedDim = 512 * size * size;
    this.numClasses = cfg.classes;
    this.fc = this.child("fc", new Linear(rng.fork(99), this.embedDim, cfg.classes));
  }
  embed(x: Tensor): Tensor {
    let h = x;
    for (const l of this.layers) {
      h = T.relu(l.norm.forward(l.conv.forward(h)));
      if (l.pool) h = maxPool2(h);
    }
    return T.flatten(h);
  }
  classify(f: Tensor): Tensor {
    return this.fc.forward(f);
  }
}

const relu6 = (x: Tensor) => T.clamp(x, 0, 6);

class InvertedResidual extends Module {
  private expand: Conv2d | null = null;
  private bnE: Norm | null = null;
  private dw: Conv2d;
  private bnD: Norm;
  private project: Conv2d;
  private bnP: Norm;
  private residual: boolean;
  constructor(rng: Rng, cin: number, cout: number, stride: number, t: number, norm: NormKind) {
    super();
    const hidden = cin * t;
    const init = "kaiming-fan-out" as const;
    if (t !== 1) {
      this.expand = this.child(
        "expand",
        new Conv2d(rng.fork(1), { cin, cout: hidden, kernel: 1, bias: false, init }),
      );
      this.bnE = this.child("expand_bn", new Norm(norm, hidden));
    }
    this.dw = this.child(
      "dw",
      new Conv2d(rng.fork(2), {
        cin: hidden,
        cout: hidden,
        kernel: 3,
        stride,
        padding: 1,
        groups: hidden,
        bias: false,
        init,
      }),
    );
    this.bnD = this.child("dw_bn", new Norm(norm, hidden));
    this.project = this.child(
      "project",
      new Conv2d(rng.fork(3), { cin: hidden, cout, kernel: 1, bias: false, init }),
    );
    this.bnP = this.child("project_bn", new Norm(norm, cout));
    this.residual = stride === 1 && cin === cout;
  }
  forward(x: Tensor): Tensor {
    let h = x;
    if (this.expand) h = relu6(this.bnE!.forward(this.expand.forward(h)));
    h = relu6(this.bnD.forward(this.dw.forward(h)));
    h = this.bnP.forward(this.project.forward(h));
    return this.residual ? T.add(x, h) : h;
  }
}

export class MobileNetV2 extends Classifier {
  readonly numClasses: number;
  readonly embedDim = 1280;
  private stem: Conv2d;
  private stemBn: Norm;
  private blocks: InvertedResidual[] = [];
  private last: Conv2d;
  private lastBn: Norm;
  private fc: Linear;
  constructor(rng: Rng, readonly cfg: SmallNetConfig) {
    super();
    this.numClasses = cfg.classes;
    const small = cfg.imageSize <= 64;
    const init = "kaiming-fan-out" as const;
    this.stem = this.child(
      "stem",
      new Conv2d(rng.fork(0), {
        cin: cfg.channels,
        cout: 32,
        kernel: 3,
        stride: small ? 1 : 2,
        padding: 1,
        bias: false,
        init,
      }),
    );
    this.stemBn = this.child("stem_bn", new Norm(cfg.norm, 32));
    const settings: [number, number, number, number][] = [
      [1, 16, 1, 1],
      [6, 24, 2, small ? 1 : 2],
      [6, 32, 3, 2],
      [6, 64, 4, 2],
      [6, 96, 3, 1],
      [6, 160, 3, 2],
      [6, 320, 1, 1],
    ];
    let cin = 32, k = 0;
    for (const [t, c, n, s] of settings) {
      for (let i = 0; i < n; i++) {
        this.blocks.push(
          this.child(
            `features.${k}`,
            new InvertedResidual(rng.fork(10 + k), cin, c, i === 0 ? s : 1, t, cfg.norm),
          ),
        );
        cin = c;
        k++;
      }
    }
    this.last = this.child(
      "last",
      new Conv2d(rng.fork(9), { cin, cout: 1280, kernel: 1, bias: false, init }),
    );
    this.lastBn = this.child("last_bn", new Norm(cfg.norm, 1280));
    this.fc = this.child("fc", new Linear(rng.fork(99), 1280, cfg.classes));
  }
  embed(x: Tensor): Tensor {
    let h = relu6(this.stemBn.forward(this.stem.forward(x)));
    for (const b of this.blocks) h = b.forward(h);
    return globalAvgPool(relu6(this.lastBn.forward(this.last.forward(h))));
  }
  classify(f: Tensor): Tensor {
    return this.fc.forward(f);
  }
}
