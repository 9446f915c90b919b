/**
 * The latent-diffusion autoencoder: diffusers' `AutoencoderKL` (the Stable Diffusion VAE) with its module
 * structure and parameter names, so one class holds the official `sd-vae-ft-ema` / `sd-vae-ft-mse` weights
 * (after the loader's OIHW → OHWI conversion) and the small configurations ddrepro trains on 28–32 px data.
 *
 *   encoder: conv_in → down_blocks[i] (resnets[j], downsamplers.0.conv) → mid_block (resnets.0,
 *            attentions.0, resnets.1) → conv_norm_out → SiLU → conv_out → quant_conv → (mean, logvar)
 *   decoder: post_quant_conv → conv_in → mid_block → up_blocks[i] (resnets[j], upsamplers.0.conv)
 *            → conv_norm_out → SiLU → conv_out
 *
 * Images are NHWC in [-1, 1]; latents NHWC. The diffusion model works on `scalingFactor`·z.
 */
import type { Tensor } from "../engine/tensor.ts";
import type { Rng } from "../engine/random.ts";
import * as E from "../engine/expr.ts";
import * as T from "../engine/ops/mod.ts";
import { Module } from "./module.ts";
import { Conv2d, GroupNorm, Linear } from "./layers.ts";

export interface VaeConfig {
  inChannels: number;
  outChannels: number;
  latentChannels: number;
  /** Channels per resolution level; every level but the last halves the resolution. */
  blockOutChannels: number[];
  /** Resnets per encoder block (decoder blocks have one more, as diffusers). */
  layersPerBlock: number;
  normGroups: number;
  /** The latent scale the diffusion model sees (SD: 0.18215). */
  scalingFactor: number;
  /** Self-attention in the mid blocks (diffusers' mid_block_add_attention, default true). */
  midBlockAttention: boolean;
}

/** The Stable Diffusion VAE (sd-vae-ft-ema / sd-vae-ft-mse): 256 px → 32×32×4 latents. */
export const SD_VAE_CONFIG: VaeConfig = {
  inChannels: 3,
  outChannels: 3,
  latentChannels: 4,
  blockOutChannels: [128, 256, 512, 512],
  layersPerBlock: 2,
  normGroups: 32,
  scalingFactor: 0.18215,
  midBlockAttention: true,
};

/** Spatial downsampling factor of a configuration (2 per level but the last). */
export function vaeFactor(cfg: VaeConfig): number {
  return 2 ** (cfg.blockOutChannels.length - 1);
}

const EPS = 1e-6;

/** diffusers ResnetBlock2D without a time embedding: (x + conv2(SiLU(norm2(conv1(SiLU(norm1(x))))))) */
class ResnetBlock extends Module {
  private readonly norm1: GroupNorm;
  private readonly conv1: Conv2d;
  private readonly norm2: GroupNorm;
  private readonly conv2: Conv2d;
  private readonly shortcut: Conv2d | null;
  constructor(rng: Rng, cin: number, cout: number, groups: number) {
    super();
    this.norm1 = this.child("norm1", new GroupNorm(groups, cin, EPS));
    this.conv1 = this.child("conv1", new Conv2d(rng.fork(1), { cin, cout, kernel: 3, padding: 1 }));
    this.norm2 = this.child("norm2", new GroupNorm(groups, cout, EPS));
    this.conv2 = this.child("conv2", new Conv2d(rng.fork(2), { cin: cout, cout, kernel: 3, padding: 1 }));
    this.shortcut = cin === cout
      ? null
      : this.child("conv_shortcut", new Conv2d(rng.fork(3), { cin, cout, kernel: 1 }));
  }
  forward(x: Tensor): Tensor {
    const h = this.conv1.forward(T.silu(this.norm1.forward(x)));
    const h2 = this.conv2.forward(T.silu(this.norm2.forward(h)));
    return T.add(this.shortcut ? this.shortcut.forward(x) : x, h2);
  }
}

/** diffusers Attention as the VAE mid block uses it: one head over all pixels, group norm, residual. */
class SpatialAttention extends Module {
  private readonly norm: GroupNorm;
  private readonly q: Linear;
  private readonly k: Linear;
  private readonly v: Linear;
  private readonly out: Linear;
  constructor(rng: Rng, readonly channels: number, groups: number) {
    super();
    this.norm = this.child("group_norm", new GroupNorm(groups, channels, EPS));
    this.q = this.child("to_q", new Linear(rng.fork(1), channels, channels));
    this.k = this.child("to_k", new Linear(rng.fork(2), channels, channels));
    this.v = this.child("to_v", new Linear(rng.fork(3), channels, channels));
    this.out = this.child("to_out.0", new Linear(rng.fork(4), channels, channels));
  }
  forward(x: Tensor): Tensor {
    const [n, h, w, c] = x.shape;
    const flat = T.reshape(this.norm.forward(x), [n * h * w, c]);
    const seq = (l: Linear) => T.reshape(l.forward(flat), [n, h * w, c]);
    const a = T.attention(seq(this.q), seq(this.k), seq(this.v));
    const o = this.out.forward(T.reshape(a, [n * h * w, c]));
    return T.add(x, T.reshape(o, x.shape));
  }
}

