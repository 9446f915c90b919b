/**
 * DiT, the class-conditional Diffusion Transformer of Peebles & Xie, with the module structure and
 * parameter names of the official `models.py` (facebookresearch/DiT), so the loaders map `DiT-XL-2-256x256.pt`
 * straight onto it (conv weights converted OIHW → OHWI at the edge):
 *
 *   x_embedder.proj (patch conv), pos_embed (fixed 2-D sin-cos, a buffer), t_embedder.mlp.0/.2 (on a
 *   256-dim sinusoidal embedding), y_embedder.embedding_table (num_classes + 1 rows: the last is the null
 *   class of classifier-free guidance), blocks.i.{attn.qkv, attn.proj, mlp.fc1, mlp.fc2,
 *   adaLN_modulation.1} (norm1/norm2 carry no parameters: LayerNorm without affine, eps 1e-6),
 *   final_layer.{linear, adaLN_modulation.1}.
 *
 * adaLN-Zero initialisation as the reference (`initialize_weights`), learned-sigma output with 2C channels.
 * Latents are NHWC; tokens are row-major over the patch grid, as PatchEmbed's flatten.
 */
import type { Tensor } from "../engine/tensor.ts";
import { noGrad, tensor } from "../engine/tensor.ts";
import type { Rng } from "../engine/random.ts";
import * as E from "../engine/expr.ts";
import * as T from "../engine/ops/mod.ts";
import { assign as assignTensor } from "../engine/assign.ts";
import type { NoisePredictor } from "../diffusion/types.ts";
import { Module } from "./module.ts";
import { Conv2d, Linear } from "./layers.ts";

export interface DitConfig {
  /** Latent side (SD VAE at 256 px: 32). */
  inputSize: number;
  patchSize: number;
  inChannels: number;
  hiddenSize: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
  numClasses: number;
  learnSigma: boolean;
}

/** The official configurations (models.py DiT_models), at 256 px / 32×32×4 latents and ImageNet's 1000 classes. */
export const DIT_CONFIGS: Readonly<Record<string, DitConfig>> = Object.fromEntries(
  ([["XL", 28, 1152, 16], ["L", 24, 1024, 16], ["B", 12, 768, 12], ["S", 12, 384, 6]] as const).flatMap((
    [name, depth, hiddenSize, numHeads],
  ) =>
    [2, 4, 8].map((p) => [
      `DiT-${name}/${p}`,
      {
        inputSize: 32,
        patchSize: p,
        inChannels: 4,
        hiddenSize,
        depth,
        numHeads,
        mlpRatio: 4,
        numClasses: 1000,
        learnSigma: true,
      },
    ])
  ),
);

const FREQ_DIM = 256;
const LN_EPS = 1e-6;

/** Overwrites `dst` in place with `src` (then freed): re-initialising a layer built with PyTorch's defaults. */
function assign(dst: Tensor, src: Tensor): void {
  assignTensor(dst, src);
  src.dispose();
}

function xavierUniform(rng: Rng, w: Tensor): void {
  const [out] = w.shape, fanIn = w.size / out;
  const b = Math.sqrt(6 / (fanIn + out));
  assign(w, noGrad(() => rng.uniform(w.shape, -b, b)));
}

const zero = (t: Tensor) => assign(t, T.fill(t.shape, 0));

/** nn.Linear with the reference's `_basic_init` (xavier-uniform weight, zero bias). */
function dense(rng: Rng, inF: number, outF: number): Linear {
  const l = new Linear(rng.fork(0), inF, outF);
  xavierUniform(rng.fork(1), l.weight);
  zero(l.bias!);
  return l;
}

/** A [rows, in] → [rows, out] linear layer applied to the last axis of any tensor. */
function applyLinear(l: Linear, x: Tensor): Tensor {
  const d = x.shape[x.rank - 1];
  return T.reshape(l.forward(T.reshape(x, [x.size / d, d])), [...x.shape.slice(0, -1), l.outF]);
}

/** x·(1 + scale) + shift with per-sample scale/shift [n, 1, d] over tokens [n, t, d]. */
function modulate(x: Tensor, shift: Tensor, scale: Tensor): Tensor {
  return T.map(E.add(E.mul(E.inp(0), E.add(E.cst(1), E.inp(2))), E.inp(1)), [x, shift, scale]);
}

