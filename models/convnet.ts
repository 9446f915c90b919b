/** The DC-family ConvNet (DatasetCondensation `networks.py` semantics; docs/protocols.md §1.1). */
import type { Tensor } from "../engine/tensor.ts";
import type { Rng } from "../engine/random.ts";
import * as T from "../engine/ops/mod.ts";
import { Classifier } from "./module.ts";
import {
  activate,
  type ActKind,
  Conv2d,
  Linear,
  Norm,
  type NormKind,
  pool2,
  type PoolKind,
} from "./layers.ts";

export interface ConvNetConfig {
  channels: number;
  classes: number;
  imageSize: number;
  width: number;
  depth: number;
  norm: NormKind;
  act: ActKind;
  pool: PoolKind;
}

export class ConvNet extends Classifier {
  readonly numClasses: number;
  readonly embedDim: number;
  private readonly convs: Conv2d[] = [];
  private readonly norms: Norm[] = [];
  private readonly fc: Linear;

  constructor(rng: Rng, readonly cfg: ConvNetConfig) {
    super();
    let c = cfg.channels, size = cfg.imageSize;
    for (let d = 0; d < cfg.depth; d++) {
      // A 28×28 single-channel input is padded by 3 so maps go 32 → 16 → 8 → 4, as for 32×32.
      const padding = cfg.channels === 1 && d === 0 ? 3 : 1;
      this.convs.push(
        this.child(
          `features.${d}.conv`,
          new Conv2d(rng.fork(d), { cin: c, cout: cfg.width, kernel: 3, padding }),
        ),
      );
      this.norms.push(this.child(`features.${d}.norm`, new Norm(cfg.norm, cfg.width)));
      c = cfg.width;
      size = size + 2 * padding - 2;
      if (cfg.pool !== "none") {
        if (size < 2) {
          throw new Error(
            `ConvNet-${cfg.depth}: a ${cfg.imageSize} px input is pooled away before layer ${d + 1}; ` +
              `depth ${cfg.depth} needs inputs of at least ${2 ** cfg.depth} px`,
          );
        }
        size = Math.floor(size / 2);
      }
    }
    this.numClasses = cfg.classes;
    this.embedDim = c * size * size;
    this.fc = this.child("classifier", new Linear(rng.fork(1000), this.embedDim, cfg.classes));
  }

  embed(x: Tensor): Tensor {
    let h = x;
    for (let d = 0; d < this.convs.length; d++) {
      h = pool2(this.cfg.pool, activate(this.cfg.act, this.norms[d].forward(this.convs[d].forward(h))));
    }
    return T.flatten(h);
  }

  classify(f: Tensor): Tensor {
    return this.fc.forward(f);
  }
}
