/**
 * The small generative foundation ddrepro trains itself (`dd pretrain`) for the embedded 28 px datasets:
 * recipes (model configuration + training hyperparameters, per profile), the keys that name a training run,
 * and the shipped checkpoints in models/weights/, each verified against the sha256 in its manifest before
 * it is used.
 */
import { z } from "zod";
import { canonicalJson, sha256Hex } from "../results/key.ts";
import { assignHost } from "../engine/assign.ts";
import { Rng } from "../engine/random.ts";
import {
  decodeSafetensors,
  type SafeTensorInput,
  type SafetensorsFile,
  writeSafetensors,
} from "../engine/safetensors.ts";
import { fmtShape, sameShape } from "../engine/shape.ts";
import type { Module } from "./module.ts";
import { AutoencoderKL, type VaeConfig } from "./vae.ts";
import { DiT, type DitConfig } from "./dit.ts";

/** Bump when the training code changes the weights a recipe produces. */
export const FOUNDATION_VERSION = "1";

export const FOUNDATION_DATASETS = ["mnist", "fashion-mnist"] as const;
export type FoundationDataset = typeof FOUNDATION_DATASETS[number];

export const FOUNDATION_PROFILES = ["smoke", "quick"] as const;
export type FoundationProfile = typeof FOUNDATION_PROFILES[number];

/** 28 px images are padded to this side (a multiple of the VAE's factor 4). */
export const IMAGE_SIZE = 32;

export interface OptimRecipe {
  steps: number;
  batch: number;
  /** AdamW peak learning rate after a linear warm-up, then cosine decay to `lr · finalLrFraction`. */
  lr: number;
  warmup: number;
  finalLrFraction: number;
  weightDecay: number;
  seed: number;
}

export interface VaeRecipe extends OptimRecipe {
  kind: "vae";
  model: VaeConfig;
  /** Weight of KL(q(z|x) ‖ N(0, I)) summed over latents, relative to the squared error summed over pixels. */
  klWeight: number;
  /** Train images whose latent spread sets the scaling factor (the diffusion model sees unit-variance latents). */
  scaleImages: number;
  /** Test images for the reconstruction PSNR (null: the whole test split). */
  evalImages: number | null;
}

/** VAE sized by measured speed on a 2-core llvmpipe machine (see models/README.md). */
const SMALL_VAE = (channels: number): VaeConfig => ({
  inChannels: channels,
  outChannels: channels,
  latentChannels: 4,
  blockOutChannels: [16, 32, 32],
  layersPerBlock: 1,
  normGroups: 8,
  // Replaced by the measured 1/std of the train latents when training ends.
  scalingFactor: 1,
  midBlockAttention: true,
});

export function vaeRecipe(dataset: FoundationDataset, profile: FoundationProfile): VaeRecipe {
  void dataset; // both embedded datasets are 28 px grayscale: one recipe
  const base: VaeRecipe = {
    kind: "vae",
    model: SMALL_VAE(1),
    steps: 2000,
    batch: 16,
    lr: 1e-3,
    warmup: 100,
    finalLrFraction: 0.1,
    weightDecay: 0,
    seed: 0,
    klWeight: 1e-5,
    scaleImages: 10000,
    evalImages: null,
  };
  return profile === "quick"
    ? base
    : { ...base, steps: 3, batch: 4, warmup: 1, scaleImages: 16, evalImages: 16 };
}

/**
 * A warm restart after the first schedule's `steps`: weights, EMA and optimizer moments carry over, and the
 * learning rate warms up again and decays by its own cosine over `steps` more. A recipe with one keeps its
 * first phase's key, so a finished first phase (a shipped run's saved state) is continued, not repeated.
 */
export interface Restart {
  steps: number;
  lr: number;
  warmup: number;
  finalLrFraction: number;
}