/** x + gate·h with a per-sample gate [n, 1, d]. */
function gated(x: Tensor, gate: Tensor, h: Tensor): Tensor {
  return T.map(E.add(E.inp(0), E.mul(E.inp(1), E.inp(2))), [x, gate, h]);
}

/** The k-th of `parts` equal chunks of [n, parts·d] as [n, 1, d] (torch `chunk(parts, dim=1)`). */
function chunk(m: Tensor, parts: number, k: number): Tensor {
  const [n, pd] = m.shape, d = pd / parts;
  return T.slice(T.reshape(m, [n, parts, d]), [0, k, 0], [n, 1, d]);
}

class Attention extends Module {
  private readonly qkv: Linear;
  private readonly proj: Linear;
  /** DiffFit's learnable scales of the qkv and proj outputs (absent unless `addScales`). */
  private gamma1: Tensor | null = null;
  private gamma2: Tensor | null = null;
  constructor(rng: Rng, readonly dim: number, readonly heads: number) {
    super();
    if (dim % heads) throw new Error(`DiT: hidden size ${dim} is not divisible by ${heads} heads`);
    this.qkv = this.child("qkv", dense(rng.fork(1), dim, 3 * dim));
    this.proj = this.child("proj", dense(rng.fork(2), dim, dim));
  }
  addScales(): void {
    this.gamma1 = this.param("gamma1", T.fill([3 * this.dim], 1));
    this.gamma2 = this.param("gamma2", T.fill([this.dim], 1));
  }
  forward(x: Tensor): Tensor {
    const [n, t, d] = x.shape, h = this.heads, dh = d / h;
    const scaled = (y: Tensor, g: Tensor | null) => (g ? T.mul(y, g) : y);
    // timm: qkv(x).reshape(B, N, 3, heads, dh).permute(2, 0, 3, 1, 4)
    const qkv = T.reshape(
      T.permute(T.reshape(scaled(applyLinear(this.qkv, x), this.gamma1), [n, t, 3, h, dh]), [2, 0, 3, 1, 4]),
      [3, n * h, t, dh],
    );
    const part = (k: number) => T.reshape(T.slice(qkv, [k, 0, 0, 0], [1, n * h, t, dh]), [n * h, t, dh]);
    const o = T.attention(part(0), part(1), part(2));
    return scaled(
      applyLinear(this.proj, T.reshape(T.permute(T.reshape(o, [n, h, t, dh]), [0, 2, 1, 3]), [n, t, d])),
      this.gamma2,
    );
  }
}

class Mlp extends Module {
  private readonly fc1: Linear;
  private readonly fc2: Linear;
  constructor(rng: Rng, dim: number, hidden: number) {
    super();
    this.fc1 = this.child("fc1", dense(rng.fork(1), dim, hidden));
    this.fc2 = this.child("fc2", dense(rng.fork(2), hidden, dim));
  }
  forward(x: Tensor): Tensor {
    return applyLinear(this.fc2, T.geluTanh(applyLinear(this.fc1, x)));
  }
}

class DiTBlock extends Module {
  private readonly attn: Attention;
  private readonly mlp: Mlp;
  private readonly ada: Linear;
  private gamma1: Tensor | null = null;
  private gamma2: Tensor | null = null;
  constructor(rng: Rng, d: number, heads: number, mlpRatio: number) {
    super();
    this.attn = this.child("attn", new Attention(rng.fork(1), d, heads));
    this.mlp = this.child("mlp", new Mlp(rng.fork(2), d, Math.floor(d * mlpRatio)));
    this.ada = this.child("adaLN_modulation.1", dense(rng.fork(3), d, 6 * d));
    // adaLN-Zero: every block starts as the identity.
    zero(this.ada.weight);
    zero(this.ada.bias!);
  }
  /** DiffFit's scales: of the attention and MLP branches, and inside the attention (all start at 1). */
  addScales(): void {
    this.attn.addScales();
    this.gamma1 = this.param("gamma1", T.fill([this.attn.dim], 1));
    this.gamma2 = this.param("gamma2", T.fill([this.attn.dim], 1));
  }
  forward(): Tensor {
    throw new Error("DiTBlock: call block(x, silu(c))");
  }
  /** x [n, t, d] tokens; sc = SiLU(c) [n, d] (shared by every block's adaLN_modulation). */
  block(x: Tensor, sc: Tensor): Tensor {
    const m = this.ada.forward(sc);
    const [shiftMsa, scaleMsa, gateMsa, shiftMlp, scaleMlp, gateMlp] = [0, 1, 2, 3, 4, 5].map((k) =>
      chunk(m, 6, k)
    );
    const scaled = (gate: Tensor, g: Tensor | null) => (g ? T.mul(gate, g) : gate);
    const x1 = gated(
      x,
      scaled(gateMsa, this.gamma1),
      this.attn.forward(modulate(T.layerNorm(x, null, null, LN_EPS), shiftMsa, scaleMsa)),
    );
    return gated(
      x1,
      scaled(gateMlp, this.gamma2),
      this.mlp.forward(modulate(T.layerNorm(x1, null, null, LN_EPS), shiftMlp, scaleMlp)),
    );
  }
}

