/**
 * Differentiable augmentations on NHWC device tensors (docs/protocols.md §2, §4, §6.2, §7).
 *
 * Geometric transforms (flip, crop, scale, rotate, random-resized-crop) are affine grid samples or
 * index gathers, so gradients reach the images (DSA/IDC need that). Every random draw comes from a
 * seeded `Rng`: a Siamese call uses one parameter set for the whole batch and, given the same seed,
 * repeats exactly on the real and the synthetic batch (whatever their sizes). Draws are made on the
 * host (`Rng.hostUniform`), so parameters can be shaped per sample without a device round trip, and
 * per-call values travel as small tensors or kernel params, never as baked-in constants (a new
 * constant would compile a new pipeline on every call).
 */
import * as E from "../engine/expr.ts";
import { inp } from "../engine/expr.ts";
import type { Rng } from "../engine/random.ts";
import { type Tensor, tensor } from "../engine/tensor.ts";
import * as T from "../engine/ops/mod.ts";

/** DSA's augmentation groups, in its order. */
export const DSA_ALL = ["color", "crop", "cutout", "flip", "scale", "rotate"] as const;
export type DsaGroup = typeof DSA_ALL[number];

/** DSA's `ParamDiffAug` defaults. */
export interface DsaParams {
  scale: number; // 1.2
  rotate: number; // 15 degrees
  cropRatio: number; // 0.125
  cutoutRatio: number; // 0.5
  brightness: number; // 1.0
  saturation: number; // 2.0
  contrast: number; // 0.5
  flipProb: number; // 0.5
}

export const DSA_DEFAULTS: Readonly<DsaParams> = {
  scale: 1.2,
  rotate: 15,
  cropRatio: 0.125,
  cutoutRatio: 0.5,
  brightness: 1.0,
  saturation: 2.0,
  contrast: 0.5,
  flipProb: 0.5,
};

/**
 * Fixed uniform slots per sample, one block per call: every group reads its own slots, so the draws
 * (and hence what a seed produces) do not depend on which groups run, and mode 'M' never reads past
 * the block. Exported so tests can recompute DSA's formulas from the very same draws.
 */
export const DSA_SLOT = {
  bright: 0,
  sat: 1,
  contrast: 2,
  cropY: 3,
  cropX: 4,
  cutY: 5,
  cutX: 6,
  flip: 7,
  scaleX: 8,
  scaleY: 9,
  rot: 10,
} as const;
export const DSA_SLOTS = 11;

/** Host uniforms in [0,1): DSA_SLOTS values per sample, or one set for the whole batch when Siamese. */
class Draws {
  private constructor(private readonly u: Float32Array, readonly n: number, readonly siamese: boolean) {}
  static make(rng: Rng, n: number, siamese: boolean): Draws {
    return new Draws(rng.hostUniform((siamese ? 1 : n) * DSA_SLOTS), n, siamese);
  }
  /** The uniform in `slot` for every sample (the same value for all when Siamese). */
  at(slot: number): Float32Array {
    const out = new Float32Array(this.n);
    for (let s = 0; s < this.n; s++) out[s] = this.u[(this.siamese ? 0 : s) * DSA_SLOTS + slot];
    return out;
  }
}

/** theta [n,2,3] → bilinear resampling with zero padding (PyTorch affine_grid/grid_sample semantics). */
function affine(x: Tensor, thetas: Float32Array): Tensor {
  return T.affineGridSample(x, tensor(thetas, [x.shape[0], 2, 3]));
}

/** Per-sample affine from a host function of the sample index. */
function affineEach(x: Tensor, theta: (s: number) => number[]): Tensor {
  const n = x.shape[0];
  const th = new Float32Array(n * 6);
  for (let s = 0; s < n; s++) th.set(theta(s), s * 6);
  return affine(x, th);
}

const perSample = (v: ArrayLike<number>) => tensor(v, [v.length, 1, 1, 1]);

export type DsaMode = "S" | "M" | "idc";

/** The groups IDC's DiffAug draws one of per call; the others (flip, color, cutout) run every call. */
const IDC_ONE_OF: readonly DsaGroup[] = ["crop", "scale", "rotate"];