export interface DitRecipe extends OptimRecipe {
  kind: "dit";
  /** Absent: one schedule of `steps`. */
  restart?: Restart;
  model: DitConfig;
  /** EMA of the weights (what is shipped and sampled), as DiT trains. */
  emaDecay: number;
  /** Train on the first this many train images (null: all); the smoke profile's few steps need few latents. */
  trainImages: number | null;
  /** Labels replaced by the null class during training (classifier-free guidance; DiT: 0.1). */
  labelDropout: number;
  /** Respacing of the sampler used for the grid and the classifier check (diffusion/respace.ts). */
  sampleSteps: string;
  cfgScale: number;
  /** Samples per class the real-data classifier labels (at cfgScale and without guidance). */
  evalPerClass: number;
  /** The ConvNet-3 trained on real data that judges the samples (evaluator/pretrained.ts). */
  classifier: { model: string; epochs: number; trainLimit: number | null; seed: number };
}

/** DiT on the small VAE's 8×8×4 latents: 16 tokens of patch 2, sized by measured speed (models/README.md). */
const SMALL_DIT: DitConfig = {
  inputSize: IMAGE_SIZE / 4,
  patchSize: 2,
  inChannels: 4,
  hiddenSize: 128,
  depth: 4,
  numHeads: 4,
  mlpRatio: 4,
  numClasses: 10,
  learnSigma: true,
};

export function ditRecipe(dataset: FoundationDataset, profile: FoundationProfile): DitRecipe {
  void dataset;
  const base: DitRecipe = {
    kind: "dit",
    model: SMALL_DIT,
    steps: 5000,
    batch: 64,
    lr: 5e-4,
    warmup: 200,
    finalLrFraction: 0.1,
    weightDecay: 0,
    seed: 0,
    emaDecay: 0.999,
    trainImages: null,
    labelDropout: 0.1,
    sampleSteps: "ddim50",
    cfgScale: 4,
    evalPerClass: 50,
    classifier: { model: "convnet3", epochs: 4, trainLimit: 10000, seed: 0 },
    // 5000 steps left the samples short of recognisable (F-MNIST 63.6 %, MNIST 37.8 % by the judge) with the
    // loss still falling: a warm restart at half the peak rate continues the same run.
    restart: { steps: 5000, lr: 2.5e-4, warmup: 100, finalLrFraction: 0.1 },
  };
  if (profile === "quick") return base;
  const { restart: _, ...oneSchedule } = base;
  return {
    ...oneSchedule,
    model: { ...SMALL_DIT, hiddenSize: 32, depth: 1, numHeads: 2 },
    steps: 3,
    batch: 8,
    warmup: 1,
    trainImages: 64,
    sampleSteps: "ddim5",
    evalPerClass: 2,
    classifier: { model: "convnet3-w32", epochs: 1, trainLimit: 200, seed: 0 },
  };
}

/**
 * Linear warm-up then cosine decay (what the recipes' `lr`, `warmup` and `finalLrFraction` mean); after
 * `steps`, a recipe's restart schedule counts from 0 again.
 */
export function lrAt(r: OptimRecipe & { restart?: Restart }, step: number): number {
  if (r.restart && step >= r.steps) {
    return lrAt({ ...r.restart, batch: 0, weightDecay: 0, seed: 0 }, step - r.steps);
  }
  if (step < r.warmup) return r.lr * (step + 1) / r.warmup;
  const p = Math.min(1, (step - r.warmup) / Math.max(1, r.steps - r.warmup));
  return r.lr * (r.finalLrFraction + (1 - r.finalLrFraction) * 0.5 * (1 + Math.cos(Math.PI * p)));
}

/** All steps of a recipe: its first schedule and its restart. */
export function totalSteps(r: OptimRecipe & { restart?: Restart }): number {
  return r.steps + (r.restart?.steps ?? 0);
}

/** The content key of a training run: recipe, data, code version (a state file of another key is refused). */
export function runKey(
  recipe: VaeRecipe | object,
  datasetHash: string,
  extra: Record<string, string> = {},
): string {
  return sha256Hex(canonicalJson({ v: FOUNDATION_VERSION, recipe, data: datasetHash, ...extra }));
}

// ---------------------------------------------------------------- shipped checkpoints

export const WEIGHTS_DIR = new URL("./weights/", import.meta.url).pathname;
export const MANIFEST_PATH = `${WEIGHTS_DIR}manifest.json`;

const ManifestEntry = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().positive(),
})
  .strict();
