/**
 * Latent diffusion as the distillation methods use it: class labels and sampler options → latents (any
 * `NoisePredictor`, in chunks, optionally from given latents at an intermediate step and with a guidance
 * hook), latents → images through a VAE decoder, and images → scaled latents through its encoder. Host
 * arrays in and out (NHWC), so callers never hold more than one chunk on the device.
 */
import * as E from "../engine/expr.ts";
import * as T from "../engine/ops/mod.ts";
import { Rng } from "../engine/random.ts";
import { backend, fromStorage, noGrad, type Tensor, tidy } from "../engine/tensor.ts";
import {
  type GuidanceHook,
  linearBetas,
  makeSchedule,
  type NoisePredictor,
  sample,
  type Schedule,
  spacedSchedule,
} from "../diffusion/mod.ts";
import type { ProgressReporter } from "../data/progress.ts";
import type { AutoencoderKL } from "./vae.ts";

/** Rows per sampler / decoder call. */
export const LATENT_CHUNK = 64;

/** Host latents or images: `data` holds `shape` = [n, h, w, c] row-major. */
export interface HostBatch {
  data: Float32Array;
  shape: [number, number, number, number];
}

export interface LatentSamplerOptions {
  method: "ddpm" | "ddim";
  /** Respacing of the 1000-step linear schedule ("50", "ddim50", …; diffusion/respace.ts). */
  steps: string;
  /** Classifier-free guidance scale; 1 samples the conditional model without the null rows. */
  cfgScale: number;
  /** DDIM's η (default 0). */
  eta?: number;
  seed: number;
  /** Denoise these latents from schedule index `index` instead of x_T ~ N(0, I) (e.g. noised prototypes). */
  start?: { latents: HostBatch; index: number };
  /** A guidance hook per chunk (rows `offset`…`offset + labels.length − 1` of the call). */
  guidance?: (chunk: { offset: number; labels: number[] }) => GuidanceHook | undefined;
  chunk?: number;
  signal?: AbortSignal;
  progress?: ProgressReporter;
}

/** The 1000-step linear schedule respaced as `steps` (DiT's create_diffusion(timestep_respacing)). */
export function samplerSchedule(steps: string): Schedule {
  return spacedSchedule(makeSchedule(linearBetas(1000)), steps);
}

/** A host batch on the device. */
export function upload(b: HostBatch, from = 0, rows = b.shape[0] - from): Tensor {
  const per = b.shape[1] * b.shape[2] * b.shape[3];
  return fromStorage(
    backend().upload(b.data.slice(from * per, (from + rows) * per)),
    [rows, b.shape[1], b.shape[2], b.shape[3]],
  );
}

/**
 * One latent per label, [n, h, w, c] on the host. Chunk b (rows b…) is sampled with seed
 * `new Rng(seed).fork(b).seed`, so a sample depends on the seed, its chunk and its place in it.
 */
export async function sampleLatents(
  model: NoisePredictor,
  sampleShape: readonly [number, number, number],
  labels: readonly number[],
  o: LatentSamplerOptions,
): Promise<HostBatch> {
  const schedule = samplerSchedule(o.steps);
  const chunk = o.chunk ?? LATENT_CHUNK;
  const [h, w, c] = sampleShape;
  if (o.start && (o.start.latents.shape[0] !== labels.length || o.start.latents.shape[1] !== h)) {
    throw new Error(
      `sampleLatents: ${o.start.latents.shape[0]} start latents of side ${
        o.start.latents.shape[1]
      } for ${labels.length} labels of side ${h}`,
    );
  }
  const out = new Float32Array(labels.length * h * w * c);
  for (let b = 0; b < labels.length; b += chunk) {
    o.signal?.throwIfAborted();
    const part = labels.slice(b, b + chunk);
    const x = o.start ? upload(o.start.latents, b, part.length) : null;
    try {
      const z = await sample(model, {
        method: o.method,
        schedule,
        labels: part,
        sampleShape,
        seed: new Rng(o.seed).fork(b).seed,
        ...(o.eta ? { eta: o.eta } : {}),
        ...(o.cfgScale === 1 ? {} : { cfg: { scale: o.cfgScale } }),
        ...(x ? { start: { x, index: o.start!.index } } : {}),
        ...(o.guidance ? { guidance: o.guidance({ offset: b, labels: part }) } : {}),
        syncEvery: 10,
        signal: o.signal,
      });
      out.set(await z.f32(), b * h * w * c);
      z.dispose();
    } finally {
      x?.dispose();
    }
    o.progress?.update(b + part.length, labels.length, "samples");
  }
  return { data: out, shape: [labels.length, h, w, c] };
}

/**
 * Latents → images in [0, 1] (the decoder's [-1, 1] clamped and shifted), [n, side, side, channels] on the
 * host; `native` crops the centre (the padding the VAE's images got, e.g. 32 → 28 px).
 */
export async function decodeLatents(
  vae: AutoencoderKL,
  z: HostBatch,
  o: { native?: number; chunk?: number; signal?: AbortSignal } = {},
): Promise<HostBatch> {
  const chunk = o.chunk ?? LATENT_CHUNK;
  const parts: Float32Array[] = [];
  let shape: [number, number, number, number] | null = null;
  for (let b = 0; b < z.shape[0]; b += chunk) {
    o.signal?.throwIfAborted();
    const rows = Math.min(chunk, z.shape[0] - b);
    const x = noGrad(() =>
      tidy(() => {
        let img = vae.decode(T.mul(upload(z, b, rows), 1 / vae.cfg.scalingFactor));
        if (o.native !== undefined && o.native !== img.shape[1]) {
          const pad = (img.shape[1] - o.native) / 2;
          if (!Number.isInteger(pad) || pad < 0) {
            throw new Error(`decodeLatents: cannot crop ${img.shape[1]} px images to ${o.native} px`);
          }
          img = T.slice(img, [0, pad, pad, 0], [rows, o.native, o.native, img.shape[3]]);
        }
        return T.map(
          E.mul(E.add(E.bin("min", E.bin("max", E.inp(0), E.cst(-1)), E.cst(1)), E.cst(1)), E.cst(0.5)),
          [img],
        );
      })
    );
    shape ??= [z.shape[0], x.shape[1], x.shape[2], x.shape[3]];
    parts.push(await x.f32());
    x.dispose();
  }
  const data = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  parts.reduce((at, p) => (data.set(p, at), at + p.length), 0);
  return { data, shape: shape ?? [0, 0, 0, 0] };
}

/**
 * Images in [-1, 1] (device, NHWC) → scaled latents z·scale: the posterior mean, or a posterior sample
 * μ + σ·ε when `rng` is given (what DiT, Minimax and D4M train and cluster on). Runs without gradients.
 */
export function encodeLatents(vae: AutoencoderKL, images: Tensor, rng?: Rng): Tensor {
  return noGrad(() =>
    tidy(() => {
      const p = vae.encode(images);
      const s = vae.cfg.scalingFactor;
      if (!rng) return T.mul(p.mean, s);
      return T.map(
        E.mul(E.add(E.inp(0), E.mul(E.un("exp", E.mul(E.cst(0.5), E.inp(1))), E.inp(2))), E.cst(s)),
        [p.mean, p.logvar, rng.normal(p.mean.shape)],
      );
    })
  );
}