class FinalLayer extends Module {
  private readonly linear: Linear;
  private readonly ada: Linear;
  constructor(rng: Rng, d: number, outDim: number) {
    super();
    this.linear = this.child("linear", dense(rng.fork(1), d, outDim));
    this.ada = this.child("adaLN_modulation.1", dense(rng.fork(2), d, 2 * d));
    for (const t of [this.linear.weight, this.linear.bias!, this.ada.weight, this.ada.bias!]) zero(t);
  }
  forward(): Tensor {
    throw new Error("FinalLayer: call final(x, silu(c))");
  }
  final(x: Tensor, sc: Tensor): Tensor {
    const m = this.ada.forward(sc);
    return applyLinear(
      this.linear,
      modulate(T.layerNorm(x, null, null, LN_EPS), chunk(m, 2, 0), chunk(m, 2, 1)),
    );
  }
}

/** nn.Embedding: one `weight` row per index. */
class Embedding extends Module {
  readonly weight: Tensor;
  constructor(rng: Rng, rows: number, dim: number, std: number) {
    super();
    this.weight = this.param("weight", noGrad(() => rng.normal([rows, dim], 0, std)));
  }
  forward(idx: Tensor): Tensor {
    return T.gather(this.weight, idx);
  }
}

/** 1-D sin-cos embedding of positions (MAE's get_1d_sincos_pos_embed_from_grid): [sin(p·ω), cos(p·ω)]. */
function sincos1d(dim: number, pos: number): number[] {
  const half = dim / 2;
  const omega = Array.from({ length: half }, (_, k) => 1 / 10000 ** (k / half));
  return [...omega.map((w) => Math.sin(pos * w)), ...omega.map((w) => Math.cos(pos * w))];
}

/**
 * The fixed 2-D sin-cos position embedding [grid², dim] of the reference: the first half embeds the column
 * index (np.meshgrid(grid_w, grid_h)[0]), the second the row index.
 */
export function sincos2d(dim: number, grid: number): Float32Array {
  if (dim % 4) throw new Error(`DiT: the position embedding needs a hidden size divisible by 4, got ${dim}`);
  const out = new Float32Array(grid * grid * dim);
  for (let i = 0; i < grid; i++) {
    for (let j = 0; j < grid; j++) {
      out.set([...sincos1d(dim / 2, j), ...sincos1d(dim / 2, i)], (i * grid + j) * dim);
    }
  }
  return out;
}

export class DiT extends Module implements NoisePredictor {
  readonly numClasses: number;
  readonly learnSigma: boolean;
  readonly outChannels: number;
  readonly gridSize: number;
  private readonly xEmbed: Conv2d;
  private readonly tMlp0: Linear;
  private readonly tMlp2: Linear;
  private readonly yEmbed: Embedding;
  private readonly posEmbed: Tensor;
  private readonly blocks: DiTBlock[] = [];
  private readonly finalLayer: FinalLayer;
  /** Sinusoid frequencies and the cos/sin selector of the timestep embedding (constants, not in the state dict). */
  private readonly freqs: Tensor;
  private readonly cosMask: Tensor;