/** The groups a call applies, in order, given the call's uniform `choice` (see DsaOptions.mode). */
export function dsaGroupsFor(groups: readonly DsaGroup[], mode: DsaMode, choice: number): DsaGroup[] {
  if (groups.length === 0) return [];
  const pick = (from: readonly DsaGroup[]) =>
    from[Math.min(from.length - 1, Math.floor(choice * from.length))];
  switch (mode) {
    case "S":
      return [pick(groups)];
    case "M":
      return [...groups];
    case "idc": {
      const one = groups.filter((g) => IDC_ONE_OF.includes(g));
      const listed = (g: DsaGroup) => (groups.includes(g) ? [g] : []);
      return [...listed("flip"), ...listed("color"), ...(one.length ? [pick(one)] : []), ...listed("cutout")];
    }
  }
}

export interface DsaOptions {
  strategy?: readonly DsaGroup[];
  params?: DsaParams;
  /** One parameter draw for the whole batch ("Siamese" as in DSA's matching step). */
  siamese: boolean;
  /** Digits are never flipped. */
  noFlip?: boolean;
  /**
   * DSA's mode 'S' applies one randomly chosen group per call; 'M' applies all listed groups in order;
   * 'idc' is IDC's `DiffAug` default (not its `single` mode): flip, then color, then exactly one of the
   * listed crop/scale/rotate (drawn per call), then cutout, each of flip/color/cutout only when listed.
   */
  mode?: DsaMode;
  /**
   * In [0, 1] (default 1): every drawn transform is moved towards the identity, p ← id + s·(p − id)
   * (brightness offset, saturation/contrast factors, scale factors, angle; crop shifts and the
   * cutout side are scaled and rounded; flips happen with probability s·flipProb). 1 is DSA as
   * published, 0 the identity; the draws themselves do not depend on it.
   */
  strength?: number;
}

/**
 * DSA (Zhao & Bilen 2021, `DiffAugment`) on normalised NHWC images. With mode 'S' (the reference
 * default) one group is chosen per call from the strategy; mode 'idc' is IDC's DiffAug (see
 * DsaOptions.mode); 'color' is brightness → saturation → contrast. The number of draws per call is
 * fixed, so two calls with equal seeds draw equal parameters; Siamese calls draw one parameter set
 * regardless of the batch size.
 */
export function dsa(x: Tensor, rng: Rng, opts: DsaOptions): Tensor {
  const p = opts.params ?? DSA_DEFAULTS;
  const strength = opts.strength ?? 1;
  if (!(strength >= 0 && strength <= 1)) throw new Error(`dsa: strength must be in [0, 1], got ${strength}`);
  let groups = [...(opts.strategy ?? DSA_ALL)];
  if (opts.noFlip) groups = groups.filter((g) => g !== "flip");
  const d = Draws.make(rng, x.shape[0], opts.siamese);
  const choice = rng.hostUniform(1)[0];
  let y = x;
  for (const g of dsaGroupsFor(groups, opts.mode ?? "S", choice)) y = dsaGroup(y, g, d, p, strength);
  return y;
}

