/**
 * ResNets used in DD (docs/protocols.md §1.2): IDC's ResNetAP-10, DC's ResNet-18 (instance-
 * or batch-norm), DC's ResNet18_AP, and the "modified" torchvision ResNet-18 (3×3 stem, no
 * max-pool) of SRe²L/RDED/D³HR.
 */
import type { Tensor } from "../engine/tensor.ts";
import type { Rng } from "../engine/random.ts";
import * as T from "../engine/ops/mod.ts";
import { Classifier, Module } from "./module.ts";
import { Conv2d, globalAvgPool, type InitKind, Linear, Norm, type NormKind } from "./layers.ts";

/** How a block downsamples: a strided conv (standard) or a stride-1 conv followed by 2×2 avg-pooling ("AP"). */
export type Downsample = "stride" | "avgpool";

class BasicBlock extends Module {
  private conv1: Conv2d;
  private bn1: Norm;
  private conv2: Conv2d;
  private bn2: Norm;
  private scConv: Conv2d | null = null;
  private scNorm: Norm | null = null;
  constructor(
    rng: Rng,
    cin: number,
    cout: number,
    private stride: number,
    norm: NormKind,
    private down: Downsample,
    init: InitKind,
  ) {
    super();
    const s = down === "stride" ? stride : 1;
    this.conv1 = this.child(
      "conv1",
      new Conv2d(rng.fork(1), { cin, cout, kernel: 3, stride: s, padding: 1, bias: false, init }),
    );
    this.bn1 = this.child("bn1", new Norm(norm, cout));
    this.conv2 = this.child(
      "conv2",
      new Conv2d(rng.fork(2), { cin: cout, cout, kernel: 3, padding: 1, bias: false, init }),
    );
    this.bn2 = this.child("bn2", new Norm(norm, cout));
    if (stride !== 1 || cin !== cout) {
      this.scConv = this.child(
        "shortcut.conv",
        new Conv2d(rng.fork(3), { cin, cout, kernel: 1, stride: s, bias: false, init }),
      );
      this.scNorm = this.child("shortcut.norm", new Norm(norm, cout));
    }
  }
  private pool(x: Tensor): Tensor {
    return this.down === "avgpool" && this.stride > 1
      ? T.avgPool2d(x, { kernel: this.stride, stride: this.stride })
      : x;
  }
  forward(x: Tensor): Tensor {
    let h = T.relu(this.bn1.forward(this.conv1.forward(x)));
    h = this.bn2.forward(this.conv2.forward(this.pool(h)));
    const sc = this.scConv ? this.scNorm!.forward(this.pool(this.scConv.forward(x))) : x;
    return T.relu(T.add(h, sc));
  }
}

export interface ResNetConfig {
  channels: number;
  classes: number;
  imageSize: number;
  /** Blocks per stage, e.g. [1,1,1,1] (ResNetAP-10) or [2,2,2,2] (ResNet-18). */
  blocks: readonly number[];
  norm: NormKind;
  down: Downsample;
  init: InitKind;
  /** IDC's intro adds 2×2 avg-pooling for 65–128 px inputs and a 7×7 conv + 4×4 pooling above 128 px. */
  idcIntro: boolean;
}

export class ResNet extends Classifier {
  readonly numClasses: number;
  readonly embedDim = 512;
  private stem: Conv2d;
  private stemNorm: Norm;
  private blocks: BasicBlock[] = [];
  private fc: Linear;
  private introPool = 1;

  constructor(rng: Rng, readonly cfg: ResNetConfig) {
    super();
    this.numClasses = cfg.classes;
    const big = cfg.idcIntro && cfg.imageSize > 128;
    this.stem = this.child(
      "conv1",
      new Conv2d(rng.fork(0), {
        cin: cfg.channels,
        cout: 64,
        kernel: big ? 7 : 3,
        padding: big ? 3 : 1,
        bias: false,
        init: cfg.init,
      }),
    );
    this.stemNorm = this.child("bn1", new Norm(cfg.norm, 64));
    if (cfg.idcIntro) this.introPool = cfg.imageSize > 128 ? 4 : cfg.imageSize > 64 ? 2 : 1;
    const widths = [64, 128, 256, 512];
    let cin = 64, k = 1;
    cfg.blocks.forEach((n, stage) => {
      for (let b = 0; b < n; b++) {
        const stride = b === 0 && stage > 0 ? 2 : 1;
        this.blocks.push(
          this.child(
            `layer${stage + 1}.${b}`,
            new BasicBlock(rng.fork(100 + k++), cin, widths[stage], stride, cfg.norm, cfg.down, cfg.init),
          ),
        );
        cin = widths[stage];
      }
    });
    this.fc = this.child("fc", new Linear(rng.fork(1000), 512, cfg.classes));
  }

  embed(x: Tensor): Tensor {
    let h = T.relu(this.stemNorm.forward(this.stem.forward(x)));
    if (this.introPool > 1) h = T.avgPool2d(h, { kernel: this.introPool, stride: this.introPool });
    for (const b of this.blocks) h = b.forward(h);
    return globalAvgPool(h);
  }

  classify(f: Tensor): Tensor {
    return this.fc.forward(f);
  }
}
