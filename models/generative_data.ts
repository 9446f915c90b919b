/**
 * Images as the generative models see them: pixels in [-1, 1] (x/127.5 − 1, as latent diffusion trains),
 * zero-padded in pixel space (black, −1) to a side the VAE's downsampling divides — 28 px digits become
 * 32 px — and mini-batches drawn in seeded epoch permutations, so a step's batch depends only on (seed,
 * step) and a resumed run sees the same data.
 */
import type { Split } from "../data/types.ts";
import { Rng } from "../engine/random.ts";
import { backend, fromStorage, type Tensor } from "../engine/tensor.ts";
import * as T from "../engine/ops/mod.ts";

export class PaddedImages {
  readonly count: number;
  readonly labels: Int32Array;
  /** Native side (e.g. 28) and the padding on each side to reach `size`. */
  readonly native: number;
  readonly pad: number;

  constructor(private readonly split: Split, readonly channels: number, readonly size: number) {
    this.count = split.count;
    this.labels = split.labels;
    const per = split.images.length / Math.max(split.count, 1);
    this.native = Math.round(Math.sqrt(per / channels));
    if (this.native * this.native * channels !== per || this.native > size || (size - this.native) % 2) {
      throw new Error(
        `PaddedImages: ${per} values per image are not a square ${channels}-channel image that pads evenly to ${size} px`,
      );
    }
    this.pad = (size - this.native) / 2;
  }

  /** Images `idx` as a device tensor [n, size, size, c] in [-1, 1]. */
  batch(idx: ArrayLike<number>): Tensor {
    const { size, native, pad, channels: c } = this;
    const per = native * native * c, out = new Float32Array(idx.length * size * size * c).fill(-1);
    for (let k = 0; k < idx.length; k++) {
      const src = idx[k] * per, dst = k * size * size * c;
      for (let y = 0; y < native; y++) {
        for (let x = 0; x < native * c; x++) {
          out[dst + ((y + pad) * size + pad) * c + x] = this.split.images[src + y * native * c + x] / 127.5 -
            1;
        }
      }
    }
    return fromStorage(backend().upload(out), [idx.length, size, size, c]);
  }

  /** The native-size centre of padded images [n, size, size, c] (undoes the padding). */
  crop(x: Tensor): Tensor {
    return T.slice(x, [0, this.pad, this.pad, 0], [x.shape[0], this.native, this.native, x.shape[3]]);
  }
}

/** Mini-batch indices of step s: consecutive slices of a seeded permutation per epoch (the tail of an epoch is dropped). */
export class EpochSampler {
  private epoch = -1;
  private perm: Int32Array = new Int32Array();
  readonly stepsPerEpoch: number;

  constructor(readonly count: number, readonly batch: number, readonly seed: number) {
    if (batch > count) throw new Error(`batch ${batch} exceeds the ${count} training examples`);
    this.stepsPerEpoch = Math.floor(count / batch);
  }

  indices(step: number): Int32Array {
    const e = Math.floor(step / this.stepsPerEpoch), j = step % this.stepsPerEpoch;
    if (e !== this.epoch) {
      this.perm = new Rng(this.seed).fork(e).permutation(this.count);
      this.epoch = e;
    }
    return this.perm.slice(j * this.batch, (j + 1) * this.batch);
  }
}

/** 10·log10(1/MSE) per image over values in [0, 1], averaged over images (the usual reconstruction PSNR). */
export function meanPsnr(a: Float32Array, b: Float32Array, perImage: number): number {
  if (a.length !== b.length || a.length % perImage) throw new Error("meanPsnr: sizes differ");
  const n = a.length / perImage;
  let total = 0;
  for (let i = 0; i < n; i++) {
    let se = 0;
    for (let j = i * perImage; j < (i + 1) * perImage; j++) se += (a[j] - b[j]) ** 2;
    // An exact reconstruction caps at 100 dB instead of +∞.
    total += Math.min(100, 10 * Math.log10(perImage / Math.max(se, 1e-30)));
  }
  return total / n;
}