function dsaGroup(x: Tensor, g: DsaGroup, d: Draws, p: DsaParams, s: number): Tensor {
  const [, h, w] = x.shape;
  const toward = (v: number, id: number) => id + s * (v - id);
  switch (g) {
    case "color": {
      // brightness: x + (r − 0.5)·b
      const b = d.at(DSA_SLOT.bright).map((r) => toward((r - 0.5) * p.brightness, 0));
      let y = T.map(E.add(inp(0), inp(1)), [x, perSample(b)]);
      // saturation: (x − per-pixel channel mean)·(r·sat) + mean
      const sat = d.at(DSA_SLOT.sat).map((r) => toward(r * p.saturation, 1));
      const lerp = E.add(E.mul(E.sub(inp(0), inp(1)), inp(2)), inp(1));
      y = T.map(lerp, [y, T.mean(y, 3, true), perSample(sat)]);
      // contrast: (x − image mean)·(r + contrast) + mean
      const con = d.at(DSA_SLOT.contrast).map((r) => toward(r + p.contrast, 1));
      return T.map(lerp, [y, T.mean(y, [1, 2, 3], true), perSample(con)]);
    }
    case "flip": {
      const r = d.at(DSA_SLOT.flip);
      return affineEach(x, (k) => [r[k] < s * p.flipProb ? -1 : 1, 0, 0, 0, 1, 0]);
    }
    case "crop": {
      // Integer shifts in [−m, m] (m = int(ratio·size + 0.5)), reading zeros outside: out(i, j) = x(i + ty, j + tx).
      const ry = d.at(DSA_SLOT.cropY), rx = d.at(DSA_SLOT.cropX);
      const my = Math.floor(p.cropRatio * h + 0.5), mx = Math.floor(p.cropRatio * w + 0.5);
      return affineEach(x, (k) => {
        const ty = Math.round(s * (Math.floor(ry[k] * (2 * my + 1)) - my));
        const tx = Math.round(s * (Math.floor(rx[k] * (2 * mx + 1)) - mx));
        // A shift of t pixels is 2t/size in normalised coordinates (align_corners = false).
        return [1, 0, (2 * tx) / w, 0, 1, (2 * ty) / h];
      });
    }
    case "scale": {
      const r1 = d.at(DSA_SLOT.scaleX), r2 = d.at(DSA_SLOT.scaleY);
      const f = (r: number) => toward(r * (p.scale - 1 / p.scale) + 1 / p.scale, 1);
      return affineEach(x, (k) => [f(r1[k]), 0, 0, 0, f(r2[k]), 0]);
    }
    case "rotate": {
      const r = d.at(DSA_SLOT.rot);
      return affineEach(x, (k) => {
        const t = s * ((r[k] - 0.5) * 2 * p.rotate / 180) * Math.PI;
        return [Math.cos(t), -Math.sin(t), 0, Math.sin(t), Math.cos(t), 0];
      });
    }
    case "cutout": {
      const ry = d.at(DSA_SLOT.cutY), rx = d.at(DSA_SLOT.cutX);
      const ch = Math.floor(s * p.cutoutRatio * h + 0.5), cw = Math.floor(s * p.cutoutRatio * w + 0.5);
      if (ch === 0 || cw === 0) return x;
      // Centre ~ randint(0, size + 1 − side mod 2), square [c − side//2, c − side//2 + side) truncated.
      const lo = (r: Float32Array, size: number, side: number) =>
        perSample(r.map((v) => Math.floor(v * (size + 1 - (side % 2))) - Math.floor(side / 2)));
      return cutoutMask(x, lo(ry, h, ch), lo(rx, w, cw), ch, cw);
    }
  }
}

/** Zeroes rows [y0, y0 + ch) × columns [x0, x0 + cw) per sample (DSA's rand_cutout; border-truncated). */
function cutoutMask(x: Tensor, y0: Tensor, x0: Tensor, ch: number, cw: number): Tensor {
  const [, h, w] = x.shape;
  const ih = T.reshape(T.iota(h), [1, h, 1, 1]), iw = T.reshape(T.iota(w), [1, 1, w, 1]);
  const inside = (i: number, l: number, size: number) =>
    E.mul(E.bin("ge", inp(i), inp(l)), E.bin("lt", inp(i), E.add(inp(l), E.prm(size))));
  const cut = E.mul(inside(1, 3, 0), inside(2, 4, 1));
  return T.map(E.mul(inp(0), E.sub(E.cst(1), cut)), [x, ih, iw, y0, x0], [ch, cw]);
}

/** Per-sample horizontal flip with probability 0.5. */
export function randomFlip(x: Tensor, rng: Rng): Tensor {
  const r = rng.hostUniform(x.shape[0]);
  return affineEach(x, (s) => [r[s] < 0.5 ? -1 : 1, 0, 0, 0, 1, 0]);
}

/**
 * torchvision RandomResizedCrop(scale lo–hi, ratio 3/4–4/3) back to the input size, as an affine
 * sample of the crop window (bilinear), optionally followed by a horizontal flip. Up to 10 attempts,
 * then torchvision's fallback (the central crop with the aspect ratio clamped to the range).
 * Deviation: torchvision resizes the cut-out window, clamping at its edges; the affine sample reads
 * the pixels just outside the window (zero outside the image) at weight < 0.5 in the outermost
 * output row/column.
 */
