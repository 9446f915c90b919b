/**
 * Differentiable augmentations on NHWC device tensors (shared/docs/protocols.md §2, §4, §6.2, §7).
 *
 * Geometric transforms (flip, crop, scale, rotate, random-resized-crop) are affine grid samples,
 * so gradients reach the images (DSA/IDC need that). Every random draw comes from a seeded `Rng`:
 * a Siamese call uses one parameter set for the whole batch and, given the same seed, repeats
 * exactly on the real and the synthetic batch. Draws are made on the host from a small uniform
 * block read back once per call, so parameters can be shaped per sample.
 */
import * as E from "../engine/expr.ts";
import { inp } from "../engine/expr.ts";
import type { Rng } from "../engine/random.ts";
import { type Tensor, tensor } from "../engine/tensor.ts";
import * as T from "../engine/ops/mod.ts";

export type DsaGroup = "color" | "crop" | "cutout" | "flip" | "scale" | "rotate";
export const DSA_ALL: readonly DsaGroup[] = ["color", "crop", "cutout", "flip", "scale", "rotate"];

/** DSA's `ParamDiffAug` defaults. */
export interface DsaParams {
  scale: number; // 1.2
  rotate: number; // 15 degrees
  cropRatio: number; // 0.125
  cutoutRatio: number; // 0.5
  brightness: number; // 1.0
  saturation: number; // 2.0
  contrast: number; // 0.5
}

export const DSA_DEFAULTS: DsaParams = {
  scale: 1.2,
  rotate: 15,
  cropRatio: 0.125,
  cutoutRatio: 0.5,
  brightness: 1.0,
  saturation: 2.0,
  contrast: 0.5,
};

/** Host uniforms in [0,1): `count` values per sample (or one set for the batch when Siamese). */
class Draws {
  private i = 0;
  constructor(private readonly u: Float32Array, readonly n: number, readonly siamese: boolean) {}
  static make(rng: Rng, n: number, perSample: number, siamese: boolean): Draws {
    return new Draws(rng.hostUniform((siamese ? 1 : n) * perSample), n, siamese);
  }
  /** One uniform per sample (the same for all when Siamese). */
  next(): Float32Array {
    const k = this.siamese ? 1 : this.n;
    const out = new Float32Array(this.n);
    for (let s = 0; s < this.n; s++) out[s] = this.u[this.i * k + (this.siamese ? 0 : s)];
    this.i++;
    return out;
  }
}

/** theta [n,2,3] → bilinear resampling with zero padding (PyTorch affine_grid/grid_sample semantics). */
function affine(x: Tensor, thetas: Float32Array): Tensor {
  return T.affineGridSample(x, tensor(thetas, [x.shape[0], 2, 3]));
}

const perSample = (v: Float32Array) => tensor(v, [v.length, 1, 1, 1]);

export interface DsaOptions {
  strategy?: readonly DsaGroup[];
  params?: DsaParams;
  /** One parameter draw for the whole batch ("Siamese" as in DSA's matching step). */
  siamese: boolean;
  /** Digits are never flipped. */
  noFlip?: boolean;
  /** DSA's mode 'S' applies one randomly chosen group per call; 'M' applies all listed groups in order. */
  mode?: "S" | "M";
}

/**
 * DSA (Zhao & Bilen 2021) on normalised NHWC images. With mode 'S' (the reference default for
 * training) one group is chosen per call from the strategy; 'color' is brightness → saturation →
 * contrast. Number of draws per call is fixed so two calls with equal seeds draw equal parameters.
 */
export function dsa(x: Tensor, rng: Rng, opts: DsaOptions): Tensor {
  const p = opts.params ?? DSA_DEFAULTS;
  let groups = [...(opts.strategy ?? DSA_ALL)];
  if (opts.noFlip) groups = groups.filter((g) => g !== "flip");
  const [n, h, w] = x.shape;
  const d = Draws.make(rng, n, 1 + 6, opts.siamese);
  const choice = rng.hostUniform(1)[0];
  const apply = (opts.mode ?? "S") === "S"
    ? [groups[Math.min(groups.length - 1, Math.floor(choice * groups.length))]]
    : groups;
  let y = x;
  for (const g of apply) y = dsaGroup(y, g, d, p, n, h, w);
  return y;
}