export const Manifest = z.record(z.string().regex(/^[a-z0-9-]+\.safetensors$/), ManifestEntry);
export type Manifest = z.infer<typeof Manifest>;

export function checkpointName(kind: "vae" | "dit", dataset: FoundationDataset): string {
  return `${dataset}-${kind}.safetensors`;
}

export async function readManifest(path = MANIFEST_PATH): Promise<Manifest> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return {};
    throw e;
  }
  const parsed = Manifest.safeParse(JSON.parse(text));
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new Error(`${path}: invalid checkpoint manifest at ${i.path.join(".") || "(root)"}: ${i.message}`);
  }
  return parsed.data;
}

/**
 * Records a checkpoint's hash and size in the manifest of its folder (atomic rewrite). Two trainings that
 * finish together must not drop each other's entry, so the read-modify-write holds a lock file.
 */
export async function recordInManifest(
  file: string,
  manifestPath = MANIFEST_PATH,
): Promise<{ sha256: string; bytes: number }> {
  const bytes = await Deno.readFile(file);
  const entry = { sha256: sha256Hex(bytes), bytes: bytes.length };
  await withLock(`${manifestPath}.lock`, async () => {
    const m = await readManifest(manifestPath);
    m[file.split("/").pop()!] = entry;
    const sorted = Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : 1)));
    const tmp = `${manifestPath}.${Deno.pid}.tmp`;
    await Deno.writeTextFile(tmp, JSON.stringify(sorted, null, 2) + "\n");
    await Deno.rename(tmp, manifestPath);
  });
  return entry;
}

/** Runs `fn` holding `lockPath` (created exclusively; a lock older than a minute is a crashed holder's). */
async function withLock<T>(lockPath: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0;; attempt++) {
    try {
      Deno.openSync(lockPath, { write: true, createNew: true }).close();
      break;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      const age = Date.now() - (Deno.statSync(lockPath).mtime?.getTime() ?? Date.now());
      if (age > 60_000) Deno.removeSync(lockPath);
      else if (attempt > 600) {
        throw new Error(`${lockPath}: held for too long; remove it if no training is finishing`);
      } else await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    Deno.removeSync(lockPath);
  }
}

/** The bytes of a shipped checkpoint after checking them against the manifest (a mismatch is an error). */
export async function verifiedCheckpoint(name: string, dir = WEIGHTS_DIR): Promise<Uint8Array> {
  const manifest = await readManifest(`${dir}manifest.json`);
  const entry = manifest[name];
  if (!entry) {
    throw new Error(
      `${dir}${name}: no such shipped checkpoint in ${dir}manifest.json; train it with \`deno task dd pretrain\``,
    );
  }
  const bytes = await Deno.readFile(`${dir}${name}`);
  const got = sha256Hex(bytes);
  if (bytes.length !== entry.bytes || got !== entry.sha256) {
    throw new Error(
      `${dir}${name}: content hash ${
        got.slice(0, 16)
      }… (${bytes.length} bytes) does not match the manifest's ` +
        `${entry.sha256.slice(0, 16)}… (${entry.bytes} bytes); the file is corrupt or was replaced`,
    );
  }
  return bytes;
}

// ---------------------------------------------------------------- checkpoint files

/** Every tensor of a module, in f16 (half the bytes; the small models' weights lose nothing that matters). */
export async function saveHalfCheckpoint(
  path: string,
  m: Module,
  metadata: Record<string, string>,
): Promise<void> {
  const out: Record<string, SafeTensorInput> = Object.create(null);
  for (const [name, t] of [...m.namedParameters(), ...m.namedBuffers()]) {
    out[name] = { dtype: "F16", shape: [...t.shape], data: await t.f32() };
  }
  await writeSafetensors(path, out, { layout: "NHWC activations, OHWI conv weights", ...metadata });
}