export function randomResizedCrop(
  x: Tensor,
  rng: Rng,
  scale: [number, number] = [0.08, 1],
  flip = true,
): Tensor {
  const [n, h, w] = x.shape;
  const K = 23; // per sample: 10 area draws, 10 aspect draws, y, x, flip
  const u = rng.hostUniform(n * K);
  const lr0 = Math.log(3 / 4), lr1 = Math.log(4 / 3);
  return affineEach(x, (s) => {
    const r = (k: number) => u[s * K + k];
    let win: [number, number, number, number] | null = null; // top, left, height, width
    for (let t = 0; t < 10 && !win; t++) {
      const area = h * w * (scale[0] + r(t) * (scale[1] - scale[0]));
      const ar = Math.exp(lr0 + r(10 + t) * (lr1 - lr0));
      const cw = Math.round(Math.sqrt(area * ar)), ch = Math.round(Math.sqrt(area / ar));
      if (cw > 0 && ch > 0 && cw <= w && ch <= h) {
        win = [Math.floor(r(20) * (h - ch + 1)), Math.floor(r(21) * (w - cw + 1)), ch, cw];
      }
    }
    if (!win) {
      const inRatio = w / h;
      let cw = w, ch = h;
      if (inRatio < 3 / 4) ch = Math.round(w / (3 / 4));
      else if (inRatio > 4 / 3) cw = Math.round(h * (4 / 3));
      win = [Math.floor((h - ch) / 2), Math.floor((w - cw) / 2), ch, cw];
    }
    const [cy, cx, ch, cw] = win;
    const fl = flip && r(22) < 0.5 ? -1 : 1;
    // Output normalised coords map onto the crop window: centre and half-extent in input coords.
    const ccx = ((cx + cw / 2) / w) * 2 - 1, ccy = ((cy + ch / 2) / h) * 2 - 1;
    return [(fl * cw) / w, 0, ccx, 0, ch / h, ccy];
  });
}

/**
 * CutMix (Yun et al.): with probability `prob`, paste one box from a shuffled partner into every
 * image of the batch; returns the mixed images, the partner permutation and the kept-area weight λ
 * (recomputed from the clipped box), so hard-label losses mix as λ·CE(y) + (1−λ)·CE(y_perm) and
 * soft-label protocols relabel the mixed batch.
 */
export function cutmix(
  x: Tensor,
  rng: Rng,
  beta = 1.0,
  prob = 1.0,
): { images: Tensor; perm: Int32Array; lambda: number } | null {
  const [n, h, w] = x.shape;
  const u = rng.hostUniform(5);
  if (u[0] >= prob) return null;
  // λ ~ Beta(β, β); for β = 1 this is uniform. No protocol here uses another β.
  if (beta !== 1) throw new Error("cutmix: only beta = 1 (λ ~ U(0,1)) is supported");
  const lam0 = u[1];
  const cutRat = Math.sqrt(1 - lam0);
  const cw = Math.floor(w * cutRat), ch = Math.floor(h * cutRat);
  const cx = Math.floor(u[2] * w), cy = Math.floor(u[3] * h);
  const x1 = Math.max(cx - Math.floor(cw / 2), 0), x2 = Math.min(cx + Math.floor(cw / 2), w);
  const y1 = Math.max(cy - Math.floor(ch / 2), 0), y2 = Math.min(cy + Math.floor(ch / 2), h);
  const perm = rng.permutation(n);
  const partner = T.gather(x, tensor(perm, [n], "i32"));
  const ih = T.reshape(T.iota(h), [1, h, 1, 1]), iw = T.reshape(T.iota(w), [1, 1, w, 1]);
  const box = E.mul(
    E.mul(E.bin("ge", inp(2), E.prm(0)), E.bin("lt", inp(2), E.prm(1))),
    E.mul(E.bin("ge", inp(3), E.prm(2)), E.bin("lt", inp(3), E.prm(3))),
  );
  const images = T.map(E.where(box, inp(1), inp(0)), [x, partner, ih, iw], [y1, y2, x1, x2]);
  const lambda = 1 - ((x2 - x1) * (y2 - y1)) / (w * h);
  return { images, perm, lambda };
}

export type DcAugGroup = "crop" | "scale" | "rotate" | "noise";

/** DC's `dc_aug_param` (`get_daparam`): MNIST uses crop_scale_rotate; ConvNetBN evaluations crop_noise. */
export interface DcAugOptions {
  strategy?: readonly DcAugGroup[];
  crop?: number; // 4 (pixels of padding)
  scale?: number; // 0.2
  rotate?: number; // 45 (degrees)
  noise?: number; // 0.001
}