  constructor(rng: Rng, readonly cfg: DitConfig) {
    super();
    const { inputSize: s, patchSize: p, inChannels: c, hiddenSize: d } = cfg;
    if (s % p) throw new Error(`DiT: input size ${s} is not divisible by the patch size ${p}`);
    this.numClasses = cfg.numClasses;
    this.learnSigma = cfg.learnSigma;
    this.outChannels = cfg.learnSigma ? 2 * c : c;
    this.gridSize = s / p;
    this.xEmbed = this.child(
      "x_embedder.proj",
      new Conv2d(rng.fork(1), { cin: c, cout: d, kernel: p, stride: p }),
    );
    xavierUniform(rng.fork(2), this.xEmbed.weight);
    zero(this.xEmbed.bias!);
    this.tMlp0 = this.child("t_embedder.mlp.0", dense(rng.fork(3), FREQ_DIM, d));
    this.tMlp2 = this.child("t_embedder.mlp.2", dense(rng.fork(4), d, d));
    assign(this.tMlp0.weight, noGrad(() => rng.fork(5).normal(this.tMlp0.weight.shape, 0, 0.02)));
    assign(this.tMlp2.weight, noGrad(() => rng.fork(6).normal(this.tMlp2.weight.shape, 0, 0.02)));
    this.yEmbed = this.child(
      "y_embedder.embedding_table",
      new Embedding(rng.fork(7), cfg.numClasses + 1, d, 0.02),
    );
    this.posEmbed = this.buffer("pos_embed", tensor(sincos2d(d, this.gridSize), [1, this.gridSize ** 2, d]));
    for (let i = 0; i < cfg.depth; i++) {
      this.blocks.push(
        this.child(`blocks.${i}`, new DiTBlock(rng.fork(100 + i), d, cfg.numHeads, cfg.mlpRatio)),
      );
    }
    this.finalLayer = this.child("final_layer", new FinalLayer(rng.fork(8), d, p * p * this.outChannels));
    const half = FREQ_DIM / 2;
    const f = Array.from({ length: half }, (_, k) => Math.exp((-Math.log(10000) * k) / half));
    this.freqs = tensor([...f, ...f], [1, FREQ_DIM]).keep();
    this.cosMask = tensor(Array.from({ length: FREQ_DIM }, (_, k) => (k < half ? 1 : 0)), [1, FREQ_DIM])
      .keep();
  }

  /** [cos(t·f), sin(t·f)] with f_k = 10000^(−k/128) (TimestepEmbedder.timestep_embedding). */
  timestepEmbedding(t: Tensor): Tensor {
    const arg = E.mul(E.inp(0), E.inp(1));
    return T.map(E.where(E.inp(2), E.un("cos", arg), E.un("sin", arg)), [
      T.reshape(t, [t.size, 1]),
      this.freqs,
      this.cosMask,
    ]);
  }

  predict(xt: Tensor, t: Tensor, y: Tensor): Tensor {
    const { inputSize: s, inChannels: c, patchSize: p, hiddenSize: d } = this.cfg;
    const n = xt.shape[0];
    if (xt.rank !== 4 || xt.shape[1] !== s || xt.shape[2] !== s || xt.shape[3] !== c) {
      throw new Error(`DiT.predict: x_t must be [n, ${s}, ${s}, ${c}], got [${xt.shape}]`);
    }
    if (t.size !== n || y.size !== n || y.dtype !== "i32") {
      throw new Error(
        `DiT.predict: t (f32) and y (i32) need ${n} entries, got [${t.shape}] and [${y.shape}]:${y.dtype}`,
      );
    }
    const g = this.gridSize, tokens = g * g;
    const x0 = T.add(T.reshape(this.xEmbed.forward(xt), [n, tokens, d]), this.posEmbed);
    const temb = this.tMlp2.forward(T.silu(this.tMlp0.forward(this.timestepEmbedding(t))));
    const sc = T.silu(T.add(temb, this.yEmbed.forward(y)));
    let x = x0;
    for (const b of this.blocks) x = b.block(x, sc);
    const out = this.finalLayer.final(x, sc);
    // unpatchify: [n, g·g, p·p·C] → [n, g, p, g, p, C] → [n, g·p, g·p, C]
    const oc = this.outChannels;
    if (p === 1) return T.reshape(out, [n, g, g, oc]);
    return T.reshape(T.permute(T.reshape(out, [n, g, g, p, p, oc]), [0, 1, 3, 2, 4, 5]), [n, s, s, oc]);
  }

  /**
   * Adds DiffFit's learnable scale factors (Xie et al. 2023, as Minimax's models.py: `gamma1`/`gamma2` of
   * the attention's qkv and proj outputs and of both residual branches) to the first `blocks` blocks. They
   * start at 1, so the model's output is unchanged until they train; the state dict gains them.
   */
  addDiffFitScales(blocks: number): void {
    for (const b of this.blocks.slice(0, blocks)) b.addScales();
  }

  forward(): Tensor {
    throw new Error("DiT: call predict(x_t, t, y)");
  }

  override dispose(): void {
    super.dispose();
    this.freqs.dispose();
    this.cosMask.dispose();
  }
}