/** UNetMidBlock2D: resnet, attention, resnet. */
class MidBlock extends Module {
  private readonly r0: ResnetBlock;
  private readonly attn: SpatialAttention | null;
  private readonly r1: ResnetBlock;
  constructor(rng: Rng, c: number, groups: number, attention: boolean) {
    super();
    this.r0 = this.child("resnets.0", new ResnetBlock(rng.fork(1), c, c, groups));
    this.attn = attention ? this.child("attentions.0", new SpatialAttention(rng.fork(2), c, groups)) : null;
    this.r1 = this.child("resnets.1", new ResnetBlock(rng.fork(3), c, c, groups));
  }
  forward(x: Tensor): Tensor {
    const h = this.r0.forward(x);
    return this.r1.forward(this.attn ? this.attn.forward(h) : h);
  }
}

/** Downsample2D(use_conv, padding = 0): zero-pad right and bottom by one, then a 3×3 stride-2 conv. */
class Downsample extends Module {
  private readonly conv: Conv2d;
  constructor(rng: Rng, c: number) {
    super();
    this.conv = this.child("conv", new Conv2d(rng, { cin: c, cout: c, kernel: 3, stride: 2 }));
  }
  forward(x: Tensor): Tensor {
    return this.conv.forward(T.pad(x, [[0, 0], [0, 1], [0, 1], [0, 0]]));
  }
}

/** Upsample2D(use_conv): nearest ×2, then a 3×3 conv. */
class Upsample extends Module {
  private readonly conv: Conv2d;
  constructor(rng: Rng, c: number) {
    super();
    this.conv = this.child("conv", new Conv2d(rng, { cin: c, cout: c, kernel: 3, padding: 1 }));
  }
  forward(x: Tensor): Tensor {
    const [, h, w] = x.shape;
    return this.conv.forward(T.resize(x, 2 * h, 2 * w, "nearest"));
  }
}

/** DownEncoderBlock2D / UpDecoderBlock2D: resnets, then an optional resampler. */
class ResBlockStage extends Module {
  private readonly resnets: ResnetBlock[] = [];
  private readonly resample: Module | null;
  constructor(
    rng: Rng,
    cin: number,
    cout: number,
    layers: number,
    groups: number,
    resample: "down" | "up" | null,
  ) {
    super();
    for (let j = 0; j < layers; j++) {
      this.resnets.push(
        this.child(`resnets.${j}`, new ResnetBlock(rng.fork(j), j === 0 ? cin : cout, cout, groups)),
      );
    }
    this.resample = resample === "down"
      ? this.child("downsamplers.0", new Downsample(rng.fork(100), cout))
      : resample === "up"
      ? this.child("upsamplers.0", new Upsample(rng.fork(100), cout))
      : null;
  }
  forward(x: Tensor): Tensor {
    let h = x;
    for (const r of this.resnets) h = r.forward(h);
    return this.resample ? this.resample.forward(h) : h;
  }
}

class Encoder extends Module {
  private readonly convIn: Conv2d;
  private readonly down: ResBlockStage[] = [];
  private readonly mid: MidBlock;
  private readonly normOut: GroupNorm;
  private readonly convOut: Conv2d;
  constructor(rng: Rng, cfg: VaeConfig) {
    super();
    const ch = cfg.blockOutChannels, g = cfg.normGroups;
    this.convIn = this.child(
      "conv_in",
      new Conv2d(rng.fork(0), { cin: cfg.inChannels, cout: ch[0], kernel: 3, padding: 1 }),
    );
    let cout = ch[0];
    ch.forEach((c, i) => {
      const cin = cout;
      cout = c;
      const last = i === ch.length - 1;
      this.down.push(
        this.child(
          `down_blocks.${i}`,
          new ResBlockStage(rng.fork(10 + i), cin, cout, cfg.layersPerBlock, g, last ? null : "down"),
        ),
      );
    });
    const top = ch[ch.length - 1];
    this.mid = this.child("mid_block", new MidBlock(rng.fork(50), top, g, cfg.midBlockAttention));
    this.normOut = this.child("conv_norm_out", new GroupNorm(g, top, EPS));
    this.convOut = this.child(
      "conv_out",
      new Conv2d(rng.fork(60), { cin: top, cout: 2 * cfg.latentChannels, kernel: 3, padding: 1 }),
    );
  }
  forward(x: Tensor): Tensor {
    let h = this.convIn.forward(x);
    for (const b of this.down) h = b.forward(h);
    h = this.mid.forward(h);
    return this.convOut.forward(T.silu(this.normOut.forward(h)));
  }
}

