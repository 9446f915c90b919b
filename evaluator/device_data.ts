/** Moving images to the device in the engine's layout (NHWC f32, normalised). */
import type { Dataset, Split } from "../data/types.ts";
import type { DistilledSet } from "../methods/types.ts";
import { backend, fromStorage, type Tensor } from "../engine/tensor.ts";

/** uint8 NHWC images → normalised f32 NHWC on the device. */
export function splitToDevice(
  dataset: Dataset,
  split: Split,
  idx?: Int32Array,
): { x: Tensor; y: Int32Array } {
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
  const x = fromStorage(backend().upload(out), [ids.length, side, side, c]);
  return { x, y: Int32Array.from(ids, (i) => split.labels[i]) };
}

/** A distilled set's NCHW images → NHWC device tensor. */
export function setToDevice(set: DistilledSet): Tensor {
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
  return fromStorage(backend().upload(out), [n, h, w, c]);
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