function dsaGroup(x: Tensor, g: DsaGroup, d: Draws, p: DsaParams, n: number, h: number, w: number): Tensor {
  switch (g) {
    case "color": {
      const rb = d.next(), rs = d.next(), rc = d.next();
      // brightness: x + (r - 0.5)·b
      let y = T.map(E.add(inp(0), E.mul(E.sub(inp(1), E.cst(0.5)), E.cst(p.brightness))), [x, perSample(rb)]);
      // saturation: (x - channel mean per pixel)·(2r) + mean
      const m = T.mean(y, 3, true);
      y = T.map(E.add(E.mul(E.sub(inp(0), inp(1)), E.mul(inp(2), E.cst(p.saturation))), inp(1)), [
        y,
        m,
        perSample(rs),
      ]);
      // contrast: (x - image mean)·(r + 0.5) + mean
      const mi = T.mean(y, [1, 2, 3], true);
      return T.map(E.add(E.mul(E.sub(inp(0), inp(1)), E.add(inp(2), E.cst(p.contrast))), inp(1)), [
        y,
        mi,
        perSample(rc),
      ]);
    }
    case "flip": {
      const r = d.next();
      const th = new Float32Array(n * 6);
      for (let s = 0; s < n; s++) th.set([r[s] < 0.5 ? -1 : 1, 0, 0, 0, 1, 0], s * 6);
      return affine(x, th);
    }
    case "crop": {
      // Integer shifts in [-s, s] (s = int(ratio·H + 0.5)), reading zeros outside.
      const rx = d.next(), ry = d.next();
      const sx = Math.floor(p.cropRatio * h + 0.5), sy = Math.floor(p.cropRatio * w + 0.5);
      const th = new Float32Array(n * 6);
      for (let s = 0; s < n; s++) {
        const tx = Math.floor(rx[s] * (2 * sx + 1)) - sx, ty = Math.floor(ry[s] * (2 * sy + 1)) - sy;
        // A shift of t pixels is 2t/size in normalised coordinates (align_corners = false).
        th.set([1, 0, (2 * ty) / w, 0, 1, (2 * tx) / h], s * 6);
      }
      return affine(x, th);
    }
    case "scale": {
      const r1 = d.next(), r2 = d.next();
      const th = new Float32Array(n * 6);
      for (let s = 0; s < n; s++) {
        const a = r1[s] * (p.scale - 1 / p.scale) + 1 / p.scale,
          b = r2[s] * (p.scale - 1 / p.scale) + 1 / p.scale;
        th.set([a, 0, 0, 0, b, 0], s * 6);
      }
      return affine(x, th);
    }
    case "rotate": {
      const r = d.next();
      const th = new Float32Array(n * 6);
      for (let s = 0; s < n; s++) {
        const t = ((r[s] - 0.5) * 2 * p.rotate / 180) * Math.PI;
        th.set([Math.cos(t), Math.sin(-t), 0, Math.sin(t), Math.cos(t), 0], s * 6);
      }
      return affine(x, th);
    }
    case "cutout": {
      const rx = d.next(), ry = d.next();
      const ch = Math.floor(p.cutoutRatio * h + 0.5), cw = Math.floor(p.cutoutRatio * w + 0.5);
      const cy = new Float32Array(n), cx = new Float32Array(n);
      for (let s = 0; s < n; s++) {
        cy[s] = Math.floor(ry[s] * (h + 1 - (ch % 2)));
        cx[s] = Math.floor(rx[s] * (w + 1 - (cw % 2)));
      }
      return cutoutMask(x, cy, cx, ch, cw);
    }
  }
}

/** Zeroes a ch×cw square centred at (cy, cx) per sample, truncated at the border (DSA's rand_cutout). */
function cutoutMask(x: Tensor, cy: Float32Array, cx: Float32Array, ch: number, cw: number): Tensor {
  const [n, h, w] = x.shape;
  const ih = T.reshape(T.iota(h), [1, h, 1, 1]), iw = T.reshape(T.iota(w), [1, 1, w, 1]);
  // Rows kept: |i - cy| ≥ ch/2 exactly as DSA's clamp(grid + offset - ch//2) lands.
  const lo = (c: Float32Array, size: number) => tensor(c.map((v) => v - Math.floor(size / 2)), [n, 1, 1, 1]);
  const inside = (i: number, l: number, size: number) =>
    E.mul(E.bin("ge", inp(i), inp(l)), E.bin("lt", inp(i), E.add(inp(l), E.cst(size))));
  const cut = E.mul(inside(1, 3, ch), inside(2, 4, cw));
  return T.map(E.mul(inp(0), E.sub(E.cst(1), cut)), [x, ih, iw, lo(cy, ch), lo(cx, cw)]);
}

/** Per-sample horizontal flip with probability 0.5. */
export function randomFlip(x: Tensor, rng: Rng): Tensor {
  const n = x.shape[0];
  const r = rng.hostUniform(n);
  const th = new Float32Array(n * 6);
  for (let s = 0; s < n; s++) th.set([r[s] < 0.5 ? -1 : 1, 0, 0, 0, 1, 0], s * 6);
  return affine(x, th);
}