/** Copies decoded tensors into a module by name; every tensor must be there with its shape, and nothing else. */
export function copyInto(m: Module, file: SafetensorsFile, source: string): void {
  const own = [...m.namedParameters(), ...m.namedBuffers()];
  const names = new Set(own.map(([n]) => n));
  const extra = Object.keys(file.tensors).filter((k) => !names.has(k));
  if (extra.length) throw new Error(`${source}: unexpected tensors ${extra.slice(0, 5).join(", ")}`);
  for (const [name, t] of own) {
    const src = file.tensors[name];
    if (!src || (src.dtype !== "F32" && src.dtype !== "F16" && src.dtype !== "BF16")) {
      throw new Error(`${source}: missing float tensor "${name}"`);
    }
    if (!sameShape(src.shape, t.shape)) {
      throw new Error(
        `${source}: "${name}" has shape ${fmtShape(src.shape)}, the model expects ${fmtShape(t.shape)}`,
      );
    }
    assignHost(t, src.data);
  }
}

const VaeConfigSchema = z.object({
  inChannels: z.number().int().min(1).max(4),
  outChannels: z.number().int().min(1).max(4),
  latentChannels: z.number().int().min(1).max(64),
  blockOutChannels: z.array(z.number().int().min(1).max(4096)).min(1).max(8),
  layersPerBlock: z.number().int().min(1).max(8),
  normGroups: z.number().int().min(1).max(1024),
  scalingFactor: z.number().positive().finite(),
  midBlockAttention: z.boolean(),
}).strict();

function metaJson<S extends z.ZodType>(
  meta: Record<string, string>,
  key: string,
  schema: S,
  source: string,
): z.infer<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(meta[key] ?? "");
  } catch {
    throw new Error(`${source}: metadata "${key}" is missing or not JSON`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new Error(`${source}: metadata "${key}" invalid at ${i.path.join(".") || "(root)"}: ${i.message}`);
  }
  return parsed.data;
}

/** A VAE from checkpoint bytes written by `dd pretrain vae` (configuration in its metadata), in eval mode. */
export function vaeFromBytes(bytes: Uint8Array, source: string): AutoencoderKL {
  const file = decodeSafetensors(bytes, source);
  if (file.metadata.kind !== "vae") {
    throw new Error(`${source}: not a VAE checkpoint (kind ${file.metadata.kind})`);
  }
  const cfg = metaJson(file.metadata, "config", VaeConfigSchema, source);
  const m = new AutoencoderKL(new Rng(0), cfg);
  try {
    copyInto(m, file, source);
  } catch (e) {
    m.dispose();
    throw e;
  }
  return m.eval();
}

/** The shipped VAE of a dataset (hash-verified), or one from a user path. */
export async function loadVae(dataset: FoundationDataset, path?: string): Promise<AutoencoderKL> {
  if (path) return vaeFromBytes(await Deno.readFile(path), path);
  const name = checkpointName("vae", dataset);
  return vaeFromBytes(await verifiedCheckpoint(name), `${WEIGHTS_DIR}${name}`);
}

const DitConfigSchema = z.object({
  inputSize: z.number().int().min(1).max(1024),
  patchSize: z.number().int().min(1).max(64),
  inChannels: z.number().int().min(1).max(64),
  hiddenSize: z.number().int().min(4).max(8192),
  depth: z.number().int().min(1).max(128),
  numHeads: z.number().int().min(1).max(256),
  mlpRatio: z.number().positive().max(16),
  numClasses: z.number().int().min(1).max(100000),
  learnSigma: z.boolean(),
}).strict();

/** A DiT from checkpoint bytes written by `dd pretrain dit` (configuration in its metadata). */
export function ditFromBytes(bytes: Uint8Array, source: string): DiT {
  const file = decodeSafetensors(bytes, source);
  if (file.metadata.kind !== "dit") {
    throw new Error(`${source}: not a DiT checkpoint (kind ${file.metadata.kind})`);
  }
  const cfg = metaJson(file.metadata, "config", DitConfigSchema, source);
  const m = new DiT(new Rng(0), cfg);
  try {
    copyInto(m, file, source);
  } catch (e) {
    m.dispose();
    throw e;
  }
  return m.eval();
}

/** The shipped DiT of a dataset (hash-verified), or one from a user path. */
export async function loadDit(dataset: FoundationDataset, path?: string): Promise<DiT> {
  if (path) return ditFromBytes(await Deno.readFile(path), path);
  const name = checkpointName("dit", dataset);
  return ditFromBytes(await verifiedCheckpoint(name), `${WEIGHTS_DIR}${name}`);
}