class Decoder extends Module {
  private readonly convIn: Conv2d;
  private readonly mid: MidBlock;
  private readonly up: ResBlockStage[] = [];
  private readonly normOut: GroupNorm;
  private readonly convOut: Conv2d;
  constructor(rng: Rng, cfg: VaeConfig) {
    super();
    const rev = [...cfg.blockOutChannels].reverse(), g = cfg.normGroups;
    this.convIn = this.child(
      "conv_in",
      new Conv2d(rng.fork(0), { cin: cfg.latentChannels, cout: rev[0], kernel: 3, padding: 1 }),
    );
    this.mid = this.child("mid_block", new MidBlock(rng.fork(50), rev[0], g, cfg.midBlockAttention));
    let cout = rev[0];
    rev.forEach((c, i) => {
      const cin = cout;
      cout = c;
      const last = i === rev.length - 1;
      this.up.push(
        this.child(
          `up_blocks.${i}`,
          new ResBlockStage(rng.fork(10 + i), cin, cout, cfg.layersPerBlock + 1, g, last ? null : "up"),
        ),
      );
    });
    this.normOut = this.child("conv_norm_out", new GroupNorm(g, cout, EPS));
    this.convOut = this.child(
      "conv_out",
      new Conv2d(rng.fork(60), { cin: cout, cout: cfg.outChannels, kernel: 3, padding: 1 }),
    );
  }
  forward(z: Tensor): Tensor {
    let h = this.mid.forward(this.convIn.forward(z));
    for (const b of this.up) h = b.forward(h);
    return this.convOut.forward(T.silu(this.normOut.forward(h)));
  }
}

/** The diagonal Gaussian posterior q(z | x) (logvar clamped to [-30, 20] as diffusers). */
export interface Posterior {
  mean: Tensor;
  logvar: Tensor;
}

export class AutoencoderKL extends Module {
  private readonly encoder: Encoder;
  private readonly decoder: Decoder;
  private readonly quantConv: Conv2d;
  private readonly postQuantConv: Conv2d;

  constructor(rng: Rng, readonly cfg: VaeConfig) {
    super();
    const L = cfg.latentChannels;
    if (!cfg.blockOutChannels.length || cfg.layersPerBlock < 1) {
      throw new Error("AutoencoderKL: needs at least one block and one resnet per block");
    }
    this.encoder = this.child("encoder", new Encoder(rng.fork(1), cfg));
    this.decoder = this.child("decoder", new Decoder(rng.fork(2), cfg));
    this.quantConv = this.child(
      "quant_conv",
      new Conv2d(rng.fork(3), { cin: 2 * L, cout: 2 * L, kernel: 1 }),
    );
    this.postQuantConv = this.child(
      "post_quant_conv",
      new Conv2d(rng.fork(4), { cin: L, cout: L, kernel: 1 }),
    );
  }

  /** q(z | x) for images x [n, h, w, inChannels] in [-1, 1] (h, w multiples of the factor). */
  encode(x: Tensor): Posterior {
    const f = vaeFactor(this.cfg);
    if (x.rank !== 4 || x.shape[3] !== this.cfg.inChannels || x.shape[1] % f || x.shape[2] % f) {
      throw new Error(
        `AutoencoderKL.encode: images must be [n, h, w, ${this.cfg.inChannels}] with h, w multiples of ${f}, ` +
          `got [${x.shape}]`,
      );
    }
    const moments = this.quantConv.forward(this.encoder.forward(x));
    const [n, h, w] = moments.shape, L = this.cfg.latentChannels;
    const mean = T.slice(moments, [0, 0, 0, 0], [n, h, w, L]);
    const raw = T.slice(moments, [0, 0, 0, L], [n, h, w, L]);
    return { mean, logvar: T.clamp(raw, -30, 20) };
  }

  /** z = mean + exp(logvar / 2)·ε with ε ~ N(0, 1) from `rng`. */
  sample(p: Posterior, rng: Rng): Tensor {
    const eps = rng.normal(p.mean.shape);
    return T.map(E.add(E.inp(0), E.mul(E.un("exp", E.mul(E.cst(0.5), E.inp(1))), E.inp(2))), [
      p.mean,
      p.logvar,
      eps,
    ]);
  }

  /** Images in [-1, 1] (unclamped) from latents z (not scaled by scalingFactor). */
  decode(z: Tensor): Tensor {
    if (z.rank !== 4 || z.shape[3] !== this.cfg.latentChannels) {
      throw new Error(
        `AutoencoderKL.decode: latents must be [n, h, w, ${this.cfg.latentChannels}], got [${z.shape}]`,
      );
    }
    return this.decoder.forward(this.postQuantConv.forward(z));
  }

  /** Reconstruction through the posterior mean (deterministic). */
  forward(x: Tensor): Tensor {
    return this.decode(this.encode(x).mean);
  }
}

/** Per-sample KL(q(z|x) ‖ N(0, I)) summed over latent elements, averaged over the batch. */
export function klLoss(p: Posterior): Tensor {
  const n = p.mean.shape[0];
  // 0.5·(μ² + e^logvar − 1 − logvar)
  return T.sumOf(
    E.mul(
      E.cst(0.5 / n),
      E.sub(E.sub(E.add(E.un("square", E.inp(0)), E.un("exp", E.inp(1))), E.cst(1)), E.inp(1)),
    ),
    [p.mean, p.logvar],
  );
}