/**
 * RandomResizedCrop(scale lo–hi, ratio 3/4–4/3) back to the input size, as an affine sample of
 * the crop window (bilinear, like torchvision's default), optionally followed by a flip.
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
  const th = new Float32Array(n * 6);
  for (let s = 0; s < n; s++) {
    const r = (k: number) => u[s * K + k];
    let cw = w, chh = h, cx = 0, cy = 0;
    // torchvision: up to 10 attempts, else the whole image.
    for (let t = 0; t < 10; t++) {
      const area = h * w * (scale[0] + r(t) * (scale[1] - scale[0]));
      const ar = Math.exp(Math.log(3 / 4) + r(10 + t) * (Math.log(4 / 3) - Math.log(3 / 4)));
      const ww = Math.round(Math.sqrt(area * ar)), hh = Math.round(Math.sqrt(area / ar));
      if (ww > 0 && hh > 0 && ww <= w && hh <= h) {
        cw = ww;
        chh = hh;
        cy = Math.floor(r(20) * (h - hh + 1));
        cx = Math.floor(r(21) * (w - ww + 1));
        break;
      }
    }
    const fl = flip && r(22) < 0.5 ? -1 : 1;
    // Output normalised coords map onto the crop window: centre and half-extent in input coords.
    const ccx = ((cx + cw / 2) / w) * 2 - 1, ccy = ((cy + chh / 2) / h) * 2 - 1;
    th.set([(fl * cw) / w, 0, ccx, 0, chh / h, ccy], s * 6);
  }
  return affine(x, th);
}

/**
 * CutMix (Yun et al.): with probability `prob`, paste a box from a shuffled partner into each
 * image; returns the mixed images, the partner permutation and the kept-area weight λ, so hard-label
 * losses mix as λ·CE(y) + (1-λ)·CE(y_perm) and soft-label protocols relabel the mixed batch.
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
  // λ ~ Beta(β, β); for β = 1 this is uniform. General β via two gamma-free order statistics is
  // not needed by any protocol here, so only β = 1 is accepted.
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
    E.mul(E.bin("ge", inp(2), E.cst(y1)), E.bin("lt", inp(2), E.cst(y2))),
    E.mul(E.bin("ge", inp(3), E.cst(x1)), E.bin("lt", inp(3), E.cst(x2))),
  );
  const images = T.map(E.where(box, inp(1), inp(0)), [x, partner, ih, iw]);
  const lambda = 1 - ((x2 - x1) * (y2 - y1)) / (w * h);
  return { images, perm, lambda };
}

/**
 * DC's evaluation augment (`crop_scale_rotate` on MNIST): per image one of crop (pad 4 with the
 * channel mean, random crop), scale (U(0.8, 1.2) per axis), rotate (U(-45°, 45°)), or noise
 * (+0.001·N(0,1)). Implemented with affine samples; the fill is the per-channel mean of the batch
 * (DC fills with the dataset-normalised mean, which is ≈ 0 in normalised space).
 */
export function dcAugment(x: Tensor, rng: Rng): Tensor {
  const [n, h, w] = x.shape;
  const u = rng.hostUniform(n * 4);
  const th = new Float32Array(n * 6);
  let noisy = false;
  for (let s = 0; s < n; s++) {
    const kind = Math.floor(u[s * 4] * 4);
    let t = [1, 0, 0, 0, 1, 0];
    if (kind === 0) {
      const tx = Math.floor(u[s * 4 + 1] * 9) - 4, ty = Math.floor(u[s * 4 + 2] * 9) - 4;
      t = [1, 0, (2 * tx) / w, 0, 1, (2 * ty) / h];
    } else if (kind === 1) {
      const a = 0.8 + 0.4 * u[s * 4 + 1], b = 0.8 + 0.4 * u[s * 4 + 2];
      t = [1 / a, 0, 0, 0, 1 / b, 0];
    } else if (kind === 2) {
      const ang = ((u[s * 4 + 1] * 90 - 45) / 180) * Math.PI;
      t = [Math.cos(ang), -Math.sin(ang), 0, Math.sin(ang), Math.cos(ang), 0];
    } else noisy = true;
    th.set(t, s * 6);
  }
  let y = affine(x, th);
  if (noisy) {
    const z = rng.normal(x.shape, 0, 0.001);
    const mask = new Float32Array(n);
    for (let s = 0; s < n; s++) mask[s] = Math.floor(u[s * 4] * 4) === 3 ? 1 : 0;
    y = T.map(E.add(inp(0), E.mul(inp(1), inp(2))), [y, z, perSample(mask)]);
  }
  return y;
}