/**
 * DC's evaluation augment (`utils.augment`): per image one group drawn uniformly from the strategy
 * (default `crop_scale_rotate`, MNIST's):
 * - crop: pad `crop` pixels with the batch's per-channel mean, cut at offsets r, c ∈ {0 … 2·crop−1};
 * - scale: resize (nearest) to ⌊U(1−s, 1+s)·H⌋ × ⌊U(1−s, 1+s)·W⌋, centre on a zero canvas, centre crop;
 * - rotate: integer angle in [−rotate, rotate), fill with the mean of the channel means;
 * - noise: + noise·N(0, 1).
 * Crop and scale are exact index maps (a gather, so gradients flow); rotate is a bilinear affine
 * sample around the centre where DC calls scipy's cubic-spline `rotate` (interpolation differs).
 * The means are constants, as in DC (Python floats there).
 */
export function dcAugment(x: Tensor, rng: Rng, opts: DcAugOptions = {}): Tensor {
  const strategy = opts.strategy ?? ["crop", "scale", "rotate"];
  const crop = opts.crop ?? 4, sc = opts.scale ?? 0.2, rot = opts.rotate ?? 45, noise = opts.noise ?? 0.001;
  if (strategy.length === 0) return x;
  const [n, h, w, c] = x.shape;
  const u = rng.hostUniform(n * 3);
  const kinds = Array.from(
    { length: n },
    (_, s) => strategy[Math.min(strategy.length - 1, Math.floor(u[3 * s] * strategy.length))],
  );
  const hw = h * w;
  const ZERO = n * hw, MEAN = n * hw + 1; // extra source rows appended after the pixels
  const chanMean = T.mean(x, [0, 1, 2], true).detach();
  let y = x;
  if (kinds.some((k) => k === "crop" || k === "scale")) {
    const idx = new Int32Array(n * hw);
    for (let s = 0; s < n; s++) {
      const a = u[3 * s + 1], b = u[3 * s + 2];
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++) {
          let src = s * hw + i * w + j;
          if (kinds[s] === "crop") {
            const si = i + Math.floor(a * 2 * crop) - crop, sj = j + Math.floor(b * 2 * crop) - crop;
            src = si >= 0 && si < h && sj >= 0 && sj < w ? s * hw + si * w + sj : MEAN;
          } else if (kinds[s] === "scale") src = scaledSource(s, i, j, a, b);
          idx[s * hw + i * w + j] = src;
        }
      }
    }
    const rows = T.concat([T.reshape(x, [n * hw, c]), T.fill([1, c], 0), T.reshape(chanMean, [1, c])], 0);
    y = T.reshape(T.gather(rows, tensor(idx, [n * hw], "i32")), [n, h, w, c]);
  }
  if (kinds.includes("rotate")) {
    const m = T.mean(chanMean); // np.mean(mean): the fill value
    const centred = T.map(E.sub(inp(0), inp(1)), [y, m]);
    const rotated = affineEach(centred, (s) => {
      if (kinds[s] !== "rotate") return [1, 0, 0, 0, 1, 0];
      const t = ((Math.floor(u[3 * s + 1] * 2 * rot) - rot) / 180) * Math.PI;
      return [Math.cos(t), -Math.sin(t), 0, Math.sin(t), Math.cos(t), 0];
    });
    y = T.map(E.add(inp(0), inp(1)), [rotated, m]);
  }
  if (kinds.includes("noise")) {
    const z = rng.normal(x.shape, 0, noise);
    y = T.map(E.add(inp(0), E.mul(inp(1), inp(2))), [
      y,
      z,
      perSample(kinds.map((k) => (k === "noise" ? 1 : 0))),
    ]);
  }
  return y;

  // DC's scalefun as an index map: nearest resize to hh×ww (PyTorch: src = ⌊dst·in/out⌋ in f32),
  // placed at the centre of a max(hh, ww, H, W)² zero canvas, whose centre H×W is kept.
  function scaledSource(s: number, i: number, j: number, a: number, b: number): number {
    const hh = Math.floor((1 - sc + 2 * sc * a) * h), ww = Math.floor((1 - sc + 2 * sc * b) * w);
    const m = Math.max(hh, ww, h, w);
    const p = i + Math.floor((m - h) / 2) - Math.floor((m - hh) / 2);
    const q = j + Math.floor((m - w) / 2) - Math.floor((m - ww) / 2);
    if (p < 0 || p >= hh || q < 0 || q >= ww) return ZERO;
    const si = Math.min(Math.floor(Math.fround(Math.fround(h / hh) * p)), h - 1);
    const sj = Math.min(Math.floor(Math.fround(Math.fround(w / ww) * q)), w - 1);
    return s * hw + si * w + sj;
  }
}
