/** Moving images to the device in the engine's layout (NHWC f32, normalised). */
import type { Dataset, Split } from "../data/types.ts";
import type { DistilledSet } from "../data/distilled.ts";
import { backend, fromStorage, type Tensor } from "../engine/tensor.ts";

/** uint8 NHWC images → normalised f32 NHWC on the device. */
export function splitToDevice(
  dataset: Dataset,
  split: Split,
  idx?: Int32Array,
): { x: Tensor; y: Int32Array } {
  const { data, shape, y } = normaliseSplit(dataset, split, idx);
  return { x: fromStorage(backend().upload(data), shape), y };
}

/**
 * Normalised NHWC images kept on the host: training sets larger than one device binding (all of
 * MNIST is 179 MiB in f32, llvmpipe binds 128 MiB) upload each mini-batch instead.
 */
export class HostImages {
  constructor(readonly data: Float32Array, readonly shape: readonly [number, number, number, number]) {}
  dispose(): void {}
  /** Rows `idx` as a device tensor. */
  gather(idx: Int32Array): Tensor {
    const [, h, w, c] = this.shape;
    const per = h * w * c;
    const out = new Float32Array(idx.length * per);
    idx.forEach((i, k) => out.set(this.data.subarray(i * per, (i + 1) * per), k * per));
    return fromStorage(backend().upload(out), [idx.length, h, w, c]);
  }
}

/** Images a training loop can draw batches from: on the device when they fit one binding, else on the host. */
export type TrainImages = Tensor | HostImages;

export function trainImages(data: Float32Array, shape: [number, number, number, number]): TrainImages {
  return data.length <= backend().maxTensorElements
    ? fromStorage(backend().upload(data), shape)
    : new HostImages(data, shape);
}

/** A split's images for training (see HostImages). */
export function splitForTraining(
  dataset: Dataset,
  split: Split,
  idx?: Int32Array,
): { x: TrainImages; y: Int32Array } {
  const { data, shape, y } = normaliseSplit(dataset, split, idx);
  return { x: trainImages(data, shape), y };
}

function normaliseSplit(
  dataset: Dataset,
  split: Split,
  idx?: Int32Array,
): { data: Float32Array; shape: [number, number, number, number]; y: Int32Array } {
  const c = dataset.info.shape.channels;
  const per = split.images.length / Math.max(split.count, 1);
  const side = Math.round(Math.sqrt(per / c));
  const ids = idx ?? Int32Array.from({ length: split.count }, (_, i) => i);
  const out = new Float32Array(ids.length * per);
  const { mean, std } = dataset.info;
  const scale = std.map((s) => 1 / (255 * s)), shift = mean.map((m, i) => -m / std[i]);
  for (let k = 0; k < ids.length; k++) {
    const src = ids[k] * per, dst = k * per;
    for (let j = 0; j < per; j++) {
      const ch = j % c;
      out[dst + j] = split.images[src + j] * scale[ch] + shift[ch];
    }
  }
  return { data: out, shape: [ids.length, side, side, c], y: Int32Array.from(ids, (i) => split.labels[i]) };
}

/** A distilled set's NCHW images → NHWC device tensor. */
export function setToDevice(set: DistilledSet): Tensor {
  const { data, shape } = setToNhwc(set);
  return fromStorage(backend().upload(data), shape);
}

/** A distilled set for training (a full-dataset "set" may not fit one binding; see HostImages). */
export function setForTraining(set: DistilledSet): TrainImages {
  const { data, shape } = setToNhwc(set);
  return trainImages(data, shape);
}

function setToNhwc(set: DistilledSet): { data: Float32Array; shape: [number, number, number, number] } {
  const [n, c, h, w] = set.shape;
  const out = new Float32Array(n * h * w * c);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          out[((i * h + y) * w + x) * c + ch] = set.images[((i * c + ch) * h + y) * w + x];
        }
      }
    }
  }
  return { data: out, shape: [n, h, w, c] };
}

/** NHWC device images → host NCHW (for saving distilled sets). */
export async function deviceToNchw(x: Tensor): Promise<Float32Array> {
  const [n, h, w, c] = x.shape;
  const d = await x.f32();
  const out = new Float32Array(d.length);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        for (let ch = 0; ch < c; ch++) {
          out[((i * c + ch) * h + y) * w + xx] = d[((i * h + y) * w + xx) * c + ch];
        }
      }
    }
  }
  return out;
}
